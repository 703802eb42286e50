// Signature verification and freshness of payment-link webhooks against the
// real binary: each case checks its status and whether the request was
// stored, quarantined, counted as a duplicate, or left no trace. Also secret
// rotation through a mounted secret file, including a Kubernetes-style
// symlink swap.
#include <gtest/gtest.h>
#include <openssl/sha.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "src/verification/signature_verifier.h"
#include "tests/ingress/ingress_test_support.h"
#include "tests/testing/bridge_process.h"

namespace paymento::bridge::ingress_test {
namespace {

using test_support::BridgeOptions;
using test_support::BridgeProcess;

constexpr char kSecret[] = "whsec_verification_current";
constexpr char kNextSecret[] = "whsec_verification_next";

std::string Fingerprint(absl::string_view secret) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(secret.data()), secret.size(),
         digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<char*>(digest), 4));
}

std::string HeaderSignature(absl::string_view secret, absl::string_view id,
                            absl::string_view type,
                            absl::string_view timestamp) {
  return HmacSha256Hex(secret, HeaderSchemeMessage(id, type, timestamp));
}

struct VerificationCase {
  std::string name;
  // The event id the case is about, for GetEvent and duplicate counts.
  std::string event_id;
  std::string path;
  Headers headers;
  std::string body;
  int status;
  StoreEffect effect;
  // For stored events: the scheme and secret that verified them.
  v1::SignatureScheme scheme = v1::SIGNATURE_SCHEME_UNSPECIFIED;
  std::string fingerprint;
  // For quarantined requests: the start of the reason.
  std::string reason;
};

VerificationCase BodySigned(std::string name, std::string id,
                            std::string signature_header,
                            std::string signature) {
  VerificationCase test;
  test.name = std::move(name);
  test.event_id = id;
  test.path = "/webhook";
  test.body = WebhookBody(id, "payment_link.paid", absl::Now());
  test.headers = {{std::move(signature_header), std::move(signature)}};
  test.status = 200;
  test.effect = StoreEffect::kStored;
  test.scheme = v1::SIGNATURE_SCHEME_BODY;
  test.fingerprint = Fingerprint(kSecret);
  return test;
}

// A header-scheme request whose headers name `header_id` and `header_type`
// at `timestamp`, with a body naming `body_id` and `body_type`.
VerificationCase HeaderSigned(std::string name, std::string header_id,
                              std::string header_type, std::string body_id,
                              std::string body_type, std::string timestamp) {
  VerificationCase test;
  test.name = std::move(name);
  test.event_id = body_id;
  test.path = "/webhook";
  test.body = WebhookBody(body_id, body_type, absl::Now());
  test.headers = {
      {"X-Paymento-Signature",
       HeaderSignature(kSecret, header_id, header_type, timestamp)},
      {"X-Paymento-Event-Id", header_id},
      {"X-Paymento-Event-Type", header_type},
      {"X-Paymento-Timestamp", timestamp},
  };
  test.status = 200;
  test.effect = StoreEffect::kStored;
  test.scheme = v1::SIGNATURE_SCHEME_HEADER;
  test.fingerprint = Fingerprint(kSecret);
  return test;
}

VerificationCase Rejected(VerificationCase test, int status, StoreEffect effect,
                          std::string reason = "") {
  test.status = status;
  test.effect = effect;
  test.scheme = v1::SIGNATURE_SCHEME_UNSPECIFIED;
  test.fingerprint.clear();
  test.reason = std::move(reason);
  return test;
}

VerificationCase WithCreatedAt(std::string name, std::string id,
                               absl::Time created_at) {
  VerificationCase test =
      BodySigned(std::move(name), id, "X-Paymento-Signature", "");
  test.body = WebhookBody(id, "payment_link.paid", created_at);
  test.headers = {{"X-Paymento-Signature", HmacSha256Hex(kSecret, test.body)}};
  return test;
}

