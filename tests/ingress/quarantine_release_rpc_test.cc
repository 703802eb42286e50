// The quarantine administration RPCs against the real binary: requests that
// verified but were refused are listed, read with their exact bytes, and
// released into the stream, while bodies that are not events stay in
// quarantine.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "src/verification/signature_verifier.h"
#include "tests/ingress/ingress_test_support.h"
#include "tests/testing/bridge_client.h"
#include "tests/testing/bridge_process.h"

namespace paymento::bridge::ingress_test {
namespace {

using test_support::BridgeOptions;
using test_support::BridgeProcess;

constexpr char kSecret[] = "whsec_quarantine_rpc_test";
constexpr char kRotatedSecret[] = "whsec_quarantine_rpc_rotated";

class QuarantineRpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    secret_path_ =
        absl::StrCat(test_support::MakeTempDirectory(), "/webhook-secret");
    ASSERT_TRUE(WriteFile(secret_path_, kSecret));
    BridgeOptions options;
    options.environment["PAYMENTO_WEBHOOK_SECRET_FILE"] = secret_path_;
    bridge_ = std::make_unique<BridgeProcess>(options);
    ASSERT_TRUE(bridge_->Start().ok()) << bridge_->Output();
    probe_ = std::make_unique<StoreProbe>(*bridge_);
  }

  // Posts `body` signed with the body scheme and returns the status.
  int Post(const std::string& body, const Headers& extra = {}) {
    Headers headers = extra;
    headers.emplace_back("X-Paymento-Signature", HmacSha256Hex(kSecret, body));
    return SendRaw(bridge_->http_port(),
                   HttpRequest("POST", "/webhook", headers, body))
        .status;
  }

  // Returns the id of the newest quarantine record.
  int64_t NewestQuarantineId() {
    std::vector<v1::QuarantinedRequest> all = probe_->AllQuarantined();
    return all.empty() ? 0 : all.back().id();
  }

  grpc::Status Release(int64_t id, v1::ReleaseQuarantinedResponse* response) {
    grpc::ClientContext context;
    v1::ReleaseQuarantinedRequest request;
    request.set_id(id);
    return probe_->stub().ReleaseQuarantined(&context, request, response);
  }

  grpc::Status Get(int64_t id, v1::QuarantinedRequest* response) {
    grpc::ClientContext context;
    v1::GetQuarantinedRequest request;
    request.set_id(id);
    return probe_->stub().GetQuarantined(&context, request, response);
  }

  std::string secret_path_;
  std::unique_ptr<BridgeProcess> bridge_;
  std::unique_ptr<StoreProbe> probe_;
};

