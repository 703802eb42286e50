// Two real paymento-bridge processes on one PostgreSQL database, as two
// replicas: events posted to one reach streams on the other, an event
// posted to both is stored once, streams of one durable subscription on
// both replicas share its events without ever holding the same one at
// once, and a database restart under load loses no event that got a 200
// response.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "paymento/bridge/v1/event_service.grpc.pb.h"
#include "src/cli/sample_event.h"
#include "src/verification/signature_verifier.h"
#include "tests/testing/bridge_client.h"
#include "tests/testing/bridge_process.h"
#include "tests/testing/test_postgres.h"

namespace paymento::bridge {
namespace {

using ::paymento::bridge::test_support::BridgeOptions;
using ::paymento::bridge::test_support::BridgeProcess;
using ::paymento::bridge::test_support::kTestSecret;
using ::paymento::bridge::test_support::OpenStream;
using ::paymento::bridge::test_support::PostEvent;
using ::paymento::bridge::test_support::PostSigned;

std::unique_ptr<BridgeProcess> StartReplica(const std::string& store_url) {
  BridgeOptions options = test_support::OptionsWithSecret();
  options.store_url = store_url;
  auto bridge = std::make_unique<BridgeProcess>(options);
  absl::Status started = bridge->Start();
  EXPECT_TRUE(started.ok()) << started << "\n" << bridge->Output();
  return started.ok() ? std::move(bridge) : nullptr;
}

template <typename Condition>
bool Eventually(Condition condition, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (condition()) return true;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return condition();
}

// The status and body of an HTTP response, or -1 and the error.
struct Answer {
  Answer() = default;
  explicit Answer(const httplib::Result& result)
      : status(result ? result->status : -1),
        body(result ? result->body : httplib::to_string(result.error())) {}
  int status = -1;
  std::string body;
};

class PostgresReplicasTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PAYMENTO_REQUIRE_POSTGRES();
    absl::StatusOr<std::unique_ptr<test_support::TestPostgresSchema>> schema =
        test_support::TestPostgresSchema::Create(
            test_support::TestPostgresUrl());
    ASSERT_TRUE(schema.ok()) << schema.status();
    schema_ = *std::move(schema);
    first_ = StartReplica(schema_->url());
    ASSERT_NE(first_, nullptr);
    second_ = StartReplica(schema_->url());
    ASSERT_NE(second_, nullptr);
  }

  void TearDown() override {
    second_.reset();
    first_.reset();
    schema_.reset();
  }

  std::unique_ptr<test_support::TestPostgresSchema> schema_;
  std::unique_ptr<BridgeProcess> first_;
  std::unique_ptr<BridgeProcess> second_;
};

TEST_F(PostgresReplicasTest, WebhookReachesTailOnOtherReplica) {
  auto stub = test_support::NewStub(*second_);
  v1::SubscribeRequest request;
  request.mutable_heartbeat_interval()->set_seconds(1);
  OpenStream stream = test_support::Subscribe(*stub, request);
  // The first heartbeat shows the stream is open, so "latest" is fixed.
  ASSERT_TRUE(test_support::NextIsHeartbeat(stream));

  absl::Time posted = absl::Now();
  httplib::Result result =
      PostEvent(*first_, "payment_link.paid", "evt_cross_replica");
  ASSERT_TRUE(result);
  ASSERT_EQ(result->status, 200) << result->body;
  std::vector<v1::Delivery> deliveries =
      test_support::ReadDeliveries(stream, 1);
  absl::Duration latency = absl::Now() - posted;
  ASSERT_EQ(deliveries.size(), 1u);
  EXPECT_EQ(deliveries[0].event().id(), "evt_cross_replica");
  EXPECT_LT(latency, absl::Seconds(1));
}

