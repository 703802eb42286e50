#include "src/normalization/webhook_normalizer.h"

#include <map>
#include <optional>
#include <string>
#include <utility>

#include "nlohmann/json.hpp"
#include "src/normalization/event_types.h"
#include "src/normalization/json_fields.h"
#include "src/normalization/timestamps.h"
#include "src/normalization/webhook_fields.h"

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

// Returns the member `key` when it is a string, which is the only kind of
// value read as a time.
std::optional<std::string> StringMember(const json& object,
                                        absl::string_view key) {
  const json* member = FindMember(object, key);
  if (member == nullptr || !member->is_string()) return std::nullopt;
  return member->get_ref<const std::string&>();
}

// Returns `value` as text, like JsonValueAsText, but a number, boolean,
// object or array as `raw`, its text in the body, when there is one. The
// parsed document keeps neither a number's digits nor an object's key order.
std::string ValueAsSentText(const json& value,
                            std::optional<absl::string_view> raw) {
  if (value.is_string() || value.is_null() || !raw.has_value()) {
    return JsonValueAsText(value);
  }
  return std::string(*raw);
}

void ReadPaymentLink(const json& link, absl::string_view link_text,
                     WebhookFields& fields) {
  fields.has_payment_link = true;
  fields.link_id = TextMember(link, "id");
  fields.link_title = TextMember(link, "title");
  fields.link_description = TextMember(link, "description");
  fields.link_status = TextMember(link, "status");
  fields.link_type = TextMember(link, "type");
  fields.link_created_at = StringMember(link, "createdAt");
  fields.link_paid_at = StringMember(link, "paidAt");
  fields.link_url = TextMember(link, "url");
  if (const json* integration = FindMember(link, "integrationMetadata")) {
    fields.link_integration_metadata = ValueAsSentText(
        *integration, RawMemberText(link_text, "integrationMetadata"));
  }
}

// Metadata values that are strings stay as they are. Any other value keeps
// its JSON text as sent, so null becomes "null" and stays distinct from "".
void ReadCustomer(const json& customer, absl::string_view customer_text,
                  WebhookFields& fields) {
  fields.has_customer = true;
  fields.customer_email = TextMember(customer, "email");
  fields.customer_name = TextMember(customer, "name");
  // NOTE: metadata that is not an object is kept only in raw_body.
  const json* metadata = FindObjectMember(customer, "metadata");
  if (metadata == nullptr) return;
  std::map<std::string, absl::string_view> sent =
      RawMemberTexts(RawMemberText(customer_text, "metadata").value_or(""));
  for (auto it = metadata->begin(); it != metadata->end(); ++it) {
    const json& value = it.value();
    if (value.is_string()) {
      fields.customer_metadata.emplace_back(
          it.key(), value.get_ref<const std::string&>());
      continue;
    }
    auto raw = sent.find(it.key());
    fields.customer_metadata.emplace_back(
        it.key(),
        raw != sent.end() ? std::string(raw->second) : JsonText(value));
  }
}

void ReadMerchant(const json& merchant, WebhookFields& fields) {
  fields.has_merchant = true;
  fields.merchant_id = TextMember(merchant, "id");
  fields.merchant_name = TextMember(merchant, "name");
}

absl::StatusOr<WebhookFields> ReadDocumentFields(absl::string_view body) {
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

  WebhookFields fields;
  fields.event_id = *std::move(id);
  fields.event_type = *std::move(type);
  fields.created_at = StringMember(*header, "createdAt");
  fields.api_version = TextMember(*header, "apiVersion");
  if (const json* link = FindObjectMember(root, "paymentLink")) {
    ReadPaymentLink(*link, RawMemberText(body, "paymentLink").value_or(""),
                    fields);
  }
  if (const json* customer = FindObjectMember(root, "customer")) {
    ReadCustomer(*customer, RawMemberText(body, "customer").value_or(""),
                 fields);
  }
  if (const json* merchant = FindObjectMember(root, "merchant")) {
    ReadMerchant(*merchant, fields);
  }
  return fields;
}

// Sets the timestamp that `out()` returns from an RFC 3339 text, and
// leaves it unset when there is no text or the text does not parse.
// ParseRfc3339Time returns only times that ToProtoTimestamp accepts.
template <typename MutableTime>
void SetTime(const std::optional<std::string>& text, MutableTime&& out) {
  if (!text.has_value()) return;
  if (std::optional<absl::Time> time = ParseRfc3339Time(*text)) {
    ToProtoTimestamp(*time, out());
  }
}

v1::Event BuildEvent(WebhookFields fields, absl::string_view body) {
  v1::Event event;
  event.set_id(std::move(fields.event_id));
  event.set_known_type(KnownEventType(fields.event_type));
  event.set_type(std::move(fields.event_type));
  SetTime(fields.created_at, [&] { return event.mutable_created_at(); });
  event.set_api_version(std::move(fields.api_version));
  event.set_source(v1::EVENT_SOURCE_PAYMENT_LINK_WEBHOOK);

  if (fields.has_payment_link) {
    v1::PaymentLink* link = event.mutable_payment_link();
    link->set_id(std::move(fields.link_id));
    link->set_title(std::move(fields.link_title));
    link->set_description(std::move(fields.link_description));
    link->set_status(std::move(fields.link_status));
    link->set_type(std::move(fields.link_type));
    SetTime(fields.link_created_at, [&] { return link->mutable_created_at(); });
    SetTime(fields.link_paid_at, [&] { return link->mutable_paid_at(); });
    link->set_url(std::move(fields.link_url));
    link->set_integration_metadata(std::move(fields.link_integration_metadata));
  }
  if (fields.has_customer) {
    v1::Customer* customer = event.mutable_customer();
    customer->set_email(std::move(fields.customer_email));
    customer->set_name(std::move(fields.customer_name));
    auto* metadata = customer->mutable_metadata();
    for (auto& [key, value] : fields.customer_metadata) {
      (*metadata)[key] = std::move(value);
    }
  }
  if (fields.has_merchant) {
    v1::Merchant* merchant = event.mutable_merchant();
    merchant->set_id(std::move(fields.merchant_id));
    merchant->set_name(std::move(fields.merchant_name));
  }
  event.set_raw_body(std::string(body));
  return event;
}

}  // namespace

absl::StatusOr<v1::Event> NormalizeWebhook(absl::string_view body) {
  std::optional<WebhookFields> plain = ReadPlainWebhookFields(body);
  if (plain.has_value()) return BuildEvent(*std::move(plain), body);
  return NormalizeWebhookAsDocument(body);
}

absl::StatusOr<v1::Event> NormalizeWebhookAsDocument(absl::string_view body) {
  absl::StatusOr<WebhookFields> fields = ReadDocumentFields(body);
  if (!fields.ok()) return fields.status();
  return BuildEvent(*std::move(fields), body);
}

}  // namespace paymento::bridge
