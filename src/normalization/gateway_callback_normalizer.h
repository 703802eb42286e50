// Turns the body of a Paymento gateway payment callback (IPN) into an Event.
//
// The body is PascalCase, with numbers as JSON numbers:
//   {"Token":"<32 hex>","PaymentId":244,"OrderId":"957","OrderStatus":7,
//    "AdditionalData":[]}
// Keys are matched exactly first, then without regard to ASCII case, because
// store plugins are reported to send them in other cases.
//
// A callback carries no event id. Paymento's callback documentation states
// that a payment passes through each status at most once, so the event id is
// "ipn:<PaymentId>:<OrderStatus>". The type is "payment.<status name>" (see
// event_types.h).
#ifndef PAYMENTO_BRIDGE_SRC_NORMALIZATION_GATEWAY_CALLBACK_NORMALIZER_H_
#define PAYMENTO_BRIDGE_SRC_NORMALIZATION_GATEWAY_CALLBACK_NORMALIZER_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "paymento/bridge/v1/event.pb.h"

namespace paymento::bridge {

// Normalizes a callback body. Sets id, type, known_type, source, raw_body
// (the exact bytes of `body`) and gateway_payment. In gateway_payment, token
// and order_id are text and payment_id and order_status are integers.
// confirmed is false, because a callback alone is not proof of payment.
// additional_data is the JSON text of AdditionalData, or "" when it is
// missing. The caller sets sequence, received_at and verification.
//
// PaymentId and OrderStatus may be JSON integers, numbers with an integral
// value, or strings of decimal digits such as "244". Returns
// INVALID_ARGUMENT, naming the field, when either is missing, not an integer
// or out of range (PaymentId int64, OrderStatus int32), and when the body is
// not a valid JSON object. Only non-throwing JSON calls are used, so no
// input makes it throw.
absl::StatusOr<v1::Event> NormalizeGatewayCallback(absl::string_view body);

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_NORMALIZATION_GATEWAY_CALLBACK_NORMALIZER_H_
