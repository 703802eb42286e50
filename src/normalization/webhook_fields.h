// The fields of a Payment Link webhook body that become an event, and a
// one-pass reader for the bodies Paymento usually sends.
//
// Parsing the body into an nlohmann::json document is most of the cost of
// normalizing it: every member becomes a map node and a string. The plain
// reader walks the body once and keeps only the fields an event needs. It
// takes only bodies whose meaning it shares with the document reader, and
// declines the rest, which NormalizeWebhook then reads as a document:
//   - any byte outside ASCII, and any \u escape in a string;
//   - a number with an exponent or longer than 64 characters, so no number
//     it skips could overflow where the document reader fails;
//   - a field read as text that is not a string or null, and customer
//     metadata with a value that is not a string;
//   - a field that it reads, or an object with such fields, named twice in
//     one object (the document keeps the last);
//   - nesting deeper than kMaxJsonDepth, and anything that is not valid JSON;
//   - a missing or empty event.id or event.type, or one that is not a
//     string.
// It declines rather than fails, so every error message comes from the
// document reader.
#ifndef PAYMENTO_BRIDGE_SRC_NORMALIZATION_WEBHOOK_FIELDS_H_
#define PAYMENTO_BRIDGE_SRC_NORMALIZATION_WEBHOOK_FIELDS_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace paymento::bridge {

// Text fields contain what TextMember in json_fields.h returns. Time fields
// contain a member's text only when it is a string.
struct WebhookFields {
  std::string event_id;
  std::string event_type;
  std::optional<std::string> created_at;
  std::string api_version;

  bool has_payment_link = false;
  std::string link_id;
  std::string link_title;
  std::string link_description;
  std::string link_status;
  std::string link_type;
  std::optional<std::string> link_created_at;
  std::optional<std::string> link_paid_at;
  std::string link_url;
  std::string link_integration_metadata;

  bool has_customer = false;
  std::string customer_email;
  std::string customer_name;
  // Pairs in body order. Applied in order, a key named twice keeps its last
  // value, as in the document.
  std::vector<std::pair<std::string, std::string>> customer_metadata;

  bool has_merchant = false;
  std::string merchant_id;
  std::string merchant_name;
};

// Reads `body` in one pass. Returns nullopt for every body listed at the top
// of this file, and the caller then reads it as a document.
std::optional<WebhookFields> ReadPlainWebhookFields(absl::string_view body);

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_NORMALIZATION_WEBHOOK_FIELDS_H_
