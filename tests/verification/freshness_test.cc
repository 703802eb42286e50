#include "src/verification/freshness.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace paymento::bridge {
namespace {

// 2024-01-15T10:30:00Z.
constexpr int64_t kNowSeconds = 1705314600;
const absl::Time kNow = absl::FromUnixSeconds(kNowSeconds);

std::string SecondsFromNow(int64_t offset) {
  return absl::StrCat(kNowSeconds + offset);
}

TEST(ParseUnixTimestampHeaderTest, ParsesDecimalSeconds) {
  const std::vector<std::pair<std::string, int64_t>> cases = {
      {"1705314600", 1705314600},    {"0", 0},
      {"0001705314600", 1705314600}, {"999999999999", 999999999999},
      {"0000000000001", 1},
  };
  for (const auto& [text, seconds] : cases) {
    absl::StatusOr<absl::Time> time = ParseUnixTimestampHeader(text);
    ASSERT_TRUE(time.ok()) << text << ": " << time.status();
    EXPECT_EQ(*time, absl::FromUnixSeconds(seconds)) << text;
  }
}

TEST(ParseUnixTimestampHeaderTest, RejectsMilliseconds) {
  for (absl::string_view text :
       {"1705314600000", "1705314600000000", "1000000000000"}) {
    absl::StatusOr<absl::Time> time = ParseUnixTimestampHeader(text);
    ASSERT_FALSE(time.ok()) << text;
    EXPECT_EQ(time.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(
        absl::StrContains(time.status().message(), "looks like milliseconds"))
        << time.status();
  }
}

TEST(ParseUnixTimestampHeaderTest, RejectsNonNumericValues) {
  const std::vector<std::string> cases = {
      "",
      " ",
      "abc",
      "-1705314600",
      "+1705314600",
      " 1705314600",
      "1705314600 ",
      "1705314600.5",
      "1.7e9",
      "0x65a50828",
      "2024-01-15T10:30:00Z",
      std::string("17053\0"
                  "14600",
                  11),
      "１７０５３１４６００",  // full-width digits
      std::string(100, '9') + "x",
  };
  for (const std::string& text : cases) {
    absl::StatusOr<absl::Time> time = ParseUnixTimestampHeader(text);
    ASSERT_FALSE(time.ok()) << text;
    EXPECT_EQ(time.status().code(), absl::StatusCode::kInvalidArgument) << text;
  }
}

TEST(ParseUnixTimestampHeaderTest, QuotesLongValuesShortened) {
  absl::StatusOr<absl::Time> time =
      ParseUnixTimestampHeader(std::string(1000, 'a'));

  ASSERT_FALSE(time.ok());
  EXPECT_LT(time.status().message().size(), 100u);
}

TEST(CheckHeaderTimestampTest, AcceptsWithinTolerance) {
  FreshnessPolicy policy;
  for (int64_t offset : {-300, -299, -1, 0, 1, 299, 300}) {
    EXPECT_TRUE(CheckHeaderTimestamp(SecondsFromNow(offset), kNow, policy).ok())
        << offset;
  }
}

TEST(CheckHeaderTimestampTest, RejectsStaleTimestamp) {
  FreshnessPolicy policy;
  for (int64_t offset : {int64_t{-301}, int64_t{-3600}, -kNowSeconds}) {
    absl::Status status =
        CheckHeaderTimestamp(SecondsFromNow(offset), kNow, policy);
    EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << offset;
    EXPECT_TRUE(absl::StartsWith(status.message(), "stale timestamp"))
        << status;
  }
}

TEST(CheckHeaderTimestampTest, RejectsFutureTimestamp) {
  FreshnessPolicy policy;
  for (int64_t offset : {301, 3600, 86400 * 365}) {
    absl::Status status =
        CheckHeaderTimestamp(SecondsFromNow(offset), kNow, policy);
    EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << offset;
    EXPECT_TRUE(absl::StartsWith(status.message(), "timestamp in the future"))
        << status;
  }
}

TEST(CheckHeaderTimestampTest, UsesConfiguredTolerance) {
  FreshnessPolicy policy;
  policy.tolerance = absl::Seconds(10);

  EXPECT_TRUE(CheckHeaderTimestamp(SecondsFromNow(-10), kNow, policy).ok());
  EXPECT_FALSE(CheckHeaderTimestamp(SecondsFromNow(-11), kNow, policy).ok());
  EXPECT_FALSE(CheckHeaderTimestamp(SecondsFromNow(11), kNow, policy).ok());
}

TEST(CheckHeaderTimestampTest, RejectsInvalidValuesAsInvalidArgument) {
  FreshnessPolicy policy;
  for (absl::string_view text : {"", "soon", "1705314600000"}) {
    EXPECT_EQ(CheckHeaderTimestamp(text, kNow, policy).code(),
              absl::StatusCode::kInvalidArgument)
        << text;
  }
}

TEST(CheckCreatedAtTest, AcceptsMissingCreatedAt) {
  EXPECT_TRUE(CheckCreatedAt(std::nullopt, kNow, FreshnessPolicy()).ok());
}

TEST(CheckCreatedAtTest, AcceptsWithinDedupWindowAndTolerance) {
  FreshnessPolicy policy;
  const std::vector<absl::Duration> offsets = {
      -policy.dedup_window, -absl::Hours(24 * 399), -absl::Hours(1),
      absl::ZeroDuration(), absl::Seconds(300)};
  for (absl::Duration offset : offsets) {
    EXPECT_TRUE(CheckCreatedAt(kNow + offset, kNow, policy).ok())
        << absl::FormatDuration(offset);
  }
}

TEST(CheckCreatedAtTest, RejectsOlderThanDedupWindow) {
  FreshnessPolicy policy;
  for (absl::Duration offset :
       {-policy.dedup_window - absl::Seconds(1), -absl::Hours(24 * 401),
        -absl::Hours(24 * 365 * 10)}) {
    absl::Status status = CheckCreatedAt(kNow + offset, kNow, policy);
    EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition)
        << absl::FormatDuration(offset);
    EXPECT_TRUE(absl::StartsWith(status.message(), "stale event.createdAt"))
        << status;
  }
}

TEST(CheckCreatedAtTest, RejectsFurtherAheadThanTolerance) {
  FreshnessPolicy policy;
  for (absl::Duration offset : {absl::Seconds(301), absl::Hours(24)}) {
    absl::Status status = CheckCreatedAt(kNow + offset, kNow, policy);
    EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition)
        << absl::FormatDuration(offset);
    EXPECT_TRUE(
        absl::StartsWith(status.message(), "event.createdAt in the future"))
        << status;
  }
}

}  // namespace
}  // namespace paymento::bridge
