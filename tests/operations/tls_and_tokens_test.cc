// TLS, mutual TLS and bearer tokens on the gRPC port of the real binary,
// with certificates made by the openssl command for each test.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tests/operations/operations_support.h"

namespace paymento::bridge::test_support {
namespace {

using ServingStatus = grpc::health::v1::HealthCheckResponse;

constexpr char kClientToken[] = "client-token-for-tests";
constexpr char kAdminToken[] = "admin-token-for-tests";

std::shared_ptr<grpc::Channel> TlsChannel(const BridgeProcess& bridge,
                                          const TestCertificates& files,
                                          bool with_client_certificate) {
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = ReadTextFile(files.ca_certificate);
  if (with_client_certificate) {
    options.pem_cert_chain = ReadTextFile(files.client_certificate);
    options.pem_private_key = ReadTextFile(files.client_key);
  }
  return grpc::CreateChannel(bridge.grpc_address(),
                             grpc::SslCredentials(options));
}

grpc::Status ListSubscriptions(v1::EventService::Stub& stub,
                               const std::string& token) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(5));
  if (!token.empty()) {
    context.AddMetadata("authorization", absl::StrCat("Bearer ", token));
  }
  v1::ListSubscriptionsRequest request;
  v1::ListSubscriptionsResponse response;
  return stub.ListSubscriptions(&context, request, &response);
}

grpc::Status ListQuarantined(v1::EventService::Stub& stub,
                             const std::string& token) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(5));
  if (!token.empty()) {
    context.AddMetadata("authorization", absl::StrCat("Bearer ", token));
  }
  v1::ListQuarantinedRequest request;
  v1::ListQuarantinedResponse response;
  return stub.ListQuarantined(&context, request, &response);
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<TestCertificates> files =
        GenerateCertificates(MakeTempDirectory());
    ASSERT_TRUE(files.ok()) << files.status();
    files_ = *files;
  }

  BridgeOptions TlsOptions(bool mutual) const {
    BridgeOptions options = OperationsOptions();
    options.extra_args.push_back("--grpc-tls-cert=" +
                                 files_.server_certificate);
    options.extra_args.push_back("--grpc-tls-key=" + files_.server_key);
    if (mutual) {
      options.extra_args.push_back("--grpc-tls-client-ca=" +
                                   files_.ca_certificate);
    }
    return options;
  }

  TestCertificates files_;
};