std::vector<VerificationCase> VerificationCases() {
  absl::Time now = absl::Now();
  std::string seconds = absl::StrCat(absl::ToUnixSeconds(now));
  std::vector<VerificationCase> cases;

  auto body_case = [&](std::string name, std::string id, std::string header,
                       std::function<std::string(const std::string&)> sign) {
    VerificationCase test = BodySigned(std::move(name), id, header, "");
    test.headers[0].second = sign(test.body);
    cases.push_back(std::move(test));
    return &cases.back();
  };
  auto lower = [](const std::string& body) {
    return HmacSha256Hex(kSecret, body);
  };
  auto upper = [](const std::string& body) {
    return absl::AsciiStrToUpper(HmacSha256Hex(kSecret, body));
  };

  body_case("body scheme, lowercase hex", "evt_v_body", "X-Paymento-Signature",
            lower);
  body_case("body scheme, uppercase hex", "evt_v_upper", "X-Paymento-Signature",
            upper);
  body_case("X-Signature alias", "evt_v_alias", "X-Signature", lower);
  body_case("header name in lowercase", "evt_v_case", "x-paymento-signature",
            lower);
  body_case("sha256= prefix", "evt_v_prefix", "X-Paymento-Signature",
            [](const std::string& body) {
              return absl::StrCat("sha256=", HmacSha256Hex(kSecret, body));
            });
  body_case("wrong and right signature in one header", "evt_v_several",
            "X-Paymento-Signature", [](const std::string& body) {
              return absl::StrCat(HmacSha256Hex("old", body), " ",
                                  HmacSha256Hex(kSecret, body));
            });
  VerificationCase* next = body_case(
      "second secret of the list", "evt_v_next", "X-Paymento-Signature",
      [](const std::string& body) { return HmacSha256Hex(kNextSecret, body); });
  next->fingerprint = Fingerprint(kNextSecret);
  {
    VerificationCase repeated =
        BodySigned("signature header repeated", "evt_v_repeated",
                   "X-Paymento-Signature", "");
    repeated.headers = {
        {"X-Paymento-Signature", HmacSha256Hex("old", repeated.body)},
        {"X-Paymento-Signature", HmacSha256Hex(kSecret, repeated.body)}};
    cases.push_back(repeated);
  }
  {
    // Only the body scheme covers the body, so the timestamp header is
    // neither signed nor checked.
    VerificationCase stale_header =
        BodySigned("body scheme ignores a stale timestamp header",
                   "evt_v_body_stale_header", "X-Paymento-Signature", "");
    stale_header.headers[0].second = HmacSha256Hex(kSecret, stale_header.body);
    stale_header.headers.emplace_back(
        "X-Paymento-Timestamp",
        absl::StrCat(absl::ToUnixSeconds(now - absl::Hours(24))));
    cases.push_back(stale_header);
  }

  cases.push_back(HeaderSigned("header scheme", "evt_v_header",
                               "payment_link.paid", "evt_v_header",
                               "payment_link.paid", seconds));
  {
    // cpp-httplib 0.11.4 percent-decodes header values, but the signature
    // covers them as sent.
    VerificationCase percent = HeaderSigned(
        "header scheme, percent sign in the event id", "evt_v_%41",
        "payment_link.paid", "evt_v_%41", "payment_link.paid", seconds);
    cases.push_back(percent);
  }
  cases.push_back(
      Rejected(HeaderSigned("header scheme, body names another id",
                            "evt_v_hdr_id", "payment_link.paid",
                            "evt_v_body_id", "payment_link.paid", seconds),
               400, StoreEffect::kQuarantined, "mismatch"));
  cases.push_back(
      Rejected(HeaderSigned("header scheme, body names another type",
                            "evt_v_hdr_type", "payment_link.failed",
                            "evt_v_hdr_type", "payment_link.paid", seconds),
               400, StoreEffect::kQuarantined, "mismatch"));
  cases.push_back(Rejected(
      HeaderSigned("header scheme, stale timestamp", "evt_v_hdr_stale",
                   "payment_link.paid", "evt_v_hdr_stale", "payment_link.paid",
                   absl::StrCat(absl::ToUnixSeconds(now - absl::Seconds(600)))),
      401, StoreEffect::kQuarantined, "stale"));
  cases.push_back(Rejected(
      HeaderSigned("header scheme, future timestamp", "evt_v_hdr_future",
                   "payment_link.paid", "evt_v_hdr_future", "payment_link.paid",
                   absl::StrCat(absl::ToUnixSeconds(now + absl::Seconds(600)))),
      401, StoreEffect::kQuarantined, "stale"));
  cases.push_back(Rejected(
      HeaderSigned("header scheme, timestamp in milliseconds", "evt_v_hdr_ms",
                   "payment_link.paid", "evt_v_hdr_ms", "payment_link.paid",
                   absl::StrCat(absl::ToUnixMillis(now))),
      401, StoreEffect::kQuarantined, "stale"));

  cases.push_back(WithCreatedAt("createdAt two days ago", "evt_v_two_days",
                                now - absl::Hours(48)));
  cases.push_back(
      Rejected(WithCreatedAt("createdAt an hour ahead", "evt_v_future_created",
                             now + absl::Hours(1)),
               401, StoreEffect::kQuarantined, "stale"));
  cases.push_back(
      Rejected(WithCreatedAt("createdAt older than the dedup window",
                             "evt_v_ancient", now - absl::Hours(24 * 500)),
               401, StoreEffect::kQuarantined, "stale"));

  {
    VerificationCase wrong =
        BodySigned("unknown secret", "evt_v_wrong", "X-Paymento-Signature", "");
    wrong.headers[0].second = HmacSha256Hex("not the secret", wrong.body);
    cases.push_back(Rejected(wrong, 401, StoreEffect::kNothing));
  }
  {
    VerificationCase missing =
        BodySigned("no signature", "evt_v_missing", "X-Paymento-Signature", "");
    missing.headers.clear();
    cases.push_back(Rejected(missing, 401, StoreEffect::kNothing));
  }
  {
    VerificationCase tampered =
        BodySigned("body changed after signing", "evt_v_tampered",
                   "X-Paymento-Signature", "");
    tampered.headers[0].second = HmacSha256Hex(kSecret, tampered.body);
    tampered.body[tampered.body.size() - 2] = ' ';
    cases.push_back(Rejected(tampered, 401, StoreEffect::kNothing));
  }
  {
    VerificationCase not_hex =
        BodySigned("signature not hex", "evt_v_not_hex", "X-Paymento-Signature",
                   std::string(64, 'z'));
    cases.push_back(Rejected(not_hex, 401, StoreEffect::kNothing));
  }
  {
    // The same bytes as the first case.
    VerificationCase again = cases.front();
    again.name = "same event again";
    again.effect = StoreEffect::kDuplicate;
    cases.push_back(again);
  }
  {
    VerificationCase conflict = WithCreatedAt(
        "same event id, other body", "evt_v_body", now - absl::Minutes(5));
    cases.push_back(
        Rejected(conflict, 409, StoreEffect::kQuarantined, "conflict"));
  }
  {
    VerificationCase gateway = BodySigned(
        "gateway callbacks disabled", "ipn:1:7", "X-HMAC-SHA256-SIGNATURE", "");
    gateway.path = "/ipn";
    gateway.body = GatewayBody(1, 7);
    gateway.headers[0].second = HmacSha256Hex(kSecret, gateway.body);
    cases.push_back(Rejected(gateway, 404, StoreEffect::kNothing));
  }
  return cases;
}