TEST_F(QuarantineRpcTest, ReleasedRequestReachesTailStream) {
  std::string stale = WebhookBody("evt_q_stale", "payment_link.paid",
                                  absl::Now() + absl::Hours(2));
  ASSERT_EQ(Post(stale), 401);
  int64_t id = NewestQuarantineId();
  ASSERT_GT(id, 0);

  v1::QuarantinedRequest record;
  ASSERT_TRUE(Get(id, &record).ok());
  EXPECT_EQ(record.body(), stale);
  EXPECT_EQ(record.body_size(), static_cast<int64_t>(stale.size()));
  EXPECT_EQ(record.route(), "webhook");
  EXPECT_EQ(record.event_id(), "evt_q_stale");
  EXPECT_TRUE(absl::StartsWith(record.reason(), "stale")) << record.reason();
  EXPECT_TRUE(absl::StrContains(record.headers(), "X-Paymento-Signature: "));
  EXPECT_TRUE(record.has_received_at());

  v1::SubscribeRequest tail_request;
  tail_request.mutable_heartbeat_interval()->set_seconds(1);
  test_support::OpenStream tail =
      test_support::Subscribe(probe_->stub(), tail_request);
  // The first heartbeat shows the stream is open at the latest position.
  ASSERT_TRUE(test_support::NextIsHeartbeat(tail));

  v1::ReleaseQuarantinedResponse released;
  grpc::Status status = Release(id, &released);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_FALSE(released.duplicate());
  EXPECT_EQ(released.event().id(), "evt_q_stale");
  EXPECT_GT(released.event().sequence(), 0);
  EXPECT_EQ(released.event().verification().scheme(),
            v1::SIGNATURE_SCHEME_BODY);
  EXPECT_TRUE(released.event().verification().body_authenticated());
  EXPECT_EQ(released.event().raw_body(), stale);

  std::vector<v1::Delivery> deliveries = test_support::ReadDeliveries(tail, 1);
  ASSERT_EQ(deliveries.size(), 1u);
  EXPECT_EQ(deliveries[0].event().id(), "evt_q_stale");
  EXPECT_EQ(deliveries[0].event().sequence(), released.event().sequence());

  // The record is gone, and a second release finds nothing.
  v1::QuarantinedRequest deleted;
  EXPECT_EQ(Get(id, &deleted).error_code(), grpc::StatusCode::NOT_FOUND);
  v1::ReleaseQuarantinedResponse again;
  EXPECT_EQ(Release(id, &again).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(QuarantineRpcTest, ReleaseCasesTable) {
  absl::Time now = absl::Now();
  // Not JSON at all, and JSON without an event id: not events.
  ASSERT_EQ(Post("not json"), 400);
  int64_t not_json = NewestQuarantineId();
  ASSERT_EQ(Post(R"({"event":{"type":"payment_link.paid"}})"), 400);
  int64_t no_id = NewestQuarantineId();

  // A conflicting copy of a stored event.
  ASSERT_EQ(Post(WebhookBody("evt_q_conflict", "payment_link.paid", now)), 200);
  ASSERT_EQ(Post(WebhookBody("evt_q_conflict", "payment_link.paid",
                             now - absl::Minutes(1))),
            409);
  int64_t conflict = NewestQuarantineId();

  // Header scheme, the body names another event than the signed headers.
  std::string timestamp = absl::StrCat(absl::ToUnixSeconds(now));
  std::string mismatched = WebhookBody("evt_q_body", "payment_link.paid", now);
  ASSERT_EQ(
      SendRaw(bridge_->http_port(),
              HttpRequest("POST", "/webhook",
                          {{"X-Paymento-Signature",
                            HmacSha256Hex(kSecret,
                                          HeaderSchemeMessage(
                                              "evt_q_header",
                                              "payment_link.paid", timestamp))},
                           {"X-Paymento-Event-Id", "evt_q_header"},
                           {"X-Paymento-Event-Type", "payment_link.paid"},
                           {"X-Paymento-Timestamp", timestamp}},
                          mismatched))
          .status,
      400);
  int64_t mismatch = NewestQuarantineId();

  // Refused as stale: its createdAt is ahead of the clock.
  std::string future =
      WebhookBody("evt_q_future", "payment_link.paid", now + absl::Hours(2));
  ASSERT_EQ(Post(future), 401);
  int64_t stale = NewestQuarantineId();

  // Signed with a secret that is then rotated away.
  std::string rotated_away =
      WebhookBody("evt_q_rotated", "payment_link.paid", now + absl::Hours(3));
  ASSERT_EQ(Post(rotated_away), 401);
  int64_t rotated = NewestQuarantineId();

  struct ReleaseCase {
    std::string name;
    int64_t id;
    grpc::StatusCode code;
    std::string message;
    bool stays;
    v1::SignatureScheme scheme = v1::SIGNATURE_SCHEME_UNSPECIFIED;
  };
  std::vector<ReleaseCase> cases = {
      {"not JSON", not_json, grpc::StatusCode::FAILED_PRECONDITION,
       "not valid JSON", true},
      {"no event id", no_id, grpc::StatusCode::FAILED_PRECONDITION, "event.id",
       true},
      {"conflicting copy", conflict, grpc::StatusCode::FAILED_PRECONDITION,
       "different body", true},
      {"headers and body disagree", mismatch, grpc::StatusCode::OK, "", false,
       v1::SIGNATURE_SCHEME_UNSPECIFIED},
      {"stale", stale, grpc::StatusCode::OK, "", false,
       v1::SIGNATURE_SCHEME_BODY},
      {"zero id", 0, grpc::StatusCode::INVALID_ARGUMENT, "invalid", false},
      {"unknown id", 999999, grpc::StatusCode::NOT_FOUND, "no quarantined",
       false},
  };
  for (const ReleaseCase& test : cases) {
    SCOPED_TRACE(test.name);
    v1::ReleaseQuarantinedResponse response;
    grpc::Status status = Release(test.id, &response);
    EXPECT_EQ(status.error_code(), test.code) << status.error_message();
    EXPECT_TRUE(absl::StrContains(status.error_message(), test.message))
        << status.error_message();
    v1::QuarantinedRequest record;
    EXPECT_EQ(Get(test.id, &record).ok(), test.stays);
    if (status.ok()) {
      EXPECT_EQ(response.event().verification().scheme(), test.scheme);
      EXPECT_EQ(response.event().verification().body_authenticated(),
                test.scheme == v1::SIGNATURE_SCHEME_BODY);
      EXPECT_TRUE(probe_->GetEvent(response.event().id()).has_value());
    }
  }

  // The rotated secret no longer verifies the stored signature.
  ASSERT_TRUE(WriteFile(secret_path_, kRotatedSecret));
  v1::ReleaseQuarantinedResponse unverified;
  ASSERT_TRUE(Release(rotated, &unverified).ok());
  EXPECT_EQ(unverified.event().id(), "evt_q_rotated");
  EXPECT_EQ(unverified.event().verification().scheme(),
            v1::SIGNATURE_SCHEME_UNSPECIFIED);
  EXPECT_FALSE(unverified.event().verification().body_authenticated());
  EXPECT_EQ(unverified.event().verification().secret_fingerprint(), "");
}

TEST_F(QuarantineRpcTest, ReleaseOfStoredEventIsDuplicate) {
  absl::Time now = absl::Now();
  // Header scheme with a body that names another event: quarantined.
  std::string body = WebhookBody("evt_q_dup", "payment_link.paid", now);
  std::string timestamp = absl::StrCat(absl::ToUnixSeconds(now));
  ASSERT_EQ(
      SendRaw(bridge_->http_port(),
              HttpRequest(
                  "POST", "/webhook",
                  {{"X-Paymento-Signature",
                    HmacSha256Hex(kSecret, HeaderSchemeMessage(
                                               "evt_other", "payment_link.paid",
                                               timestamp))},
                   {"X-Paymento-Event-Id", "evt_other"},
                   {"X-Paymento-Event-Type", "payment_link.paid"},
                   {"X-Paymento-Timestamp", timestamp}},
                  body))
          .status,
      400);
  int64_t id = NewestQuarantineId();
  // The same bytes then arrive properly signed and are stored.
  ASSERT_EQ(Post(body), 200);

  v1::ReleaseQuarantinedResponse response;
  grpc::Status status = Release(id, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(response.duplicate());
  EXPECT_EQ(response.event().id(), "evt_q_dup");
  EXPECT_EQ(response.event().verification().scheme(),
            v1::SIGNATURE_SCHEME_BODY);
  v1::QuarantinedRequest deleted;
  EXPECT_EQ(Get(id, &deleted).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(QuarantineRpcTest, ListPagesNewestFirst) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(Post(absl::StrCat("not json ", i)), 400);
  }
  // The same bytes again are not quarantined twice.
  ASSERT_EQ(Post("not json 0"), 400);

  std::vector<int64_t> ids;
  v1::ListQuarantinedRequest request;
  request.set_page_size(2);
  int pages = 0;
  for (;;) {
    grpc::ClientContext context;
    v1::ListQuarantinedResponse response;
    grpc::Status status =
        probe_->stub().ListQuarantined(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ++pages;
    for (const v1::QuarantinedRequest& record : response.requests()) {
      ids.push_back(record.id());
      EXPECT_TRUE(record.body().empty());
      EXPECT_GT(record.body_size(), 0);
    }
    if (response.next_page_token().empty()) break;
    request.set_page_token(response.next_page_token());
  }
  ASSERT_EQ(ids.size(), 5u);
  EXPECT_EQ(pages, 3);
  for (size_t i = 1; i < ids.size(); ++i) EXPECT_GT(ids[i - 1], ids[i]);

  grpc::ClientContext context;
  v1::ListQuarantinedRequest invalid;
  invalid.set_page_token("not a token");
  v1::ListQuarantinedResponse response;
  EXPECT_EQ(
      probe_->stub().ListQuarantined(&context, invalid, &response).error_code(),
      grpc::StatusCode::INVALID_ARGUMENT);
}

TEST(QuarantineRpcTokenTest, RequireTheAdminToken) {
  BridgeOptions options;
  options.environment["PAYMENTO_WEBHOOK_SECRET"] = kSecret;
  options.environment["PAYMENTO_BRIDGE_GRPC_TOKEN"] = "client-token-for-test";
  options.environment["PAYMENTO_BRIDGE_ADMIN_TOKEN"] = "admin-token-for-test";
  BridgeProcess bridge(options);
  ASSERT_TRUE(bridge.Start().ok()) << bridge.Output();
  std::unique_ptr<v1::EventService::Stub> stub = test_support::NewStub(bridge);

  struct TokenCase {
    std::string name;
    std::string token;
    grpc::StatusCode code;
  };
  for (const TokenCase& test : std::vector<TokenCase>{
           {"no token", "", grpc::StatusCode::UNAUTHENTICATED},
           {"client token", "client-token-for-test",
            grpc::StatusCode::PERMISSION_DENIED},
           {"admin token", "admin-token-for-test", grpc::StatusCode::OK},
       }) {
    SCOPED_TRACE(test.name);
    auto call = [&](auto method, const auto& request, auto* response) {
      grpc::ClientContext context;
      if (!test.token.empty()) {
        context.AddMetadata("authorization",
                            absl::StrCat("Bearer ", test.token));
      }
      return ((*stub).*method)(&context, request, response).error_code();
    };
    v1::ListQuarantinedResponse listed;
    EXPECT_EQ(call(&v1::EventService::Stub::ListQuarantined,
                   v1::ListQuarantinedRequest(), &listed),
              test.code);
    // With the right token, the unknown id is the only thing wrong.
    grpc::StatusCode missing = test.code == grpc::StatusCode::OK
                                   ? grpc::StatusCode::NOT_FOUND
                                   : test.code;
    v1::GetQuarantinedRequest get;
    get.set_id(1);
    v1::QuarantinedRequest record;
    EXPECT_EQ(call(&v1::EventService::Stub::GetQuarantined, get, &record),
              missing);
    v1::ReleaseQuarantinedRequest release;
    release.set_id(1);
    v1::ReleaseQuarantinedResponse released;
    EXPECT_EQ(
        call(&v1::EventService::Stub::ReleaseQuarantined, release, &released),
        missing);
  }
}

}  // namespace
}  // namespace paymento::bridge::ingress_test
