// Gateway payment callbacks (IPN) against the real binary: every
// OrderStatus becomes payment.<status> with id ipn:<PaymentId>:<OrderStatus>,
// repeats are duplicates, and another body for the same payment and status
// is a conflict that goes to quarantine.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "src/verification/signature_verifier.h"
#include "tests/ingress/ingress_test_support.h"
#include "tests/testing/bridge_process.h"

namespace paymento::bridge::ingress_test {
namespace {

using test_support::BridgeOptions;
using test_support::BridgeProcess;

constexpr char kWebhookSecret[] = "whsec_gateway_test_webhook";
constexpr char kIpnSecret[] = "ipn_gateway_test_store_key";

// Paymento documents the signature as uppercase hex.
std::string Sign(absl::string_view body) {
  return absl::AsciiStrToUpper(HmacSha256Hex(kIpnSecret, body));
}

struct StatusCase {
  int64_t order_status;
  std::string type;
  v1::EventType known_type;
};

TEST(GatewayCallbackTest, EveryOrderStatus) {
  BridgeOptions options;
  options.environment["PAYMENTO_WEBHOOK_SECRET"] = kWebhookSecret;
  options.environment["PAYMENTO_IPN_SECRET"] = kIpnSecret;
  BridgeProcess bridge(options);
  ASSERT_TRUE(bridge.Start().ok()) << bridge.Output();
  StoreProbe probe(bridge);
  EXPECT_FALSE(
      absl::StrContains(bridge.Output(), "gateway callbacks disabled"));

  std::vector<StatusCase> cases = {
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
      {42, "payment.status_42", v1::EVENT_TYPE_UNSPECIFIED},
  };
  for (const StatusCase& test : cases) {
    SCOPED_TRACE(test.type);
    std::string id = absl::StrCat("ipn:244:", test.order_status);
    std::string body = GatewayBody(244, test.order_status);
    probe.Mark(id);
    RawResponse response =
        SendRaw(bridge.http_port(),
                HttpRequest("POST", "/ipn",
                            {{"X-HMAC-SHA256-SIGNATURE", Sign(body)}}, body));
    EXPECT_EQ(response.status, 200) << response.body;
    EXPECT_EQ(response.body, R"({"received":true})");
    EXPECT_EQ(EffectName(probe.SinceMark()), EffectName(StoreEffect::kStored));

    std::optional<v1::EventStatus> stored = probe.GetEvent(id);
    ASSERT_TRUE(stored.has_value());
    const v1::Event& event = stored->event();
    EXPECT_EQ(event.type(), test.type);
    EXPECT_EQ(event.known_type(), test.known_type);
    EXPECT_EQ(event.source(), v1::EVENT_SOURCE_GATEWAY_CALLBACK);
    EXPECT_EQ(event.gateway_payment().payment_id(), 244);
    EXPECT_EQ(event.gateway_payment().order_status(), test.order_status);
    EXPECT_EQ(event.gateway_payment().order_id(), "order-244");
    EXPECT_FALSE(event.gateway_payment().confirmed());
    EXPECT_EQ(event.verification().scheme(), v1::SIGNATURE_SCHEME_GATEWAY_BODY);
    EXPECT_TRUE(event.verification().body_authenticated());
    EXPECT_EQ(event.raw_body(), body);
  }
}

struct CallbackCase {
  std::string name;
  std::string method;
  std::string event_id;
  Headers headers;
  std::string body;
  int status;
  StoreEffect effect;
  std::string response;
};

TEST(GatewayCallbackTest, CasesTable) {
  BridgeOptions options;
  options.environment["PAYMENTO_WEBHOOK_SECRET"] = kWebhookSecret;
  options.environment["PAYMENTO_IPN_SECRET"] = kIpnSecret;
  BridgeProcess bridge(options);
  ASSERT_TRUE(bridge.Start().ok()) << bridge.Output();
  StoreProbe probe(bridge);

  std::string paid = GatewayBody(300, 7);
  std::string other_token =
      GatewayBody(300, 7, "ffffffffffffffffffffffffffffffff");
  std::string approved = GatewayBody(301, 8);
  std::string put_body = GatewayBody(302, 7);
  std::string string_numbers =
      R"({"Token":"t","PaymentId":"303","OrderId":"1","OrderStatus":"7"})";
  std::string no_payment = R"({"Token":"t","OrderStatus":7})";
  std::string not_json = "PaymentId=304&OrderStatus=7";
  std::vector<CallbackCase> cases = {
      {"documented callback, uppercase hex",
       "POST",
       "ipn:300:7",
       {{"X-HMAC-SHA256-SIGNATURE", Sign(paid)}},
       paid,
       200,
       StoreEffect::kStored,
       R"({"received":true})"},
      {"same callback again",
       "POST",
       "ipn:300:7",
       {{"X-HMAC-SHA256-SIGNATURE", Sign(paid)}},
       paid,
       200,
       StoreEffect::kDuplicate,
       R"({"received":true,"duplicate":true})"},
      {"same callback again by PUT, lowercase hex",
       "PUT",
       "ipn:300:7",
       {{"X-HMAC-SHA256-SIGNATURE", HmacSha256Hex(kIpnSecret, paid)}},
       paid,
       200,
       StoreEffect::kDuplicate,
       R"({"received":true,"duplicate":true})"},
      {"same payment and status, other body",
       "POST",
       "ipn:300:7",
       {{"X-HMAC-SHA256-SIGNATURE", Sign(other_token)}},
       other_token,
       409,
       StoreEffect::kQuarantined,
       ""},
      {"header name in mixed case",
       "POST",
       "ipn:301:8",
       {{"X-Hmac-Sha256-Signature", Sign(approved)}},
       approved,
       200,
       StoreEffect::kStored,
       R"({"received":true})"},
      {"PUT",
       "PUT",
       "ipn:302:7",
       {{"x-hmac-sha256-signature", Sign(put_body)}},
       put_body,
       200,
       StoreEffect::kStored,
       R"({"received":true})"},
      {"numbers sent as strings",
       "POST",
       "ipn:303:7",
       {{"X-HMAC-SHA256-SIGNATURE", Sign(string_numbers)}},
       string_numbers,
       200,
       StoreEffect::kStored,
       R"({"received":true})"},
      {"signed with the webhook secret",
       "POST",
       "ipn:305:7",
       {{"X-HMAC-SHA256-SIGNATURE",
         HmacSha256Hex(kWebhookSecret, GatewayBody(305, 7))}},
       GatewayBody(305, 7),
       401,
       StoreEffect::kNothing,
       R"({"error":"invalid signature"})"},
      {"webhook signature header instead",
       "POST",
       "ipn:306:7",
       {{"X-Paymento-Signature", Sign(GatewayBody(306, 7))}},
       GatewayBody(306, 7),
       401,
       StoreEffect::kNothing,
       R"({"error":"missing signature"})"},
      {"no PaymentId",
       "POST",
       "",
       {{"X-HMAC-SHA256-SIGNATURE", Sign(no_payment)}},
       no_payment,
       400,
       StoreEffect::kQuarantined,
       ""},
      {"form encoded, not JSON",
       "POST",
       "",
       {{"X-HMAC-SHA256-SIGNATURE", Sign(not_json)},
        {"Content-Type", "application/x-www-form-urlencoded"}},
       not_json,
       400,
       StoreEffect::kQuarantined,
       ""},
      {"GET",
       "GET",
       "",
       {},
       "",
       405,
       StoreEffect::kNothing,
       R"({"error":"method not allowed"})"},
  };
  for (const CallbackCase& test : cases) {
    SCOPED_TRACE(test.name);
    probe.Mark(test.event_id);
    RawResponse response =
        SendRaw(bridge.http_port(),
                HttpRequest(test.method, "/ipn", test.headers, test.body));
    EXPECT_EQ(response.status, test.status) << response.body;
    if (!test.response.empty()) {
      EXPECT_EQ(response.body, test.response);
    }
    EXPECT_EQ(EffectName(probe.SinceMark()), EffectName(test.effect));
  }

  std::vector<v1::QuarantinedRequest> quarantined = probe.AllQuarantined();
  ASSERT_EQ(quarantined.size(), 3u);
  EXPECT_TRUE(absl::StartsWith(quarantined[0].reason(), "conflict"));
  EXPECT_EQ(quarantined[0].event_id(), "ipn:300:7");
  EXPECT_EQ(quarantined[0].route(), "ipn");
  std::optional<v1::EventStatus> first = probe.GetEvent("ipn:300:7");
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->event().raw_body(), paid);
  EXPECT_EQ(first->duplicate_count(), 2);
}

}  // namespace
}  // namespace paymento::bridge::ingress_test
