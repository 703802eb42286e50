// A full disk under the real binary's store. While the disk is full,
// webhooks get 503 with Retry-After and readiness is false. Each state
// change is logged once, and the service recovers by itself when space is
// freed. The disk is a small tmpfs mounted for the test, which needs root
// with CAP_SYS_ADMIN. Without it the test is skipped with a message.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "src/cli/sample_event.h"
#include "tests/operations/operations_support.h"

namespace paymento::bridge::test_support {
namespace {

using ServingStatus = grpc::health::v1::HealthCheckResponse;

// Unmounts at scope exit, also when the test fails half-way.
class ScopedTmpfs {
 public:
  explicit ScopedTmpfs(std::string path) : path_(std::move(path)) {}
  ~ScopedTmpfs() {
    if (mounted_) umount2(path_.c_str(), MNT_DETACH);
  }

  // Returns 0 or the errno of mount(2).
  int Mount(const char* size) {
    if (mount("tmpfs", path_.c_str(), "tmpfs", 0, size) != 0) return errno;
    mounted_ = true;
    return 0;
  }

 private:
  const std::string path_;
  bool mounted_ = false;
};

// Writes zeros to `path` until the file system rejects more.
void FillDisk(const std::string& path) {
  FILE* file = std::fopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr) << std::strerror(errno);
  std::vector<char> block(64 * 1024, '\0');
  while (std::fwrite(block.data(), 1, block.size(), file) == block.size()) {
  }
  std::fclose(file);
}

// A signed event about 150 KB large, more than the store's write-ahead log
// can take without growing.
httplib::Result PostLargeEvent(const BridgeProcess& bridge,
                               const std::string& id) {
  nlohmann::json body = nlohmann::json::parse(
      SampleWebhookBody("payment_link.paid", id, absl::Now()));
  body["padding"] = std::string(150 * 1024, 'p');
  return PostSigned(bridge, body.dump());
}

bool WaitForReadyz(const BridgeProcess& bridge, int expected) {
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline) {
    if (ReadyzStatus(bridge) == expected) return true;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return false;
}

int CountLines(const std::string& output, const std::string& fragment) {
  int count = 0;
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    if (absl::StrContains(line, fragment)) ++count;
  }
  return count;
}

TEST(DiskFullTest, RejectsWhileFullThenRecovers) {
  std::string directory = MakeTempDirectory();
  ScopedTmpfs tmpfs(directory);
  int error = tmpfs.Mount("size=8m");
  if (error == EPERM) {
    GTEST_SKIP() << "SKIPPED: mounting a tmpfs failed with EPERM (the test "
                    "needs root with CAP_SYS_ADMIN), so the full-disk "
                    "behaviour was NOT tested";
  }
  ASSERT_EQ(error, 0) << "mount tmpfs on " << directory << ": "
                      << std::strerror(error);

  BridgeOptions options = OperationsOptions();
  options.data_directory = directory;
  BridgeProcess bridge(options);
  ASSERT_TRUE(bridge.Start().ok()) << bridge.Output();
  ASSERT_EQ(PostLargeEvent(bridge, "evt_before_full")->status, 200);

  std::string filler = directory + "/filler";
  FillDisk(filler);
  for (int i = 0; i < 3; ++i) {
    httplib::Result refused =
        PostLargeEvent(bridge, absl::StrCat("evt_while_full_", i));
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 503) << refused->body;
    EXPECT_FALSE(refused->get_header_value("Retry-After").empty());
  }
  EXPECT_TRUE(WaitForReadyz(bridge, 503)) << bridge.Output();
  EXPECT_EQ(SampleValue(ScrapeMetrics(bridge), "paymento_bridge_ready"), 0);
  auto channel = PlaintextChannel(bridge);
  EXPECT_EQ(CheckHealth(channel).value_or(ServingStatus::UNKNOWN),
            ServingStatus::NOT_SERVING);

  ASSERT_EQ(unlink(filler.c_str()), 0) << std::strerror(errno);
  EXPECT_TRUE(WaitForReadyz(bridge, 200)) << bridge.Output();
  httplib::Result recovered = PostLargeEvent(bridge, "evt_after_full");
  ASSERT_TRUE(recovered);
  EXPECT_EQ(recovered->status, 200) << recovered->body;
  EXPECT_EQ(SampleValue(ScrapeMetrics(bridge), "paymento_bridge_ready"), 1);
  EXPECT_EQ(CheckHealth(channel).value_or(ServingStatus::UNKNOWN),
            ServingStatus::SERVING);

  auto stub = EventStub(channel);
  EXPECT_TRUE(GetEvent(*stub, "evt_before_full").ok());
  EXPECT_TRUE(GetEvent(*stub, "evt_after_full").ok());
  EXPECT_EQ(GetEvent(*stub, "evt_while_full_0").error_code(),
            grpc::StatusCode::NOT_FOUND);

  std::string output = bridge.Output();
  EXPECT_EQ(CountLines(output, " error store check failing "), 1) << output;
  EXPECT_EQ(CountLines(output, " info store check recovered"), 1) << output;
  EXPECT_EQ(CountLines(output, "readiness changed ready=false"), 1) << output;
  EXPECT_EQ(CountLines(output, "readiness changed ready=true"), 1) << output;
}

TEST(StoreFileTest, SecondProcessOnOneFileIsRefused) {
  BridgeOptions options = OperationsOptions();
  BridgeProcess bridge(options);
  ASSERT_TRUE(bridge.Start().ok()) << bridge.Output();

  std::string output;
  int code = RunBridgeCommand(
      {"serve", "--http-listen=127.0.0.1:0", "--grpc-listen=127.0.0.1:0",
       "--admin-listen=127.0.0.1:0",
       absl::StrCat("--store=sqlite://", bridge.store_path())},
      {{"PAYMENTO_WEBHOOK_SECRET", kWebhookSecret}}, &output,
      absl::Seconds(10));
  EXPECT_EQ(code, 2) << output;
  EXPECT_EQ(CountLines(output, absl::StrCat("another process is using ",
                                            bridge.store_path())),
            1)
      << output;

  // The first process keeps its store and numbers on.
  httplib::Result first = PostEvent(bridge, "payment_link.paid", "evt_lock_1");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 200) << first->body;
  httplib::Result second = PostEvent(bridge, "payment_link.paid", "evt_lock_2");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 200) << second->body;
}

TEST(StoreFileTest, RemovedDatabaseFileGets503) {
  BridgeProcess bridge(OperationsOptions());
  ASSERT_TRUE(bridge.Start().ok()) << bridge.Output();
  httplib::Result before =
      PostEvent(bridge, "payment_link.paid", "evt_before_removal");
  ASSERT_TRUE(before);
  ASSERT_EQ(before->status, 200) << before->body;

  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::remove(absl::StrCat(bridge.store_path(), suffix).c_str());
  }
  // Commits would go to the removed file, which the next start never opens.
  httplib::Result after =
      PostEvent(bridge, "payment_link.paid", "evt_after_removal");
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 503) << after->body;
  EXPECT_FALSE(after->get_header_value("Retry-After").empty());
  EXPECT_TRUE(WaitForReadyz(bridge, 503)) << bridge.Output();
  EXPECT_EQ(CountLines(bridge.Output(), "is gone"), 1) << bridge.Output();
}

}  // namespace
}  // namespace paymento::bridge::test_support