TEST_F(PostgresReplicasTest, EventPostedToBothIsStoredOnce) {
  constexpr int kEvents = 20;
  for (int i = 0; i < kEvents; ++i) {
    std::string id = absl::StrCat("evt_both_", i);
    std::string body = SampleWebhookBody("payment_link.paid", id, absl::Now());
    std::string signature = HmacSha256Hex(kTestSecret, body);
    Answer on_first;
    Answer on_second;
    std::thread to_first(
        [&] { on_first = Answer(PostSigned(*first_, body, signature)); });
    std::thread to_second(
        [&] { on_second = Answer(PostSigned(*second_, body, signature)); });
    to_first.join();
    to_second.join();
    EXPECT_EQ(on_first.status, 200) << on_first.body;
    EXPECT_EQ(on_second.status, 200) << on_second.body;
    int duplicates = absl::StrContains(on_first.body, "duplicate") +
                     absl::StrContains(on_second.body, "duplicate");
    EXPECT_EQ(duplicates, 1) << on_first.body << " " << on_second.body;
  }

  auto stub = test_support::NewStub(*second_);
  grpc::ClientContext get_context;
  v1::GetEventRequest get;
  get.set_id("evt_both_0");
  v1::EventStatus status;
  ASSERT_TRUE(stub->GetEvent(&get_context, get, &status).ok());
  EXPECT_EQ(status.duplicate_count(), 1);

  grpc::ClientContext list_context;
  v1::ListEventsRequest list;
  list.set_page_size(100);
  v1::ListEventsResponse listed;
  ASSERT_TRUE(stub->ListEvents(&list_context, list, &listed).ok());
  EXPECT_EQ(listed.events_size(), kEvents);
}

v1::SubscribeRequest SharedSubscription(const std::string& name,
                                        int ack_deadline_seconds,
                                        int max_outstanding) {
  v1::SubscribeRequest request;
  request.set_subscription(name);
  request.set_position(v1::START_POSITION_EARLIEST);
  request.mutable_heartbeat_interval()->set_seconds(1);
  request.mutable_ack_deadline()->set_seconds(ack_deadline_seconds);
  request.set_max_outstanding(max_outstanding);
  request.set_max_delivery_attempts(100);
  return request;
}

// Acknowledges `ack_id` through `stub`; returns how many deliveries it
// settled, or -1 when the call failed.
int AcknowledgeOne(v1::EventService::Stub& stub,
                   const std::string& subscription,
                   const std::string& ack_id) {
  grpc::ClientContext context;
  v1::AcknowledgeRequest request;
  request.set_subscription(subscription);
  request.add_ack_ids(ack_id);
  v1::AcknowledgeResponse response;
  if (!stub.Acknowledge(&context, request, &response).ok()) return -1;
  return response.acknowledged();
}

// One delivery as a consumer saw it: when it arrived, and when its ack
// was accepted (never, for a delivery left to expire).
struct Received {
  std::string consumer;
  std::string event_id;
  std::string ack_id;
  int attempt = 0;
  absl::Time received_at;
  std::optional<absl::Time> acknowledged_at;
};

// A consumer of one durable subscription through one replica. It
// acknowledges each delivery through the stub of `ack_bridge` (its own
// replica or the other), except the first `events_to_ignore` events it
// receives, which it never acknowledges, so their leases expire.
class Consumer {
 public:
  Consumer(std::string name, const BridgeProcess& bridge,
           const BridgeProcess& ack_bridge, v1::SubscribeRequest request,
           size_t events_to_ignore = 0)
      : name_(std::move(name)),
        subscription_(request.subscription()),
        stub_(test_support::NewStub(bridge)),
        ack_stub_(test_support::NewStub(ack_bridge)),
        events_to_ignore_(events_to_ignore),
        stream_(test_support::Subscribe(*stub_, request, absl::Seconds(120))) {
    thread_ = std::thread([this] { Run(); });
  }
  ~Consumer() {
    stream_.context->TryCancel();
    thread_.join();
  }

  std::vector<Received> received() {
    absl::MutexLock lock(&mu_);
    return received_;
  }

