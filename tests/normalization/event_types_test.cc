#include "src/normalization/event_types.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace paymento::bridge {
namespace {

TEST(KnownEventTypeTest, MapsPaymentLinkTypes) {
  const std::vector<std::pair<std::string, v1::EventType>> cases = {
      {"payment_link.paid", v1::EVENT_TYPE_PAYMENT_LINK_PAID},
      {"payment_link.failed", v1::EVENT_TYPE_PAYMENT_LINK_FAILED},
      {"payment_link.expired", v1::EVENT_TYPE_PAYMENT_LINK_EXPIRED},
      {"payment_link.deferred", v1::EVENT_TYPE_PAYMENT_LINK_DEFERRED},
      {"subscription.renewed", v1::EVENT_TYPE_SUBSCRIPTION_RENEWED},
      {"subscription.reminder_sent", v1::EVENT_TYPE_SUBSCRIPTION_REMINDER_SENT},
      {"subscription.grace_expired", v1::EVENT_TYPE_SUBSCRIPTION_GRACE_EXPIRED},
  };
  for (const auto& [type, expected] : cases) {
    EXPECT_EQ(KnownEventType(type), expected) << type;
  }
}

TEST(KnownEventTypeTest, MapsUnknownTypesToUnspecified) {
  for (absl::string_view type :
       {"", "payment_link.refunded", "Payment_Link.Paid", "payment_link.paid ",
        "payment_link", "payment.status_6", "payment.status_12", "paid"}) {
    EXPECT_EQ(KnownEventType(type), v1::EVENT_TYPE_UNSPECIFIED) << type;
  }
}

TEST(GatewayStatusNameTest, NamesDocumentedStatuses) {
  const std::vector<std::pair<int64_t, std::string>> cases = {
      {0, "initialized"},        {1, "pending"},   {2, "partially_paid"},
      {3, "waiting_to_confirm"}, {4, "timed_out"}, {5, "canceled"},
      {6, "status_6"},           {7, "paid"},      {8, "approved"},
      {9, "rejected"},
  };
  for (const auto& [status, name] : cases) {
    EXPECT_EQ(GatewayStatusName(status), name) << status;
  }
}

TEST(GatewayStatusNameTest, NamesOtherNumbersGenerically) {
  EXPECT_EQ(GatewayStatusName(10), "status_10");
  EXPECT_EQ(GatewayStatusName(12), "status_12");
  EXPECT_EQ(GatewayStatusName(-1), "status_-1");
  EXPECT_EQ(GatewayEventType(12), "payment.status_12");
}

// The enum value of each gateway type is EVENT_TYPE_PAYMENT_ followed by the
// status name in upper case, so that the type string and the enum agree.
TEST(GatewayStatusNameTest, MatchesEventTypeEnumNames) {
  for (int64_t status = 0; status <= 9; ++status) {
    if (status == 6) continue;
    std::string type = GatewayEventType(status);
    v1::EventType known = KnownEventType(type);
    EXPECT_EQ(v1::EventType_Name(known),
              absl::StrCat("EVENT_TYPE_PAYMENT_",
                           absl::AsciiStrToUpper(GatewayStatusName(status))))
        << type;
  }
}

TEST(GatewayStatusNameTest, UndocumentedStatusHasNoEnumValue) {
  EXPECT_EQ(KnownEventType(GatewayEventType(6)), v1::EVENT_TYPE_UNSPECIFIED);
}

}  // namespace
}  // namespace paymento::bridge
