// Verifies the HMAC-SHA256 signatures of Paymento requests.
//
// Payment-link webhooks are signed in one of two schemes. A request passes
// when a scheme that the policy allows verifies:
//   body scheme:   hex(HMAC-SHA256(secret, raw body bytes))
//   header scheme: hex(HMAC-SHA256(secret, event_id + ":" + event_type + ":" +
//                  timestamp)), over the X-Paymento-Event-Id,
//                  X-Paymento-Event-Type and X-Paymento-Timestamp headers
//                  exactly as received.
// The header scheme does not cover the body, so after it passes the caller
// must check that the body's event.id and event.type equal the headers and
// that the timestamp is fresh (see freshness.h).
//
// Gateway payment callbacks (IPN) are signed with the body scheme under the
// store's secret key, in the X-HMAC-SHA256-SIGNATURE header.
//
// A request may carry several signatures: repeated headers, or several values
// in one header separated by spaces or commas. It passes when any signature
// matches any secret. Hex digits are compared without regard to case, in
// constant time.
//
// Usage:
//   WebhookSignatureInput input;
//   input.body = body;
//   input.signature_values = values of X-Paymento-Signature and X-Signature;
//   absl::StatusOr<VerifiedSignature> verified =
//       VerifyWebhookSignature(*secrets, SchemePolicy::kAny, input);
//   if (!verified.ok()) { /* answer 401 */ }
//
// Nothing here logs, and no error message contains a signature or a secret.
#ifndef PAYMENTO_BRIDGE_SRC_VERIFICATION_SIGNATURE_VERIFIER_H_
#define PAYMENTO_BRIDGE_SRC_VERIFICATION_SIGNATURE_VERIFIER_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "paymento/bridge/v1/event.pb.h"
#include "src/verification/secret_set.h"

namespace paymento::bridge {

// The signature schemes that a webhook may pass with, set by
// --signature-scheme.
enum class SchemePolicy { kAny, kBody, kHeader };

// Parses "any", "body" or "header". On error, *policy is left unchanged.
absl::Status ParseSchemePolicy(absl::string_view text, SchemePolicy* policy);

// The parts of a webhook request that signatures cover. Header names are
// matched by the caller without regard to case.
struct WebhookSignatureInput {
  // The exact body bytes received.
  absl::string_view body;
  // The raw values of every X-Paymento-Signature and X-Signature header.
  std::vector<std::string> signature_values;
  // X-Paymento-Event-Id, X-Paymento-Event-Type and X-Paymento-Timestamp,
  // exactly as received, or nullopt when the header is absent.
  std::optional<std::string> event_id;
  std::optional<std::string> event_type;
  std::optional<std::string> timestamp;
};

// The scheme and secret that verified a request.
struct VerifiedSignature {
  v1::SignatureScheme scheme = v1::SIGNATURE_SCHEME_UNSPECIFIED;
  // Fingerprint of the secret that matched (see secret_set.h).
  std::string secret_fingerprint;
  // True when the signature covered the body bytes.
  bool body_authenticated = false;
};

// Verifies a payment-link webhook. With SchemePolicy::kAny the body scheme
// is tried first, then the header scheme. The header scheme is tried only
// when all three X-Paymento-* headers are present.
//
// Returns UNAUTHENTICATED "missing signature header" when the request contains
// no signature value, and UNAUTHENTICATED "invalid signature" when no
// signature matches, including when `secrets` is empty.
absl::StatusOr<VerifiedSignature> VerifyWebhookSignature(
    const SecretSet& secrets, SchemePolicy policy,
    const WebhookSignatureInput& input);

// Verifies a gateway payment callback: `signature_values` are the raw values
// of every X-HMAC-SHA256-SIGNATURE header. On success the scheme is
// SIGNATURE_SCHEME_GATEWAY_BODY. Errors are those of VerifyWebhookSignature.
absl::StatusOr<VerifiedSignature> VerifyGatewaySignature(
    const SecretSet& secrets, absl::string_view body,
    const std::vector<std::string>& signature_values);

// Splits raw signature header values into candidate signatures: each value
// is split on spaces, tabs and commas, empty parts are dropped, and a
// leading "sha256=" (in any case) is removed from each part. The parts are
// not checked to be hex.
std::vector<std::string> ParseSignatureValues(
    const std::vector<std::string>& header_values);

// Computes hex(HMAC-SHA256(key, data)) in lowercase, as a signer does.
// Returns an empty string only if OpenSSL fails.
std::string HmacSha256Hex(absl::string_view key, absl::string_view data);

// Builds the message that the header scheme signs:
// event_id + ":" + event_type + ":" + timestamp.
std::string HeaderSchemeMessage(absl::string_view event_id,
                                absl::string_view event_type,
                                absl::string_view timestamp);

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_VERIFICATION_SIGNATURE_VERIFIER_H_
