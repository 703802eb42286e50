// Graceful shutdown of the real binary on SIGTERM: readiness turns false
// before the listeners close, streams end with UNAVAILABLE, and every
// webhook answered 200 is still there after a restart.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/operations/operations_support.h"

namespace paymento::bridge::test_support {
namespace {

using ServingStatus = grpc::health::v1::HealthCheckResponse;

// Sends SIGTERM on a thread of its own, so the test can watch the process
// while it drains.
class Terminator {
 public:
  explicit Terminator(BridgeProcess& bridge)
      : sent_(absl::Now()),
        thread_([this, &bridge] { status_ = bridge.Stop(SIGTERM); }) {}
  ~Terminator() { Join(); }

  // Waits for the exit; returns the waitpid status.
  int Join() {
    if (thread_.joinable()) thread_.join();
    return status_;
  }
  absl::Duration elapsed() const { return absl::Now() - sent_; }

 private:
  const absl::Time sent_;
  int status_ = -1;
  std::thread thread_;
};

TEST(ShutdownTest, ReadinessFailsBeforeListenersClose) {
  BridgeOptions options = OperationsOptions();
  options.extra_args.push_back("--drain-delay=2s");
  BridgeProcess bridge(options);
  ASSERT_TRUE(bridge.Start().ok()) << bridge.Output();
  auto channel = PlaintextChannel(bridge);
  ASSERT_EQ(CheckHealth(channel).value_or(ServingStatus::UNKNOWN),
            ServingStatus::SERVING);

  Terminator terminator(bridge);
  int readyz = 200;
  while (readyz == 200 && terminator.elapsed() < absl::Seconds(1)) {
    readyz = ReadyzStatus(bridge);
  }
  absl::Duration not_ready_after = terminator.elapsed();
  EXPECT_EQ(readyz, 503);
  EXPECT_LT(not_ready_after, absl::Seconds(1));
  EXPECT_EQ(CheckHealth(channel).value_or(ServingStatus::UNKNOWN),
            ServingStatus::NOT_SERVING);

  // Within the drain delay the ingress still stores webhooks.
  httplib::Result during = PostEvent(bridge, "payment_link.paid", "evt_drain");
  ASSERT_TRUE(during) << httplib::to_string(during.error());
  EXPECT_EQ(during->status, 200);
  EXPECT_LT(terminator.elapsed(), absl::Seconds(2));

  int status = terminator.Join();
  EXPECT_GE(terminator.elapsed(), absl::Seconds(2));
  ASSERT_TRUE(WIFEXITED(status)) << bridge.Output();
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(ShutdownTest, StreamsEndUnavailable) {
  BridgeProcess bridge(OperationsOptions());
  ASSERT_TRUE(bridge.Start().ok()) << bridge.Output();
  auto stub = EventStub(PlaintextChannel(bridge));
  grpc::ClientContext tail_context;
  v1::SubscribeRequest tail_request;
  tail_request.mutable_heartbeat_interval()->set_seconds(1);
  auto tail = stub->Subscribe(&tail_context, tail_request);
  grpc::ClientContext durable_context;
  v1::SubscribeRequest durable_request = tail_request;
  durable_request.set_subscription("shutdown-test");
  auto durable = stub->Subscribe(&durable_context, durable_request);
  v1::SubscribeResponse heartbeat;
  ASSERT_TRUE(tail->Read(&heartbeat));
  ASSERT_TRUE(durable->Read(&heartbeat));

  Terminator terminator(bridge);
  v1::SubscribeResponse response;
  while (tail->Read(&response)) {
  }
  while (durable->Read(&response)) {
  }
  grpc::Status tail_status = tail->Finish();
  grpc::Status durable_status = durable->Finish();
  EXPECT_EQ(tail_status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << tail_status.error_message();
  EXPECT_EQ(durable_status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << durable_status.error_message();
  int status = terminator.Join();
  ASSERT_TRUE(WIFEXITED(status)) << bridge.Output();
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(ShutdownTest, EveryAcceptedWebhookSurvivesSigterm) {
  BridgeOptions options = OperationsOptions();
  options.extra_args.push_back("--drain-delay=500ms");
  BridgeProcess bridge(options);
  ASSERT_TRUE(bridge.Start().ok()) << bridge.Output();

  std::mutex mu;
  std::vector<std::string> accepted;
  std::atomic<int> refused{0};
  std::atomic<bool> stop{false};
  auto post_loop = [&](int worker) {
    for (int i = 0; !stop.load(); ++i) {
      std::string id = absl::StrCat("evt_sigterm_", worker, "_", i);
      httplib::Result result = PostEvent(bridge, "payment_link.paid", id);
      if (result && result->status == 200) {
        std::lock_guard<std::mutex> lock(mu);
        accepted.push_back(id);
      } else if (result) {
        EXPECT_EQ(result->status, 503) << result->body;
        EXPECT_FALSE(result->get_header_value("Retry-After").empty());
        ++refused;
      } else {
        absl::SleepFor(absl::Milliseconds(5));
      }
    }
  };
  std::vector<std::thread> workers;
  for (int worker = 0; worker < 3; ++worker) {
    workers.emplace_back(post_loop, worker);
  }
  absl::SleepFor(absl::Milliseconds(500));
  {
    Terminator terminator(bridge);
    int status = terminator.Join();
    EXPECT_TRUE(WIFEXITED(status)) << bridge.Output();
    EXPECT_EQ(WEXITSTATUS(status), 0) << bridge.Output();
  }
  stop = true;
  for (std::thread& worker : workers) worker.join();
  ASSERT_GT(accepted.size(), 0u);

  BridgeOptions restart = OperationsOptions();
  restart.data_directory =
      bridge.store_path().substr(0, bridge.store_path().rfind('/'));
  BridgeProcess restarted(restart);
  ASSERT_TRUE(restarted.Start().ok()) << restarted.Output();
  auto stub = EventStub(PlaintextChannel(restarted));
  int missing = 0;
  for (const std::string& id : accepted) {
    grpc::Status found = GetEvent(*stub, id);
    if (!found.ok()) {
      ++missing;
      ADD_FAILURE() << id << " was answered 200 but is missing: "
                    << found.error_message();
    }
  }
  EXPECT_EQ(missing, 0) << "of " << accepted.size() << " accepted, "
                        << refused.load() << " refused with 503";
}

}  // namespace
}  // namespace paymento::bridge::test_support
