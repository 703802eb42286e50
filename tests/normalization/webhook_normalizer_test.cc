#include "src/normalization/webhook_normalizer.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/normalization/testdata.h"

namespace paymento::bridge {
namespace {

// Wraps a customer object in a body that is otherwise minimal.
std::string BodyWithCustomer(absl::string_view customer) {
  return absl::StrCat(R"({"event":{"id":"evt_1","type":"payment_link.paid"},)",
                      R"("customer":)", customer, "}");
}

absl::StatusOr<v1::Event> NormalizeOk(const std::string& body) {
  absl::StatusOr<v1::Event> event = NormalizeWebhook(body);
  EXPECT_TRUE(event.ok()) << event.status();
  return event;
}

TEST(WebhookNormalizerTest, NormalizesDocumentedExample) {
  const std::string body = ReadTestdata("webhook_payment_link_paid.json");
  ASSERT_FALSE(body.empty());

  absl::StatusOr<v1::Event> event = NormalizeWebhook(body);

  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->sequence(), 0);
  EXPECT_EQ(event->id(), "evt_01HM2Z8K3Q4R5S6T7U8V9W0X1Y");
  EXPECT_EQ(event->type(), "payment_link.paid");
  EXPECT_EQ(event->known_type(), v1::EVENT_TYPE_PAYMENT_LINK_PAID);
  ASSERT_TRUE(event->has_created_at());
  EXPECT_EQ(event->created_at().seconds(), 1705314600);
  EXPECT_EQ(event->created_at().nanos(), 123000000);
  EXPECT_FALSE(event->has_received_at());
  EXPECT_EQ(event->api_version(), "v1");
  EXPECT_FALSE(event->has_verification());
  EXPECT_EQ(event->source(), v1::EVENT_SOURCE_PAYMENT_LINK_WEBHOOK);

  const v1::PaymentLink& link = event->payment_link();
  EXPECT_EQ(link.id(), "pl_7f3a9c2e");
  EXPECT_EQ(link.title(), "Annual plan");
  EXPECT_EQ(link.description(), "One year of the Pro plan");
  EXPECT_EQ(link.status(), "paid");
  EXPECT_EQ(link.type(), "one_time");
  ASSERT_TRUE(link.has_created_at());
  EXPECT_EQ(link.created_at().seconds(), 1705219200);
  EXPECT_EQ(link.created_at().nanos(), 0);
  ASSERT_TRUE(link.has_paid_at());
  EXPECT_EQ(link.paid_at().seconds(), 1705314598);
  EXPECT_EQ(link.url(), "https://pay.example.com/pl_7f3a9c2e");
  EXPECT_EQ(link.integration_metadata(), "crm:4711");

  const v1::Customer& customer = event->customer();
  EXPECT_EQ(customer.email(), "jane.doe@example.com");
  EXPECT_EQ(customer.name(), "Jane Doe");
  ASSERT_EQ(customer.metadata_size(), 4);
  EXPECT_EQ(customer.metadata().at("order_id"), "ORD-1001");
  EXPECT_EQ(customer.metadata().at("payment_id"), "PAY-2002");
  EXPECT_EQ(customer.metadata().at("scheduled_token"), "sch_5d1e");
  EXPECT_EQ(customer.metadata().at("payment_link_url"),
            "https://pay.example.com/pl_7f3a9c2e");

