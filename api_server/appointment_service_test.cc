// AppointmentService in-process: the real service, writer, watch hub and
// SQLite store on a temp file, over a real loopback channel. Each test proves
// one rule of DESIGN §4 as a client sees it.

#include "api_server/appointment_service.h"

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "api_server/service_harness.h"
#include "core/common/clock.h"
#include "core/common/time_util.h"
#include "core/observability/logging.h"
#include "core/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace booking {
namespace {

namespace v1 = appointments::v1;
using ::booking::testing::CheckHealth;
using ::booking::testing::HarnessOptions;
using ::booking::testing::ServiceHarness;
using ::booking::testing::Trailer;
using ::booking::testing::ValidCreateRequest;
using ::testing::HasSubstr;
using ::testing::Not;

std::unique_ptr<ServiceHarness> StartHarness(HarnessOptions options = {}) {
  auto h = ServiceHarness::Start(std::move(options));
  EXPECT_OK(h);
  return std::move(*h);
}

void SetDeadline(grpc::ClientContext* context,
                 absl::Duration d = absl::Seconds(10)) {
  context->set_deadline(absl::ToChronoTime(absl::Now() + d));
}

struct Reply {
  grpc::Status status;
  v1::Appointment appointment;
  bool replay = false;
  std::string retry_after_ms;
};

Reply Create(ServiceHarness& h, const v1::CreateAppointmentRequest& req,
             std::function<void(grpc::ClientContext*)> prepare = nullptr) {
  grpc::ClientContext context;
  SetDeadline(&context);
  if (prepare) prepare(&context);
  Reply r;
  r.status = h.stub().CreateAppointment(&context, req, &r.appointment);
  r.replay = Trailer(context, "idempotent-replay") == "true";
  r.retry_after_ms = Trailer(context, "retry-after-ms");
  return r;
}

Reply Cancel(ServiceHarness& h, const std::string& id,
             const std::string& request_id, const std::string& reason = "") {
  v1::CancelAppointmentRequest req;
  req.set_id(id);
  req.set_request_id(request_id);
  req.set_reason(reason);
  grpc::ClientContext context;
  SetDeadline(&context);
  Reply r;
  r.status = h.stub().CancelAppointment(&context, req, &r.appointment);
  r.replay = Trailer(context, "idempotent-replay") == "true";
  return r;
}

Reply Get(ServiceHarness& h, const std::string& id) {
  v1::GetAppointmentRequest req;
  req.set_id(id);
  grpc::ClientContext context;
  SetDeadline(&context);
  Reply r;
  r.status = h.stub().GetAppointment(&context, req, &r.appointment);
  return r;
}

// What an outbox_worker does: claim due commands (PENDING → IN_PROGRESS for
// a BOOK) and return the one for `id`.
ClaimedCommand ClaimFor(ServiceHarness& h, const std::string& id) {
  ClaimRequest req;
  req.worker_id = "test-worker";
  req.now = absl::Now() + absl::Seconds(1);
  req.lease = absl::Minutes(5);
  req.max_rows = 1000;
  auto claimed = h.store().ClaimDueCommands(req);
  EXPECT_OK(claimed);
  for (ClaimedCommand& c : *claimed) {
    if (c.command.appointment_id == id) return c;
  }
  ADD_FAILURE() << "nothing claimable for " << id;
  return {};
}

void Complete(ServiceHarness& h, const ClaimedCommand& c,
              std::optional<Appointment::State> to,
              CommandOutcome::Disposition disposition =
                  CommandOutcome::Disposition::kDone) {
  CommandOutcome o;
  o.command_id = c.command.id;
  o.fencing_token = c.command.fencing_token;
  o.now = absl::Now() + absl::Seconds(1);
  o.actor = "worker:test";
  o.disposition = disposition;
  o.next_attempt_time = o.now;
  o.to_state = to;
  if (to == Appointment::FAILED) o.failure_reason = "provider_rejected";
  if (to == Appointment::CONFIRMED) o.provider_booking_id = "bk-1";
  ASSERT_OK(h.store().CompleteCommand(o));
}

std::vector<OutboxCommand> Commands(ServiceHarness& h, const std::string& id) {
  auto commands = h.store().ListCommandsFor(id);
  EXPECT_OK(commands);
  return *commands;
}

// --------------------------------------------------------------- create --

TEST(CreateAppointmentTest, RecordsTheIntentWithItsOutboxRowBeforeAnsweringOk) {
  auto h = StartHarness();
  auto req = ValidCreateRequest("req-1", absl::Now());
  // Output-only fields sent by a client are ignored.
  req.mutable_appointment()->set_id("client-chosen");
  req.mutable_appointment()->set_state(v1::Appointment::CONFIRMED);
  Reply r = Create(*h, req);
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_FALSE(r.replay);
  const v1::Appointment& a = r.appointment;
  EXPECT_THAT(a.id(), ::testing::StartsWith("apt_"));
  EXPECT_EQ(a.request_id(), "req-1");
  EXPECT_EQ(a.state(), v1::Appointment::PENDING);
  EXPECT_EQ(a.customer_id(), "cust-1");
  EXPECT_EQ(a.patient().display_name(), "Ada Lovelace");
  EXPECT_EQ(a.version(), 1);

  // The OK came after the commit: another connection sees the row and its
  // BOOK command.
  auto stored = h->store().GetAppointment(a.id());
  ASSERT_OK(stored);
  EXPECT_EQ(stored->state(), v1::Appointment::PENDING);
  std::vector<OutboxCommand> commands = Commands(*h, a.id());
  ASSERT_EQ(commands.size(), 1u);
  EXPECT_EQ(commands[0].type, CommandType::kBook);
  EXPECT_EQ(commands[0].status, CommandStatus::kPending);
  // BOOK's overall deadline never lies after the appointment's start.
  EXPECT_LE(commands[0].deadline, FromProtoTimestamp(a.start_time()));
}

TEST(CreateAppointmentTest, ReplayReturnsTheOriginalWithReplayMetadata) {
  auto h = StartHarness();
  auto req = ValidCreateRequest("req-replay", absl::Now());
  Reply first = Create(*h, req);
  ASSERT_TRUE(first.status.ok());
  EXPECT_FALSE(first.replay);
  Reply second = Create(*h, req);
  ASSERT_TRUE(second.status.ok());
  EXPECT_TRUE(second.replay);
  EXPECT_EQ(second.appointment.id(), first.appointment.id());
  EXPECT_EQ(Commands(*h, first.appointment.id()).size(), 1u)
      << "no second outbox row";
}

TEST(CreateAppointmentTest,
     ReusingARequestIdWithOtherParametersIsAlreadyExists) {
  auto h = StartHarness();
  auto req = ValidCreateRequest("req-reuse", absl::Now());
  ASSERT_TRUE(Create(*h, req).status.ok());
  req.mutable_appointment()->set_location("Room 2");
  Reply r = Create(*h, req);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_THAT(r.status.error_message(), HasSubstr("different parameters"));
}

TEST(CreateAppointmentTest,
     FiftyConcurrentCallersWithOneRequestIdGetOneAppointment) {
  auto h = StartHarness();
  const auto req = ValidCreateRequest("req-race", absl::Now(), "cust-race");
  constexpr int kCallers = 50;
  std::vector<Reply> replies(kCallers);
  std::vector<std::thread> threads;
  for (int i = 0; i < kCallers; ++i) {
    threads.emplace_back([&, i] { replies[i] = Create(*h, req); });
  }
  for (auto& t : threads) t.join();
  int originals = 0;
  for (const Reply& r : replies) {
    ASSERT_TRUE(r.status.ok()) << r.status.error_message();
    EXPECT_EQ(r.appointment.id(), replies[0].appointment.id());
    if (!r.replay) ++originals;
  }
  EXPECT_EQ(originals, 1);

  ListQuery q;
  q.customer_id = "cust-race";
  auto page = h->store().ListAppointments(q);
  ASSERT_OK(page);
  EXPECT_EQ(page->appointments.size(), 1u);
  EXPECT_EQ(Commands(*h, replies[0].appointment.id()).size(), 1u);
}

TEST(CreateAppointmentTest, ExpiredKeysArePurgedAndTheRequestIdIsFreeAgain) {
  SimulatedClock clock(absl::Now());
  HarnessOptions options;
  options.clock = &clock;
  options.idempotency_ttl = absl::Hours(24);
  auto h = StartHarness(options);
  auto req = ValidCreateRequest("req-ttl", clock.Now());
  Reply first = Create(*h, req);
  ASSERT_TRUE(first.status.ok());

  // Within the TTL a purge keeps the key.
  clock.Advance(absl::Hours(23));
  auto purged = h->purger().PurgeNow();
  ASSERT_OK(purged);
  EXPECT_EQ(*purged, 0);
  auto other = ValidCreateRequest("req-ttl", clock.Now());
  other.mutable_appointment()->set_location("Room 9");
  EXPECT_EQ(Create(*h, other).status.error_code(),
            grpc::StatusCode::ALREADY_EXISTS);

  clock.Advance(absl::Hours(2));
  purged = h->purger().PurgeNow();
  ASSERT_OK(purged);
  EXPECT_EQ(*purged, 1);
  Reply again = Create(*h, other);
  ASSERT_TRUE(again.status.ok()) << again.status.error_message();
  EXPECT_FALSE(again.replay);
  EXPECT_NE(again.appointment.id(), first.appointment.id());
}

TEST(CreateAppointmentTest, AnExpiredDeadlineStartsNoWork) {
  // The server's view of time is far ahead: every client deadline has
  // already passed when the call arrives.
  SimulatedClock late(absl::Now() + absl::Hours(1));
  HarnessOptions options;
  options.deadline_clock = &late;
  auto h = StartHarness(options);
  Reply r = Create(*h, ValidCreateRequest("req-late", absl::Now()));
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  ListQuery q;
  auto page = h->store().ListAppointments(q);
  ASSERT_OK(page);
  EXPECT_TRUE(page->appointments.empty());
}

// ----------------------------------------------------------- validation --

struct InvalidCase {
  std::string name;
  std::function<void(v1::CreateAppointmentRequest*)> mutate;
  std::string field;  // must appear in the message
};

TEST(ValidationTest, EveryCreateRuleIsInvalidArgumentNamingTheField) {
  auto h = StartHarness();
  const absl::Time now = absl::Now();
  auto ts = [](absl::Time t) { return ToProtoTimestamp(t); };
  const std::vector<InvalidCase> cases = {
      {"request_id missing", [](auto* r) { r->clear_request_id(); },
       "request_id"},
      {"request_id charset", [](auto* r) { r->set_request_id("a b"); },
       "request_id"},
      {"request_id too long",
       [](auto* r) { r->set_request_id(std::string(65, 'a')); }, "request_id"},
      {"appointment missing", [](auto* r) { r->clear_appointment(); },
       "appointment"},
      {"customer_id missing",
       [](auto* r) { r->mutable_appointment()->clear_customer_id(); },
       "appointment.customer_id"},
      {"customer_id charset",
       [](auto* r) { r->mutable_appointment()->set_customer_id("c/1"); },
       "appointment.customer_id"},
      {"customer_id too long",
       [](auto* r) {
         r->mutable_appointment()->set_customer_id(std::string(65, 'c'));
       },
       "appointment.customer_id"},
      {"provider not configured",
       [](auto* r) { r->mutable_appointment()->set_provider_id("clinic-z"); },
       "appointment.provider_id"},
      {"location missing",
       [](auto* r) { r->mutable_appointment()->clear_location(); },
       "appointment.location"},
      {"location too long",
       [](auto* r) {
         r->mutable_appointment()->set_location(std::string(129, 'l'));
       },
       "appointment.location"},
      {"location control character",
       [](auto* r) { r->mutable_appointment()->set_location("Room\n1"); },
       "appointment.location"},
      {"start_time missing",
       [](auto* r) { r->mutable_appointment()->clear_start_time(); },
       "appointment.start_time"},
      {"start_time in the past",
       [&](auto* r) {
         *r->mutable_appointment()->mutable_start_time() =
             ts(now - absl::Hours(1));
       },
       "appointment.start_time"},
      {"start_time over a year ahead",
       [&](auto* r) {
         *r->mutable_appointment()->mutable_start_time() =
             ts(now + absl::Hours(24 * 366));
       },
       "appointment.start_time"},
      {"duration too short",
       [](auto* r) { r->mutable_appointment()->set_duration_minutes(4); },
       "appointment.duration_minutes"},
      {"duration too long",
       [](auto* r) { r->mutable_appointment()->set_duration_minutes(481); },
       "appointment.duration_minutes"},
      {"priority unset",
       [](auto* r) {
         r->mutable_appointment()->set_priority(
             v1::Appointment::PRIORITY_UNSPECIFIED);
       },
       "appointment.priority"},
      {"patient missing",
       [](auto* r) { r->mutable_appointment()->clear_patient(); },
       "appointment.patient"},
      {"name missing",
       [](auto* r) {
         r->mutable_appointment()->mutable_patient()->clear_display_name();
       },
       "appointment.patient.display_name"},
      {"name too long",
       [](auto* r) {
         r->mutable_appointment()->mutable_patient()->set_display_name(
             std::string(129, 'n'));
       },
       "appointment.patient.display_name"},
      {"email implausible",
       [](auto* r) {
         r->mutable_appointment()->mutable_patient()->set_email("ada.example");
       },
       "appointment.patient.email"},
      {"email too long",
       [](auto* r) {
         r->mutable_appointment()->mutable_patient()->set_email(
             std::string(250, 'a') + "@example.com");
       },
       "appointment.patient.email"},
      {"phone not E.164",
       [](auto* r) {
         r->mutable_appointment()->mutable_patient()->set_phone("555-0100");
       },
       "appointment.patient.phone"},
      {"notes too long",
       [](auto* r) {
         r->mutable_appointment()->set_notes(std::string(1025, 'x'));
       },
       "appointment.notes"},
      {"whole request over 16 KiB",
       [](auto* r) {
         // Output-only fields are ignored but still count towards the size.
         r->mutable_appointment()->set_failure_reason(std::string(17000, 'x'));
       },
       "request"},
  };
  for (const InvalidCase& c : cases) {
    auto req = ValidCreateRequest("req-" + std::to_string(&c - &cases[0]), now);
    c.mutate(&req);
    Reply r = Create(*h, req);
    EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << c.name << ": " << r.status.error_message();
    EXPECT_THAT(r.status.error_message(), HasSubstr(c.field)) << c.name;
  }
  // Nothing was written for any of them.
  auto page = h->store().ListAppointments(ListQuery{});
  ASSERT_OK(page);
  EXPECT_TRUE(page->appointments.empty());
}

TEST(ValidationTest, HugeMessagesAreRefusedByTheTransport) {
  auto h = StartHarness();
  auto req = ValidCreateRequest("req-huge", absl::Now());
  req.mutable_appointment()->set_failure_reason(std::string(100 * 1024, 'x'));
  Reply r = Create(*h, req);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(r.status.error_message(), HasSubstr("larger than max"));
}

TEST(ValidationTest, OtherMethodsNameTheBrokenField) {
  auto h = StartHarness();
  EXPECT_EQ(Get(*h, "").status.error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(Get(*h, std::string(20000, 'i')).status.error_message(),
              HasSubstr("request"));

  Reply c = Cancel(*h, "", "r1");
  EXPECT_EQ(c.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(c.status.error_message(), HasSubstr("id"));
  c = Cancel(*h, "apt_x", "bad id!");
  EXPECT_EQ(c.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(c.status.error_message(), HasSubstr("request_id"));
  c = Cancel(*h, "apt_x", "r1", std::string(1025, 'r'));
  EXPECT_EQ(c.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(c.status.error_message(), HasSubstr("reason"));

  auto list = [&](std::function<void(v1::ListAppointmentsRequest*)> mutate) {
    v1::ListAppointmentsRequest req;
    mutate(&req);
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::ListAppointmentsResponse resp;
    return h->stub().ListAppointments(&context, req, &resp);
  };
  grpc::Status s = list([](auto* r) { r->set_page_size(1001); });
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("page_size"));
  s = list([](auto* r) { r->set_page_size(-1); });
  EXPECT_THAT(s.error_message(), HasSubstr("page_size"));
  s = list([](auto* r) { r->set_page_token("garbage!"); });
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("page_token"));
  s = list(
      [](auto* r) { r->set_state(static_cast<v1::Appointment::State>(99)); });
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("state"));
}

// ------------------------------------------------------------ get/list --

TEST(GetAppointmentTest, UnknownIdIsNotFound) {
  auto h = StartHarness();
  Reply r = Get(*h, "apt_01HZZZZZZZZZZZZZZZZZZZZZZZ");
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST(ListAppointmentsTest, PagesThroughAThousandRowsWithFilters) {
  auto h = StartHarness();
  // 1,000 appointments written straight through the store (fast), spread
  // over two providers and four customers; every 7th is cancelled.
  const absl::Time now = absl::Now();
  IdGenerator ids(RealClock(), /*seed=*/7);
  std::vector<CreateIntent> intents;
  for (int i = 0; i < 1000; ++i) {
    auto req = ValidCreateRequest(absl::StrCat("bulk-", i), now,
                                  absl::StrCat("cust-", i % 4),
                                  i % 2 == 0 ? "clinic-a" : "clinic-b");
    CreateIntent in;
    in.request_id = req.request_id();
    in.fingerprint = absl::StrCat("fp-", i);
    in.appointment = req.appointment();
    in.appointment.set_id(ids.NewAppointmentId());
    in.appointment.set_request_id(req.request_id());
    in.now = now;
    in.key_expiry = now + absl::Hours(24);
    in.book_deadline = now + absl::Hours(24);
    intents.push_back(std::move(in));
  }
  for (const auto& r : h->store().CreateAppointments(intents)) ASSERT_OK(r);
  for (int i = 0; i < 1000; i += 7) {
    CancelIntent c;
    c.appointment_id = intents[i].appointment.id();
    c.request_id = absl::StrCat("bulk-cancel-", i);
    c.fingerprint = c.request_id;
    c.now = now;
    c.key_expiry = now + absl::Hours(24);
    c.cancel_deadline = now + absl::Hours(24);
    ASSERT_OK(h->store().CancelAppointment(c));
  }

  auto list_all = [&](std::function<void(v1::ListAppointmentsRequest*)> filter,
                      int page_size) {
    std::vector<v1::Appointment> all;
    std::string token;
    int pages = 0;
    do {
      v1::ListAppointmentsRequest req;
      filter(&req);
      req.set_page_size(page_size);
      req.set_page_token(token);
      grpc::ClientContext context;
      SetDeadline(&context);
      v1::ListAppointmentsResponse resp;
      grpc::Status s = h->stub().ListAppointments(&context, req, &resp);
      EXPECT_TRUE(s.ok()) << s.error_message();
      if (!s.ok()) break;
      EXPECT_LE(resp.appointments_size(), page_size);
      for (const auto& a : resp.appointments()) all.push_back(a);
      token = resp.next_page_token();
      ++pages;
    } while (!token.empty() && pages < 2000);
    return all;
  };
  auto expected = [&](std::function<bool(int)> keep) {
    std::vector<std::string> ids_desc;
    for (int i = 999; i >= 0; --i) {
      if (keep(i)) ids_desc.push_back(intents[i].appointment.id());
    }
    return ids_desc;
  };
  auto ids_of = [](const std::vector<v1::Appointment>& v) {
    std::vector<std::string> out;
    for (const auto& a : v) out.push_back(a.id());
    return out;
  };

  // Everything, newest first, no duplicates or gaps across 14 pages.
  EXPECT_EQ(ids_of(list_all([](auto*) {}, 73)),
            expected([](int) { return true; }));
  // The default page size is 100.
  {
    v1::ListAppointmentsRequest req;
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::ListAppointmentsResponse resp;
    ASSERT_TRUE(h->stub().ListAppointments(&context, req, &resp).ok());
    EXPECT_EQ(resp.appointments_size(), 100);
    EXPECT_FALSE(resp.next_page_token().empty());
  }
  EXPECT_EQ(
      ids_of(list_all([](auto* r) { r->set_provider_id("clinic-b"); }, 64)),
      expected([](int i) { return i % 2 == 1; }));
  EXPECT_EQ(ids_of(list_all([](auto* r) { r->set_customer_id("cust-3"); }, 50)),
            expected([](int i) { return i % 4 == 3; }));
  EXPECT_EQ(ids_of(list_all(
                [](auto* r) { r->set_state(v1::Appointment::CANCELLED); }, 10)),
            expected([](int i) { return i % 7 == 0; }));
  EXPECT_EQ(ids_of(list_all(
                [](auto* r) {
                  r->set_state(v1::Appointment::PENDING);
                  r->set_provider_id("clinic-a");
                  r->set_customer_id("cust-2");
                },
                1000)),
            expected([](int i) { return i % 4 == 2 && i % 7 != 0; }));
  // A filter that matches nothing: one empty page, no token.
  EXPECT_TRUE(
      list_all([](auto* r) { r->set_customer_id("nobody"); }, 10).empty());
}

// --------------------------------------------------------------- cancel --

class CancelTest : public ::testing::Test {
 protected:
  void SetUp() override { h_ = StartHarness(); }

  std::string NewAppointment(const std::string& request_id) {
    Reply r = Create(*h_, ValidCreateRequest(request_id, absl::Now()));
    EXPECT_TRUE(r.status.ok()) << r.status.error_message();
    return r.appointment.id();
  }
  int CountCommands(const std::string& id, CommandType type,
                    CommandStatus status) {
    int n = 0;
    for (const OutboxCommand& c : Commands(*h_, id)) {
      if (c.type == type && c.status == status) ++n;
    }
    return n;
  }

  std::unique_ptr<ServiceHarness> h_;
};

TEST_F(CancelTest, PendingNeverSentIsCancelledLocallyAndTheBookNeverGoesOut) {
  const std::string id = NewAppointment("c-pending");
  Reply r = Cancel(*h_, id, "cancel-1", "changed plans");
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_EQ(r.appointment.state(), v1::Appointment::CANCELLED);
  EXPECT_EQ(r.appointment.cancel_reason(), "changed plans");
  EXPECT_EQ(CountCommands(id, CommandType::kCancel, CommandStatus::kPending),
            0);
  // A worker finds nothing to send for it.
  ClaimRequest claim;
  claim.worker_id = "w";
  claim.now = absl::Now() + absl::Hours(1);
  claim.lease = absl::Minutes(1);
  claim.max_rows = 100;
  auto claimed = h_->store().ClaimDueCommands(claim);
  ASSERT_OK(claimed);
  for (const ClaimedCommand& c : *claimed) {
    EXPECT_NE(c.command.appointment_id, id);
  }
}

TEST_F(CancelTest, PendingAfterAnAttemptBecomesCancelling) {
  const std::string id = NewAppointment("c-retry");
  // One attempt was made and a retry scheduled: the provider may have it.
  Complete(*h_, ClaimFor(*h_, id), Appointment::PENDING,
           CommandOutcome::Disposition::kReschedule);
  Reply r = Cancel(*h_, id, "cancel-retry");
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_EQ(r.appointment.state(), v1::Appointment::CANCELLING);
  EXPECT_EQ(CountCommands(id, CommandType::kCancel, CommandStatus::kPending),
            1);
}

TEST_F(CancelTest,
       InFlightAwaitingAndConfirmedBecomeCancellingWithACancelQueued) {
  const std::string in_progress = NewAppointment("c-inprogress");
  ClaimFor(*h_, in_progress);  // IN_PROGRESS, lease held

  const std::string awaiting = NewAppointment("c-awaiting");
  Complete(*h_, ClaimFor(*h_, awaiting), Appointment::AWAITING_CONFIRMATION);

  const std::string confirmed = NewAppointment("c-confirmed");
  Complete(*h_, ClaimFor(*h_, confirmed), Appointment::CONFIRMED);

  for (const std::string& id : {in_progress, awaiting, confirmed}) {
    Reply r = Cancel(*h_, id, "cancel-" + id.substr(4));
    ASSERT_TRUE(r.status.ok()) << id << ": " << r.status.error_message();
    EXPECT_EQ(r.appointment.state(), v1::Appointment::CANCELLING) << id;
    EXPECT_EQ(CountCommands(id, CommandType::kCancel, CommandStatus::kPending),
              1)
        << id;
  }
  // Cancelling again (another request_id) is harmless: still CANCELLING, no
  // second CANCEL.
  Reply again = Cancel(*h_, confirmed, "cancel-again");
  ASSERT_TRUE(again.status.ok());
  EXPECT_EQ(again.appointment.state(), v1::Appointment::CANCELLING);
  EXPECT_EQ(
      CountCommands(confirmed, CommandType::kCancel, CommandStatus::kPending),
      1);
}

TEST_F(CancelTest, TerminalIsFailedPreconditionButTheSameRequestIdReplays) {
  const std::string id = NewAppointment("c-terminal");
  Reply first = Cancel(*h_, id, "cancel-once");
  ASSERT_TRUE(first.status.ok());
  ASSERT_EQ(first.appointment.state(), v1::Appointment::CANCELLED);

  Reply replay = Cancel(*h_, id, "cancel-once");
  ASSERT_TRUE(replay.status.ok()) << replay.status.error_message();
  EXPECT_TRUE(replay.replay);
  EXPECT_EQ(replay.appointment.state(), v1::Appointment::CANCELLED);

  Reply other = Cancel(*h_, id, "cancel-twice");
  EXPECT_EQ(other.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(other.status.error_message(), HasSubstr("CANCELLED"));

  Reply reused = Cancel(*h_, id, "cancel-once", "another reason");
  EXPECT_EQ(reused.status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
}

TEST_F(CancelTest, FailedAndCompensatingAreFailedPrecondition) {
  const std::string failed = NewAppointment("c-failed");
  Complete(*h_, ClaimFor(*h_, failed), Appointment::FAILED);
  const std::string compensating = NewAppointment("c-compensating");
  Complete(*h_, ClaimFor(*h_, compensating), Appointment::COMPENSATING);
  for (const std::string& id : {failed, compensating}) {
    Reply r = Cancel(*h_, id, "cancel-" + id.substr(4));
    EXPECT_EQ(r.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
        << id;
  }
}

TEST_F(CancelTest, UnknownIdIsNotFound) {
  Reply r = Cancel(*h_, "apt_01HZZZZZZZZZZZZZZZZZZZZZZZ", "cancel-unknown");
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::NOT_FOUND);
}

// ------------------------------------------------------- limits & auth --

TEST(RateLimitTest, OverTheLimitIsResourceExhaustedWithARetryHint) {
  SimulatedClock clock;
  HarnessOptions options;
  options.rate_limit = {/*qps=*/1, /*burst=*/2};
  options.rate_limit_clock = &clock;
  auto h = StartHarness(options);
  auto as = [](const std::string& client) {
    return [client](grpc::ClientContext* c) {
      c->AddMetadata("x-client-id", client);
    };
  };
  EXPECT_TRUE(Create(*h, ValidCreateRequest("rl-1", absl::Now()), as("alice"))
                  .status.ok());
  EXPECT_TRUE(Create(*h, ValidCreateRequest("rl-2", absl::Now()), as("alice"))
                  .status.ok());
  Reply refused =
      Create(*h, ValidCreateRequest("rl-3", absl::Now()), as("alice"));
  EXPECT_EQ(refused.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(refused.status.error_message(),
              HasSubstr("rate limit of 1 requests/s exceeded for client "
                        "'alice'"));
  EXPECT_EQ(refused.retry_after_ms, "1000");
  // Nothing was written for the refused call.
  auto page = h->store().ListAppointments(ListQuery{});
  ASSERT_OK(page);
  EXPECT_EQ(page->appointments.size(), 2u);

  // Another client has its own bucket; reads count too.
  EXPECT_TRUE(Create(*h, ValidCreateRequest("rl-4", absl::Now()), as("bob"))
                  .status.ok());
  // After the hinted wait, alice may call again.
  clock.Advance(absl::Seconds(1));
  EXPECT_TRUE(Create(*h, ValidCreateRequest("rl-3", absl::Now()), as("alice"))
                  .status.ok());
}

TEST(RateLimitTest, WithoutAClientIdThePeerIsTheKey) {
  SimulatedClock clock;
  HarnessOptions options;
  options.rate_limit = {/*qps=*/1, /*burst=*/1};
  options.rate_limit_clock = &clock;
  auto h = StartHarness(options);
  EXPECT_TRUE(Get(*h, "apt_missing").status.error_code() ==
              grpc::StatusCode::NOT_FOUND);
  Reply r = Get(*h, "apt_missing");
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(r.status.error_message(), HasSubstr("127.0.0.1"));
}

TEST(AuthTest, TokensAreRequiredWhenConfigured) {
  HarnessOptions options;
  options.auth_tokens = "# test tokens\ntoken-1\ntoken-2\n";
  auto h = StartHarness(options);
  auto with = [](const std::string& value) {
    return [value](grpc::ClientContext* c) {
      c->AddMetadata("authorization", value);
    };
  };
  Reply none = Create(*h, ValidCreateRequest("auth-1", absl::Now()));
  EXPECT_EQ(none.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  Reply wrong = Create(*h, ValidCreateRequest("auth-1", absl::Now()),
                       with("Bearer token-3"));
  EXPECT_EQ(wrong.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(wrong.status.error_message(), Not(HasSubstr("token-3")));
  Reply right = Create(*h, ValidCreateRequest("auth-1", absl::Now()),
                       with("Bearer token-2"));
  EXPECT_TRUE(right.status.ok()) << right.status.error_message();
  // Reads are protected too.
  EXPECT_EQ(Get(*h, right.appointment.id()).status.error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  // Health stays open for probes.
  auto health = CheckHealth(h->channel());
  ASSERT_OK(health);
  EXPECT_EQ(*health, 1);
}

// ---------------------------------------------------------------- watch --

class WatchTest : public ::testing::Test {
 protected:
  void SetUp() override { h_ = StartHarness(); }
  std::unique_ptr<ServiceHarness> h_;
};

TEST_F(WatchTest, SendsEachChangeAndEndsOnATerminalState) {
  Reply created = Create(*h_, ValidCreateRequest("w-1", absl::Now()));
  ASSERT_TRUE(created.status.ok());
  const std::string id = created.appointment.id();

  grpc::ClientContext context;
  SetDeadline(&context, absl::Seconds(20));
  v1::WatchAppointmentRequest req;
  req.set_id(id);
  auto reader = h_->stub().WatchAppointment(&context, req);
  v1::Appointment a;
  ASSERT_TRUE(reader->Read(&a));
  EXPECT_EQ(a.state(), v1::Appointment::PENDING);

  // Changes made through another connection, as the worker makes them.
  ClaimedCommand book = ClaimFor(*h_, id);
  ASSERT_TRUE(reader->Read(&a));
  EXPECT_EQ(a.state(), v1::Appointment::IN_PROGRESS);
  Complete(*h_, book, Appointment::CONFIRMED);
  ASSERT_TRUE(reader->Read(&a));
  EXPECT_EQ(a.state(), v1::Appointment::CONFIRMED);
  EXPECT_EQ(a.provider_booking_id(), "bk-1");
  ASSERT_TRUE(Cancel(*h_, id, "w-cancel").status.ok());
  ASSERT_TRUE(reader->Read(&a));
  EXPECT_EQ(a.state(), v1::Appointment::CANCELLING);
  Complete(*h_, ClaimFor(*h_, id), Appointment::CANCELLED);
  ASSERT_TRUE(reader->Read(&a));
  EXPECT_EQ(a.state(), v1::Appointment::CANCELLED);
  EXPECT_FALSE(reader->Read(&a));
  grpc::Status s = reader->Finish();
  EXPECT_TRUE(s.ok()) << s.error_message();
}

TEST_F(WatchTest, EndsAtTheClientsDeadline) {
  Reply created = Create(*h_, ValidCreateRequest("w-2", absl::Now()));
  ASSERT_TRUE(created.status.ok());
  grpc::ClientContext context;
  // Long enough for the first message even on a loaded machine.
  SetDeadline(&context, absl::Milliseconds(1500));
  v1::WatchAppointmentRequest req;
  req.set_id(created.appointment.id());
  auto reader = h_->stub().WatchAppointment(&context, req);
  v1::Appointment a;
  ASSERT_TRUE(reader->Read(&a));
  EXPECT_EQ(a.state(), v1::Appointment::PENDING);
  EXPECT_FALSE(reader->Read(&a));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  // The server let go of the watcher. It may take a tick to notice.
  while (h_->hub().watcher_count() != 0) {
    h_->hub().AwaitTicks(h_->hub().ticks() + 1);
  }
}

TEST_F(WatchTest, ATerminalAppointmentIsSentOnceAndTheStreamEnds) {
  Reply created = Create(*h_, ValidCreateRequest("w-3", absl::Now()));
  ASSERT_TRUE(created.status.ok());
  ASSERT_TRUE(Cancel(*h_, created.appointment.id(), "w-3-cancel").status.ok());
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::WatchAppointmentRequest req;
  req.set_id(created.appointment.id());
  auto reader = h_->stub().WatchAppointment(&context, req);
  v1::Appointment a;
  ASSERT_TRUE(reader->Read(&a));
  EXPECT_EQ(a.state(), v1::Appointment::CANCELLED);
  EXPECT_FALSE(reader->Read(&a));
  EXPECT_TRUE(reader->Finish().ok());
}

TEST_F(WatchTest, UnknownIdIsNotFound) {
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::WatchAppointmentRequest req;
  req.set_id("apt_01HZZZZZZZZZZZZZZZZZZZZZZZ");
  auto reader = h_->stub().WatchAppointment(&context, req);
  v1::Appointment a;
  EXPECT_FALSE(reader->Read(&a));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::NOT_FOUND);
}

// ------------------------------------------------------- observability --

TEST(ObservabilityTest, NoPatientDataInAnyLogLine) {
  ScopedLogCapture logs(LogLevel::kDebug);
  auto h = StartHarness();
  auto req = ValidCreateRequest("pii-1", absl::Now());
  auto* p = req.mutable_appointment()->mutable_patient();
  p->set_display_name("Zebulon Quarterfield");
  p->set_email("zebulon.q@pii-example.org");
  p->set_phone("+15550009876");
  req.mutable_appointment()->set_notes("allergic to xylophones");
  Reply ok = Create(*h, req);
  ASSERT_TRUE(ok.status.ok());
  Create(*h, req);  // replay
  auto bad = req;
  bad.set_request_id("pii-2");
  bad.mutable_appointment()->set_duration_minutes(1);  // refused
  Create(*h, bad);
  auto bad_email = req;
  bad_email.set_request_id("pii-3");
  bad_email.mutable_appointment()->mutable_patient()->set_email(
      "zebulon.q@@pii-example.org");
  Create(*h, bad_email);
  Get(*h, ok.appointment.id());
  Cancel(*h, ok.appointment.id(), "pii-cancel", "Zebulon is unwell");
  h.reset();  // flush everything the server logs

  const std::string text = logs.Text();
  ASSERT_THAT(text, HasSubstr("create_appointment"));
  EXPECT_THAT(text, HasSubstr("\"patient_name\":\"Z***\""));
  EXPECT_THAT(text, HasSubstr("\"patient_email\":\"***@pii-example.org\""));
  EXPECT_THAT(text, HasSubstr("\"patient_phone\":\"***76\""));
  for (const char* secret : {"Zebulon", "Quarterfield", "zebulon.q",
                             "5550009876", "0009876", "xylophones", "unwell"}) {
    EXPECT_THAT(text, Not(HasSubstr(secret))) << secret;
  }
}

TEST(ObservabilityTest, CountsRequestsByMethodAndCodeAndReplays) {
  auto h = StartHarness();
  auto req = ValidCreateRequest("m-1", absl::Now());
  ASSERT_TRUE(Create(*h, req).status.ok());
  ASSERT_TRUE(Create(*h, req).status.ok());
  Get(*h, "apt_unknown");
  const std::string text = h->metrics().RenderPrometheusText();
  EXPECT_THAT(text, HasSubstr("api_requests_total{code=\"OK\",method="
                              "\"CreateAppointment\"} 2"));
  EXPECT_THAT(text, HasSubstr("api_requests_total{code=\"NOT_FOUND\",method="
                              "\"GetAppointment\"} 1"));
  EXPECT_THAT(text, HasSubstr("api_idempotent_replays_total{method="
                              "\"CreateAppointment\"} 1"));
  EXPECT_THAT(text, HasSubstr("api_request_duration_seconds_count{method="
                              "\"CreateAppointment\"} 2"));
}

TEST(HealthTest, ServingOnceTheDatabaseIsOpen) {
  auto h = StartHarness();
  auto health = CheckHealth(h->channel());
  ASSERT_OK(health);
  EXPECT_EQ(*health, 1);
}

}  // namespace
}  // namespace booking
