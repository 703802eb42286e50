#include "src/verification/signature_verifier.h"

#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace paymento::bridge {
namespace {

constexpr char kSecret[] = "whsec_test_secret";
constexpr char kSecretFingerprint[] = "7a200eb8";
constexpr char kRotatedSecret[] = "whsec_rotated_secret";
constexpr char kRotatedFingerprint[] = "7b4878ec";
constexpr char kBody[] =
    R"({"event":{"id":"evt_1","type":"payment_link.paid"},)"
    R"("customer":{"email":"jane@example.com"}})";
constexpr char kEventId[] = "evt_1";
constexpr char kEventType[] = "payment_link.paid";
constexpr char kTimestamp[] = "1705314600";

SecretSet OneSecret() { return SecretSet({kSecret}); }

WebhookSignatureInput BodyInput(std::vector<std::string> signatures) {
  WebhookSignatureInput input;
  input.body = kBody;
  input.signature_values = std::move(signatures);
  return input;
}

WebhookSignatureInput HeaderInput(std::vector<std::string> signatures) {
  WebhookSignatureInput input = BodyInput(std::move(signatures));
  input.event_id = kEventId;
  input.event_type = kEventType;
  input.timestamp = kTimestamp;
  return input;
}

std::string BodySignature(absl::string_view secret = kSecret) {
  return HmacSha256Hex(secret, kBody);
}

std::string HeaderSignature(absl::string_view secret = kSecret) {
  return HmacSha256Hex(secret,
                       HeaderSchemeMessage(kEventId, kEventType, kTimestamp));
}

void ExpectInvalidSignature(const absl::StatusOr<VerifiedSignature>& result) {
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(result.status().message(), "invalid signature");
}

TEST(HmacSha256HexTest, MatchesRfc4231TestCase2) {
  EXPECT_EQ(HmacSha256Hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(HmacSha256HexTest, AcceptsEmptyKeyAndData) {
  EXPECT_EQ(HmacSha256Hex("", ""),
            "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

TEST(SignatureVerifierTest, AcceptsBodySignature) {
  absl::StatusOr<VerifiedSignature> result = VerifyWebhookSignature(
      OneSecret(), SchemePolicy::kAny, BodyInput({BodySignature()}));

  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->scheme, v1::SIGNATURE_SCHEME_BODY);
  EXPECT_EQ(result->secret_fingerprint, kSecretFingerprint);
  EXPECT_TRUE(result->body_authenticated);
}

TEST(SignatureVerifierTest, RejectsSignatureFromOtherSecret) {
  ExpectInvalidSignature(
      VerifyWebhookSignature(OneSecret(), SchemePolicy::kAny,
                             BodyInput({BodySignature("another secret")})));
}

TEST(SignatureVerifierTest, RejectsMissingSignature) {
  const std::vector<std::vector<std::string>> cases = {
      {}, {""}, {" "}, {"", " , "}, {"sha256="},
  };
  for (const std::vector<std::string>& values : cases) {
    SCOPED_TRACE(testing::Message() << "values: " << values.size());
    absl::StatusOr<VerifiedSignature> result = VerifyWebhookSignature(
        OneSecret(), SchemePolicy::kAny, HeaderInput(values));
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), absl::StatusCode::kUnauthenticated);
    EXPECT_EQ(result.status().message(), "missing signature header");
  }
}

TEST(SignatureVerifierTest, AcceptsUppercaseHex) {
  std::string upper = absl::AsciiStrToUpper(BodySignature());

  absl::StatusOr<VerifiedSignature> result = VerifyWebhookSignature(
      OneSecret(), SchemePolicy::kAny, BodyInput({upper}));

  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->scheme, v1::SIGNATURE_SCHEME_BODY);
}

TEST(SignatureVerifierTest, AcceptsMixedCaseHex) {
  std::string mixed = BodySignature();
  for (size_t i = 0; i < mixed.size(); i += 2) {
    mixed[i] = absl::ascii_toupper(mixed[i]);
  }

  EXPECT_TRUE(VerifyWebhookSignature(OneSecret(), SchemePolicy::kAny,
                                     BodyInput({mixed}))
                  .ok());
}

TEST(SignatureVerifierTest, AcceptsSha256PrefixInAnyCase) {
  for (absl::string_view prefix : {"sha256=", "SHA256=", "Sha256="}) {
    SCOPED_TRACE(prefix);
    absl::StatusOr<VerifiedSignature> result = VerifyWebhookSignature(
        OneSecret(), SchemePolicy::kAny,
        BodyInput({absl::StrCat(prefix, BodySignature())}));
    EXPECT_TRUE(result.ok()) << result.status();
  }
}

TEST(SignatureVerifierTest, RejectsMalformedSignatures) {
  const std::string good = BodySignature();
  const std::vector<std::string> cases = {
      good.substr(0, 63),                   // one digit short
      good + "0",                           // one digit long
      good.substr(0, 32),                   // half length
      good + good,                          // two signatures glued together
      "g" + good.substr(1),                 // non-hex digit
      good.substr(0, 62) + "x" + good[63],  // non-hex near the end
      "0x" + good.substr(2),                // 0x prefix in place of digits
      "sha1=" + good,                       // other algorithm
      std::string(64, '0'),                 // all zero
      "not a signature",
  };
  for (const std::string& signature : cases) {
    SCOPED_TRACE(signature);
    ExpectInvalidSignature(VerifyWebhookSignature(
        OneSecret(), SchemePolicy::kAny, BodyInput({signature})));
  }
}

TEST(SignatureVerifierTest, RejectsBodyWithOneFlippedBit) {
  const std::string signature = BodySignature();
  const std::string body = kBody;
  for (size_t i = 0; i < body.size(); ++i) {
    std::string changed = body;
    changed[i] = static_cast<char>(changed[i] ^ 0x01);
    WebhookSignatureInput input = BodyInput({signature});
    input.body = changed;
    SCOPED_TRACE(testing::Message() << "byte " << i);
    ExpectInvalidSignature(
        VerifyWebhookSignature(OneSecret(), SchemePolicy::kAny, input));
  }
}

TEST(SignatureVerifierTest, RejectsBodyWithTrailingNewline) {
  WebhookSignatureInput input = BodyInput({BodySignature()});
  const std::string body = absl::StrCat(kBody, "\n");
  input.body = body;

  ExpectInvalidSignature(
      VerifyWebhookSignature(OneSecret(), SchemePolicy::kAny, input));
}

TEST(SignatureVerifierTest, RejectsSignatureWithOneChangedHexDigit) {
  const std::string good = BodySignature();
  for (size_t i = 0; i < good.size(); ++i) {
    std::string changed = good;
    changed[i] = changed[i] == '0' ? '1' : '0';
    SCOPED_TRACE(testing::Message() << "digit " << i);
    ExpectInvalidSignature(VerifyWebhookSignature(
        OneSecret(), SchemePolicy::kAny, BodyInput({changed})));
  }
}

TEST(SignatureVerifierTest, AcceptsOneMatchAmongSeparatedValues) {
  const std::string good = BodySignature();
  const std::string bad = BodySignature("another secret");
  const std::vector<std::string> cases = {
      absl::StrCat(bad, " ", good),
      absl::StrCat(good, " ", bad),
      absl::StrCat(bad, ",", good),
      absl::StrCat(bad, ", sha256=", good),
      absl::StrCat("  ", bad, "\t", good, "  "),
      absl::StrCat("zz ", good),
  };
  for (const std::string& value : cases) {
    SCOPED_TRACE(value);
    absl::StatusOr<VerifiedSignature> result = VerifyWebhookSignature(
        OneSecret(), SchemePolicy::kAny, BodyInput({value}));
    EXPECT_TRUE(result.ok()) << result.status();
  }
}

TEST(SignatureVerifierTest, AcceptsOneMatchAmongRepeatedHeaders) {
  const std::string good = BodySignature();
  const std::string bad = BodySignature("another secret");

  absl::StatusOr<VerifiedSignature> result = VerifyWebhookSignature(
      OneSecret(), SchemePolicy::kAny, BodyInput({bad, "", good, "junk"}));

  EXPECT_TRUE(result.ok()) << result.status();
}

TEST(SignatureVerifierTest, RejectsWhenNoneOfSeveralMatches) {
  ExpectInvalidSignature(VerifyWebhookSignature(
      OneSecret(), SchemePolicy::kAny,
      BodyInput({BodySignature("one"), absl::StrCat(BodySignature("two"), " ",
                                                    BodySignature("three"))})));
}

TEST(SignatureVerifierTest, RecordsFingerprintOfMatchingSecret) {
  SecretSet secrets({kSecret, kRotatedSecret});

  absl::StatusOr<VerifiedSignature> old_secret = VerifyWebhookSignature(
      secrets, SchemePolicy::kAny, BodyInput({BodySignature(kSecret)}));
  absl::StatusOr<VerifiedSignature> new_secret = VerifyWebhookSignature(
      secrets, SchemePolicy::kAny, BodyInput({BodySignature(kRotatedSecret)}));

  ASSERT_TRUE(old_secret.ok()) << old_secret.status();
  EXPECT_EQ(old_secret->secret_fingerprint, kSecretFingerprint);
  ASSERT_TRUE(new_secret.ok()) << new_secret.status();
  EXPECT_EQ(new_secret->secret_fingerprint, kRotatedFingerprint);
}

TEST(SignatureVerifierTest, FingerprintDoesNotDependOnSecretOrder) {
  SecretSet secrets({kRotatedSecret, kSecret});

  absl::StatusOr<VerifiedSignature> result = VerifyWebhookSignature(
      secrets, SchemePolicy::kAny, BodyInput({BodySignature(kSecret)}));

  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->secret_fingerprint, kSecretFingerprint);
}

