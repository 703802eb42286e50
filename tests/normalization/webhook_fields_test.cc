#include "src/normalization/webhook_fields.h"

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "src/normalization/webhook_normalizer.h"
#include "tests/normalization/testdata.h"

namespace paymento::bridge {
namespace {

using google::protobuf::util::MessageDifferencer;

std::string WithEvent(absl::string_view rest) {
  return absl::StrCat(R"({"event":{"id":"evt_1","type":"payment_link.paid"})",
                      rest, "}");
}

// Checks that NormalizeWebhook, which tries the plain reader first, gives
// what the document reader gives: the same event, or the same error.
void ExpectSameAsDocument(const std::string& body) {
  absl::StatusOr<v1::Event> both = NormalizeWebhook(body);
  absl::StatusOr<v1::Event> document = NormalizeWebhookAsDocument(body);
  ASSERT_EQ(both.status(), document.status()) << body;
  if (!both.ok()) return;
  EXPECT_TRUE(MessageDifferencer::Equals(*both, *document))
      << body << "\nplain or document:\n"
      << both->DebugString() << "\ndocument:\n"
      << document->DebugString();
}

TEST(WebhookFieldsTest, ReadsTheDocumentedExample) {
  const std::string body = ReadTestdata("webhook_payment_link_paid.json");
  ASSERT_FALSE(body.empty());

  std::optional<WebhookFields> fields = ReadPlainWebhookFields(body);

  ASSERT_TRUE(fields.has_value());
  EXPECT_EQ(fields->event_id, "evt_01HM2Z8K3Q4R5S6T7U8V9W0X1Y");
  EXPECT_EQ(fields->event_type, "payment_link.paid");
  EXPECT_EQ(fields->created_at, "2024-01-15T10:30:00.123Z");
  EXPECT_TRUE(fields->has_payment_link);
  EXPECT_EQ(fields->link_paid_at, "2024-01-15T12:29:58+02:00");
  EXPECT_EQ(fields->link_integration_metadata, "crm:4711");
  EXPECT_EQ(fields->customer_email, "jane.doe@example.com");
  ASSERT_EQ(fields->customer_metadata.size(), 4u);
  EXPECT_EQ(fields->customer_metadata[0].first, "order_id");
  EXPECT_EQ(fields->customer_metadata[0].second, "ORD-1001");
  EXPECT_EQ(fields->merchant_name, "Example Store");
  ExpectSameAsDocument(body);
}

TEST(WebhookFieldsTest, ReadsPlainBodiesAsTheDocumentDoes) {
  const std::vector<std::string> bodies = {
      WithEvent(""),
      WithEvent(R"(,"paymentLink":{"title":"a \"b\" \\ \/ \b\f\n\r\t"})"),
      WithEvent(R"(,"paymentLink":{"title":null,"createdAt":17,)"
                R"("paidAt":null,"url":"u"})"),
      WithEvent(R"(,"paymentLink":"not an object","customer":[1,2],)"
                R"("merchant":null)"),
      WithEvent(R"(,"customer":{"metadata":"text","email":"A@Example.com"})"),
      WithEvent(R"(,"customer":{"metadata":{"a":"1","a":"2","b":""}})"),
      WithEvent(R"(,"paymentLink":{},"customer":{},"merchant":{})"),
      WithEvent(R"(,"extra":{"n":[-0,0.5,-12.25,1234567890123456789012],)"
                R"("t":true,"f":false,"z":null,"id":"x","id":"y"},)"
                R"("event":7)"),
      " \r\n\t" + WithEvent(R"( , "merchant" : { "id" : "m" } )") + " \n",
      R"({"event":{"createdAt":"2024-01-15T10:30:00Z","id":"e","type":"t",)"
      R"("apiVersion":"v1","createdAt2":{"createdAt":1}}})",
  };
  for (const std::string& body : bodies) {
    SCOPED_TRACE(body);
    // The plain reader must decline the body with "event" named twice, and
    // read every other one here.
    bool twice = body.find(R"("event":7)") != std::string::npos;
    EXPECT_EQ(ReadPlainWebhookFields(body).has_value(), !twice);
    ExpectSameAsDocument(body);
  }
}

TEST(WebhookFieldsTest, DeclinesWhatOnlyTheDocumentReads) {
  std::string deep_inside;
  for (int i = 0; i < 128; ++i) deep_inside += "[";
  for (int i = 0; i < 128; ++i) deep_inside += "]";
  const std::vector<std::string> bodies = {
      R"({"event":{"id":12345,"type":"payment_link.paid"}})",
      R"({"event":{"id":"evt_1","type":""}})",
      R"({"event":{"type":"payment_link.paid"}})",
      R"({"event":{"id":"evt_1","id":"evt_2","type":"t"}})",
      R"({"event":{"id":"evt_\u0031","type":"t"}})",
      R"({"event":{"id":"evt_1","type":"t"},"event":{"id":"evt_2","type":"t"}})",
      R"({"event":"evt_1"})",
      WithEvent(R"(,"customer":{"name":"J\u00f6rg"})"),
      WithEvent(",\"customer\":{\"name\":\"J\xc3\xb6rg\"}"),
      WithEvent(R"(,"paymentLink":{"title":1.5})"),
      WithEvent(R"(,"paymentLink":{"title":true})"),
      WithEvent(R"(,"paymentLink":{"title":{"a":1}})"),
      WithEvent(R"(,"customer":{"metadata":{"a":null}})"),
      WithEvent(R"(,"customer":{"metadata":{"a":1}})"),
      WithEvent(R"(,"customer":{},"customer":{})"),
      WithEvent(R"(,"merchant":{"id":"a","id":"b"})"),
      WithEvent(R"(,"amount":1e3)"),
      WithEvent(absl::StrCat(R"(,"amount":)", std::string(65, '9'))),
      WithEvent(absl::StrCat(R"(,"deep":)", deep_inside)),
      WithEvent(R"(,"trailing":[1,2,],)"),
      WithEvent(R"(,"leading":01)"),
      WithEvent(R"(,"word":nul)"),
      WithEvent("") + "x",
      "\xef\xbb\xbf" + WithEvent(""),
      R"(["event"])",
      "",
  };
  for (const std::string& body : bodies) {
    SCOPED_TRACE(body);
    EXPECT_FALSE(ReadPlainWebhookFields(body).has_value());
    ExpectSameAsDocument(body);
  }
}

TEST(WebhookFieldsTest, ReadsNestingUpToTheLimit) {
  // The root object is the first level, so 127 more fit.
  std::string nested;
  for (int i = 0; i < 127; ++i) nested += "[";
  for (int i = 0; i < 127; ++i) nested += "]";
  std::string body = WithEvent(absl::StrCat(R"(,"deep":)", nested));

  EXPECT_TRUE(ReadPlainWebhookFields(body).has_value());
  ExpectSameAsDocument(body);
}

// Bodies changed at random bytes: whenever the plain reader takes one, the
// document reader must give the same event, and NormalizeWebhook must
// always give what the document reader gives.
TEST(WebhookFieldsTest, AgreesWithTheDocumentOnAlteredBodies) {
  const std::vector<std::string> originals = {
      ReadTestdata("webhook_payment_link_paid.json"),
      WithEvent(
          R"(,"customer":{"metadata":{"k":"v","n":"1"}},"x":[1,{"y":-2.5}])"),
      R"({"event":{"id":"e","type":"t","apiVersion":null},"merchant":{"id":"m"}})",
  };
  const std::string alphabet = "{}[]\":,\\/ntrufalse0123456789.-+eE u\x01\x80";
  std::mt19937 random(1);
  int plain_count = 0;
  int iterations = 20000;
  for (int i = 0; i < iterations; ++i) {
    std::string body = originals[i % originals.size()];
    int changes = 1 + static_cast<int>(random() % 3);
    for (int c = 0; c < changes && !body.empty(); ++c) {
      size_t at = random() % body.size();
      char byte = alphabet[random() % alphabet.size()];
      switch (random() % 4) {
        case 0:
          body[at] = byte;
          break;
        case 1:
          body.insert(at, 1, byte);
          break;
        case 2:
          body.erase(at, 1);
          break;
        default:
          body.insert(at, body.substr(at, random() % 16));
          break;
      }
    }
    if (ReadPlainWebhookFields(body).has_value()) ++plain_count;
    ExpectSameAsDocument(body);
    if (HasFailure()) return;
  }
  // Most single changes land in a string or whitespace and leave the body
  // plain. A reader that took none would test nothing here.
  EXPECT_GT(plain_count, iterations / 10);
}

}  // namespace
}  // namespace paymento::bridge
