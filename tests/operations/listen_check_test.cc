#include "src/config/listen_check.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <future>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tests/operations/operations_support.h"

namespace paymento::bridge {
namespace {

using test_support::OccupiedPort;

TEST(ListenCheckTest, FreeAddressPasses) {
  EXPECT_TRUE(CheckListenAddress("HTTP", {"127.0.0.1", 0}).ok());
  EXPECT_TRUE(CheckListenAddress("HTTP", {"localhost", 0}).ok());
}

TEST(ListenCheckTest, PortInUseIsUnavailable) {
  OccupiedPort busy;
  absl::Status status = CheckListenAddress("HTTP", {"127.0.0.1", busy.port()});
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(
      status.message(),
      absl::StrCat("cannot listen for HTTP on 127.0.0.1:", busy.port(),
                   ": port ", busy.port(), " is in use")))
      << status;
}

TEST(ListenCheckTest, ForeignAddressIsInvalid) {
  // 192.0.2.1 is reserved for documentation, so no machine has it. Binding
  // to it sends nothing.
  absl::Status status = CheckListenAddress("gRPC", {"192.0.2.1", 50051});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(
      status.message(),
      "cannot listen for gRPC on 192.0.2.1:50051: 192.0.2.1 is not an "
      "address of this machine"))
      << status;
}

TEST(ListenCheckTest, IPv6HostInBrackets) {
  absl::Status status = CheckListenAddress("gRPC", {"2001:db8::1", 50051});
  EXPECT_FALSE(status.ok());
  EXPECT_TRUE(absl::StrContains(
      status.message(), "cannot listen for gRPC on [2001:db8::1]:50051"))
      << status;
}

TEST(ListenCheckTest, FreeAddressFailureAsksRestart) {
  absl::Status status = ListenFailure("admin HTTP", {"127.0.0.1", 0});
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(status.message(),
                                "the address is free now; start again"))
      << status;
}

TEST(ListenCheckTest, FailureNamesPortInUse) {
  OccupiedPort busy;
  absl::Status status = ListenFailure("admin HTTP", {"127.0.0.1", busy.port()});
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(status.message(), "is in use")) << status;
}

// A stop right after the start ends the loop. Without the wait for the
// loop to start, stop() would find the server not running yet.
TEST(ListenCheckTest, StopRightAfterStartEnds) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    httplib::Server server;
    ASSERT_GT(server.bind_to_any_port("127.0.0.1"), 0);
    std::thread loop = StartListenLoop(server);
    server.stop();
    std::future<void> joined =
        std::async(std::launch::async, [&loop] { loop.join(); });
    bool ended =
        joined.wait_for(std::chrono::seconds(5)) == std::future_status::ready;
    if (!ended) server.stop();
    joined.wait();
    ASSERT_TRUE(ended) << "attempt " << attempt;
  }
}

}  // namespace
}  // namespace paymento::bridge
