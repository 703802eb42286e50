// Two real paymento-bridge processes on one PostgreSQL database, as two
// replicas: events posted to one reach streams on the other, an event
// posted to both is stored once, and a database restart under load loses
// no event that got a 200 response.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <memory>
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
  }
}

}  // namespace
}  // namespace paymento::bridge
