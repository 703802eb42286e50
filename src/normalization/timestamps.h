// Conversions between the ISO-8601 timestamps in Paymento bodies, absl::Time
// and google.protobuf.Timestamp.
#ifndef PAYMENTO_BRIDGE_SRC_NORMALIZATION_TIMESTAMPS_H_
#define PAYMENTO_BRIDGE_SRC_NORMALIZATION_TIMESTAMPS_H_

#include <optional>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"

namespace paymento::bridge {

// Parses an RFC 3339 timestamp, the ISO-8601 profile that Paymento's bodies
// use: "2024-01-15T10:30:00Z", with or without fractional seconds of any
// precision, and with "Z" or a numeric offset ("+02:00" or "+0200"). The
// separator may also be "t" or a space, and "z" may be lowercase.
//
// A timestamp with no offset at all is read as UTC, because .NET serializers
// omit the offset for UTC values of unspecified kind.
//
// Returns nullopt when `text` does not parse or lies outside the range of
// google.protobuf.Timestamp (years 1 to 9999).
std::optional<absl::Time> ParseRfc3339Time(absl::string_view text);

// Converts `time` to a Timestamp. Returns false, leaving `timestamp`
// unchanged, when `time` lies outside the Timestamp range.
bool ToProtoTimestamp(absl::Time time, google::protobuf::Timestamp* timestamp);

// Converts a Timestamp to absl::Time.
absl::Time FromProtoTimestamp(const google::protobuf::Timestamp& timestamp);

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_NORMALIZATION_TIMESTAMPS_H_
