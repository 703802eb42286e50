#include "src/normalization/event_types.h"

#include "absl/strings/str_cat.h"

namespace paymento::bridge {
namespace {

struct KnownType {
  absl::string_view name;
  v1::EventType value;
};

constexpr KnownType kKnownTypes[] = {
    {"payment_link.paid", v1::EVENT_TYPE_PAYMENT_LINK_PAID},
    {"payment_link.failed", v1::EVENT_TYPE_PAYMENT_LINK_FAILED},
    {"payment_link.expired", v1::EVENT_TYPE_PAYMENT_LINK_EXPIRED},
    {"payment_link.deferred", v1::EVENT_TYPE_PAYMENT_LINK_DEFERRED},
    {"subscription.renewed", v1::EVENT_TYPE_SUBSCRIPTION_RENEWED},
    {"subscription.reminder_sent", v1::EVENT_TYPE_SUBSCRIPTION_REMINDER_SENT},
    {"subscription.grace_expired", v1::EVENT_TYPE_SUBSCRIPTION_GRACE_EXPIRED},
    {"payment.initialized", v1::EVENT_TYPE_PAYMENT_INITIALIZED},
    {"payment.pending", v1::EVENT_TYPE_PAYMENT_PENDING},
    {"payment.partially_paid", v1::EVENT_TYPE_PAYMENT_PARTIALLY_PAID},
    {"payment.waiting_to_confirm", v1::EVENT_TYPE_PAYMENT_WAITING_TO_CONFIRM},
    {"payment.timed_out", v1::EVENT_TYPE_PAYMENT_TIMED_OUT},
    {"payment.canceled", v1::EVENT_TYPE_PAYMENT_CANCELED},
    {"payment.paid", v1::EVENT_TYPE_PAYMENT_PAID},
    {"payment.approved", v1::EVENT_TYPE_PAYMENT_APPROVED},
    {"payment.rejected", v1::EVENT_TYPE_PAYMENT_REJECTED},
};

// Indexed by OrderStatus. Status 6 appears in Paymento's API enum without a
// name or meaning, so it gets the generic name.
constexpr absl::string_view kStatusNames[] = {
    "initialized",
    "pending",
    "partially_paid",
    "waiting_to_confirm",
    "timed_out",
    "canceled",
    "",
    "paid",
    "approved",
    "rejected",
};

}  // namespace

v1::EventType KnownEventType(absl::string_view type) {
  for (const KnownType& known : kKnownTypes) {
    if (known.name == type) return known.value;
  }
  return v1::EVENT_TYPE_UNSPECIFIED;
}

std::string GatewayStatusName(int64_t order_status) {
  constexpr int64_t kStatusCount =
      sizeof(kStatusNames) / sizeof(kStatusNames[0]);
  if (order_status >= 0 && order_status < kStatusCount &&
      !kStatusNames[order_status].empty()) {
    return std::string(kStatusNames[order_status]);
  }
  return absl::StrCat("status_", order_status);
}

std::string GatewayEventType(int64_t order_status) {
  return absl::StrCat("payment.", GatewayStatusName(order_status));
}

}  // namespace paymento::bridge
