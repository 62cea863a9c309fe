#ifndef CORE_OBSERVABILITY_METRICS_H_
#define CORE_OBSERVABILITY_METRICS_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace booking {

// A small Prometheus client (text exposition format 0.0.4) for the metrics of
// DESIGN §8. Get* calls take a lock and are meant for setup: keep the returned
// pointer, whose updates are lock-free atomics. Returned metrics live as long
// as the registry.

// Label name -> value. Ordered, so a label set has one canonical form.
using MetricLabels = std::map<std::string, std::string>;

class Counter {
 public:
  // Counters only go up; negative amounts are ignored.
  void Increment(double amount = 1.0);
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Gauge {
 public:
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Add(double delta);
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Histogram {
 public:
  // `bounds` are the finite upper bounds (sorted and deduplicated here); the
  // +Inf bucket is implicit.
  explicit Histogram(std::vector<double> bounds);

  void Observe(double value);

  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;  // bounds.size() + 1 entries (+Inf).
    uint64_t count;
    double sum;
  };
  Snapshot Snap() const;

 private:
  const std::vector<double> bounds_;
  // Per-bucket (non-cumulative) counts; the count is their total, so _count
  // always equals the +Inf bucket even during concurrent Observe calls.
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::atomic<double> sum_{0.0};
};

// 0.5 ms .. 10 s, for latencies in seconds.
std::vector<double> DefaultLatencyBuckets();

class MetricsRegistry {
 public:
  MetricsRegistry() = default;
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Returns the series for (name, labels), creating it (and its family with
  // `help`) on first use. Invalid characters in names become '_'. Asking for
  // a name already registered with another type is a programming error: it
  // is logged to stderr and a working but unexported metric is returned.
  Counter* GetCounter(const std::string& name, const std::string& help,
                      const MetricLabels& labels = {});
  Gauge* GetGauge(const std::string& name, const std::string& help,
                  const MetricLabels& labels = {});
  Histogram* GetHistogram(const std::string& name, const std::string& help,
                          const MetricLabels& labels = {},
                          std::vector<double> bounds = DefaultLatencyBuckets());

  // A gauge computed at scrape time (e.g. outbox depth from the DB). Replaces
  // a callback with the same name and labels. The callback runs on the
  // scraping thread without the registry's lock held, but it must not add or
  // remove callbacks.
  void AddCallbackGauge(const std::string& name, const std::string& help,
                        const MetricLabels& labels,
                        std::function<double()> callback);
  // After this returns the callback is never called again, so objects it
  // captured may be destroyed.
  void RemoveCallbackGauge(const std::string& name, const MetricLabels& labels);

  // The text exposition format, families sorted by name, series by labels.
  std::string RenderPrometheusText() const;

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Family {
    Type type;
    std::string help;
    std::map<MetricLabels, std::unique_ptr<Counter>> counters;
    std::map<MetricLabels, std::unique_ptr<Gauge>> gauges;
    std::map<MetricLabels, std::unique_ptr<Histogram>> histograms;
    std::map<MetricLabels, std::function<double()>> callbacks;
  };

  // Null (after logging why) if `name` exists with another type.
  Family* FamilyLocked(const std::string& name, const std::string& help,
                       Type type) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Held while callbacks run, so RemoveCallbackGauge can wait them out.
  // Order: callbacks_mu_ before mu_.
  mutable absl::Mutex callbacks_mu_;
  mutable absl::Mutex mu_;
  std::map<std::string, Family> families_ ABSL_GUARDED_BY(mu_);
  // Metrics handed out on a type clash; owned, never exported.
  std::vector<std::unique_ptr<Counter>> orphan_counters_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<Gauge>> orphan_gauges_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<Histogram>> orphan_histograms_
      ABSL_GUARDED_BY(mu_);
};

// The process-wide registry served on --metrics_port. Never destroyed.
MetricsRegistry& DefaultRegistry();

}  // namespace booking

#endif  // CORE_OBSERVABILITY_METRICS_H_