  EXPECT_EQ(event->merchant().id(), "mrc_42");
  EXPECT_EQ(event->merchant().name(), "Example Store");
  EXPECT_FALSE(event->has_gateway_payment());
  EXPECT_EQ(event->raw_body(), body);
}

TEST(WebhookNormalizerTest, LeavesMissingSectionsUnset) {
  absl::StatusOr<v1::Event> event =
      NormalizeOk(R"({"event":{"id":"evt_1","type":"subscription.renewed"}})");

  ASSERT_TRUE(event.ok());
  EXPECT_EQ(event->known_type(), v1::EVENT_TYPE_SUBSCRIPTION_RENEWED);
  EXPECT_FALSE(event->has_created_at());
  EXPECT_EQ(event->api_version(), "");
  EXPECT_FALSE(event->has_payment_link());
  EXPECT_FALSE(event->has_customer());
  EXPECT_FALSE(event->has_merchant());
}

TEST(WebhookNormalizerTest, KeepsUnknownTypeString) {
  absl::StatusOr<v1::Event> event =
      NormalizeOk(R"({"event":{"id":"evt_1","type":"payment_link.refunded"}})");

  ASSERT_TRUE(event.ok());
  EXPECT_EQ(event->type(), "payment_link.refunded");
  EXPECT_EQ(event->known_type(), v1::EVENT_TYPE_UNSPECIFIED);
}

TEST(WebhookNormalizerTest, ReadsNumbersAsText) {
  absl::StatusOr<v1::Event> event = NormalizeOk(
      R"({"event":{"id":12345,"type":"payment_link.paid","apiVersion":1},)"
      R"("paymentLink":{"id":77,"title":1.5,"integrationMetadata":42},)"
      R"("merchant":{"id":9007199254740993,"name":true}})");

  ASSERT_TRUE(event.ok());
  EXPECT_EQ(event->id(), "12345");
  EXPECT_EQ(event->api_version(), "1");
  EXPECT_EQ(event->payment_link().id(), "77");
  EXPECT_EQ(event->payment_link().title(), "1.5");
  EXPECT_EQ(event->payment_link().integration_metadata(), "42");
  EXPECT_EQ(event->merchant().id(), "9007199254740993");
  EXPECT_EQ(event->merchant().name(), "true");
}

TEST(WebhookNormalizerTest, ReadsObjectsAsJsonText) {
  absl::StatusOr<v1::Event> event = NormalizeOk(
      R"({"event":{"id":"evt_1","type":"payment_link.paid"},)"
      R"("paymentLink":{"title":{"en":"Plan"},)"
      R"("integrationMetadata":{"crm":{"id":4711},"tags":["a","b"]}}})");

  ASSERT_TRUE(event.ok());
  EXPECT_EQ(event->payment_link().title(), R"({"en":"Plan"})");
  EXPECT_EQ(event->payment_link().integration_metadata(),
            R"({"crm":{"id":4711},"tags":["a","b"]})");
}

TEST(WebhookNormalizerTest, ReadsNullsAsEmpty) {
  absl::StatusOr<v1::Event> event =
      NormalizeOk(R"({"event":{"id":"evt_1","type":"payment_link.failed",)"
                  R"("createdAt":null,"apiVersion":null},)"
                  R"("paymentLink":{"id":null,"title":null,"createdAt":null,)"
                  R"("paidAt":null,"integrationMetadata":null},)"
                  R"("customer":{"email":null,"name":null,"metadata":null},)"
                  R"("merchant":{"id":null,"name":null}})");

  ASSERT_TRUE(event.ok());
  EXPECT_FALSE(event->has_created_at());
  EXPECT_EQ(event->api_version(), "");
  ASSERT_TRUE(event->has_payment_link());
  EXPECT_EQ(event->payment_link().id(), "");
  EXPECT_FALSE(event->payment_link().has_created_at());
  EXPECT_FALSE(event->payment_link().has_paid_at());
  EXPECT_EQ(event->payment_link().integration_metadata(), "");
  ASSERT_TRUE(event->has_customer());
  EXPECT_EQ(event->customer().email(), "");
  EXPECT_EQ(event->customer().metadata_size(), 0);
  ASSERT_TRUE(event->has_merchant());
  EXPECT_EQ(event->merchant().id(), "");
}

TEST(WebhookNormalizerTest, LeavesPaidAtUnsetWhenMissingOrInvalid) {
  for (absl::string_view paid_at :
       {"", R"(,"paidAt":null)", R"(,"paidAt":"")", R"(,"paidAt":"soon")",
        R"(,"paidAt":1705314600)", R"(,"paidAt":{})"}) {
    absl::StatusOr<v1::Event> event = NormalizeOk(absl::StrCat(
        R"({"event":{"id":"evt_1","type":"payment_link.expired"},)",
        R"("paymentLink":{"status":"scheduled")", paid_at, "}}"));
    ASSERT_TRUE(event.ok()) << paid_at;
    EXPECT_FALSE(event->payment_link().has_paid_at()) << paid_at;
    EXPECT_EQ(event->payment_link().status(), "scheduled");
  }
}

TEST(WebhookNormalizerTest, LeavesCreatedAtUnsetWhenUnparseable) {
  absl::StatusOr<v1::Event> event =
      NormalizeOk(R"({"event":{"id":"evt_1","type":"payment_link.paid",)"
                  R"("createdAt":"15/01/2024 10:30"}})");

  ASSERT_TRUE(event.ok());
  EXPECT_FALSE(event->has_created_at());
}

TEST(WebhookNormalizerTest, KeepsCreatedAtAtEpoch) {
  absl::StatusOr<v1::Event> event =
      NormalizeOk(R"({"event":{"id":"evt_1","type":"payment_link.paid",)"
                  R"("createdAt":"1970-01-01T00:00:00Z"}})");

  ASSERT_TRUE(event.ok());
  EXPECT_TRUE(event->has_created_at());
  EXPECT_EQ(event->created_at().seconds(), 0);
}

TEST(WebhookNormalizerTest, ConvertsMetadataOfEveryType) {
  absl::StatusOr<v1::Event> event = NormalizeOk(BodyWithCustomer(
      R"({"metadata":{"string":"ORD-1","empty":"","number":957,)"
      R"("negative":-1,"float":2.5,"true":true,"false":false,"null":null,)"
      R"("object":{"a":[1,"x"]},"array":[1,2],"quoted":"\"q\""}})"));

