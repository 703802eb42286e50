#include "src/normalization/gateway_callback_normalizer.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "src/normalization/event_types.h"
#include "src/normalization/json_fields.h"

namespace paymento::bridge {
namespace {

using nlohmann::json;

// 2^63 as a double: the first value past the int64 range.
constexpr double kInt64Limit = 9223372036854775808.0;

bool IsDecimalInteger(absl::string_view text) {
  if (!text.empty() && text.front() == '-') text.remove_prefix(1);
  if (text.empty()) return false;
  for (char c : text) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// Reads an integer that arrives as a JSON integer, a number with an integral
// value (244.0) or a string of decimal digits ("244", "-1").
bool ReadInteger(const json& value, int64_t* out) {
  switch (value.type()) {
    case json::value_t::number_integer:
      *out = value.get<int64_t>();
      return true;
    case json::value_t::number_unsigned: {
      uint64_t unsigned_value = value.get<uint64_t>();
      if (unsigned_value > uint64_t{std::numeric_limits<int64_t>::max()}) {
        return false;
      }
      *out = static_cast<int64_t>(unsigned_value);
      return true;
    }
    case json::value_t::number_float: {
      double number = value.get<double>();
      if (!(number >= -kInt64Limit && number < kInt64Limit) ||
          std::trunc(number) != number) {
        return false;
      }
      *out = static_cast<int64_t>(number);
      return true;
    }
    case json::value_t::string: {
      const std::string& text = value.get_ref<const std::string&>();
      return IsDecimalInteger(text) && absl::SimpleAtoi(text, out);
    }
    default:
      return false;
  }
}

absl::StatusOr<int64_t> IntegerField(const json& root, absl::string_view key,
                                     int64_t min, int64_t max) {
  const json* member = FindMemberIgnoringCase(root, key);
  if (member == nullptr || member->is_null()) {
    return absl::InvalidArgumentError(
        absl::StrCat("callback body has no ", key));
  }
  int64_t value = 0;
  if (!ReadInteger(*member, &value)) {
    return absl::InvalidArgumentError(
        absl::StrCat("callback ", key, " is not an integer"));
  }
  if (value < min || value > max) {
    return absl::InvalidArgumentError(
        absl::StrCat("callback ", key, " ", value, " is out of range"));
  }
  return value;
}

std::string TextField(const json& root, absl::string_view key) {
  const json* member = FindMemberIgnoringCase(root, key);
  return member == nullptr ? "" : JsonValueAsText(*member);
}

}  // namespace

absl::StatusOr<v1::Event> NormalizeGatewayCallback(absl::string_view body) {
  absl::StatusOr<json> parsed = ParseJsonObject(body);
  if (!parsed.ok()) return parsed.status();
  const json& root = *parsed;

  absl::StatusOr<int64_t> payment_id =
      IntegerField(root, "PaymentId", std::numeric_limits<int64_t>::min(),
                   std::numeric_limits<int64_t>::max());
  if (!payment_id.ok()) return payment_id.status();
  absl::StatusOr<int64_t> order_status =
      IntegerField(root, "OrderStatus", std::numeric_limits<int32_t>::min(),
                   std::numeric_limits<int32_t>::max());
  if (!order_status.ok()) return order_status.status();

  v1::Event event;
  event.set_id(absl::StrCat("ipn:", *payment_id, ":", *order_status));
  event.set_type(GatewayEventType(*order_status));
  event.set_known_type(KnownEventType(event.type()));
  event.set_source(v1::EVENT_SOURCE_GATEWAY_CALLBACK);

  v1::GatewayPayment* payment = event.mutable_gateway_payment();
  payment->set_token(TextField(root, "Token"));
  payment->set_payment_id(*payment_id);
  payment->set_order_id(TextField(root, "OrderId"));
  payment->set_order_status(static_cast<int32_t>(*order_status));
  payment->set_confirmed(false);
  if (const json* data = FindMemberIgnoringCase(root, "AdditionalData")) {
    payment->set_additional_data(JsonText(*data));
  }
  event.set_raw_body(std::string(body));
  return event;
}

}  // namespace paymento::bridge
