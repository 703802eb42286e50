// Signed webhook bodies that look odd but are Paymento events, and requests
// framed in unusual but valid ways: each must be stored with its exact
// bytes.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "src/verification/signature_verifier.h"
#include "tests/ingress/ingress_test_support.h"
#include "tests/testing/bridge_process.h"

namespace paymento::bridge::ingress_test {
namespace {

using test_support::BridgeOptions;
using test_support::BridgeProcess;

constexpr char kSecret[] = "whsec_odd_bodies_test";

struct OddBody {
  std::string name;
  std::string event_id;
  std::string body;
  // Extra headers besides the signature. A Transfer-Encoding header sends
  // the body chunked.
  Headers headers;
  std::string expected_type;
};

std::vector<OddBody> OddBodies() {
  std::string now = Rfc3339(absl::Now());
  auto event = [&](absl::string_view id, absl::string_view rest) {
    return absl::StrCat(R"({"event":{"id":")", id,
                        R"(","type":"payment_link.paid","createdAt":")", now,
                        R"("})", rest, "}");
  };
  std::string large_description(200 * 1024, 'd');
  return {
      {"unknown event type",
       "evt_odd_type",
       absl::StrCat(R"({"event":{"id":"evt_odd_type","type":"refund.issued",)",
                    R"("createdAt":")", now, R"("}})"),
       {},
       "refund.issued"},
      {"numeric event id",
       "12345",
       absl::StrCat(R"({"event":{"id":12345,"type":"payment_link.paid",)",
                    R"("createdAt":")", now, R"("}})"),
       {},
       "payment_link.paid"},
      {"numbers where strings are documented",
       "evt_odd_numbers",
       event("evt_odd_numbers",
             R"(,"paymentLink":{"id":77,"title":12.5,"paidAt":null},)"
             R"("customer":{"email":null,"metadata":{"order_id":1001,)"
             R"("nested":{"a":[1,2]},"flag":true}},"merchant":{"id":9})"),
       {},
       "payment_link.paid"},
      {"every section null",
       "evt_odd_nulls",
       event("evt_odd_nulls",
             R"(,"paymentLink":null,"customer":null,"merchant":null)"),
       {},
       "payment_link.paid"},
      {"unknown fields",
       "evt_odd_fields",
       event("evt_odd_fields",
             R"(,"refund":{"amount":"1.00"},"x":[{"y":{"z":[]}}])"),
       {},
       "payment_link.paid"},
      {"no createdAt",
       "evt_odd_no_time",
       R"({"event":{"id":"evt_odd_no_time","type":"payment_link.paid"}})",
       {},
       "payment_link.paid"},
      {"createdAt that does not parse",
       "evt_odd_bad_time",
       R"({"event":{"id":"evt_odd_bad_time","type":"payment_link.paid",)"
       R"("createdAt":"yesterday"}})",
       {},
       "payment_link.paid"},
      {"unicode and escapes",
       "evt_odd_unicode",
       event("evt_odd_unicode",
             R"(,"customer":{"name":"Zoë \u00e9 \ud83d\ude00 مرحبا",)"
             R"("email":"zoë@exämple.com"})"),
       {},
       "payment_link.paid"},
      {"pretty printed with CRLF",
       "evt_odd_pretty",
       absl::StrReplaceAll(event("evt_odd_pretty", ""),
                           {{"{", "{\r\n  "}, {",", ",\r\n  "}}),
       {},
       "payment_link.paid"},
      {"byte order mark",
       "evt_odd_bom",
       absl::StrCat("\xEF\xBB\xBF", event("evt_odd_bom", "")),
       {},
       "payment_link.paid"},
      {"body near the size limit",
       "evt_odd_large",
       event("evt_odd_large", absl::StrCat(R"(,"paymentLink":{"description":")",
                                           large_description, R"("})")),
       {},
       "payment_link.paid"},
      {"text/plain content type",
       "evt_odd_text",
       event("evt_odd_text", ""),
       {{"Content-Type", "text/plain"}},
       "payment_link.paid"},
      {"multipart content type",
       "evt_odd_multipart",
       event("evt_odd_multipart", ""),
       {{"Content-Type", "multipart/form-data; boundary=xyz"}},
       "payment_link.paid"},
      {"form content type",
       "evt_odd_form",
       event("evt_odd_form", ""),
       {{"Content-Type", "application/x-www-form-urlencoded"}},
       "payment_link.paid"},
      {"chunked",
       "evt_odd_chunked",
       event("evt_odd_chunked", ""),
       {{"Transfer-Encoding", "chunked"}},
       "payment_link.paid"},
      {"identity content encoding",
       "evt_odd_identity",
       event("evt_odd_identity", ""),
       {{"Content-Encoding", "identity"}},
       "payment_link.paid"},
  };
}

TEST(OddBodiesTest, StoredAsSent) {
  BridgeOptions options;
  options.environment["PAYMENTO_WEBHOOK_SECRET"] = kSecret;
  BridgeProcess bridge(options);
  ASSERT_TRUE(bridge.Start().ok()) << bridge.Output();
  StoreProbe probe(bridge);

  for (const OddBody& test : OddBodies()) {
    SCOPED_TRACE(test.name);
    Headers headers = test.headers;
    headers.emplace_back("X-Paymento-Signature",
                         HmacSha256Hex(kSecret, test.body));
    bool chunked = false;
    for (const auto& header : test.headers) {
      if (header.first == "Transfer-Encoding") chunked = true;
    }
    std::string body = chunked ? Chunked(test.body, 7) : test.body;

    probe.Mark(test.event_id);
    RawResponse response = SendRaw(
        bridge.http_port(), HttpRequest("POST", "/webhook", headers, body));
    EXPECT_EQ(response.status, 200) << response.body;
    EXPECT_EQ(EffectName(probe.SinceMark()), EffectName(StoreEffect::kStored));
    std::optional<v1::EventStatus> stored = probe.GetEvent(test.event_id);
    ASSERT_TRUE(stored.has_value());
    EXPECT_EQ(stored->event().raw_body(), test.body);
    EXPECT_EQ(stored->event().type(), test.expected_type);
  }
}

TEST(OddBodiesTest, WebhookPathMatchesLiterally) {
  BridgeOptions options;
  options.environment["PAYMENTO_WEBHOOK_SECRET"] = kSecret;
  options.extra_args = {"--webhook-path=/paymento/hook.v1"};
  BridgeProcess bridge(options);
  ASSERT_TRUE(bridge.Start().ok()) << bridge.Output();

  std::string body =
      WebhookBody("evt_odd_path", "payment_link.paid", absl::Now());
  Headers headers = {{"X-Paymento-Signature", HmacSha256Hex(kSecret, body)}};
  EXPECT_EQ(SendRaw(bridge.http_port(),
                    HttpRequest("POST", "/paymento/hook.v1", headers, body))
                .status,
            200);
  // A regular expression would let '.' match any character.
  EXPECT_EQ(SendRaw(bridge.http_port(),
                    HttpRequest("POST", "/paymento/hookXv1", headers, body))
                .status,
            404);
  EXPECT_EQ(SendRaw(bridge.http_port(),
                    HttpRequest("POST", "/webhook", headers, body))
                .status,
            404);
}

}  // namespace
}  // namespace paymento::bridge::ingress_test
