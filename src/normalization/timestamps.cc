#include "src/normalization/timestamps.h"

#include <cstdint>
#include <string>

namespace paymento::bridge {
namespace {

// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z, the range of
// google.protobuf.Timestamp.
constexpr int64_t kMinTimestampSeconds = -62135596800;
constexpr int64_t kMaxTimestampSeconds = 253402300799;

// Date, time and fraction; absl's %Ez accepts "Z", "+hh:mm" and "+hhmm".
constexpr char kWithOffset[] = "%Y-%m-%dT%H:%M:%E*S%Ez";
constexpr char kWithoutOffset[] = "%Y-%m-%dT%H:%M:%E*S";

constexpr size_t kSeparatorIndex = 10;  // After "YYYY-MM-DD".

bool InTimestampRange(absl::Time time) {
  return time >= absl::FromUnixSeconds(kMinTimestampSeconds) &&
         time < absl::FromUnixSeconds(kMaxTimestampSeconds + 1);
}

// Rewrites the variants that RFC 3339 allows into the forms absl parses.
std::string CanonicalizeSeparators(absl::string_view text) {
  std::string canonical(text);
  if (canonical.size() > kSeparatorIndex &&
      (canonical[kSeparatorIndex] == 't' ||
       canonical[kSeparatorIndex] == ' ')) {
    canonical[kSeparatorIndex] = 'T';
  }
  if (!canonical.empty() && canonical.back() == 'z') canonical.back() = 'Z';
  return canonical;
}

}  // namespace

std::optional<absl::Time> ParseRfc3339Time(absl::string_view text) {
  std::string canonical = CanonicalizeSeparators(text);
  absl::Time time;
  std::string error;
  bool parsed = absl::ParseTime(kWithOffset, canonical, &time, &error) ||
                absl::ParseTime(kWithoutOffset, canonical, absl::UTCTimeZone(),
                                &time, &error);
  // absl::ParseTime also accepts "infinite-future" and "infinite-past",
  // which the range check removes.
  if (!parsed || !InTimestampRange(time)) return std::nullopt;
  return time;
}

bool ToProtoTimestamp(absl::Time time, google::protobuf::Timestamp* timestamp) {
  if (!InTimestampRange(time)) return false;
  int64_t seconds = absl::ToUnixSeconds(time);
  absl::Duration fraction = time - absl::FromUnixSeconds(seconds);
  timestamp->set_seconds(seconds);
  timestamp->set_nanos(
      static_cast<int32_t>(absl::ToInt64Nanoseconds(fraction)));
  return true;
}

absl::Time FromProtoTimestamp(const google::protobuf::Timestamp& timestamp) {
  return absl::FromUnixSeconds(timestamp.seconds()) +
         absl::Nanoseconds(timestamp.nanos());
}

}  // namespace paymento::bridge
