#include "src/ingress/quarantine_release.h"

#include <optional>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "src/ingress/ingress_request.h"
#include "src/ingress/webhook_handler.h"
#include "src/logging/log.h"
#include "src/normalization/gateway_callback_normalizer.h"
#include "src/normalization/timestamps.h"
#include "src/normalization/webhook_normalizer.h"
#include "src/verification/secret_source.h"
#include "src/verification/signature_verifier.h"

namespace paymento::bridge {
namespace {

std::shared_ptr<const SecretSet> SecretsFrom(absl::string_view variable) {
  absl::StatusOr<std::unique_ptr<SecretSource>> source =
      SecretSource::FromEnvironment(variable, /*required=*/false);
  if (!source.ok()) {
    logging::Warn(
        "cannot read secrets for a quarantine release, so the released "
        "event is recorded as unverified",
        {{"variable", std::string(variable)},
         {"error", std::string(source.status().message())}});
    return nullptr;
  }
  return (*source)->Current();
}

// Returns how a webhook verifies now, or nullopt when it does not.
std::optional<VerifiedSignature> VerifyWebhookNow(const IngressRequest& request,
                                                  const v1::Event& event,
                                                  const SecretSet* secrets) {
  if (secrets == nullptr) return std::nullopt;
  WebhookSignatureInput input = WebhookSignatureInputFor(request);
  absl::StatusOr<VerifiedSignature> verified =
      VerifyWebhookSignature(*secrets, SchemePolicy::kAny, input);
  if (!verified.ok()) return std::nullopt;
  // The header scheme signs only the headers, so it vouches for this body
  // only when the body names the same event.
  if (verified->scheme == v1::SIGNATURE_SCHEME_HEADER &&
      (event.id() != input.event_id || event.type() != input.event_type)) {
    return std::nullopt;
  }
  return *verified;
}

std::optional<VerifiedSignature> VerifyGatewayNow(const IngressRequest& request,
                                                  const SecretSet* secrets) {
  if (secrets == nullptr) return std::nullopt;
  absl::StatusOr<VerifiedSignature> verified = VerifyGatewaySignature(
      *secrets, request.body, request.HeaderValues("X-HMAC-SHA256-SIGNATURE"));
  if (!verified.ok()) return std::nullopt;
  return *verified;
}

}  // namespace

ReleaseSecrets ReleaseSecrets::FromEnvironment() {
  ReleaseSecrets secrets;
  secrets.webhook = SecretsFrom("PAYMENTO_WEBHOOK_SECRET");
  secrets.ipn = SecretsFrom("PAYMENTO_IPN_SECRET");
  return secrets;
}

std::vector<std::pair<std::string, std::string>> ParseHeaderLines(
    absl::string_view lines) {
  std::vector<std::pair<std::string, std::string>> headers;
  for (absl::string_view line : absl::StrSplit(lines, '\n')) {
    if (line.empty()) continue;
    std::pair<absl::string_view, absl::string_view> parts =
        absl::StrSplit(line, absl::MaxSplits(": ", 1));
    headers.emplace_back(std::string(parts.first), std::string(parts.second));
  }
  return headers;
}

absl::StatusOr<v1::Event> EventFromQuarantine(const QuarantineRecord& record,
                                              const ReleaseSecrets& secrets) {
  bool gateway = record.route == "ipn";
  if (!gateway && record.route != "webhook") {
    return absl::FailedPreconditionError(absl::StrCat(
        "quarantined request ", record.id, " has unknown route \"",
        record.route, "\": only webhook and ipn requests can be released"));
  }
  absl::StatusOr<v1::Event> event = gateway
                                        ? NormalizeGatewayCallback(record.body)
                                        : NormalizeWebhook(record.body);
  if (!event.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("quarantined request ", record.id, " cannot be released: ",
                     event.status().message(), "; its body is not an event"));
  }

  IngressRequest request;
  request.route = record.route;
  request.headers = ParseHeaderLines(record.headers);
  request.body = record.body;
  std::optional<VerifiedSignature> verified =
      gateway ? VerifyGatewayNow(request, secrets.ipn.get())
              : VerifyWebhookNow(request, *event, secrets.webhook.get());
  SetVerification(verified.value_or(VerifiedSignature{}), *event);
  ToProtoTimestamp(record.received_at, event->mutable_received_at());
  return event;
}

}  // namespace paymento::bridge