  std::set<std::string> ignored() {
    absl::MutexLock lock(&mu_);
    return ignored_;
  }

 private:
  void Run() {
    v1::SubscribeResponse response;
    while (stream_.reader->Read(&response)) {
      // Every delivery of the response arrived now, before any ack below.
      absl::Time arrived = absl::Now();
      for (const v1::Delivery& delivery : response.deliveries()) {
        Received seen;
        seen.consumer = name_;
        seen.event_id = delivery.event().id();
        seen.ack_id = delivery.ack_id();
        seen.attempt = delivery.attempt();
        seen.received_at = arrived;
        if (!Ignores(seen.event_id)) {
          int acknowledged =
              AcknowledgeOne(*ack_stub_, subscription_, seen.ack_id);
          if (acknowledged == 1) seen.acknowledged_at = absl::Now();
        }
        absl::MutexLock lock(&mu_);
        received_.push_back(std::move(seen));
      }
    }
  }

  bool Ignores(const std::string& event_id) {
    absl::MutexLock lock(&mu_);
    if (ignored_.count(event_id) > 0) return true;
    if (ignored_.size() >= events_to_ignore_) return false;
    for (const Received& seen : received_) {
      if (seen.event_id == event_id) return false;
    }
    ignored_.insert(event_id);
    return true;
  }

