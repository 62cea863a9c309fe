#include "core/observability/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/observability/text_util.h"

namespace booking {
namespace {

// std::atomic<double>::fetch_add is C++20.
void AtomicAdd(std::atomic<double>& target, double delta) {
  double current = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(current, current + delta,
                                       std::memory_order_relaxed)) {
  }
}

bool IsNameChar(char c, bool first, bool allow_colon) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') {
    return true;
  }
  if (allow_colon && c == ':') return true;
  return !first && c >= '0' && c <= '9';
}

// Metric names: [a-zA-Z_:][a-zA-Z0-9_:]*; label names: [a-zA-Z_][a-zA-Z0-9_]*.
std::string SanitizeName(const std::string& name, bool allow_colon) {
  if (name.empty()) return "_";
  std::string out;
  out.reserve(name.size() + 1);
  if (!IsNameChar(name[0], /*first=*/true, allow_colon) &&
      IsNameChar(name[0], /*first=*/false, allow_colon)) {
    out.push_back('_');  // Leading digit: keep it, but not first.
  }
  for (size_t i = 0; i < name.size(); ++i) {
    const bool first = out.empty();
    out.push_back(IsNameChar(name[i], first, allow_colon) ? name[i] : '_');
  }
  return out;
}

MetricLabels SanitizeLabels(const MetricLabels& labels) {
  MetricLabels out;
  for (const auto& [name, value] : labels) {
    out[SanitizeName(name, /*allow_colon=*/false)] = value;
  }
  return out;
}

// "0.0005", "3", "+Inf", "NaN": what Prometheus parses, and le labels that
// read like those of other clients.
std::string FormatValue(double v) {
  return observability_internal::FormatDouble(v);
}

// HELP text escapes backslash and newline; label values also the quote.
std::string Escape(const std::string& s, bool quote) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quote && c == '"') {
      out += "\\\"";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// {a="1",b="2"} plus an optional trailing le="..." for histogram buckets.
std::string FormatLabels(const MetricLabels& labels,
                         const std::string* le = nullptr) {
  if (labels.empty() && le == nullptr) return "";
  std::string out = "{";
  bool first = true;
  for (const auto& [name, value] : labels) {
    if (!first) out.push_back(',');
    first = false;
    absl::StrAppend(&out, name, "=\"", Escape(value, /*quote=*/true), "\"");
  }
  if (le != nullptr) {
    if (!first) out.push_back(',');
    absl::StrAppend(&out, "le=\"", *le, "\"");
  }
  out.push_back('}');
  return out;
}

}  // namespace

void Counter::Increment(double amount) {
  if (!(amount > 0)) return;  // Also drops NaN.
  AtomicAdd(value_, amount);
}

void Gauge::Add(double delta) { AtomicAdd(value_, delta); }

Histogram::Histogram(std::vector<double> bounds)
    : bounds_([&] {
        bounds.erase(std::remove_if(bounds.begin(), bounds.end(),
                                    [](double b) { return !std::isfinite(b); }),
                     bounds.end());
        std::sort(bounds.begin(), bounds.end());
        bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
        return bounds;
      }()),
      buckets_(std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1)) {}

void Histogram::Observe(double value) {
  if (std::isnan(value)) return;
  // Buckets are "less than or equal": the first bound >= value.
  const size_t i =
      std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  AtomicAdd(sum_, value);
}

Histogram::Snapshot Histogram::Snap() const {
  Snapshot s;
  s.bounds = bounds_;
  s.cumulative.reserve(bounds_.size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    total += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(total);
  }
  s.count = total;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::vector<double> DefaultLatencyBuckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
          0.1,    0.25,  0.5,    1,     2.5,  5,     10};
}

MetricsRegistry::Family* MetricsRegistry::FamilyLocked(const std::string& name,
                                                       const std::string& help,
                                                       Type type) {
  auto [it, inserted] = families_.try_emplace(name);
  Family& family = it->second;
  if (inserted) {
    family.type = type;
    family.help = help;
  } else if (family.type != type) {
    std::fprintf(stderr,
                 "metrics: '%s' is already registered with another type; "
                 "the new metric will not be exported\n",
                 name.c_str());
    return nullptr;
  }
  return &family;
}

Counter* MetricsRegistry::GetCounter(const std::string& name,
                                     const std::string& help,
                                     const MetricLabels& labels) {
  const std::string clean = SanitizeName(name, /*allow_colon=*/true);
  absl::MutexLock lock(&mu_);
  Family* family = FamilyLocked(clean, help, Type::kCounter);
  if (family == nullptr) {
    orphan_counters_.push_back(std::make_unique<Counter>());
    return orphan_counters_.back().get();
  }
  std::unique_ptr<Counter>& slot = family->counters[SanitizeLabels(labels)];
  if (slot == nullptr) slot = std::make_unique<Counter>();
  return slot.get();
}

