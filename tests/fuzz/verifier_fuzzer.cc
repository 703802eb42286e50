// libFuzzer target for signature verification, secret parsing and the
// timestamp header.
//
// Input layout, one field per line, so that corpus files stay readable:
//   signature header value
//   X-Paymento-Event-Id
//   X-Paymento-Event-Type
//   X-Paymento-Timestamp
//   body (the rest, newlines included)
// Missing lines leave the matching header absent.
//
// Besides not crashing, the target checks that a correct signature for the
// fuzzed body and headers always verifies, and that every failure is
// UNAUTHENTICATED.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "src/verification/freshness.h"
#include "src/verification/secret_set.h"
#include "src/verification/signature_verifier.h"

namespace paymento::bridge {
namespace {

constexpr char kSecret[] = "fuzz-secret";

void Check(bool condition) {
  if (!condition) std::abort();
}

// Removes and returns the first line of *rest, or nullopt when no newline is
// left.
std::optional<std::string> TakeLine(absl::string_view* rest) {
  size_t end = rest->find('\n');
  if (end == absl::string_view::npos) return std::nullopt;
  std::string line(rest->substr(0, end));
  rest->remove_prefix(end + 1);
  return line;
}

void CheckVerification(const SecretSet& secrets,
                       const WebhookSignatureInput& input) {
  for (SchemePolicy policy :
       {SchemePolicy::kAny, SchemePolicy::kBody, SchemePolicy::kHeader}) {
    absl::StatusOr<VerifiedSignature> result =
        VerifyWebhookSignature(secrets, policy, input);
    Check(result.ok() ||
          result.status().code() == absl::StatusCode::kUnauthenticated);
  }
  absl::StatusOr<VerifiedSignature> gateway =
      VerifyGatewaySignature(secrets, input.body, input.signature_values);
  Check(gateway.ok() ||
        gateway.status().code() == absl::StatusCode::kUnauthenticated);
}

void CheckCorrectSignaturesVerify(const SecretSet& secrets,
                                  WebhookSignatureInput input) {
  input.signature_values.push_back(HmacSha256Hex(kSecret, input.body));
  absl::StatusOr<VerifiedSignature> body =
      VerifyWebhookSignature(secrets, SchemePolicy::kBody, input);
  Check(body.ok() && body->scheme == v1::SIGNATURE_SCHEME_BODY &&
        body->body_authenticated);

  if (!input.event_id || !input.event_type || !input.timestamp) return;
  input.signature_values.back() = HmacSha256Hex(
      kSecret, HeaderSchemeMessage(*input.event_id, *input.event_type,
                                   *input.timestamp));
  absl::StatusOr<VerifiedSignature> header =
      VerifyWebhookSignature(secrets, SchemePolicy::kHeader, input);
  Check(header.ok() && header->scheme == v1::SIGNATURE_SCHEME_HEADER &&
        !header->body_authenticated);
}

void CheckSecretParsing(absl::string_view data) {
  for (const std::vector<std::string>& values :
       {SplitSecretList(data), SplitSecretFile(data)}) {
    SecretSet secrets(values);
    for (const Secret& secret : secrets.secrets()) {
      Check(!secret.value.empty());
      Check(secret.fingerprint.size() == 8);
    }
  }
}

void CheckTimestamp(const std::optional<std::string>& timestamp) {
  if (!timestamp) return;
  absl::Status status = CheckHeaderTimestamp(
      *timestamp, absl::FromUnixSeconds(1705314600), FreshnessPolicy());
  Check(status.ok() || status.code() == absl::StatusCode::kInvalidArgument ||
        status.code() == absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace paymento::bridge

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace paymento::bridge;
  absl::string_view rest(reinterpret_cast<const char*>(data), size);
  std::optional<std::string> signature = TakeLine(&rest);

  WebhookSignatureInput input;
  if (signature) input.signature_values.push_back(*signature);
  input.event_id = TakeLine(&rest);
  input.event_type = TakeLine(&rest);
  input.timestamp = TakeLine(&rest);
  input.body = rest;

  SecretSet secrets({kSecret, "fuzz-rotated-secret"});
  CheckVerification(secrets, input);
  CheckCorrectSignaturesVerify(secrets, input);
  CheckSecretParsing(
      absl::string_view(reinterpret_cast<const char*>(data), size));
  CheckTimestamp(input.timestamp);

  SchemePolicy policy;
  ParseSchemePolicy(signature.value_or(""), &policy).IgnoreError();
  return 0;
}
