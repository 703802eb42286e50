// EventFromQuarantine: how a quarantined request is normalized and verified
// again when an operator releases it.
#include "src/ingress/quarantine_release.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "src/ingress/webhook_handler.h"
#include "src/verification/secret_set.h"
#include "src/verification/signature_verifier.h"

namespace paymento::bridge {
namespace {

constexpr char kSecret[] = "whsec_release_unit";
constexpr char kIpnSecret[] = "ipn_release_unit";

const char kBody[] = R"({"event":{"id":"evt_r","type":"payment_link.paid",)"
                     R"("createdAt":"2024-01-15T10:30:00Z"}})";

ReleaseSecrets Secrets() {
  ReleaseSecrets secrets;
  secrets.webhook =
      std::make_shared<SecretSet>(std::vector<std::string>{"older", kSecret});
  secrets.ipn =
      std::make_shared<SecretSet>(std::vector<std::string>{kIpnSecret});
  return secrets;
}

QuarantineRecord WebhookRecord(std::string headers, std::string body = kBody) {
  QuarantineRecord record;
  record.id = 7;
  record.route = "webhook";
  record.received_at = absl::FromUnixSeconds(1700000000);
  record.headers = std::move(headers);
  record.body = std::move(body);
  record.body_sha256 = Sha256(record.body);
  return record;
}

TEST(ParseHeaderLinesTest, SplitsAtFirstColonSpace) {
  auto headers =
      ParseHeaderLines("Host: a:1\nX-Empty: \nX-Paymento-Signature: ab cd\n");
  ASSERT_EQ(headers.size(), 3u);
  EXPECT_EQ(headers[0].first, "Host");
  EXPECT_EQ(headers[0].second, "a:1");
  EXPECT_EQ(headers[1].second, "");
  EXPECT_EQ(headers[2].second, "ab cd");
}

TEST(EventFromQuarantineTest, BodySchemeVerifiesAgain) {
  QuarantineRecord record = WebhookRecord(
      absl::StrCat("X-Paymento-Signature: ",
                   absl::AsciiStrToUpper(HmacSha256Hex(kSecret, kBody)), "\n"));
  absl::StatusOr<v1::Event> event = EventFromQuarantine(record, Secrets());
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->id(), "evt_r");
  EXPECT_EQ(event->verification().scheme(), v1::SIGNATURE_SCHEME_BODY);
  EXPECT_EQ(event->verification().secret_fingerprint(),
            SecretFingerprint(kSecret));
  EXPECT_TRUE(event->verification().body_authenticated());
  EXPECT_EQ(event->received_at().seconds(), 1700000000);
  EXPECT_EQ(event->raw_body(), kBody);
}

TEST(EventFromQuarantineTest, RotatedSecretLeavesEventUnverified) {
  QuarantineRecord record = WebhookRecord(absl::StrCat(
      "X-Paymento-Signature: ", HmacSha256Hex("retired", kBody), "\n"));
  absl::StatusOr<v1::Event> event = EventFromQuarantine(record, Secrets());
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->verification().scheme(), v1::SIGNATURE_SCHEME_UNSPECIFIED);
  EXPECT_EQ(event->verification().secret_fingerprint(), "");
  EXPECT_FALSE(event->verification().body_authenticated());
}

TEST(EventFromQuarantineTest, NoSecretsLeaveEventUnverified) {
  QuarantineRecord record = WebhookRecord(absl::StrCat(
      "X-Paymento-Signature: ", HmacSha256Hex(kSecret, kBody), "\n"));
  absl::StatusOr<v1::Event> event =
      EventFromQuarantine(record, ReleaseSecrets{});
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->verification().scheme(), v1::SIGNATURE_SCHEME_UNSPECIFIED);
}

TEST(EventFromQuarantineTest, HeaderSchemeCountsOnlyForItsOwnEvent) {
  std::string signature = HmacSha256Hex(
      kSecret, HeaderSchemeMessage("evt_r", "payment_link.paid", "1700000000"));
  std::string headers = absl::StrCat(
      "X-Paymento-Event-Id: evt_r\nX-Paymento-Event-Type: payment_link.paid\n"
      "X-Paymento-Signature: ",
      signature, "\nX-Paymento-Timestamp: 1700000000\n");
  absl::StatusOr<v1::Event> matching =
      EventFromQuarantine(WebhookRecord(headers), Secrets());
  ASSERT_TRUE(matching.ok()) << matching.status();
  EXPECT_EQ(matching->verification().scheme(), v1::SIGNATURE_SCHEME_HEADER);
  EXPECT_FALSE(matching->verification().body_authenticated());

  std::string other_body =
      R"({"event":{"id":"evt_swapped","type":"payment_link.paid"}})";
  absl::StatusOr<v1::Event> swapped =
      EventFromQuarantine(WebhookRecord(headers, other_body), Secrets());
  ASSERT_TRUE(swapped.ok()) << swapped.status();
  EXPECT_EQ(swapped->id(), "evt_swapped");
  EXPECT_EQ(swapped->verification().scheme(), v1::SIGNATURE_SCHEME_UNSPECIFIED);
}

TEST(EventFromQuarantineTest, GatewayCallback) {
  std::string body = R"({"Token":"t","PaymentId":5,"OrderStatus":8})";
  QuarantineRecord record = WebhookRecord(
      absl::StrCat("x-hmac-sha256-signature: ",
                   absl::AsciiStrToUpper(HmacSha256Hex(kIpnSecret, body)),
                   "\n"),
      body);
  record.route = "ipn";
  absl::StatusOr<v1::Event> event = EventFromQuarantine(record, Secrets());
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->id(), "ipn:5:8");
  EXPECT_EQ(event->type(), "payment.approved");
  EXPECT_EQ(event->verification().scheme(), v1::SIGNATURE_SCHEME_GATEWAY_BODY);
}

TEST(EventFromQuarantineTest, BodiesThatAreNotEventsStay) {
  struct Case {
    std::string route;
    std::string body;
    std::string reason;
  };
  for (const Case& test : std::vector<Case>{
           {"webhook", "not json", "not valid JSON"},
           {"webhook", R"({"event":{"type":"x"}})", "event.id"},
           {"webhook", "[1,2]", "not a JSON object"},
           {"ipn", R"({"OrderStatus":7})", "PaymentId"},
           {"admin", kBody, "unknown route"},
       }) {
    SCOPED_TRACE(test.body);
    QuarantineRecord record = WebhookRecord("", test.body);
    record.route = test.route;
    absl::StatusOr<v1::Event> event = EventFromQuarantine(record, Secrets());
    EXPECT_EQ(event.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_NE(event.status().message().find(test.reason), std::string::npos)
        << event.status();
  }
}

}  // namespace
}  // namespace paymento::bridge
