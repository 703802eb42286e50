// Turns the body of a Paymento payment-link webhook into an Event.
//
// The body looks like this (fields may be missing, null, or of another type,
// and new fields appear without notice):
//   {"event": {"id": "evt_...", "type": "payment_link.paid",
//              "createdAt": "2024-01-15T10:30:00Z", "apiVersion": "v1"},
//    "paymentLink": {"id", "title", "description", "status", "type",
//                    "createdAt", "paidAt", "url", "integrationMetadata"},
//    "customer": {"email", "name", "metadata": {...}},
//    "merchant": {"id", "name"}}
//
// Only event.id and event.type are required. Every other field is optional
// and read as described in json_fields.h, and fields the bridge does not know
// are kept only in raw_body.
#ifndef PAYMENTO_BRIDGE_SRC_NORMALIZATION_WEBHOOK_NORMALIZER_H_
#define PAYMENTO_BRIDGE_SRC_NORMALIZATION_WEBHOOK_NORMALIZER_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "paymento/bridge/v1/event.pb.h"

namespace paymento::bridge {

// Normalizes a webhook body. Sets id, type, known_type, created_at (unset
// when missing or unparseable), api_version, source, payment_link, customer,
// merchant and raw_body (the exact bytes of `body`). A section missing from
// the body, or not an object, is left unset. The caller sets sequence,
// received_at and verification.
//
// Returns INVALID_ARGUMENT when the body is not a valid JSON object, has no
// "event" object, or lacks a non-empty event.id or event.type that is a
// string or a number. Messages never repeat customer data. Only
// non-throwing JSON calls are used, so no input makes it throw.
//
// Most bodies are read in one pass by ReadPlainWebhookFields
// (webhook_fields.h), and the rest as an nlohmann::json document.
absl::StatusOr<v1::Event> NormalizeWebhook(absl::string_view body);

// NormalizeWebhook with every body read as a document. The results are the
// same; tests compare the two.
absl::StatusOr<v1::Event> NormalizeWebhookAsDocument(absl::string_view body);

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_NORMALIZATION_WEBHOOK_NORMALIZER_H_