  const std::string name_;
  const std::string subscription_;
  std::unique_ptr<v1::EventService::Stub> stub_;
  std::unique_ptr<v1::EventService::Stub> ack_stub_;
  const size_t events_to_ignore_;
  OpenStream stream_;
  absl::Mutex mu_;
  std::vector<Received> received_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> ignored_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

// Streams of one subscription on both replicas, each acknowledging its
// deliveries through the other replica. Consumer "a" lets a few events
// expire, which must then reach consumer "b". Every event is acknowledged
// once, and no event reaches a consumer while the other still has its lease. So
// a later delivery of an event comes only after the earlier one's lease
// ran out. That is at least the ack deadline after the earlier delivery
// arrived, less the time it took to arrive.
TEST_F(PostgresReplicasTest, CompetingStreamsNeverShareALease) {
  constexpr int kEvents = 300;
  constexpr int kAckDeadlineSeconds = 2;
  const std::string subscription = "shared-work";
  auto a = std::make_unique<Consumer>(
      "a", *first_, *second_,
      SharedSubscription(subscription, kAckDeadlineSeconds, 50),
      /*events_to_ignore=*/5);
  auto b = std::make_unique<Consumer>(
      "b", *second_, *first_,
      SharedSubscription(subscription, kAckDeadlineSeconds, 50));

  for (int i = 0; i < kEvents; ++i) {
    const BridgeProcess& target = i % 2 == 0 ? *first_ : *second_;
    httplib::Result result =
        PostEvent(target, "payment_link.paid", absl::StrCat("evt_shared_", i));
    ASSERT_TRUE(result);
    ASSERT_EQ(result->status, 200) << result->body;
  }

  auto all_acknowledged = [&] {
    std::set<std::string> acknowledged;
    for (Consumer* consumer : {a.get(), b.get()}) {
      for (const Received& seen : consumer->received()) {
        if (seen.acknowledged_at) acknowledged.insert(seen.event_id);
      }
    }
    return acknowledged.size() == static_cast<size_t>(kEvents);
  };
  EXPECT_TRUE(Eventually(all_acknowledged, absl::Seconds(60)));
  // Time for a wrong redelivery to show up.
  absl::SleepFor(absl::Seconds(kAckDeadlineSeconds + 1));
  std::set<std::string> ignored = a->ignored();
  EXPECT_EQ(ignored.size(), 5u);
  std::vector<Received> all = a->received();
  std::vector<Received> from_b = b->received();
  b.reset();
  a.reset();
  all.insert(all.end(), from_b.begin(), from_b.end());

  std::map<std::string, std::vector<Received>> by_event;
  for (const Received& seen : all) by_event[seen.event_id].push_back(seen);
  EXPECT_EQ(by_event.size(), static_cast<size_t>(kEvents));
  int received_by_a = 0;
  int received_by_b = 0;
  for (auto& [event_id, deliveries] : by_event) {
    std::sort(deliveries.begin(), deliveries.end(),
              [](const Received& x, const Received& y) {
                return x.received_at < y.received_at;
              });
    int acknowledged = 0;
    for (size_t i = 0; i < deliveries.size(); ++i) {
      const Received& seen = deliveries[i];
      (seen.consumer == "a" ? received_by_a : received_by_b) += 1;
      if (seen.acknowledged_at) ++acknowledged;
      if (i == 0) continue;
      const Received& before = deliveries[i - 1];
      EXPECT_FALSE(before.acknowledged_at.has_value())
          << event_id << " was delivered again after its ack";
      // The lease is measured from before the claim that took it, and a
      // delivery arrives some milliseconds after that claim.
      EXPECT_GE(seen.received_at - before.received_at,
                absl::Seconds(kAckDeadlineSeconds) - absl::Milliseconds(300))
          << event_id << " reached " << seen.consumer << " while "
          << before.consumer << " still held it";
    }
    EXPECT_EQ(acknowledged, 1) << event_id;
  }
  EXPECT_GT(received_by_a, 0);
  EXPECT_GT(received_by_b, 0);

  for (const std::string& event_id : ignored) {
    const std::vector<Received>& deliveries = by_event[event_id];
    ASSERT_FALSE(deliveries.empty()) << event_id;
    EXPECT_EQ(deliveries.front().consumer, "a")
        << event_id << " went to b first";
    EXPECT_EQ(deliveries.back().consumer, "b") << event_id;
    EXPECT_TRUE(deliveries.back().acknowledged_at.has_value()) << event_id;
    EXPECT_EQ(deliveries.back().attempt, static_cast<int>(deliveries.size()))
        << event_id;
  }
}

// A stream on the first replica fills its only slot (max_outstanding 1);
// the client acknowledges through the second replica. The ack takes
// effect: the event is not delivered again, GetEvent on either replica
// shows it acknowledged, and the stream's slot is free for the next event.
TEST_F(PostgresReplicasTest, AckThroughOtherReplicaSettlesLease) {
  const std::string subscription = "ack-elsewhere";
  auto stub_first = test_support::NewStub(*first_);
  auto stub_second = test_support::NewStub(*second_);
  OpenStream stream = test_support::Subscribe(
      *stub_first, SharedSubscription(subscription, 2, 1));
  ASSERT_TRUE(test_support::NextIsHeartbeat(stream));
  for (const char* id : {"evt_elsewhere_0", "evt_elsewhere_1"}) {
    httplib::Result result = PostEvent(*second_, "payment_link.paid", id);
    ASSERT_TRUE(result);
    ASSERT_EQ(result->status, 200) << result->body;
  }

  std::vector<v1::Delivery> first_delivery =
      test_support::ReadDeliveries(stream, 1);
  ASSERT_EQ(first_delivery.size(), 1u);
  EXPECT_EQ(first_delivery[0].event().id(), "evt_elsewhere_0");
  EXPECT_EQ(AcknowledgeOne(*stub_second, subscription,
                           first_delivery[0].ack_id()),
            1);
  // The same ack id again, through either replica, matches nothing.
  EXPECT_EQ(AcknowledgeOne(*stub_first, subscription,
                           first_delivery[0].ack_id()),
            0);

  std::vector<v1::Delivery> second_delivery =
      test_support::ReadDeliveries(stream, 1);
  ASSERT_EQ(second_delivery.size(), 1u);
  EXPECT_EQ(second_delivery[0].event().id(), "evt_elsewhere_1");
  EXPECT_EQ(AcknowledgeOne(*stub_second, subscription,
                           second_delivery[0].ack_id()),
            1);
  // Longer than the ack deadline: nothing is delivered again.
  for (int heartbeat = 0; heartbeat < 3; ++heartbeat) {
    EXPECT_TRUE(test_support::NextIsHeartbeat(stream)) << heartbeat;
  }

  for (v1::EventService::Stub* stub : {stub_first.get(), stub_second.get()}) {
    grpc::ClientContext context;
    v1::GetEventRequest request;
    request.set_id("evt_elsewhere_0");
    v1::EventStatus status;
    ASSERT_TRUE(stub->GetEvent(&context, request, &status).ok());
    ASSERT_EQ(status.deliveries_size(), 1);
    EXPECT_EQ(status.deliveries(0).subscription(), subscription);
    EXPECT_EQ(status.deliveries(0).state(), v1::DELIVERY_STATE_ACKNOWLEDGED);
    EXPECT_EQ(status.deliveries(0).attempts(), 1);
  }
}

// Reads a tail stream on one replica from the start, and subscribes again
// after the last sequence it received whenever the stream ends, as a
// client that resumes does.
class ResumingTail {
 public:
  explicit ResumingTail(const BridgeProcess& bridge)
      : stub_(test_support::NewStub(bridge)), thread_([this] { Run(); }) {}
  ~ResumingTail() {
    stopping_.store(true);
    {
      absl::MutexLock lock(&mu_);
      if (context_ != nullptr) context_->TryCancel();
    }
    thread_.join();
  }

