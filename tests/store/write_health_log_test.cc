// Tests of which commit results the store's write health log reports.
#include "src/store/write_health_log.h"

#include <gtest/gtest.h>

#include <optional>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace paymento::bridge {
namespace {

constexpr absl::Time kStart = absl::FromUnixSeconds(1700000000);

absl::Status DiskFull() { return absl::ResourceExhaustedError("disk is full"); }

TEST(WriteHealthLogTest, SuccessesLogNothing) {
  WriteHealthLog log("sqlite");
  EXPECT_FALSE(log.Next(absl::OkStatus(), kStart).has_value());
  EXPECT_FALSE(log.Next(absl::OkStatus(), kStart + absl::Seconds(1)));
}

TEST(WriteHealthLogTest, FailureAndRecoveryLogOnce) {
  WriteHealthLog log("sqlite");
  std::optional<WriteHealthLog::Line> failing = log.Next(DiskFull(), kStart);
  ASSERT_TRUE(failing.has_value());
  EXPECT_TRUE(failing->failing);
  EXPECT_EQ(failing->error, "disk is full");
  EXPECT_EQ(failing->failed_commits, 1);
  EXPECT_FALSE(log.Next(DiskFull(), kStart + absl::Seconds(1)));
  EXPECT_FALSE(log.Next(DiskFull(), kStart + absl::Seconds(20)));

  std::optional<WriteHealthLog::Line> recovered =
      log.Next(absl::OkStatus(), kStart + absl::Seconds(21));
  ASSERT_TRUE(recovered.has_value());
  EXPECT_FALSE(recovered->failing);
  EXPECT_EQ(recovered->failed_commits, 2);
  EXPECT_FALSE(log.Next(absl::OkStatus(), kStart + absl::Seconds(22)));
}

// Near a full disk commits alternate every few milliseconds: after one
// failure and one recovery, nothing more until the quiet period has passed.
TEST(WriteHealthLogTest, AlternatingCommitsLogOncePerQuietPeriod) {
  WriteHealthLog log("sqlite", absl::Seconds(10));
  int lines = 0;
  absl::Time now = kStart;
  for (int i = 0; i < 1000; ++i) {
    if (log.Next(DiskFull(), now)) ++lines;
    if (log.Next(absl::OkStatus(), now + absl::Milliseconds(1))) ++lines;
    now += absl::Milliseconds(5);
  }
  EXPECT_EQ(lines, 2);

  std::optional<WriteHealthLog::Line> failing =
      log.Next(DiskFull(), kStart + absl::Seconds(10));
  ASSERT_TRUE(failing.has_value());
  EXPECT_TRUE(failing->failing);
  EXPECT_EQ(failing->failed_commits, 1000);
  std::optional<WriteHealthLog::Line> recovered =
      log.Next(absl::OkStatus(), kStart + absl::Seconds(11));
  ASSERT_TRUE(recovered.has_value());
  EXPECT_FALSE(recovered->failing);
}

// A failure held back by the quiet period is logged by the first failed
// commit after it, so a store that keeps failing is not left looking
// recovered.
TEST(WriteHealthLogTest, HeldBackFailureIsLoggedLater) {
  WriteHealthLog log("postgres", absl::Seconds(10));
  ASSERT_TRUE(log.Next(DiskFull(), kStart).has_value());
  ASSERT_TRUE(log.Next(absl::OkStatus(), kStart + absl::Seconds(1)));
  EXPECT_FALSE(log.Next(DiskFull(), kStart + absl::Seconds(2)));
  EXPECT_FALSE(log.Next(DiskFull(), kStart + absl::Seconds(9)));

  std::optional<WriteHealthLog::Line> failing =
      log.Next(DiskFull(), kStart + absl::Seconds(10));
  ASSERT_TRUE(failing.has_value());
  EXPECT_TRUE(failing->failing);
  EXPECT_EQ(failing->failed_commits, 3);
}

}  // namespace
}  // namespace paymento::bridge
