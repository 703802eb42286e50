// Turning a quarantined request back into an event, for the
// ReleaseQuarantined RPC.
//
// The body is normalized as its route normalized it (webhook or ipn), and
// the stored headers are verified again with the secrets in force now:
//   - body scheme or gateway body scheme: recorded as such, with the
//     fingerprint of the secret that matched and body_authenticated true.
//   - header scheme: recorded only when the body's event.id and event.type
//     equal the signed headers, with body_authenticated false.
//   - otherwise (the secret has been rotated away, or the headers and body
//     disagree): SIGNATURE_SCHEME_UNSPECIFIED, no fingerprint,
//     body_authenticated false. The request did verify when it arrived, but
//     that can no longer be shown.
// Freshness is not checked again: releasing is the operator's decision to
// accept the request as it is.
//
// Usage:
//   ReleaseSecrets secrets = ReleaseSecrets::FromEnvironment();
//   absl::StatusOr<v1::Event> event = EventFromQuarantine(record, secrets);
//   if (!event.ok()) { /* FAILED_PRECONDITION: not an event */ }
#ifndef PAYMENTO_BRIDGE_SRC_INGRESS_QUARANTINE_RELEASE_H_
#define PAYMENTO_BRIDGE_SRC_INGRESS_QUARANTINE_RELEASE_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "paymento/bridge/v1/event.pb.h"
#include "src/store/event_store.h"
#include "src/verification/secret_set.h"

namespace paymento::bridge {

// The secrets a release verifies with. A null set verifies nothing.
struct ReleaseSecrets {
  std::shared_ptr<const SecretSet> webhook;
  std::shared_ptr<const SecretSet> ipn;

  // Reads the secrets in force now from PAYMENTO_WEBHOOK_SECRET(_FILE) and
  // PAYMENTO_IPN_SECRET(_FILE), the variables the service reads at start-up.
  // A secret file is read again, so a rotated file counts at once. A
  // variable that cannot be read is logged and leaves its set null, so the
  // release records the event as unverified.
  static ReleaseSecrets FromEnvironment();
};

// Returns the event that `record` becomes when released: normalized, with
// received_at set to when the request arrived and the verification
// described above. Returns FAILED_PRECONDITION naming the reason when the
// body is not an event (not JSON, no id, ...) or the route is unknown.
absl::StatusOr<v1::Event> EventFromQuarantine(const QuarantineRecord& record,
                                              const ReleaseSecrets& secrets);

// Parses QuarantineRecord::headers, one "Name: value" line each, back into
// header pairs.
std::vector<std::pair<std::string, std::string>> ParseHeaderLines(
    absl::string_view lines);

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_INGRESS_QUARANTINE_RELEASE_H_