  std::set<std::string> ids() {
    absl::MutexLock lock(&mu_);
    return ids_;
  }

 private:
  void Run() {
    while (!stopping_.load()) {
      v1::SubscribeRequest request;
      int64_t after = last_sequence_.load();
      if (after == 0) {
        request.set_position(v1::START_POSITION_EARLIEST);
      } else {
        request.set_after_sequence(after);
      }
      request.mutable_heartbeat_interval()->set_seconds(1);
      grpc::ClientContext context;
      context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
      {
        absl::MutexLock lock(&mu_);
        if (stopping_.load()) return;
        context_ = &context;
      }
      auto reader = stub_->Subscribe(&context, request);
      v1::SubscribeResponse response;
      while (reader->Read(&response)) {
        absl::MutexLock lock(&mu_);
        for (const v1::Delivery& delivery : response.deliveries()) {
          ids_.insert(delivery.event().id());
          last_sequence_.store(delivery.event().sequence());
        }
      }
      reader->Finish().IgnoreError();
      {
        absl::MutexLock lock(&mu_);
        context_ = nullptr;
      }
      absl::SleepFor(absl::Milliseconds(200));
    }
  }

  std::unique_ptr<v1::EventService::Stub> stub_;
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> last_sequence_{0};
  absl::Mutex mu_;
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::set<std::string> ids_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

int ReadyzStatus(const BridgeProcess& bridge) {
  httplib::Client admin("127.0.0.1", bridge.admin_port());
  admin.set_connection_timeout(1);
  admin.set_read_timeout(2);
  httplib::Result result = admin.Get("/readyz");
  return result ? result->status : -1;
}

// The database stops (pg_ctl stop -m fast) while webhooks keep arriving at
// both replicas, and starts again. Meanwhile webhooks get 503 responses
// with Retry-After and readiness turns false. Afterwards readiness returns
// by itself, and every event that got a 200 response, before, during or
// after the outage, reaches a stream that resumes after its last sequence.
TEST(PostgresReplicasOutageTest, RestartLosesNoAcceptedEvent) {
  PAYMENTO_REQUIRE_POSTGRES();
  absl::StatusOr<std::unique_ptr<test_support::PrivatePostgresServer>> server =
      test_support::PrivatePostgresServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  std::unique_ptr<BridgeProcess> first = StartReplica((*server)->url());
  ASSERT_NE(first, nullptr);
  std::unique_ptr<BridgeProcess> second = StartReplica((*server)->url());
  ASSERT_NE(second, nullptr);
  auto tail = std::make_unique<ResumingTail>(*second);

  absl::Mutex mu;
  std::set<std::string> accepted;
  int retry_after_responses = 0;
  std::vector<std::string> unexpected;
  std::atomic<bool> stop_load{false};
  std::thread load([&] {
    for (int i = 0; !stop_load.load(); ++i) {
      const BridgeProcess& target = i % 2 == 0 ? *first : *second;
      std::string id = absl::StrCat("evt_load_", i);
      httplib::Result result = PostEvent(target, "payment_link.paid", id);
      absl::MutexLock lock(&mu);
      if (result && result->status == 200) {
        accepted.insert(id);
      } else if (result && result->status == 503 &&
                 !result->get_header_value("Retry-After").empty()) {
        ++retry_after_responses;
      } else {
        unexpected.push_back(
            result
                ? absl::StrCat(id, ": ", result->status, " ", result->body)
                : absl::StrCat(id, ": ", httplib::to_string(result.error())));
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
  });
  auto count_retry_after = [&] {
    absl::MutexLock lock(&mu);
    return retry_after_responses;
  };

  absl::SleepFor(absl::Seconds(1));
  ASSERT_TRUE((*server)->StopServer().ok());
  EXPECT_TRUE(
      Eventually([&] { return ReadyzStatus(*first) == 503; }, absl::Seconds(5)))
      << "readiness stayed true without the database";
  EXPECT_TRUE(
      Eventually([&] { return count_retry_after() > 0; }, absl::Seconds(5)))
      << "no webhook was answered 503 with Retry-After";

  ASSERT_TRUE((*server)->StartServer().ok());
  EXPECT_TRUE(Eventually([&] { return ReadyzStatus(*first) == 200; },
                         absl::Seconds(10)))
      << "readiness did not return";
  EXPECT_TRUE(Eventually([&] { return ReadyzStatus(*second) == 200; },
                         absl::Seconds(10)));
  int accepted_before_resume = 0;
  {
    absl::MutexLock lock(&mu);
    accepted_before_resume = static_cast<int>(accepted.size());
  }
  EXPECT_TRUE(Eventually(
      [&] {
        absl::MutexLock lock(&mu);
        return static_cast<int>(accepted.size()) > accepted_before_resume + 5;
      },
      absl::Seconds(10)))
      << "webhooks are not accepted again";
  stop_load.store(true);
  load.join();

  std::set<std::string> expected;
  {
    absl::MutexLock lock(&mu);
    expected = accepted;
    EXPECT_TRUE(unexpected.empty()) << unexpected.front();
  }
  std::vector<std::string> missing;
  Eventually(
      [&] {
        std::set<std::string> delivered = tail->ids();
        missing.clear();
        for (const std::string& id : expected) {
          if (delivered.count(id) == 0) missing.push_back(id);
        }
        return missing.empty();
      },
      absl::Seconds(10));
  EXPECT_TRUE(missing.empty())
      << missing.size() << " of " << expected.size()
      << " accepted events never reached the stream, first " << missing[0];
  tail.reset();

  std::string password = (*server)->password();
  for (const BridgeProcess* bridge : {first.get(), second.get()}) {
    std::string output = bridge->Output();
    EXPECT_FALSE(absl::StrContains(output, password))
        << "the database password appears in the log";
    EXPECT_TRUE(absl::StrContains(output, "PostgreSQL unreachable")) << output;
    EXPECT_TRUE(absl::StrContains(output, "PostgreSQL reachable again"))
        << output;
    EXPECT_TRUE(absl::StrContains(output, "store writes failing")) << output;
    EXPECT_TRUE(absl::StrContains(output, "store writes recovered")) << output;
  }
}

}  // namespace
}  // namespace paymento::bridge
