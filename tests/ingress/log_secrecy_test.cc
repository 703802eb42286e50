// Runs the binary, sends requests that carry known secrets, signatures and
// customer e-mail addresses in every place a request can carry them, and
// checks that none of them appears anywhere in the service's output.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
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

constexpr char kSecret[] = "whsec_log_secrecy_Zq8Xr2";
constexpr char kIpnSecret[] = "ipn_log_secrecy_Pm4Wt7";
constexpr char kEmail[] = "secret.customer.jx93@example.org";

TEST(LogSecrecyTest, NoSecretSignatureOrEmailInOutput) {
  BridgeOptions options;
  options.environment["PAYMENTO_WEBHOOK_SECRET"] = kSecret;
  options.environment["PAYMENTO_IPN_SECRET"] = kIpnSecret;
  options.extra_args = {"--log-level=debug"};
  BridgeProcess bridge(options);
  ASSERT_TRUE(bridge.Start().ok()) << bridge.Output();
  StoreProbe probe(bridge);

  std::vector<std::string> signatures;
  auto post = [&](absl::string_view path, const Headers& headers,
                  absl::string_view body) {
    return SendRaw(bridge.http_port(), HttpRequest("POST", path, headers, body))
        .status;
  };
  auto sign = [&](absl::string_view secret, absl::string_view body) {
    signatures.push_back(HmacSha256Hex(secret, body));
    return signatures.back();
  };
  absl::Time now = absl::Now();
  std::string with_email =
      absl::StrCat(R"({"event":{"id":"evt_log_1","type":"payment_link.paid",)",
                   R"("createdAt":")", Rfc3339(now), R"("},"customer":)",
                   R"({"email":")", kEmail, R"(","name":"Jane"}})");

  // Accepted, duplicate, quarantined (stale, malformed, conflict) and
  // refused requests, each carrying the e-mail address somewhere.
  EXPECT_EQ(
      post("/webhook", {{"X-Paymento-Signature", sign(kSecret, with_email)}},
           with_email),
      200);
  EXPECT_EQ(
      post("/webhook", {{"X-Paymento-Signature", sign(kSecret, with_email)}},
           with_email),
      200);
  std::string stale = absl::StrReplaceAll(
      with_email, {{"evt_log_1", "evt_log_2"},
                   {Rfc3339(now), Rfc3339(now + absl::Hours(5))}});
  EXPECT_EQ(
      post("/webhook", {{"X-Paymento-Signature", sign(kSecret, stale)}}, stale),
      401);
  std::string malformed = absl::StrCat("{\"email\":\"", kEmail, "\"");
  EXPECT_EQ(
      post("/webhook", {{"X-Paymento-Signature", sign(kSecret, malformed)}},
           malformed),
      400);
  std::string conflict = absl::StrReplaceAll(with_email, {{"Jane", "Joan"}});
  EXPECT_EQ(post("/webhook",
                 {{"X-Paymento-Signature", sign(kSecret, conflict)}}, conflict),
            409);
  // The e-mail address as an event id and as a request id.
  std::string id_is_email =
      absl::StrReplaceAll(with_email, {{"evt_log_1", kEmail}});
  EXPECT_EQ(post("/webhook",
                 {{"X-Paymento-Signature", sign(kSecret, id_is_email)},
                  {"X-Request-Id", kEmail}},
                 id_is_email),
            200);
  // A wrong signature, and the secret itself sent as a signature.
  EXPECT_EQ(post("/webhook",
                 {{"X-Paymento-Signature", sign("another secret", with_email)},
                  {"X-Signature", kSecret}},
                 with_email),
            401);
  std::string header_scheme_timestamp = absl::StrCat(absl::ToUnixSeconds(now));
  EXPECT_EQ(
      post("/webhook",
           {{"X-Paymento-Signature",
             sign(kSecret, HeaderSchemeMessage("evt_log_h", "payment_link.paid",
                                               header_scheme_timestamp))},
            {"X-Paymento-Event-Id", "evt_log_h"},
            {"X-Paymento-Event-Type", "payment_link.paid"},
            {"X-Paymento-Timestamp", header_scheme_timestamp}},
           with_email),
      400);
  std::string callback = GatewayBody(77, 7);
  EXPECT_EQ(post("/ipn",
                 {{"X-HMAC-SHA256-SIGNATURE",
                   absl::AsciiStrToUpper(sign(kIpnSecret, callback))}},
                 callback),
            200);

  // Releasing a quarantined request logs too.
  std::vector<v1::QuarantinedRequest> quarantined = probe.AllQuarantined();
  ASSERT_FALSE(quarantined.empty());
  for (const v1::QuarantinedRequest& record : quarantined) {
    grpc::ClientContext context;
    v1::ReleaseQuarantinedRequest request;
    request.set_id(record.id());
    v1::ReleaseQuarantinedResponse response;
    probe.stub().ReleaseQuarantined(&context, request, &response);
  }

  bridge.Stop(SIGTERM);
  std::string output = bridge.Output();
  ASSERT_TRUE(absl::StrContains(output, "paymento-bridge stopped")) << output;
  std::string lowercase = absl::AsciiStrToLower(output);
  EXPECT_FALSE(absl::StrContains(output, kSecret));
  EXPECT_FALSE(absl::StrContains(output, kIpnSecret));
  EXPECT_FALSE(absl::StrContains(lowercase, kEmail)) << "full e-mail logged";
  for (const std::string& signature : signatures) {
    EXPECT_FALSE(absl::StrContains(lowercase, signature))
        << "signature logged: " << signature;
  }
  // The masked form shows that the line was there.
  EXPECT_TRUE(absl::StrContains(output, "s***@example.org")) << output;
}

}  // namespace
}  // namespace paymento::bridge::ingress_test
