#include "src/normalization/timestamps.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace paymento::bridge {
namespace {

// 2024-01-15T10:30:00Z.
const absl::Time kTime = absl::FromUnixSeconds(1705314600);

TEST(ParseRfc3339TimeTest, ParsesVariants) {
  const std::vector<std::pair<std::string, absl::Time>> cases = {
      {"2024-01-15T10:30:00Z", kTime},
      {"2024-01-15T10:30:00.123Z", kTime + absl::Milliseconds(123)},
      {"2024-01-15T10:30:00.1234567Z", kTime + absl::Nanoseconds(123456700)},
      {"2024-01-15T10:30:00.123456789Z", kTime + absl::Nanoseconds(123456789)},
      {"2024-01-15T12:30:00+02:00", kTime},
      {"2024-01-15T12:30:00.5+02:00", kTime + absl::Milliseconds(500)},
      {"2024-01-15T05:00:00-05:30", kTime},
      {"2024-01-15T12:30:00+0200", kTime},
      {"2024-01-15T10:30:00+00:00", kTime},
      {"2024-01-15t10:30:00z", kTime},
      {"2024-01-15 10:30:00Z", kTime},
      {"2024-01-15T10:30:00", kTime},
      {"2024-01-15T10:30:00.250", kTime + absl::Milliseconds(250)},
      {"1970-01-01T00:00:00Z", absl::UnixEpoch()},
  };
  for (const auto& [text, expected] : cases) {
    std::optional<absl::Time> time = ParseRfc3339Time(text);
    ASSERT_TRUE(time.has_value()) << text;
    EXPECT_EQ(*time, expected) << text;
  }
}

TEST(ParseRfc3339TimeTest, RejectsOtherText) {
  for (absl::string_view text :
       {"", "now", "2024-01-15", "10:30:00Z", "2024-01-15T10:30Z",
        "2024-13-15T10:30:00Z", "2024-01-32T10:30:00Z", "2024-01-15T25:30:00Z",
        "2024-01-15T10:30:00ZZ", "2024-01-15T10:30:00+25:00", "1705314600",
        "infinite-future", "infinite-past", "10000-01-01T00:00:00Z",
        "0000-12-31T23:59:59Z", "2024-01-15T10:30:00Z trailing"}) {
    EXPECT_FALSE(ParseRfc3339Time(text).has_value()) << text;
  }
}

// The hand parser for the common form must agree with absl::ParseTime,
// which parses every other form.
TEST(ParseRfc3339TimeTest, AgreesWithAbslParseTime) {
  for (absl::string_view text :
       {"2024-02-29T23:59:59.999999999Z", "2000-02-29T00:00:00Z",
        "1900-03-01T00:00:00Z", "2024-12-31T23:59:59-23:59",
        "2024-01-01T00:00:00+23:59", "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z", "1969-12-31T23:59:59.5Z",
        "2024-01-15T10:30:00.1+05:30", "2024-01-15T10:30:00.000000001-00:00",
        "2016-12-31T23:59:60Z", "2023-02-29T00:00:00Z", "1900-02-29T00:00:00Z",
        "2024-04-31T00:00:00Z", "2024-01-15T10:30:00.1234567890Z",
        "2024-01-15T10:30:00.Z", "2024-01-15T10:60:00Z",
        "2024-01-15T10:30:00+05:60"}) {
    absl::Time expected;
    std::string error;
    bool valid = absl::ParseTime("%Y-%m-%dT%H:%M:%E*S%Ez", std::string(text),
                                 &expected, &error);
    std::optional<absl::Time> time = ParseRfc3339Time(text);
    ASSERT_EQ(time.has_value(), valid) << text << ": " << error;
    if (valid) EXPECT_EQ(*time, expected) << text;
  }
}

TEST(ToProtoTimestampTest, SplitsSecondsAndNanos) {
  google::protobuf::Timestamp timestamp;

  ASSERT_TRUE(
      ToProtoTimestamp(kTime + absl::Nanoseconds(123456789), &timestamp));

  EXPECT_EQ(timestamp.seconds(), 1705314600);
  EXPECT_EQ(timestamp.nanos(), 123456789);
}

TEST(ToProtoTimestampTest, KeepsNanosPositiveBeforeEpoch) {
  google::protobuf::Timestamp timestamp;

  ASSERT_TRUE(ToProtoTimestamp(absl::UnixEpoch() - absl::Milliseconds(1500),
                               &timestamp));

  EXPECT_EQ(timestamp.seconds(), -2);
  EXPECT_EQ(timestamp.nanos(), 500000000);
}

TEST(ToProtoTimestampTest, RejectsTimesOutsideRange) {
  google::protobuf::Timestamp timestamp;
  timestamp.set_seconds(7);

  EXPECT_FALSE(ToProtoTimestamp(absl::InfiniteFuture(), &timestamp));
  EXPECT_FALSE(
      ToProtoTimestamp(absl::FromUnixSeconds(253402300800), &timestamp));
  EXPECT_FALSE(
      ToProtoTimestamp(absl::FromUnixSeconds(-62135596801), &timestamp));
  EXPECT_EQ(timestamp.seconds(), 7);
}

TEST(FromProtoTimestampTest, RoundTrips) {
  absl::Time time = kTime + absl::Nanoseconds(42);
  google::protobuf::Timestamp timestamp;
  ASSERT_TRUE(ToProtoTimestamp(time, &timestamp));

  EXPECT_EQ(FromProtoTimestamp(timestamp), time);
}

}  // namespace
}  // namespace paymento::bridge
