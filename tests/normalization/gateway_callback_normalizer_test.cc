#include "src/normalization/gateway_callback_normalizer.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/normalization/testdata.h"

namespace paymento::bridge {
namespace {

std::string CallbackBody(absl::string_view payment_id,
                         absl::string_view order_status) {
  return absl::StrCat(R"({"Token":"0f1e2d3c4b5a69788796a5b4c3d2e1f0",)",
                      R"("PaymentId":)", payment_id, R"(,"OrderId":"957",)",
                      R"("OrderStatus":)", order_status,
                      R"(,"AdditionalData":[]})");
}

TEST(GatewayCallbackNormalizerTest, NormalizesDocumentedExample) {
  const std::string body = ReadTestdata("gateway_callback_paid.json");
  ASSERT_FALSE(body.empty());

  absl::StatusOr<v1::Event> event = NormalizeGatewayCallback(body);

  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->id(), "ipn:244:7");
  EXPECT_EQ(event->type(), "payment.paid");
  EXPECT_EQ(event->known_type(), v1::EVENT_TYPE_PAYMENT_PAID);
  EXPECT_EQ(event->source(), v1::EVENT_SOURCE_GATEWAY_CALLBACK);
  EXPECT_FALSE(event->has_created_at());
  EXPECT_FALSE(event->has_verification());
  EXPECT_FALSE(event->has_payment_link());
  EXPECT_FALSE(event->has_customer());
  EXPECT_FALSE(event->has_merchant());
  ASSERT_TRUE(event->has_gateway_payment());
  const v1::GatewayPayment& payment = event->gateway_payment();
  EXPECT_EQ(payment.token(), "0f1e2d3c4b5a69788796a5b4c3d2e1f0");
  EXPECT_EQ(payment.payment_id(), 244);
  EXPECT_EQ(payment.order_id(), "957");
  EXPECT_EQ(payment.order_status(), 7);
  EXPECT_FALSE(payment.confirmed());
  EXPECT_EQ(payment.additional_data(), "[]");
  EXPECT_EQ(event->raw_body(), body);
}

TEST(GatewayCallbackNormalizerTest, NamesEveryStatus) {
  struct Case {
    int status;
    std::string type;
    v1::EventType known_type;
  };
  const std::vector<Case> cases = {
      {0, "payment.initialized", v1::EVENT_TYPE_PAYMENT_INITIALIZED},
      {1, "payment.pending", v1::EVENT_TYPE_PAYMENT_PENDING},
      {2, "payment.partially_paid", v1::EVENT_TYPE_PAYMENT_PARTIALLY_PAID},
      {3, "payment.waiting_to_confirm",
       v1::EVENT_TYPE_PAYMENT_WAITING_TO_CONFIRM},
      {4, "payment.timed_out", v1::EVENT_TYPE_PAYMENT_TIMED_OUT},
      {5, "payment.canceled", v1::EVENT_TYPE_PAYMENT_CANCELED},
      {6, "payment.status_6", v1::EVENT_TYPE_UNSPECIFIED},
      {7, "payment.paid", v1::EVENT_TYPE_PAYMENT_PAID},
      {8, "payment.approved", v1::EVENT_TYPE_PAYMENT_APPROVED},
      {9, "payment.rejected", v1::EVENT_TYPE_PAYMENT_REJECTED},
      {12, "payment.status_12", v1::EVENT_TYPE_UNSPECIFIED},
  };
  for (const Case& c : cases) {
    absl::StatusOr<v1::Event> event =
        NormalizeGatewayCallback(CallbackBody("244", absl::StrCat(c.status)));
    ASSERT_TRUE(event.ok()) << c.status << ": " << event.status();
    EXPECT_EQ(event->id(), absl::StrCat("ipn:244:", c.status));
    EXPECT_EQ(event->type(), c.type);
    EXPECT_EQ(event->known_type(), c.known_type) << c.type;
    EXPECT_EQ(event->gateway_payment().order_status(), c.status);
  }
}

TEST(GatewayCallbackNormalizerTest, AcceptsIntegerVariants) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"("244")", R"("7")"},
      {"244.0", "7.0"},
      {R"("0244")", R"("07")"},
      {"2.44e2", "7"},
  };
  for (const auto& [payment_id, order_status] : cases) {
    absl::StatusOr<v1::Event> event =
        NormalizeGatewayCallback(CallbackBody(payment_id, order_status));
    ASSERT_TRUE(event.ok()) << payment_id << ": " << event.status();
    EXPECT_EQ(event->id(), "ipn:244:7") << payment_id;
    EXPECT_EQ(event->gateway_payment().payment_id(), 244);
    EXPECT_EQ(event->gateway_payment().order_status(), 7);
  }
}

TEST(GatewayCallbackNormalizerTest, AcceptsLargestPaymentId) {
  absl::StatusOr<v1::Event> event =
      NormalizeGatewayCallback(CallbackBody("9223372036854775807", "8"));

  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->id(), "ipn:9223372036854775807:8");
}