  ASSERT_TRUE(event.ok());
  const auto& metadata = event->customer().metadata();
  ASSERT_EQ(metadata.size(), 11u);
  EXPECT_EQ(metadata.at("string"), "ORD-1");
  EXPECT_EQ(metadata.at("empty"), "");
  EXPECT_EQ(metadata.at("number"), "957");
  EXPECT_EQ(metadata.at("negative"), "-1");
  EXPECT_EQ(metadata.at("float"), "2.5");
  EXPECT_EQ(metadata.at("true"), "true");
  EXPECT_EQ(metadata.at("false"), "false");
  EXPECT_EQ(metadata.at("null"), "null");
  EXPECT_EQ(metadata.at("object"), R"({"a":[1,"x"]})");
  EXPECT_EQ(metadata.at("array"), "[1,2]");
  EXPECT_EQ(metadata.at("quoted"), "\"q\"");
}

TEST(WebhookNormalizerTest, KeepsMetadataTextAsSent) {
  absl::StatusOr<v1::Event> event = NormalizeOk(
      R"({"event":{"id":"evt_1","type":"payment_link.paid"},)"
      R"("paymentLink":{"integrationMetadata": {"b":1.50, "a":[ 1 ,2 ]} },)"
      R"("customer":{"metadata":{"big":12345678901234567,"decimal":1.10,)"
      R"("exponent":1e2,"minus_zero":-0,"object":{"z":1, "y" : [ 1 ,2 ]},)"
      R"("huge":99999999999999999999,"\u0041":2.0,"twice":1,"twice":2.50}}})");

  ASSERT_TRUE(event.ok());
  EXPECT_EQ(event->payment_link().integration_metadata(),
            R"({"b":1.50, "a":[ 1 ,2 ]})");
  const std::map<std::string, std::string> expected = {
      {"big", "12345678901234567"},
      {"decimal", "1.10"},
      {"exponent", "1e2"},
      {"minus_zero", "-0"},
      {"object", R"({"z":1, "y" : [ 1 ,2 ]})"},
      {"huge", "99999999999999999999"},
      {"A", "2.0"},
      // A repeated key keeps its last value, as the parsed document does.
      {"twice", "2.50"},
  };
  std::map<std::string, std::string> metadata(
      event->customer().metadata().begin(), event->customer().metadata().end());
  EXPECT_EQ(metadata, expected);
}

TEST(WebhookNormalizerTest, KeepsFourByteUtf8) {
  absl::StatusOr<v1::Event> event = NormalizeOk(BodyWithCustomer(
      "{\"name\":\"J\xC3\xA9r\xC3\xB4me \xF0\x9F\x98\x80\","
      "\"metadata\":{\"\xF0\x9F\x94\x91\":\"\\ud83d\\ude00\"}}"));

  ASSERT_TRUE(event.ok());
  EXPECT_EQ(event->customer().name(), "J\xC3\xA9r\xC3\xB4me \xF0\x9F\x98\x80");
  EXPECT_EQ(event->customer().metadata().at("\xF0\x9F\x94\x91"),
            "\xF0\x9F\x98\x80");
}

TEST(WebhookNormalizerTest, NormalizesBodyOf256KiB) {
  const std::string head =
      R"({"event":{"id":"evt_big","type":"payment_link.paid"},)"
      R"("paymentLink":{"description":")";
  const std::string tail = R"("}})";
  const size_t kBodySize = 256 * 1024;
  std::string body =
      head + std::string(kBodySize - head.size() - tail.size(), 'x') + tail;
  ASSERT_EQ(body.size(), kBodySize);

  absl::StatusOr<v1::Event> event = NormalizeOk(body);

  ASSERT_TRUE(event.ok());
  EXPECT_EQ(event->id(), "evt_big");
  EXPECT_EQ(event->payment_link().description().size(),
            kBodySize - head.size() - tail.size());
  EXPECT_EQ(event->raw_body(), body);
}

