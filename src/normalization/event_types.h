// Paymento event type strings and their EventType enum values.
//
// Payment-link webhooks carry their type in event.type. Gateway payment
// callbacks carry only a numeric OrderStatus, so the bridge names their type
// "payment.<status name>" from the table below. Paymento documents status
// names in PascalCase (Initialize, PartialPaid, Timeout, ...). The bridge uses
// snake_case names of their meanings, which the EventType enum mirrors:
//
//   0 initialized         4 timed_out   8 approved
//   1 pending             5 canceled    9 rejected
//   2 partially_paid      6 status_6 (undocumented)
//   3 waiting_to_confirm  7 paid
#ifndef PAYMENTO_BRIDGE_SRC_NORMALIZATION_EVENT_TYPES_H_
#define PAYMENTO_BRIDGE_SRC_NORMALIZATION_EVENT_TYPES_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "paymento/bridge/v1/event.pb.h"

namespace paymento::bridge {

// Returns the enum value of a known type string, such as "payment_link.paid"
// or "payment.waiting_to_confirm", and EVENT_TYPE_UNSPECIFIED for any other
// string. Matching is exact.
v1::EventType KnownEventType(absl::string_view type);

// Returns the snake_case name of a gateway OrderStatus from the table above,
// and "status_<n>" for any other number, including 6.
std::string GatewayStatusName(int64_t order_status);

// Returns the event type of a gateway callback: "payment." followed by
// GatewayStatusName(order_status).
std::string GatewayEventType(int64_t order_status);

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_NORMALIZATION_EVENT_TYPES_H_
