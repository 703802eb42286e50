#include "src/ingress/webhook_handler.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <chrono>
#include <optional>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "src/logging/log.h"
#include "src/normalization/gateway_callback_normalizer.h"
#include "src/normalization/webhook_normalizer.h"

namespace paymento::bridge {
namespace {

constexpr char kAccepted[] = R"({"received":true})";
constexpr char kDuplicate[] = R"({"received":true,"duplicate":true})";

google::protobuf::Timestamp ToTimestamp(absl::Time time) {
  google::protobuf::Timestamp timestamp;
  int64_t micros = absl::ToUnixMicros(time);
  timestamp.set_seconds(micros / 1000000);
  timestamp.set_nanos(static_cast<int32_t>(micros % 1000000) * 1000);
  return timestamp;
}

std::optional<absl::Time> CreatedAt(const v1::Event& event) {
  if (!event.has_created_at()) return std::nullopt;
  return absl::FromUnixSeconds(event.created_at().seconds()) +
         absl::Nanoseconds(event.created_at().nanos());
}

std::optional<std::string> OptionalHeader(const IngressRequest& request,
                                          absl::string_view name) {
  std::string value;
  if (!request.FirstHeader(name, &value)) return std::nullopt;
  return value;
}

std::string HeaderLines(const IngressRequest& request) {
  std::string lines;
  for (const auto& [name, value] : request.headers) {
    absl::StrAppend(&lines, name, ": ", value, "\n");
  }
  return lines;
}

IngressResponse SignatureFailure(const absl::Status& status) {
  bool missing = absl::StrContains(status.message(), "missing");
  return ErrorResponse(401, missing ? "missing_signature" : "invalid_signature",
                       missing ? "missing signature" : "invalid signature");
}

}  // namespace

void SetVerification(const VerifiedSignature& verified, v1::Event& event) {
  v1::Verification* verification = event.mutable_verification();
  verification->set_scheme(verified.scheme);
  verification->set_secret_fingerprint(verified.secret_fingerprint);
  verification->set_body_authenticated(verified.body_authenticated);
}

WebhookSignatureInput WebhookSignatureInputFor(const IngressRequest& request) {
  WebhookSignatureInput input;
  input.body = request.body;
  for (const char* name : {"X-Paymento-Signature", "X-Signature"}) {
    for (std::string& value : request.HeaderValues(name)) {
      input.signature_values.push_back(std::move(value));
    }
  }
  input.event_id = OptionalHeader(request, "X-Paymento-Event-Id");
  input.event_type = OptionalHeader(request, "X-Paymento-Event-Type");
  input.timestamp = OptionalHeader(request, "X-Paymento-Timestamp");
  return input;
}

std::string Sha256(absl::string_view data) {
  // OpenSSL 3's SHA256() fetches the algorithm by name on every call, so it
  // is fetched once here. SHA256() remains the fallback if the fetch fails.
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  unsigned int length = 0;
  if (sha256 == nullptr ||
      EVP_Digest(data.data(), data.size(), digest, &length, sha256,
                 nullptr) != 1 ||
      length != sizeof(digest)) {
    SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(),
           digest);
  }
  return std::string(reinterpret_cast<char*>(digest), sizeof(digest));
}

WebhookHandler::WebhookHandler(EventStore* store,
                               SecretSource* webhook_secrets,
                               SecretSource* ipn_secrets,
                               WebhookHandlerOptions options)
    : store_(store),
      webhook_secrets_(webhook_secrets),
      ipn_secrets_(ipn_secrets),
      options_(options) {}

bool WebhookHandler::gateway_callbacks_enabled() const {
  return ipn_secrets_ != nullptr && ipn_secrets_->configured();
}

IngressResponse WebhookHandler::HandleWebhook(const IngressRequest& request) {
  WebhookSignatureInput input = WebhookSignatureInputFor(request);
  std::shared_ptr<const SecretSet> secrets = webhook_secrets_->Current();
  absl::StatusOr<VerifiedSignature> verified = VerifyWebhookSignature(
      *secrets, options_.scheme_policy, input);
  if (!verified.ok()) return SignatureFailure(verified.status());
  CountVerification(*verified);

  absl::StatusOr<v1::Event> event = NormalizeWebhook(request.body);
  if (!event.ok()) {
    return Quarantine(
        request, absl::StrCat("malformed: ", event.status().message()),
        input.event_id.value_or(""),
        ErrorResponse(400, "malformed", event.status().message()));
  }

  absl::Status fresh;
  if (verified->scheme == v1::SIGNATURE_SCHEME_HEADER) {
    // The header scheme signs only the headers, so the body must agree
    // with them or it could be swapped for another event's body.
    if (event->id() != *input.event_id ||
        event->type() != *input.event_type) {
      return Quarantine(
          request, "mismatch: body event.id or event.type differs from headers",
          event->id(),
          ErrorResponse(400, "mismatch",
                        "event id or type in body differs from headers"));
    }
    fresh = CheckHeaderTimestamp(*input.timestamp, request.received_at,
                                 options_.freshness);
  } else {
    fresh = CheckCreatedAt(CreatedAt(*event), request.received_at,
                           options_.freshness);
  }
  if (!fresh.ok()) {
    return Quarantine(request, absl::StrCat("stale: ", fresh.message()),
                      event->id(),
                      ErrorResponse(401, "stale", "stale or future timestamp"));
  }

  SetVerification(*verified, *event);
  return Store(request, *std::move(event));
}