// Bodies that must normalize however odd they are, because a verified event
// may never be lost to a field Paymento sends in an unexpected shape.
TEST(WebhookNormalizerTest, AcceptsOddBodies) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"unknown fields",
       R"({"event":{"id":"evt_1","type":"payment_link.paid","extra":[1]},)"
       R"("newSection":{"a":1},"paymentLink":{"newField":null}})"},
      {"sections of other types",
       R"({"event":{"id":"evt_1","type":"t"},"paymentLink":"pl_1",)"
       R"("customer":[],"merchant":42})"},
      {"metadata not an object",
       BodyWithCustomer(R"({"metadata":["order_id","957"]})")},
      {"metadata string", BodyWithCustomer(R"({"metadata":"x"})")},
      {"empty metadata key", BodyWithCustomer(R"({"metadata":{"":"v"}})")},
      {"repeated key",
       R"({"event":{"id":"evt_1","id":"evt_2","type":"payment_link.paid"}})"},
      {"whitespace and newlines",
       "\r\n {\n\t\"event\" : { \"id\" : \"evt_1\" , \"type\" : \"x\" } }\n"},
      {"escaped characters",
       R"({"event":{"id":"evt_\u0031","type":"payment_link.paid"},)"
       R"("customer":{"name":"a\"b\\c\/d\n\u0000"}})"},
      {"number id", R"({"event":{"id":-1.5e3,"type":7}})"},
      {"huge number", R"({"event":{"id":"e","type":"t"},"n":1e308})"},
      {"empty strings",
       R"({"event":{"id":"evt_1","type":"t","createdAt":"","apiVersion":""}})"},
      {"byte order mark",
       "\xEF\xBB\xBF{\"event\":{\"id\":\"evt_1\",\"type\":\"t\"}}"},
  };
  for (const auto& [name, body] : cases) {
    absl::StatusOr<v1::Event> event = NormalizeWebhook(body);
    ASSERT_TRUE(event.ok()) << name << ": " << event.status();
    EXPECT_EQ(event->raw_body(), body) << name;
  }
}

TEST(WebhookNormalizerTest, RejectsMalformedBodies) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "body is not valid JSON"},
      {"   ", "body is not valid JSON"},
      {"not json", "body is not valid JSON"},
      {R"({"event":{"id":"evt_1","type":"t"})", "body is not valid JSON"},
      {R"({"event":{"id":"evt_1","type":"t"}} trailing)",
       "body is not valid JSON"},
      {"{\"event\":{\"id\":\"evt_\xFF\",\"type\":\"t\"}}",
       "body is not valid JSON"},
      {"{\"event\":{\"id\":\"evt_\xC3\",\"type\":\"t\"}}",
       "body is not valid JSON"},
      {R"({"event":{"id":"\ud800","type":"t"}})", "body is not valid JSON"},
      {R"({"event":{"id":"evt_1","type":"t"},})", "body is not valid JSON"},
      {R"({'event':{'id':'evt_1','type':'t'}})", "body is not valid JSON"},
      {R"({"n":1e400,"event":{"id":"evt_1","type":"t"}})",
       "body is not valid JSON"},
      {"[]", "body is not a JSON object"},
      {"null", "body is not a JSON object"},
      {"42", "body is not a JSON object"},
      {R"("evt_1")", "body is not a JSON object"},
      {"{}", "body has no event object"},
      {R"({"event":null})", "body has no event object"},
      {R"({"event":"evt_1"})", "body has no event object"},
      {R"({"event":[{"id":"evt_1","type":"t"}]})", "body has no event object"},
      {R"({"Event":{"id":"evt_1","type":"t"}})", "body has no event object"},
      {R"({"event":{}})", "body has no event.id"},
      {R"({"event":{"type":"t"}})", "body has no event.id"},
      {R"({"event":{"id":"","type":"t"}})", "body has no event.id"},
      {R"({"event":{"id":null,"type":"t"}})", "body has no event.id"},
      {R"({"event":{"id":true,"type":"t"}})", "body has no event.id"},
      {R"({"event":{"id":{"v":"evt_1"},"type":"t"}})", "body has no event.id"},
      {R"({"event":{"id":["evt_1"],"type":"t"}})", "body has no event.id"},
      {R"({"event":{"id":"evt_1"}})", "body has no event.type"},
      {R"({"event":{"id":"evt_1","type":""}})", "body has no event.type"},
      {R"({"event":{"id":"evt_1","type":null}})", "body has no event.type"},
      {R"({"event":{"id":"evt_1","type":[]}})", "body has no event.type"},
      {absl::StrCat(R"({"event":{"id":"evt_1","type":"t"},"a":)",
                    std::string(200, '['), std::string(200, ']'), "}"),
       "body nests JSON arrays or objects deeper than 128 levels"},
  };
  for (const auto& [body, message] : cases) {
    absl::StatusOr<v1::Event> event = NormalizeWebhook(body);
    ASSERT_FALSE(event.ok()) << body;
    EXPECT_EQ(event.status().code(), absl::StatusCode::kInvalidArgument)
        << body;
    EXPECT_EQ(event.status().message(), message) << body;
  }
}

TEST(WebhookNormalizerTest, ErrorsDoNotRepeatCustomerData) {
  absl::StatusOr<v1::Event> event = NormalizeWebhook(
      R"({"event":{"type":"t"},"customer":{"email":"jane.doe@example.com"}})");

  ASSERT_FALSE(event.ok());
  EXPECT_FALSE(absl::StrContains(event.status().message(), "jane"))
      << event.status();
}

}  // namespace
}  // namespace paymento::bridge
