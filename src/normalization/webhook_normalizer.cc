#include "src/normalization/webhook_normalizer.h"

#include <optional>
#include <string>

#include "nlohmann/json.hpp"
#include "src/normalization/event_types.h"
#include "src/normalization/json_fields.h"
#include "src/normalization/timestamps.h"

namespace paymento::bridge {
namespace {

using nlohmann::json;

// Reads a required identifier: a non-empty string, or a number as its JSON
// text. Returns nullopt for anything else.
std::optional<std::string> IdentifierMember(const json& object,
                                            absl::string_view key) {
  const json* member = FindMember(object, key);
  if (member == nullptr || !(member->is_string() || member->is_number())) {
    return std::nullopt;
  }
  std::string text = JsonValueAsText(*member);
  if (text.empty()) return std::nullopt;
  return text;
}

// Reads an RFC 3339 string member. Returns nullopt when the member is
// missing, null, not a string or unparseable.
std::optional<absl::Time> TimeMember(const json& object,
                                     absl::string_view key) {
  const json* member = FindMember(object, key);
  if (member == nullptr || !member->is_string()) return std::nullopt;
  return ParseRfc3339Time(member->get_ref<const std::string&>());
}

void FillPaymentLink(const json& link, v1::PaymentLink* out) {
  out->set_id(TextMember(link, "id"));
  out->set_title(TextMember(link, "title"));
  out->set_description(TextMember(link, "description"));
  out->set_status(TextMember(link, "status"));
  out->set_type(TextMember(link, "type"));
  // ParseRfc3339Time returns only times that ToProtoTimestamp accepts.
  if (auto created_at = TimeMember(link, "createdAt")) {
    ToProtoTimestamp(*created_at, out->mutable_created_at());
  }
  if (auto paid_at = TimeMember(link, "paidAt")) {
    ToProtoTimestamp(*paid_at, out->mutable_paid_at());
  }
  out->set_url(TextMember(link, "url"));
  out->set_integration_metadata(TextMember(link, "integrationMetadata"));
}

// Metadata values that are strings stay as they are. Any other value keeps
// its JSON text, so null becomes "null" and stays distinct from "".
void FillCustomer(const json& customer, v1::Customer* out) {
  out->set_email(TextMember(customer, "email"));
  out->set_name(TextMember(customer, "name"));
  // NOTE: metadata that is not an object is kept only in raw_body.
  const json* metadata = FindObjectMember(customer, "metadata");
  if (metadata == nullptr) return;
  auto* map = out->mutable_metadata();
  for (auto it = metadata->begin(); it != metadata->end(); ++it) {
    const json& value = it.value();
    (*map)[it.key()] = value.is_string() ? value.get_ref<const std::string&>()
                                         : JsonText(value);
  }
}

void FillMerchant(const json& merchant, v1::Merchant* out) {
  out->set_id(TextMember(merchant, "id"));
  out->set_name(TextMember(merchant, "name"));
}

}  // namespace

absl::StatusOr<v1::Event> NormalizeWebhook(absl::string_view body) {
  absl::StatusOr<json> parsed = ParseJsonObject(body);
  if (!parsed.ok()) return parsed.status();
  const json& root = *parsed;

  const json* header = FindObjectMember(root, "event");
  if (header == nullptr) {
    return absl::InvalidArgumentError("body has no event object");
  }
  std::optional<std::string> id = IdentifierMember(*header, "id");
  if (!id.has_value())
    return absl::InvalidArgumentError("body has no event.id");
  std::optional<std::string> type = IdentifierMember(*header, "type");
  if (!type.has_value()) {
    return absl::InvalidArgumentError("body has no event.type");
  }

  v1::Event event;
  event.set_id(*std::move(id));
  event.set_known_type(KnownEventType(*type));
  event.set_type(*std::move(type));
  if (auto created_at = TimeMember(*header, "createdAt")) {
    ToProtoTimestamp(*created_at, event.mutable_created_at());
  }
  event.set_api_version(TextMember(*header, "apiVersion"));
  event.set_source(v1::EVENT_SOURCE_PAYMENT_LINK_WEBHOOK);

  if (const json* link = FindObjectMember(root, "paymentLink")) {
    FillPaymentLink(*link, event.mutable_payment_link());
  }
  if (const json* customer = FindObjectMember(root, "customer")) {
    FillCustomer(*customer, event.mutable_customer());
  }
  if (const json* merchant = FindObjectMember(root, "merchant")) {
    FillMerchant(*merchant, event.mutable_merchant());
  }
  event.set_raw_body(std::string(body));
  return event;
}

}  // namespace paymento::bridge
