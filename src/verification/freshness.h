// Freshness checks that stop a captured, correctly signed request from being
// replayed later.
//
// Header scheme: the signed X-Paymento-Timestamp must be within the tolerance
// of now, in both directions. Body scheme: the timestamp header is not
// signed, so it is not checked. The signed event.createdAt must instead be
// no older than the dedup window and no further ahead than the tolerance.
// Event ids are remembered for the whole dedup window, so a replay inside the
// window is a duplicate and one outside it fails this check.
#ifndef PAYMENTO_BRIDGE_SRC_VERIFICATION_FRESHNESS_H_
#define PAYMENTO_BRIDGE_SRC_VERIFICATION_FRESHNESS_H_

#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace paymento::bridge {

struct FreshnessPolicy {
  // Allowed clock difference in both directions (--timestamp-tolerance).
  absl::Duration tolerance = absl::Seconds(300);
  // Oldest event.createdAt accepted; event ids are kept this long
  // (--dedup-window, 400 days).
  absl::Duration dedup_window = absl::Hours(9600);
};

// Parses X-Paymento-Timestamp: Unix time in whole seconds, as decimal digits
// with no sign, spaces or fraction.
//
// A value of 10^12 or more (13 significant digits) is rejected as
// INVALID_ARGUMENT rather than read as milliseconds, because Paymento sends
// seconds. The header scheme signs the header text, so a sender that uses
// milliseconds signs a different message from Paymento's. Such a sender needs
// fixing, and guessing the unit would hide that.
absl::StatusOr<absl::Time> ParseUnixTimestampHeader(absl::string_view value);

// Checks the X-Paymento-Timestamp of a request verified with the header
// scheme. Returns INVALID_ARGUMENT when the value does not parse, and
// FAILED_PRECONDITION ("stale timestamp ..." or "timestamp in the future
// ...") when it is further than policy.tolerance from `now`. A timestamp
// exactly at the tolerance passes.
absl::Status CheckHeaderTimestamp(absl::string_view timestamp, absl::Time now,
                                  const FreshnessPolicy& policy);

// Checks event.createdAt of a request verified with the body scheme. Returns
// FAILED_PRECONDITION when it is older than policy.dedup_window or further
// ahead of `now` than policy.tolerance.
//
// A missing createdAt passes: Paymento's body may lack it, the event is still
// authentic, and a replay of it is caught as a duplicate event id for as long
// as ids are kept.
// NOTE: a body without createdAt replayed after the dedup window is accepted
// as a new event, because its id tombstone has expired by then.
absl::Status CheckCreatedAt(std::optional<absl::Time> created_at,
                            absl::Time now, const FreshnessPolicy& policy);

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_VERIFICATION_FRESHNESS_H_