TEST(SignatureVerifierTest, RejectsEverythingWithoutSecrets) {
  ExpectInvalidSignature(VerifyWebhookSignature(
      SecretSet(std::vector<std::string>{}), SchemePolicy::kAny,
      BodyInput({HmacSha256Hex("", kBody)})));
}

TEST(SignatureVerifierTest, AcceptsHeaderSignature) {
  absl::StatusOr<VerifiedSignature> result = VerifyWebhookSignature(
      OneSecret(), SchemePolicy::kAny, HeaderInput({HeaderSignature()}));

  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->scheme, v1::SIGNATURE_SCHEME_HEADER);
  EXPECT_EQ(result->secret_fingerprint, kSecretFingerprint);
  EXPECT_FALSE(result->body_authenticated);
}

TEST(SignatureVerifierTest, HeaderSchemeSignsIdTypeAndTimestamp) {
  EXPECT_EQ(HeaderSchemeMessage("evt_1", "payment_link.paid", "1705314600"),
            "evt_1:payment_link.paid:1705314600");
}

TEST(SignatureVerifierTest, AcceptsUppercaseHeaderSignature) {
  absl::StatusOr<VerifiedSignature> result = VerifyWebhookSignature(
      OneSecret(), SchemePolicy::kAny,
      HeaderInput({absl::AsciiStrToUpper(HeaderSignature())}));

  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->scheme, v1::SIGNATURE_SCHEME_HEADER);
}