IngressResponse WebhookHandler::HandleGatewayCallback(
    const IngressRequest& request) {
  if (!gateway_callbacks_enabled()) {
    return ErrorResponse(404, "not_found", "not found");
  }
  std::vector<std::string> signatures =
      request.HeaderValues("X-HMAC-SHA256-SIGNATURE");
  std::shared_ptr<const SecretSet> secrets = ipn_secrets_->Current();
  absl::StatusOr<VerifiedSignature> verified =
      VerifyGatewaySignature(*secrets, request.body, signatures);
  if (!verified.ok()) return SignatureFailure(verified.status());
  CountVerification(*verified);

  absl::StatusOr<v1::Event> event = NormalizeGatewayCallback(request.body);
  if (!event.ok()) {
    return Quarantine(
        request, absl::StrCat("malformed: ", event.status().message()), "",
        ErrorResponse(400, "malformed", event.status().message()));
  }
  SetVerification(*verified, *event);
  return Store(request, *std::move(event));
}

IngressResponse WebhookHandler::Store(const IngressRequest& request,
                                      v1::Event event) {
  std::string id = event.id();
  std::string type = event.type();
  *event.mutable_received_at() = ToTimestamp(request.received_at);

  AppendFuture pending = store_->Append(std::move(event), Sha256(request.body));
  if (pending.wait_for(absl::ToChronoMilliseconds(options_.commit_timeout)) !=
      std::future_status::ready) {
    IngressResponse response =
        Unavailable("timeout", "store commit timed out, retry later");
    response.event_id = id;
    response.event_type = type;
    return response;
  }
  absl::StatusOr<AppendResult> result = pending.get();
  IngressResponse response;
  if (!result.ok()) {
    response = Unavailable(
        result.status().code() == absl::StatusCode::kResourceExhausted
            ? "overloaded"
            : "unavailable",
        "store unavailable, retry later");
  } else if (result->outcome == AppendOutcome::kConflict) {
    response = Quarantine(
        request, "conflict: event id already stored with a different body", id,
        ErrorResponse(409, "conflict",
                      "event id already received with a different body"));
  } else {
    response.status = 200;
    bool duplicate = result->outcome == AppendOutcome::kDuplicate;
    response.outcome = duplicate ? "duplicate" : "accepted";
    response.body = duplicate ? kDuplicate : kAccepted;
  }
  response.event_id = id;
  response.event_type = type;
  return response;
}

IngressResponse WebhookHandler::Quarantine(const IngressRequest& request,
                                           absl::string_view reason,
                                           absl::string_view event_id,
                                           IngressResponse refusal) {
  QuarantineRecord record;
  record.received_at = request.received_at;
  record.reason = std::string(reason);
  record.route = request.route;
  record.headers = HeaderLines(request);
  record.body = request.body;
  record.body_sha256 = Sha256(request.body);
  record.event_id = std::string(event_id);
  absl::StatusOr<int64_t> id = store_->Quarantine(std::move(record));
  if (!id.ok()) {
    logging::Error("quarantine write failed",
                   {{"request_id", request.request_id},
                    {"event_id", LoggableValue(event_id)},
                    {"reason", std::string(reason)},
                    {"error", std::string(id.status().message())}});
    return Unavailable("unavailable", "store unavailable, retry later");
  }
  logging::Info("request quarantined",
                {{"request_id", request.request_id},
                 {"quarantine_id", absl::StrCat(*id)},
                 {"event_id", LoggableValue(event_id)},
                 {"reason", std::string(reason)}});
  refusal.event_id = std::string(event_id);
  return refusal;
}

void WebhookHandler::CountVerification(
    const VerifiedSignature& verified) const {
  if (options_.metrics == nullptr) return;
  const char* scheme = "gateway_body";
  if (verified.scheme == v1::SIGNATURE_SCHEME_BODY) scheme = "body";
  if (verified.scheme == v1::SIGNATURE_SCHEME_HEADER) scheme = "header";
  options_.metrics->CountVerification(scheme, verified.secret_fingerprint);
}

IngressResponse WebhookHandler::Unavailable(absl::string_view outcome,
                                            absl::string_view message) const {
  IngressResponse response = ErrorResponse(503, outcome, message);
  response.retry_after_seconds = options_.retry_after_seconds;
  return response;
}

}  // namespace paymento::bridge