TEST(WebhookVerificationTest, CasesTable) {
  BridgeOptions options;
  options.environment["PAYMENTO_WEBHOOK_SECRET"] =
      absl::StrCat(kSecret, ",", kNextSecret);
  BridgeProcess bridge(options);
  ASSERT_TRUE(bridge.Start().ok()) << bridge.Output();
  StoreProbe probe(bridge);

  for (const VerificationCase& test : VerificationCases()) {
    SCOPED_TRACE(test.name);
    probe.Mark(test.event_id);
    RawResponse response =
        SendRaw(bridge.http_port(),
                HttpRequest("POST", test.path, test.headers, test.body));
    EXPECT_EQ(response.status, test.status) << response.body;
    StoreEffect effect = probe.SinceMark();
    EXPECT_EQ(EffectName(effect), EffectName(test.effect));

    if (test.effect == StoreEffect::kStored) {
      std::optional<v1::EventStatus> stored = probe.GetEvent(test.event_id);
      ASSERT_TRUE(stored.has_value());
      const v1::Verification& verification = stored->event().verification();
      EXPECT_EQ(verification.scheme(), test.scheme);
      EXPECT_EQ(verification.secret_fingerprint(), test.fingerprint);
      EXPECT_EQ(verification.body_authenticated(),
                test.scheme == v1::SIGNATURE_SCHEME_BODY);
      EXPECT_EQ(stored->event().raw_body(), test.body);
    }
    if (test.effect == StoreEffect::kDuplicate) {
      EXPECT_EQ(response.body, R"({"received":true,"duplicate":true})");
    }
    if (test.effect == StoreEffect::kQuarantined) {
      std::vector<v1::QuarantinedRequest> added = probe.NewQuarantined();
      ASSERT_EQ(added.size(), 1u);
      EXPECT_TRUE(absl::StartsWith(added[0].reason(), test.reason))
          << added[0].reason();
      EXPECT_EQ(added[0].route(), "webhook");
      EXPECT_EQ(added[0].body_size(), static_cast<int64_t>(test.body.size()));
    }
  }

  EXPECT_TRUE(absl::StrContains(bridge.Output(), "gateway callbacks disabled"))
      << "start-up does not log why /ipn returns 404";
}