TEST(SignatureVerifierTest, RejectsWrongHeaderSignature) {
  ExpectInvalidSignature(
      VerifyWebhookSignature(OneSecret(), SchemePolicy::kAny,
                             HeaderInput({HeaderSignature("another secret")})));
}

TEST(SignatureVerifierTest, RejectsHeaderSignatureWithChangedHeader) {
  const std::string signature = HeaderSignature();
  WebhookSignatureInput changed_id = HeaderInput({signature});
  changed_id.event_id = "evt_2";
  WebhookSignatureInput changed_type = HeaderInput({signature});
  changed_type.event_type = "payment_link.failed";
  WebhookSignatureInput changed_timestamp = HeaderInput({signature});
  changed_timestamp.timestamp = "1705314601";
  WebhookSignatureInput padded_timestamp = HeaderInput({signature});
  padded_timestamp.timestamp = absl::StrCat(" ", kTimestamp);

  for (const WebhookSignatureInput& input :
       {changed_id, changed_type, changed_timestamp, padded_timestamp}) {
    SCOPED_TRACE(HeaderSchemeMessage(*input.event_id, *input.event_type,
                                     *input.timestamp));
    ExpectInvalidSignature(
        VerifyWebhookSignature(OneSecret(), SchemePolicy::kAny, input));
  }
}

TEST(SignatureVerifierTest, HeaderSchemeNeedsAllThreeHeaders) {
  const std::string signature = HeaderSignature();
  WebhookSignatureInput no_id = HeaderInput({signature});
  no_id.event_id.reset();
  WebhookSignatureInput no_type = HeaderInput({signature});
  no_type.event_type.reset();
  WebhookSignatureInput no_timestamp = HeaderInput({signature});
  no_timestamp.timestamp.reset();

  for (const WebhookSignatureInput& input : {no_id, no_type, no_timestamp}) {
    ExpectInvalidSignature(
        VerifyWebhookSignature(OneSecret(), SchemePolicy::kAny, input));
  }
}

TEST(SignatureVerifierTest, HeaderSchemeAcceptsEmptyHeaderValues) {
  WebhookSignatureInput input =
      HeaderInput({HmacSha256Hex(kSecret, HeaderSchemeMessage("", "", ""))});
  input.event_id = "";
  input.event_type = "";
  input.timestamp = "";

  absl::StatusOr<VerifiedSignature> result =
      VerifyWebhookSignature(OneSecret(), SchemePolicy::kAny, input);

  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->scheme, v1::SIGNATURE_SCHEME_HEADER);
}

TEST(SignatureVerifierTest, AnyPolicyPrefersBodyScheme) {
  // One value signs the body and another the headers: the body scheme wins,
  // because it authenticates more.
  absl::StatusOr<VerifiedSignature> result =
      VerifyWebhookSignature(OneSecret(), SchemePolicy::kAny,
                             HeaderInput({HeaderSignature(), BodySignature()}));

  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->scheme, v1::SIGNATURE_SCHEME_BODY);
  EXPECT_TRUE(result->body_authenticated);
}

