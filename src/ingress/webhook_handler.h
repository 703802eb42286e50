// WebhookHandler: turns one verified Paymento request into a stored event,
// or into the response that gives the reason it was not.
//
// Order of steps: signature, parsing, header/body agreement, freshness,
// append. Nothing is parsed before the signature verifies. After it
// verifies, a request is either stored, counted as a duplicate, or kept in
// quarantine with its exact bytes. If even the quarantine cannot be written
// the response is 503, so Paymento retries and nothing verified is dropped.
#ifndef PAYMENTO_BRIDGE_SRC_INGRESS_WEBHOOK_HANDLER_H_
#define PAYMENTO_BRIDGE_SRC_INGRESS_WEBHOOK_HANDLER_H_

#include <string>

#include "absl/time/time.h"
#include "src/ingress/ingress_request.h"
#include "src/metrics/metrics.h"
#include "src/store/event_store.h"
#include "src/verification/freshness.h"
#include "src/verification/secret_source.h"
#include "src/verification/signature_verifier.h"

namespace paymento::bridge {

struct WebhookHandlerOptions {
  SchemePolicy scheme_policy = SchemePolicy::kAny;
  FreshnessPolicy freshness;
  // How long a request waits for its commit before the response is 503.
  // Paymento expects a response within 5 s.
  absl::Duration commit_timeout = absl::Seconds(4);
  // Retry-After sent with 503 responses.
  int retry_after_seconds = 5;
  // Counts verifications by scheme and secret when set; must outlive the
  // handler.
  Metrics* metrics = nullptr;
};

class WebhookHandler {
 public:
  // `ipn_secrets` may be null or unconfigured, which disables callbacks.
  // Every pointer must outlive the handler.
  WebhookHandler(EventStore* store, SecretSource* webhook_secrets,
                 SecretSource* ipn_secrets, WebhookHandlerOptions options);

  // Handles a payment-link webhook.
  IngressResponse HandleWebhook(const IngressRequest& request);
  // Handles a gateway payment callback (IPN).
  IngressResponse HandleGatewayCallback(const IngressRequest& request);

  bool gateway_callbacks_enabled() const;

 private:
  // Appends a verified, normalized event and maps the outcome to a response.
  IngressResponse Store(const IngressRequest& request, v1::Event event);
  // Keeps a verified request that is refused, then returns `refusal`; when
  // the quarantine cannot be written, returns 503 instead.
  IngressResponse Quarantine(const IngressRequest& request,
                             absl::string_view reason,
                             absl::string_view event_id,
                             IngressResponse refusal);
  void CountVerification(const VerifiedSignature& verified) const;
  IngressResponse Unavailable(absl::string_view outcome,
                              absl::string_view message) const;

  EventStore* const store_;
  SecretSource* const webhook_secrets_;
  SecretSource* const ipn_secrets_;
  const WebhookHandlerOptions options_;
};

// Returns the raw SHA-256 digest of `data`.
std::string Sha256(absl::string_view data);

// Collects the signature headers of a webhook request: every
// X-Paymento-Signature and X-Signature value, and the three X-Paymento-*
// headers that the header scheme signs. The result points into `request`.
WebhookSignatureInput WebhookSignatureInputFor(const IngressRequest& request);

// Records in `event` how its request was verified.
void SetVerification(const VerifiedSignature& verified, v1::Event& event);

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_INGRESS_WEBHOOK_HANDLER_H_
