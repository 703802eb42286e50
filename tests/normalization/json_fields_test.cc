#include "src/normalization/json_fields.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace paymento::bridge {
namespace {

using nlohmann::json;

TEST(JsonValueAsTextTest, ConvertsEveryType) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"("text")", "text"},
      {R"("")", ""},
      {"null", ""},
      {"42", "42"},
      {"-7", "-7"},
      {"18446744073709551615", "18446744073709551615"},
      {"1.5", "1.5"},
      {"true", "true"},
      {"false", "false"},
      {R"({"a":1,"b":[null]})", R"({"a":1,"b":[null]})"},
      {"[]", "[]"},
      {R"(["x",2])", R"(["x",2])"},
      {R"("\u00e9\ud83d\ude00")", "\xC3\xA9\xF0\x9F\x98\x80"},
  };
  for (const auto& [text, expected] : cases) {
    EXPECT_EQ(JsonValueAsText(json::parse(text)), expected) << text;
  }
}

TEST(JsonTextTest, KeepsStringsQuoted) {
  EXPECT_EQ(JsonText(json("a\"b")), R"("a\"b")");
  EXPECT_EQ(JsonText(json(nullptr)), "null");
}

TEST(JsonTextTest, ReplacesInvalidUtf8) {
  // The parser rejects invalid UTF-8, but a value built in code may hold it.
  EXPECT_EQ(JsonText(json(std::string("a\xFF"))), "\"a\xEF\xBF\xBD\"");
}

TEST(FindMemberTest, FindsExactKeysOnly) {
  json object = json::parse(R"({"Token":"t","token2":1})");

  ASSERT_NE(FindMember(object, "Token"), nullptr);
  EXPECT_EQ(*FindMember(object, "Token"), "t");
  EXPECT_EQ(FindMember(object, "token"), nullptr);
  EXPECT_EQ(FindMember(json::parse("[1]"), "Token"), nullptr);
  EXPECT_EQ(FindMember(json::parse("null"), "Token"), nullptr);
}

TEST(FindMemberIgnoringCaseTest, PrefersExactMatch) {
  json object = json::parse(R"({"TOKEN":"upper","Token":"exact"})");

  ASSERT_NE(FindMemberIgnoringCase(object, "Token"), nullptr);
  EXPECT_EQ(*FindMemberIgnoringCase(object, "Token"), "exact");
}

TEST(FindMemberIgnoringCaseTest, FallsBackToOtherCase) {
  json object = json::parse(R"({"paymentid":244})");

  ASSERT_NE(FindMemberIgnoringCase(object, "PaymentId"), nullptr);
  EXPECT_EQ(*FindMemberIgnoringCase(object, "PaymentId"), 244);
  EXPECT_EQ(FindMemberIgnoringCase(object, "Payment_Id"), nullptr);
}

TEST(TextMemberTest, ReturnsEmptyForMissingMember) {
  json object = json::parse(R"({"a":null,"b":3})");

  EXPECT_EQ(TextMember(object, "a"), "");
  EXPECT_EQ(TextMember(object, "b"), "3");
  EXPECT_EQ(TextMember(object, "c"), "");
}

TEST(ParseJsonObjectTest, AcceptsObjects) {
  absl::StatusOr<json> parsed = ParseJsonObject(R"( {"a": "[{"} )");

  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ((*parsed)["a"], "[{");
}

TEST(ParseJsonObjectTest, AcceptsNestingUpToLimit) {
  std::string body = absl::StrCat(std::string(kMaxJsonDepth - 1, '['), "1",
                                  std::string(kMaxJsonDepth - 1, ']'));
  body = absl::StrCat("{\"a\":", body, "}");

  EXPECT_TRUE(ParseJsonObject(body).ok());
}

TEST(ParseJsonObjectTest, RejectsBadBodies) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "body is not valid JSON"},
      {"{", "body is not valid JSON"},
      {"{\"a\":\"\xFF\"}", "body is not valid JSON"},
      {"{\"a\":1} {}", "body is not valid JSON"},
      {"[]", "body is not a JSON object"},
      {"null", "body is not a JSON object"},
      {"\"{}\"", "body is not a JSON object"},
      {absl::StrCat("{\"a\":", std::string(kMaxJsonDepth, '['),
                    std::string(kMaxJsonDepth, ']'), "}"),
       absl::StrCat("body nests JSON arrays or objects deeper than ",
                    kMaxJsonDepth, " levels")},
      {std::string(100000, '['),
       absl::StrCat("body nests JSON arrays or objects deeper than ",
                    kMaxJsonDepth, " levels")},
  };
  for (const auto& [body, message] : cases) {
    absl::StatusOr<json> parsed = ParseJsonObject(body);
    ASSERT_FALSE(parsed.ok()) << body.substr(0, 40);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(parsed.status().message(), message) << body.substr(0, 40);
  }
}

TEST(RawMemberTextTest, ReturnsTextAsItAppears) {
  absl::string_view body =
      R"( { "a" : 1.50 , "b":{"x": [1, "]}\"" ]} ,"c":"s","a":-0 } )";
  EXPECT_EQ(RawMemberText(body, "a"), "-0");
  EXPECT_EQ(RawMemberText(body, "b"), R"({"x": [1, "]}\"" ]})");
  EXPECT_EQ(RawMemberText(body, "c"), R"("s")");
  EXPECT_EQ(RawMemberText(body, "d"), std::nullopt);
  EXPECT_EQ(RawMemberText(*RawMemberText(body, "b"), "x"), R"([1, "]}\"" ])");
}

TEST(RawMemberTextTest, SkipsByteOrderMark) {
  EXPECT_EQ(RawMemberText("\xEF\xBB\xBF{\"d\":1.10}", "d"), "1.10");
}

TEST(RawMemberTextTest, DecodesEscapedKeys) {
  EXPECT_EQ(RawMemberText(R"({"\u0041\n":true})", "A\n"), "true");
  EXPECT_EQ(RawMemberText(R"({"\"":null})", "\""), "null");
}

TEST(RawMemberTextTest, FindsNothingOutsideObjects) {
  EXPECT_EQ(RawMemberText("[1,2]", "a"), std::nullopt);
  EXPECT_EQ(RawMemberText("", "a"), std::nullopt);
  EXPECT_EQ(RawMemberText("{}", "a"), std::nullopt);
  EXPECT_TRUE(RawMemberTexts("\"text\"").empty());
}

}  // namespace
}  // namespace paymento::bridge