// Sends a webhook signed with `secret` and returns the status.
int PostSignedWith(const BridgeProcess& bridge, absl::string_view secret,
                   absl::string_view id) {
  std::string body = WebhookBody(id, "payment_link.paid", absl::Now());
  return SendRaw(
             bridge.http_port(),
             HttpRequest(
                 "POST", "/webhook",
                 {{"X-Paymento-Signature", HmacSha256Hex(secret, body)}}, body))
      .status;
}

// Posts new events signed with `secret` until one is accepted, for up to
// `timeout`. The service re-reads secret files every 2 s.
bool AcceptedWithin(const BridgeProcess& bridge, absl::string_view secret,
                    absl::string_view id_prefix, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  for (int attempt = 0; absl::Now() < deadline; ++attempt) {
    if (PostSignedWith(bridge, secret, absl::StrCat(id_prefix, attempt)) ==
        200) {
      return true;
    }
    absl::SleepFor(absl::Milliseconds(250));
  }
  return false;
}

TEST(WebhookVerificationTest, SecretFileSwappedLikeKubernetes) {
  namespace fs = std::filesystem;
  // The layout of a mounted Secret: the file is a symlink through "..data",
  // which Kubernetes repoints at a new directory in one rename.
  fs::path mount = test_support::MakeTempDirectory();
  fs::create_directory(mount / "..v1");
  ASSERT_TRUE(WriteFile(mount / "..v1" / "webhook-secret",
                        absl::StrCat(kSecret, "\n")));
  fs::create_directory_symlink("..v1", mount / "..data");
  fs::create_symlink("..data/webhook-secret", mount / "webhook-secret");

  BridgeOptions options;
  options.environment["PAYMENTO_WEBHOOK_SECRET_FILE"] =
      (mount / "webhook-secret").string();
  BridgeProcess bridge(options);
  ASSERT_TRUE(bridge.Start().ok()) << bridge.Output();
  EXPECT_EQ(PostSignedWith(bridge, kSecret, "evt_rotate_before"), 200);
  EXPECT_EQ(PostSignedWith(bridge, kNextSecret, "evt_rotate_early"), 401);

  fs::create_directory(mount / "..v2");
  ASSERT_TRUE(WriteFile(mount / "..v2" / "webhook-secret",
                        absl::StrCat(kNextSecret, "\n")));
  fs::create_directory_symlink("..v2", mount / "..data_tmp");
  fs::rename(mount / "..data_tmp", mount / "..data");
  fs::remove_all(mount / "..v1");

  EXPECT_TRUE(AcceptedWithin(bridge, kNextSecret, "evt_rotate_next_",
                             absl::Seconds(10)))
      << bridge.Output();
  EXPECT_EQ(PostSignedWith(bridge, kSecret, "evt_rotate_old"), 401);

  // A rotation that leaves the file empty keeps the secrets in force.
  ASSERT_TRUE(WriteFile(mount / "..v2" / "webhook-secret", ""));
  absl::SleepFor(absl::Seconds(3));
  EXPECT_EQ(PostSignedWith(bridge, kNextSecret, "evt_rotate_empty"), 200);
  EXPECT_TRUE(absl::StrContains(bridge.Output(), "secrets reloaded"));
}

TEST(WebhookVerificationTest, SecretFileRewrittenInPlace) {
  std::string directory = test_support::MakeTempDirectory();
  std::string path = absl::StrCat(directory, "/webhook-secret");
  ASSERT_TRUE(WriteFile(path, absl::StrCat(kSecret, "\n")));

  BridgeOptions options;
  options.environment["PAYMENTO_WEBHOOK_SECRET_FILE"] = path;
  BridgeProcess bridge(options);
  ASSERT_TRUE(bridge.Start().ok()) << bridge.Output();
  EXPECT_EQ(PostSignedWith(bridge, kSecret, "evt_rewrite_before"), 200);

  // Both secrets during the rotation, then only the new one.
  ASSERT_TRUE(WriteFile(path, absl::StrCat(kSecret, "\n", kNextSecret, "\n")));
  EXPECT_TRUE(AcceptedWithin(bridge, kNextSecret, "evt_rewrite_both_",
                             absl::Seconds(10)));
  EXPECT_EQ(PostSignedWith(bridge, kSecret, "evt_rewrite_old_still"), 200);
}

}  // namespace
}  // namespace paymento::bridge::ingress_test
