// HTTPS on the webhook ingress of the real binary, with certificates made by
// the openssl command for each test.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <httplib.h>

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "src/cli/sample_event.h"
#include "tests/operations/operations_support.h"

namespace paymento::bridge::test_support {
namespace {

constexpr char kHandshakeFailures[] =
    "paymento_bridge_tls_handshake_failures_total";

class IngressTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<TestCertificates> files =
        GenerateCertificates(MakeTempDirectory());
    ASSERT_TRUE(files.ok()) << files.status();
    files_ = *files;
    BridgeOptions options = OperationsOptions();
    options.extra_args.push_back("--tls-cert=" + files_.server_certificate);
    options.extra_args.push_back("--tls-key=" + files_.server_key);
    options.extra_args.push_back("--max-body-bytes=4096");
    bridge_ = std::make_unique<BridgeProcess>(options);
    ASSERT_TRUE(bridge_->Start().ok()) << bridge_->Output();
  }

  std::string HttpsBase() const {
    return absl::StrCat("https://127.0.0.1:", bridge_->http_port());
  }

  // An HTTPS client that trusts the test CA only.
  std::unique_ptr<httplib::Client> HttpsClient() const {
    auto client = std::make_unique<httplib::Client>(HttpsBase());
    client->set_ca_cert_path(files_.ca_certificate.c_str());
    client->set_connection_timeout(5);
    return client;
  }

  static std::string Body(const std::string& id) {
    return SampleWebhookBody("payment_link.paid", id, absl::Now());
  }

  TestCertificates files_;
  std::unique_ptr<BridgeProcess> bridge_;
};

TEST_F(IngressTlsTest, StoresWebhooksPostedOverHttps) {
  EXPECT_TRUE(absl::StrContains(bridge_->Output(), "http_tls=on"));
  std::unique_ptr<httplib::Client> client = HttpsClient();
  // Both requests go over one kept-alive TLS connection.
  for (const char* id : {"evt_https_1", "evt_https_2"}) {
    httplib::Result result = PostSignedWith(*client, Body(id));
    ASSERT_TRUE(result) << httplib::to_string(result.error());
    EXPECT_EQ(result->status, 200) << result->body;
  }
  httplib::Result unsigned_post =
      client->Post("/webhook", Body("evt_https_unsigned"), "application/json");
  ASSERT_TRUE(unsigned_post);
  EXPECT_EQ(unsigned_post->status, 401);

  auto stub = EventStub(PlaintextChannel(*bridge_));
  EXPECT_TRUE(GetEvent(*stub, "evt_https_1").ok());
  EXPECT_TRUE(GetEvent(*stub, "evt_https_2").ok());
  EXPECT_EQ(GetEvent(*stub, "evt_https_unsigned").error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(SampleValue(ScrapeMetrics(*bridge_), kHandshakeFailures), 0);
}

TEST_F(IngressTlsTest, LimitResponsesGoOverTls) {
  std::unique_ptr<httplib::Client> client = HttpsClient();
  httplib::Result too_large = PostSignedWith(*client, std::string(6000, 'x'));
  ASSERT_TRUE(too_large) << httplib::to_string(too_large.error());
  EXPECT_EQ(too_large->status, 413) << too_large->body;

  // A new connection after the one that was closed.
  httplib::Result after = PostSignedWith(*client, Body("evt_after_limit"));
  ASSERT_TRUE(after) << httplib::to_string(after.error());
  EXPECT_EQ(after->status, 200) << after->body;
}

TEST_F(IngressTlsTest, ClientsThatDoNotTrustTheCertificateFail) {
  // Without the test CA, the system's CAs do not cover the certificate.
  httplib::Client client(HttpsBase());
  client.set_connection_timeout(5);
  httplib::Result result = PostSignedWith(client, Body("evt_untrusted"));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error(), httplib::Error::SSLServerVerification);
}

TEST_F(IngressTlsTest, PlainHttpIsRefusedAndCounted) {
  httplib::Client client(bridge_->http_base());
  client.set_connection_timeout(5);
  httplib::Result result = PostSignedWith(client, Body("evt_plain"));
  EXPECT_FALSE(result);

  auto stub = EventStub(PlaintextChannel(*bridge_));
  EXPECT_EQ(GetEvent(*stub, "evt_plain").error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(SampleValue(ScrapeMetrics(*bridge_), kHandshakeFailures), 1);
  EXPECT_TRUE(absl::StrContains(bridge_->Output(), "TLS handshake failed"))
      << bridge_->Output();
}

TEST_F(IngressTlsTest, SilentConnectionIsClosedAfterReadTimeout) {
  int socket_fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(socket_fd, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(bridge_->http_port()));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(socket_fd, reinterpret_cast<sockaddr*>(&address),
                      sizeof(address)),
            0);
  absl::Time connected = absl::Now();

  // Other clients are served while the silent one keeps its connection.
  httplib::Result result = PostSignedWith(*HttpsClient(), Body("evt_busy"));
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 200);

  // The handshake waits at most the 5 s read timeout for the client.
  pollfd descriptor{socket_fd, POLLIN, 0};
  ASSERT_EQ(::poll(&descriptor, 1, 12000), 1);
  char byte = 0;
  EXPECT_EQ(::recv(socket_fd, &byte, 1, 0), 0);
  absl::Duration held = absl::Now() - connected;
  ::close(socket_fd);
  EXPECT_GE(held, absl::Seconds(4));
  EXPECT_LT(held, absl::Seconds(8));
  EXPECT_EQ(SampleValue(ScrapeMetrics(*bridge_), kHandshakeFailures), 1);
}

TEST_F(IngressTlsTest, SendTestPostsOverHttps) {
  std::string output;
  int code = RunBridgeCommand(
      {"send-test", "--id", "evt_https_cli", "--url",
       HttpsBase() + "/webhook", "--ca-file", files_.ca_certificate},
      {{"PAYMENTO_WEBHOOK_SECRET", kWebhookSecret}}, &output);
  EXPECT_EQ(code, 0) << output;
  EXPECT_TRUE(absl::StrContains(output, "200")) << output;

  code = RunBridgeCommand(
      {"send-test", "--id", "evt_https_cli_untrusted", "--url",
       HttpsBase() + "/webhook"},
      {{"PAYMENTO_WEBHOOK_SECRET", kWebhookSecret}}, &output);
  EXPECT_EQ(code, 1) << output;
  EXPECT_TRUE(absl::StrContains(output, "failed")) << output;

  auto stub = EventStub(PlaintextChannel(*bridge_));
  EXPECT_TRUE(GetEvent(*stub, "evt_https_cli").ok());
  EXPECT_EQ(GetEvent(*stub, "evt_https_cli_untrusted").error_code(),
            grpc::StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace paymento::bridge::test_support