TEST_F(TlsTest, ServesTlsAndRejectsPlaintext) {
  BridgeProcess bridge(TlsOptions(/*mutual=*/false));
  ASSERT_TRUE(bridge.Start().ok()) << bridge.Output();
  EXPECT_TRUE(absl::StrContains(bridge.Output(), "grpc_tls=server"));

  auto secure = EventStub(TlsChannel(bridge, files_, false));
  EXPECT_EQ(GetEvent(*secure, "evt_absent").error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(CheckHealth(TlsChannel(bridge, files_, false))
                .value_or(ServingStatus::UNKNOWN),
            ServingStatus::SERVING);

  auto plaintext = EventStub(PlaintextChannel(bridge));
  EXPECT_EQ(GetEvent(*plaintext, "evt_absent").error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TlsTest, MutualTlsRequiresClientCertificate) {
  BridgeProcess bridge(TlsOptions(/*mutual=*/true));
  ASSERT_TRUE(bridge.Start().ok()) << bridge.Output();
  EXPECT_TRUE(absl::StrContains(bridge.Output(), "grpc_tls=mutual"));

  auto with_certificate = EventStub(TlsChannel(bridge, files_, true));
  EXPECT_EQ(GetEvent(*with_certificate, "evt_absent").error_code(),
            grpc::StatusCode::NOT_FOUND);
  auto without_certificate = EventStub(TlsChannel(bridge, files_, false));
  EXPECT_EQ(GetEvent(*without_certificate, "evt_absent").error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TlsTest, CommandLineClientConnectsWithTls) {
  BridgeProcess bridge(TlsOptions(/*mutual=*/true));
  ASSERT_TRUE(bridge.Start().ok()) << bridge.Output();
  ASSERT_EQ(PostEvent(bridge, "payment_link.paid", "evt_tls_cli")->status, 200);

  std::string output;
  int code = RunBridgeCommand(
      {"get", "evt_tls_cli", "--grpc-address", bridge.grpc_address(),
       "--grpc-tls-ca", files_.ca_certificate, "--grpc-tls-client-cert",
       files_.client_certificate, "--grpc-tls-client-key", files_.client_key},
      {}, &output, absl::Seconds(15));
  EXPECT_EQ(code, 0) << output;
  EXPECT_TRUE(absl::StrContains(output, "evt_tls_cli")) << output;

  code = RunBridgeCommand(
      {"get", "evt_tls_cli", "--grpc-address", bridge.grpc_address(),
       "--grpc-tls-ca", files_.ca_certificate},
      {}, &output, absl::Seconds(15));
  EXPECT_EQ(code, 1) << output;
}

constexpr char kOpenGrpcWarning[] =
    "gRPC listens beyond loopback without TLS or a client token";

// Starts the bridge with gRPC on every address and returns its output.
std::string OutputWithGrpcOnEveryAddress(BridgeOptions options) {
  options.extra_args.push_back("--grpc-listen=0.0.0.0:0");
  BridgeProcess bridge(options);
  absl::Status started = bridge.Start();
  EXPECT_TRUE(started.ok()) << started << bridge.Output();
  return bridge.Output();
}

TEST_F(TlsTest, OpenGrpcWarnsWithoutTlsOrToken) {
  std::string open = OutputWithGrpcOnEveryAddress(OperationsOptions());
  EXPECT_TRUE(absl::StrContains(open, kOpenGrpcWarning)) << open;
  EXPECT_TRUE(absl::StrContains(open, "grpc_listen=0.0.0.0:")) << open;

  BridgeOptions with_token = OperationsOptions();
  with_token.environment["PAYMENTO_BRIDGE_GRPC_TOKEN"] = kClientToken;
  std::string tokened = OutputWithGrpcOnEveryAddress(with_token);
  EXPECT_TRUE(absl::StrContains(tokened, "paymento-bridge started"));
  EXPECT_FALSE(absl::StrContains(tokened, kOpenGrpcWarning)) << tokened;

  std::string tls = OutputWithGrpcOnEveryAddress(TlsOptions(false));
  EXPECT_TRUE(absl::StrContains(tls, "paymento-bridge started"));
  EXPECT_FALSE(absl::StrContains(tls, kOpenGrpcWarning)) << tls;

  std::string loopback;
  {
    BridgeProcess bridge(OperationsOptions());
    ASSERT_TRUE(bridge.Start().ok()) << bridge.Output();
    loopback = bridge.Output();
  }
  EXPECT_TRUE(absl::StrContains(loopback, "paymento-bridge started"));
  EXPECT_FALSE(absl::StrContains(loopback, kOpenGrpcWarning)) << loopback;
}

class TokenTest : public ::testing::Test {
 protected:
  void StartWith(const std::map<std::string, std::string>& tokens) {
    BridgeOptions options = OperationsOptions();
    options.environment.insert(tokens.begin(), tokens.end());
    bridge_ = std::make_unique<BridgeProcess>(options);
    ASSERT_TRUE(bridge_->Start().ok()) << bridge_->Output();
    stub_ = EventStub(PlaintextChannel(*bridge_));
    ASSERT_EQ(PostEvent(*bridge_, "payment_link.paid", "evt_token")->status,
              200);
  }

  std::unique_ptr<BridgeProcess> bridge_;
  std::unique_ptr<v1::EventService::Stub> stub_;
};

TEST_F(TokenTest, WithoutTokensEverythingIsAllowed) {
  StartWith({});
  EXPECT_TRUE(GetEvent(*stub_, "evt_token").ok());
  EXPECT_TRUE(ListSubscriptions(*stub_, "").ok());
  EXPECT_TRUE(GetEvent(*stub_, "evt_token", "any-token").ok());
}

TEST_F(TokenTest, ClientAndAdminRoles) {
  StartWith({{"PAYMENTO_BRIDGE_GRPC_TOKEN", kClientToken},
             {"PAYMENTO_BRIDGE_ADMIN_TOKEN", kAdminToken}});
  EXPECT_TRUE(absl::StrContains(bridge_->Output(), "grpc_client_token=set"));

  EXPECT_EQ(GetEvent(*stub_, "evt_token").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(GetEvent(*stub_, "evt_token", "wrong").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(GetEvent(*stub_, "evt_token", kClientToken).ok());
  EXPECT_TRUE(GetEvent(*stub_, "evt_token", kAdminToken).ok());

  EXPECT_EQ(ListSubscriptions(*stub_, "").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(ListSubscriptions(*stub_, "wrong").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(ListSubscriptions(*stub_, kClientToken).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(ListSubscriptions(*stub_, kAdminToken).ok());
  EXPECT_EQ(ListQuarantined(*stub_, "").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(ListQuarantined(*stub_, kClientToken).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(ListQuarantined(*stub_, kAdminToken).ok());

  grpc::ClientContext context;
  v1::SubscribeRequest request;
  auto stream = stub_->Subscribe(&context, request);
  v1::SubscribeResponse response;
  EXPECT_FALSE(stream->Read(&response));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(TokenTest, HealthAndReflectionStayOpen) {
  StartWith({{"PAYMENTO_BRIDGE_GRPC_TOKEN", kClientToken},
             {"PAYMENTO_BRIDGE_ADMIN_TOKEN", kAdminToken}});
  auto channel = PlaintextChannel(*bridge_);
  EXPECT_EQ(CheckHealth(channel).value_or(ServingStatus::UNKNOWN),
            ServingStatus::SERVING);
  EXPECT_TRUE(ListServicesByReflection(channel).ok());
}

TEST_F(TokenTest, ClientTokenAdministersWithoutAdminToken) {
  StartWith({{"PAYMENTO_BRIDGE_GRPC_TOKEN", kClientToken}});
  EXPECT_EQ(ListSubscriptions(*stub_, "").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(ListSubscriptions(*stub_, kClientToken).ok());
}

TEST_F(TokenTest, TokenFromFileWithLineEnding) {
  std::string file = MakeTempDirectory() + "/admin-token";
  WriteTextFile(file, std::string(kAdminToken) + "\r\n");
  StartWith({{"PAYMENTO_BRIDGE_GRPC_TOKEN", kClientToken},
             {"PAYMENTO_BRIDGE_ADMIN_TOKEN_FILE", file}});
  EXPECT_TRUE(ListSubscriptions(*stub_, kAdminToken).ok());
}

TEST_F(TokenTest, CommandLineClientSendsToken) {
  StartWith({{"PAYMENTO_BRIDGE_GRPC_TOKEN", kClientToken}});
  std::string output;
  int code = RunBridgeCommand(
      {"get", "evt_token", "--grpc-address", bridge_->grpc_address()},
      {{"PAYMENTO_BRIDGE_GRPC_TOKEN", kClientToken}}, &output);
  EXPECT_EQ(code, 0) << output;
  EXPECT_TRUE(absl::StrContains(output, "evt_token")) << output;

  code = RunBridgeCommand({"list", "--grpc-address", bridge_->grpc_address()},
                          {}, &output);
  EXPECT_EQ(code, 1) << output;
  EXPECT_TRUE(absl::StrContains(output, "missing bearer token")) << output;
}

}  // namespace
}  // namespace paymento::bridge::test_support
