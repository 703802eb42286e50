// Memory against the real binary: what thousands of closed streams used
// goes back to the system, so the bridge does not stay at its peak size.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/types.h>

#include <atomic>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "tests/testing/bridge_client.h"
#include "tests/testing/bridge_process.h"

namespace paymento::bridge {
namespace {

using test_support::BridgeProcess;

constexpr int kStreams = 6000;

// Returns the VmRSS of `pid` in bytes, or -1.
int64_t ResidentBytes(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (!absl::StartsWith(line, "VmRSS:")) continue;
    std::vector<std::string> fields =
        absl::StrSplit(line, ' ', absl::SkipEmpty());
    int64_t kib = 0;
    if (fields.size() >= 2 && absl::SimpleAtoi(fields[1], &kib)) {
      return kib * 1024;
    }
  }
  return -1;
}

// A tail stream from sequence 0 on the callback API, so that thousands
// need no client thread each. It counts its first delivery and its end.
class CountingStream : public grpc::ClientReadReactor<v1::SubscribeResponse> {
 public:
  CountingStream(v1::EventService::Stub& stub, std::atomic<int>& delivered,
                 std::atomic<int>& ended)
      : delivered_(delivered), ended_(ended) {
    request_.set_after_sequence(0);
    stub.async()->Subscribe(&context_, &request_, this);
    StartRead(&response_);
    StartCall();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;
    if (!counted_ && response_.deliveries_size() > 0) {
      counted_ = true;
      delivered_.fetch_add(1);
    }
    StartRead(&response_);
  }

  void OnDone(const grpc::Status&) override { ended_.fetch_add(1); }

  void Cancel() { context_.TryCancel(); }

 private:
  std::atomic<int>& delivered_;
  std::atomic<int>& ended_;
  grpc::ClientContext context_;
  v1::SubscribeRequest request_;
  v1::SubscribeResponse response_;
  bool counted_ = false;
};

bool WaitForCount(const std::atomic<int>& count, int expected,
                  absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (count.load() < expected) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return true;
}

int CountOccurrences(const std::string& text, const std::string& part) {
  int count = 0;
  for (size_t at = text.find(part); at != std::string::npos;
       at = text.find(part, at + part.size())) {
    ++count;
  }
  return count;
}

TEST(MemoryTest, ClosedStreamsReturnTheirMemory) {
  const std::string kTrimLine = "returned freed memory to the system";
  BridgeProcess bridge(test_support::OptionsWithSecret());
  ASSERT_TRUE(bridge.Start().ok()) << bridge.Output();
  const int64_t idle = ResidentBytes(bridge.pid());
  ASSERT_GT(idle, 0);

  auto stub = test_support::NewStub(bridge);
  std::atomic<int> delivered{0};
  std::atomic<int> ended{0};
  std::vector<std::unique_ptr<CountingStream>> streams;
  // Ends every stream before the reactors are destroyed, also when an
  // assertion returns early; reactors of calls that never end are leaked.
  absl::Cleanup close_streams = [&] {
    for (auto& stream : streams) stream->Cancel();
    if (!WaitForCount(ended, static_cast<int>(streams.size()),
                      absl::Seconds(60))) {
      for (auto& stream : streams) stream.release();
    }
  };
  for (int i = 0; i < kStreams; ++i) {
    streams.push_back(
        std::make_unique<CountingStream>(*stub, delivered, ended));
  }
  ASSERT_EQ(test_support::PostEvent(bridge, "payment_link.paid", "evt_memory")
                ->status,
            200);
  ASSERT_TRUE(WaitForCount(delivered, kStreams, absl::Seconds(60)))
      << delivered.load() << " of " << kStreams << " streams got the event";
  const int64_t open = ResidentBytes(bridge.pid());
  const int trims_before = CountOccurrences(bridge.Output(), kTrimLine);

  std::move(close_streams).Invoke();
  ASSERT_EQ(ended.load(), kStreams);
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (CountOccurrences(bridge.Output(), kTrimLine) == trims_before &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_GT(CountOccurrences(bridge.Output(), kTrimLine), trims_before)
      << bridge.Output();
  const int64_t closed = ResidentBytes(bridge.pid());

  // 6,000 streams take over 64 MiB, and at least half of that goes back.
  EXPECT_GE(open - idle, 64 << 20);
  EXPECT_LE(closed, open - (open - idle) / 2)
      << "idle " << idle << ", open " << open << ", closed " << closed;
}

}  // namespace
}  // namespace paymento::bridge