Gauge* MetricsRegistry::GetGauge(const std::string& name,
                                 const std::string& help,
                                 const MetricLabels& labels) {
  const std::string clean = SanitizeName(name, /*allow_colon=*/true);
  absl::MutexLock lock(&mu_);
  Family* family = FamilyLocked(clean, help, Type::kGauge);
  if (family == nullptr) {
    orphan_gauges_.push_back(std::make_unique<Gauge>());
    return orphan_gauges_.back().get();
  }
  std::unique_ptr<Gauge>& slot = family->gauges[SanitizeLabels(labels)];
  if (slot == nullptr) slot = std::make_unique<Gauge>();
  return slot.get();
}

Histogram* MetricsRegistry::GetHistogram(const std::string& name,
                                         const std::string& help,
                                         const MetricLabels& labels,
                                         std::vector<double> bounds) {
  const std::string clean = SanitizeName(name, /*allow_colon=*/true);
  absl::MutexLock lock(&mu_);
  Family* family = FamilyLocked(clean, help, Type::kHistogram);
  if (family == nullptr) {
    orphan_histograms_.push_back(std::make_unique<Histogram>(bounds));
    return orphan_histograms_.back().get();
  }
  std::unique_ptr<Histogram>& slot = family->histograms[SanitizeLabels(labels)];
  if (slot == nullptr) slot = std::make_unique<Histogram>(std::move(bounds));
  return slot.get();
}

void MetricsRegistry::AddCallbackGauge(const std::string& name,
                                       const std::string& help,
                                       const MetricLabels& labels,
                                       std::function<double()> callback) {
  const std::string clean = SanitizeName(name, /*allow_colon=*/true);
  absl::MutexLock callbacks_lock(&callbacks_mu_);
  absl::MutexLock lock(&mu_);
  Family* family = FamilyLocked(clean, help, Type::kGauge);
  if (family == nullptr) return;
  family->callbacks[SanitizeLabels(labels)] = std::move(callback);
}

void MetricsRegistry::RemoveCallbackGauge(const std::string& name,
                                          const MetricLabels& labels) {
  const std::string clean = SanitizeName(name, /*allow_colon=*/true);
  absl::MutexLock callbacks_lock(&callbacks_mu_);
  absl::MutexLock lock(&mu_);
  auto it = families_.find(clean);
  if (it == families_.end()) return;
  it->second.callbacks.erase(SanitizeLabels(labels));
}

std::string MetricsRegistry::RenderPrometheusText() const {
  struct FamilySnapshot {
    std::string name;
    std::string help;
    Type type;
    std::map<MetricLabels, double> values;
    std::map<MetricLabels, Histogram::Snapshot> histograms;
    std::map<MetricLabels, std::function<double()>> callbacks;
  };
  std::vector<FamilySnapshot> snapshot;

  // Callbacks may be slow (a DB query) or use the registry themselves, so
  // they run after mu_ is released; callbacks_mu_ keeps them alive.
  absl::MutexLock callbacks_lock(&callbacks_mu_);
  {
    absl::MutexLock lock(&mu_);
    snapshot.reserve(families_.size());
    for (const auto& [name, family] : families_) {
      FamilySnapshot f{name, family.help, family.type, {}, {}, {}};
      for (const auto& [labels, c] : family.counters) {
        f.values[labels] = c->Value();
      }
      for (const auto& [labels, g] : family.gauges) {
        f.values[labels] = g->Value();
      }
      for (const auto& [labels, h] : family.histograms) {
        f.histograms[labels] = h->Snap();
      }
      f.callbacks = family.callbacks;
      snapshot.push_back(std::move(f));
    }
  }

  std::string out;
  for (FamilySnapshot& f : snapshot) {
    for (const auto& [labels, callback] : f.callbacks) {
      f.values[labels] = callback();
    }
    if (f.values.empty() && f.histograms.empty()) continue;
    const char* type = f.type == Type::kCounter ? "counter"
                       : f.type == Type::kGauge ? "gauge"
                                                : "histogram";
    absl::StrAppend(&out, "# HELP ", f.name, " ",
                    Escape(f.help, /*quote=*/false), "\n", "# TYPE ", f.name,
                    " ", type, "\n");
    for (const auto& [labels, value] : f.values) {
      absl::StrAppend(&out, f.name, FormatLabels(labels), " ",
                      FormatValue(value), "\n");
    }
    for (const auto& [labels, h] : f.histograms) {
      for (size_t i = 0; i <= h.bounds.size(); ++i) {
        const std::string le =
            i < h.bounds.size() ? FormatValue(h.bounds[i]) : "+Inf";
        absl::StrAppend(&out, f.name, "_bucket", FormatLabels(labels, &le), " ",
                        h.cumulative[i], "\n");
      }
      absl::StrAppend(&out, f.name, "_sum", FormatLabels(labels), " ",
                      FormatValue(h.sum), "\n", f.name, "_count",
                      FormatLabels(labels), " ", h.count, "\n");
    }
  }
  return out;
}

MetricsRegistry& DefaultRegistry() {
  static MetricsRegistry* const registry = new MetricsRegistry();
  return *registry;
}

}  // namespace booking
