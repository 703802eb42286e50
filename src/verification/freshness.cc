#include "src/verification/freshness.h"

#include <cstdint>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace paymento::bridge {
namespace {

// Seconds since 1970 have 10 digits until the year 2286. 13 digits are
// milliseconds for the current era.
constexpr size_t kMaxSecondsDigits = 12;

// Bounds how much of an invalid header value an error message repeats.
constexpr size_t kMaxQuotedBytes = 32;

std::string Quote(absl::string_view value) {
  return absl::StrCat("\"", absl::CHexEscape(value.substr(0, kMaxQuotedBytes)),
                      value.size() > kMaxQuotedBytes ? "...\"" : "\"");
}

bool AllDigits(absl::string_view value) {
  for (char c : value) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

std::string FormatUtc(absl::Time time) {
  return absl::FormatTime(absl::RFC3339_full, time, absl::UTCTimeZone());
}

}  // namespace

absl::StatusOr<absl::Time> ParseUnixTimestampHeader(absl::string_view value) {
  if (value.empty()) {
    return absl::InvalidArgumentError(
        "timestamp is empty: expected Unix time in decimal seconds");
  }
  if (!AllDigits(value)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "timestamp ", Quote(value), " is not Unix time in decimal seconds"));
  }
  absl::string_view significant = value;
  while (significant.size() > 1 && significant.front() == '0') {
    significant.remove_prefix(1);
  }
  if (significant.size() > kMaxSecondsDigits) {
    return absl::InvalidArgumentError(
        absl::StrCat("timestamp ", Quote(value),
                     " looks like milliseconds: Paymento sends seconds"));
  }

  int64_t seconds = 0;
  if (!absl::SimpleAtoi(significant, &seconds)) {
    return absl::InvalidArgumentError(
        absl::StrCat("timestamp ", Quote(value), " is out of range"));
  }
  return absl::FromUnixSeconds(seconds);
}

absl::Status CheckHeaderTimestamp(absl::string_view timestamp, absl::Time now,
                                  const FreshnessPolicy& policy) {
  absl::StatusOr<absl::Time> time = ParseUnixTimestampHeader(timestamp);
  if (!time.ok()) return time.status();

  if (*time < now - policy.tolerance) {
    return absl::FailedPreconditionError(absl::StrCat(
        "stale timestamp: ", timestamp, " is ",
        absl::FormatDuration(now - *time), " old, over the tolerance of ",
        absl::FormatDuration(policy.tolerance)));
  }
  if (*time > now + policy.tolerance) {
    return absl::FailedPreconditionError(absl::StrCat(
        "timestamp in the future: ", timestamp, " is ",
        absl::FormatDuration(*time - now), " ahead, over the tolerance of ",
        absl::FormatDuration(policy.tolerance)));
  }
  return absl::OkStatus();
}

absl::Status CheckCreatedAt(std::optional<absl::Time> created_at,
                            absl::Time now, const FreshnessPolicy& policy) {
  if (!created_at.has_value()) return absl::OkStatus();

  if (*created_at < now - policy.dedup_window) {
    return absl::FailedPreconditionError(
        absl::StrCat("stale event.createdAt: ", FormatUtc(*created_at), " is ",
                     absl::FormatDuration(now - *created_at),
                     " old, over the dedup window of ",
                     absl::FormatDuration(policy.dedup_window)));
  }
  if (*created_at > now + policy.tolerance) {
    return absl::FailedPreconditionError(
        absl::StrCat("event.createdAt in the future: ", FormatUtc(*created_at),
                     " is ", absl::FormatDuration(*created_at - now),
                     " ahead, over the tolerance of ",
                     absl::FormatDuration(policy.tolerance)));
  }
  return absl::OkStatus();
}

}  // namespace paymento::bridge