TEST(GatewayCallbackNormalizerTest, MatchesKeysWithoutRegardToCase) {
  absl::StatusOr<v1::Event> event = NormalizeGatewayCallback(
      R"({"token":"abc","paymentId":5,"orderid":12,"ORDERSTATUS":"3",)"
      R"("additionalData":{"note":"x"}})");

  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->id(), "ipn:5:3");
  EXPECT_EQ(event->type(), "payment.waiting_to_confirm");
  EXPECT_EQ(event->gateway_payment().token(), "abc");
  EXPECT_EQ(event->gateway_payment().order_id(), "12");
  EXPECT_EQ(event->gateway_payment().additional_data(), R"({"note":"x"})");
}

TEST(GatewayCallbackNormalizerTest, KeepsAdditionalDataAsJsonText) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"(,"AdditionalData":[])", "[]"},
      {R"(,"AdditionalData":[{"k":"v"}])", R"([{"k":"v"}])"},
      {R"(,"AdditionalData":null)", "null"},
      {R"(,"AdditionalData":"text")", R"("text")"},
      {"", ""},
  };
  for (const auto& [member, expected] : cases) {
    absl::StatusOr<v1::Event> event = NormalizeGatewayCallback(
        absl::StrCat(R"({"PaymentId":1,"OrderStatus":7)", member, "}"));
    ASSERT_TRUE(event.ok()) << member << ": " << event.status();
    EXPECT_EQ(event->gateway_payment().additional_data(), expected) << member;
  }
}

TEST(GatewayCallbackNormalizerTest, AcceptsMissingOptionalFields) {
  absl::StatusOr<v1::Event> event =
      NormalizeGatewayCallback(R"({"PaymentId":1,"OrderStatus":0,"New":1})");

  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->gateway_payment().token(), "");
  EXPECT_EQ(event->gateway_payment().order_id(), "");
}

TEST(GatewayCallbackNormalizerTest, RejectsBadIntegerFields) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"OrderStatus":7})", "callback body has no PaymentId"},
      {R"({"PaymentId":null,"OrderStatus":7})",
       "callback body has no PaymentId"},
      {R"({"PaymentId":244})", "callback body has no OrderStatus"},
      {R"({"PaymentId":244,"OrderStatus":null})",
       "callback body has no OrderStatus"},
      {CallbackBody(R"("abc")", "7"), "callback PaymentId is not an integer"},
      {CallbackBody(R"("")", "7"), "callback PaymentId is not an integer"},
      {CallbackBody(R"(" 244")", "7"), "callback PaymentId is not an integer"},
      {CallbackBody(R"("+244")", "7"), "callback PaymentId is not an integer"},
      {CallbackBody(R"("244.0")", "7"), "callback PaymentId is not an integer"},
      {CallbackBody("244.5", "7"), "callback PaymentId is not an integer"},
      {CallbackBody("true", "7"), "callback PaymentId is not an integer"},
      {CallbackBody("[244]", "7"), "callback PaymentId is not an integer"},
      {CallbackBody(R"({"id":244})", "7"),
       "callback PaymentId is not an integer"},
      {CallbackBody("9223372036854775808", "7"),
       "callback PaymentId is not an integer"},
      {CallbackBody(R"("9223372036854775808")", "7"),
       "callback PaymentId is not an integer"},
      {CallbackBody("1e19", "7"), "callback PaymentId is not an integer"},
      {CallbackBody("244", "7.5"), "callback OrderStatus is not an integer"},
      {CallbackBody("244", R"("paid")"),
       "callback OrderStatus is not an integer"},
      {CallbackBody("244", "2147483648"),
       "callback OrderStatus 2147483648 is out of range"},
      {CallbackBody("244", "-2147483649"),
       "callback OrderStatus -2147483649 is out of range"},
  };
  for (const auto& [body, message] : cases) {
    absl::StatusOr<v1::Event> event = NormalizeGatewayCallback(body);
    ASSERT_FALSE(event.ok()) << body;
    EXPECT_EQ(event.status().code(), absl::StatusCode::kInvalidArgument)
        << body;
    EXPECT_EQ(event.status().message(), message) << body;
  }
}

TEST(GatewayCallbackNormalizerTest, RejectsMalformedBodies) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "body is not valid JSON"},
      {"PaymentId=244&OrderStatus=7", "body is not valid JSON"},
      {R"({"PaymentId":244,"OrderStatus":7)", "body is not valid JSON"},
      {"{\"Token\":\"\xFF\",\"PaymentId\":1,\"OrderStatus\":7}",
       "body is not valid JSON"},
      {"[]", "body is not a JSON object"},
      {R"([{"PaymentId":244,"OrderStatus":7}])", "body is not a JSON object"},
  };
  for (const auto& [body, message] : cases) {
    absl::StatusOr<v1::Event> event = NormalizeGatewayCallback(body);
    ASSERT_FALSE(event.ok()) << body;
    EXPECT_EQ(event.status().code(), absl::StatusCode::kInvalidArgument)
        << body;
    EXPECT_EQ(event.status().message(), message) << body;
  }
}

}  // namespace
}  // namespace paymento::bridge