TEST(SignatureVerifierTest, BodyPolicyRejectsHeaderSignature) {
  ExpectInvalidSignature(VerifyWebhookSignature(
      OneSecret(), SchemePolicy::kBody, HeaderInput({HeaderSignature()})));
}

TEST(SignatureVerifierTest, BodyPolicyAcceptsBodySignature) {
  absl::StatusOr<VerifiedSignature> result = VerifyWebhookSignature(
      OneSecret(), SchemePolicy::kBody, HeaderInput({BodySignature()}));

  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->scheme, v1::SIGNATURE_SCHEME_BODY);
}

TEST(SignatureVerifierTest, HeaderPolicyRejectsBodySignature) {
  ExpectInvalidSignature(VerifyWebhookSignature(
      OneSecret(), SchemePolicy::kHeader, HeaderInput({BodySignature()})));
}

TEST(SignatureVerifierTest, HeaderPolicyAcceptsHeaderSignature) {
  absl::StatusOr<VerifiedSignature> result = VerifyWebhookSignature(
      OneSecret(), SchemePolicy::kHeader, HeaderInput({HeaderSignature()}));

  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->scheme, v1::SIGNATURE_SCHEME_HEADER);
  EXPECT_FALSE(result->body_authenticated);
}

TEST(GatewaySignatureTest, AcceptsUppercaseHex) {
  absl::StatusOr<VerifiedSignature> result = VerifyGatewaySignature(
      OneSecret(), kBody, {absl::AsciiStrToUpper(BodySignature())});

  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->scheme, v1::SIGNATURE_SCHEME_GATEWAY_BODY);
  EXPECT_EQ(result->secret_fingerprint, kSecretFingerprint);
  EXPECT_TRUE(result->body_authenticated);
}

TEST(GatewaySignatureTest, AcceptsLowercaseHex) {
  EXPECT_TRUE(
      VerifyGatewaySignature(OneSecret(), kBody, {BodySignature()}).ok());
}

TEST(GatewaySignatureTest, RejectsWrongSignature) {
  ExpectInvalidSignature(VerifyGatewaySignature(
      OneSecret(), kBody, {BodySignature("another secret")}));
}

TEST(GatewaySignatureTest, RejectsChangedBody) {
  ExpectInvalidSignature(VerifyGatewaySignature(
      OneSecret(), absl::StrCat(kBody, " "), {BodySignature()}));
}

TEST(GatewaySignatureTest, RejectsMissingSignature) {
  absl::StatusOr<VerifiedSignature> result =
      VerifyGatewaySignature(OneSecret(), kBody, {});

  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(result.status().message(), "missing signature header");
}

TEST(ParseSchemePolicyTest, ParsesKnownNames) {
  const std::vector<std::pair<std::string, SchemePolicy>> cases = {
      {"any", SchemePolicy::kAny},
      {"body", SchemePolicy::kBody},
      {"header", SchemePolicy::kHeader},
  };
  for (const auto& [text, expected] : cases) {
    SchemePolicy policy = SchemePolicy::kAny;
    EXPECT_TRUE(ParseSchemePolicy(text, &policy).ok()) << text;
    EXPECT_EQ(policy, expected) << text;
  }
}

TEST(ParseSchemePolicyTest, RejectsOtherNames) {
  for (absl::string_view text : {"", "Any", "BODY", "both", "body "}) {
    SchemePolicy policy = SchemePolicy::kHeader;
    absl::Status status = ParseSchemePolicy(text, &policy);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_EQ(policy, SchemePolicy::kHeader) << text;
  }
}

TEST(ParseSignatureValuesTest, SplitsAndStripsPrefixes) {
  const std::vector<
      std::pair<std::vector<std::string>, std::vector<std::string>>>
      cases = {
          {{"ab"}, {"ab"}},
          {{"sha256=ab"}, {"ab"}},
          {{"SHA256=AB"}, {"AB"}},
          {{"ab cd"}, {"ab", "cd"}},
          {{"ab,cd"}, {"ab", "cd"}},
          {{" ab ,\tcd "}, {"ab", "cd"}},
          {{"ab", "sha256=cd ef"}, {"ab", "cd", "ef"}},
          {{"", " ", ","}, {}},
          {{"sha256="}, {}},
          {{"sha256=sha256=ab"}, {"sha256=ab"}},
      };
  for (const auto& [input, expected] : cases) {
    EXPECT_EQ(ParseSignatureValues(input), expected)
        << (input.empty() ? "" : input.front());
  }
}

}  // namespace
}  // namespace paymento::bridge
