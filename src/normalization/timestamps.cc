#include "src/normalization/timestamps.h"

#include <cstdint>
#include <string>

#include "absl/time/civil_time.h"

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

// Reads `count` decimal digits of `text` from `position`. Returns false if
// one of them is not a digit.
bool ReadDigits(absl::string_view text, size_t position, size_t count,
                int* value) {
  if (position + count > text.size()) return false;
  *value = 0;
  for (size_t i = position; i < position + count; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    *value = *value * 10 + (text[i] - '0');
  }
  return true;
}

bool IsLeapYear(int year) {
  return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
}

int DaysInMonth(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};
  return month == 2 && IsLeapYear(year) ? 29 : kDays[month - 1];
}

// Parses the usual form "YYYY-MM-DDTHH:MM:SS", an optional fraction of 1
// to 9 digits, then "Z" or "+hh:mm", without absl::ParseTime, which took
// about 3,400 instructions per call under callgrind. Returns nullopt for any
// other text, valid variants such as a leap second included, which
// ParseRfc3339Time then passes to absl. For text it accepts, the result
// equals absl's.
std::optional<absl::Time> ParseCommonForm(absl::string_view text) {
  int year, month, day, hour, minute, second;
  if (text.size() < 20 || !ReadDigits(text, 0, 4, &year) || text[4] != '-' ||
      !ReadDigits(text, 5, 2, &month) || text[7] != '-' ||
      !ReadDigits(text, 8, 2, &day) || text[10] != 'T' ||
      !ReadDigits(text, 11, 2, &hour) || text[13] != ':' ||
      !ReadDigits(text, 14, 2, &minute) || text[16] != ':' ||
      !ReadDigits(text, 17, 2, &second)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month) ||
      hour > 23 || minute > 59 || second > 59) {
    return std::nullopt;
  }

  size_t position = 19;
  int64_t nanos = 0;
  if (text[position] == '.') {
    size_t digits = 0;
    while (position + 1 + digits < text.size() &&
           text[position + 1 + digits] >= '0' &&
           text[position + 1 + digits] <= '9') {
      ++digits;
    }
    if (digits == 0 || digits > 9) return std::nullopt;
    for (size_t i = 0; i < 9; ++i) {
      nanos = nanos * 10 + (i < digits ? text[position + 1 + i] - '0' : 0);
    }
    position += 1 + digits;
  }

  int offset_minutes = 0;
  absl::string_view zone = text.substr(position);
  if (zone != "Z") {
    int offset_hours, offset_minute_part;
    if (zone.size() != 6 || (zone[0] != '+' && zone[0] != '-') ||
        !ReadDigits(zone, 1, 2, &offset_hours) || zone[3] != ':' ||
        !ReadDigits(zone, 4, 2, &offset_minute_part) || offset_hours > 23 ||
        offset_minute_part > 59) {
      return std::nullopt;
    }
    offset_minutes = offset_hours * 60 + offset_minute_part;
    if (zone[0] == '-') offset_minutes = -offset_minutes;
  }

  absl::Time local =
      absl::FromCivil(absl::CivilSecond(year, month, day, hour, minute, second),
                      absl::UTCTimeZone());
  return local - absl::Minutes(offset_minutes) + absl::Nanoseconds(nanos);
}

}  // namespace

std::optional<absl::Time> ParseRfc3339Time(absl::string_view text) {
  if (std::optional<absl::Time> time = ParseCommonForm(text)) {
    if (!InTimestampRange(*time)) return std::nullopt;
    return time;
  }
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
