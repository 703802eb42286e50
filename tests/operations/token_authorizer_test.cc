#include <grpcpp/grpcpp.h>
#include <grpcpp/test/server_context_test_spouse.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "src/grpc_service/auth.h"

namespace paymento::bridge {
namespace {

constexpr char kClient[] = "client-secret-token";
constexpr char kAdmin[] = "admin-secret-token";

absl::StatusCode Code(const TokenAuthorizer& authorizer,
                      std::vector<absl::string_view> values, Role role) {
  return authorizer.AuthorizeValues(values, role).code();
}

TEST(TokenAuthorizerTest, WithoutTokensAllowsEverything) {
  TokenAuthorizer authorizer("", "");
  EXPECT_EQ(Code(authorizer, {}, Role::kClient), absl::StatusCode::kOk);
  EXPECT_EQ(Code(authorizer, {}, Role::kAdmin), absl::StatusCode::kOk);
  EXPECT_EQ(Code(authorizer, {"Bearer anything"}, Role::kAdmin),
            absl::StatusCode::kOk);
}

TEST(TokenAuthorizerTest, ClientRole) {
  TokenAuthorizer authorizer(kClient, kAdmin);
  EXPECT_EQ(Code(authorizer, {}, Role::kClient),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Code(authorizer, {"Bearer wrong"}, Role::kClient),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Code(authorizer, {"Bearer client-secret-token"}, Role::kClient),
            absl::StatusCode::kOk);
  EXPECT_EQ(Code(authorizer, {"Bearer admin-secret-token"}, Role::kClient),
            absl::StatusCode::kOk);
}

TEST(TokenAuthorizerTest, AdminRole) {
  TokenAuthorizer authorizer(kClient, kAdmin);
  EXPECT_EQ(Code(authorizer, {}, Role::kAdmin),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Code(authorizer, {"Bearer wrong"}, Role::kAdmin),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Code(authorizer, {"Bearer client-secret-token"}, Role::kAdmin),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Code(authorizer, {"Bearer admin-secret-token"}, Role::kAdmin),
            absl::StatusCode::kOk);
}

TEST(TokenAuthorizerTest, AdminRoleFallsBackToClientToken) {
  TokenAuthorizer authorizer(kClient, "");
  EXPECT_EQ(Code(authorizer, {}, Role::kAdmin),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Code(authorizer, {"Bearer client-secret-token"}, Role::kAdmin),
            absl::StatusCode::kOk);
}

TEST(TokenAuthorizerTest, OnlyAdminTokenLeavesClientRoleOpen) {
  TokenAuthorizer authorizer("", kAdmin);
  EXPECT_EQ(Code(authorizer, {}, Role::kClient), absl::StatusCode::kOk);
  EXPECT_EQ(Code(authorizer, {}, Role::kAdmin),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Code(authorizer, {"Bearer admin-secret-token"}, Role::kAdmin),
            absl::StatusCode::kOk);
}

TEST(TokenAuthorizerTest, BearerSchemeIgnoresCase) {
  TokenAuthorizer authorizer(kClient, kAdmin);
  EXPECT_EQ(Code(authorizer, {"bearer client-secret-token"}, Role::kClient),
            absl::StatusCode::kOk);
  EXPECT_EQ(Code(authorizer, {"BEARER  client-secret-token "}, Role::kClient),
            absl::StatusCode::kOk);
}

TEST(TokenAuthorizerTest, RejectsMalformedValues) {
  TokenAuthorizer authorizer(kClient, kAdmin);
  for (absl::string_view value :
       {"client-secret-token", "Basic client-secret-token", "Bearer", "Bearer ",
        "Bearer client-secret-tokenX", "Bearer client-secret-toke",
        "Bearerclient-secret-token"}) {
    EXPECT_EQ(Code(authorizer, {value}, Role::kClient),
              absl::StatusCode::kUnauthenticated)
        << value;
  }
}

TEST(TokenAuthorizerTest, StrongestOfSeveralValuesCounts) {
  TokenAuthorizer authorizer(kClient, kAdmin);
  EXPECT_EQ(Code(authorizer, {"Bearer wrong", "Bearer admin-secret-token"},
                 Role::kAdmin),
            absl::StatusCode::kOk);
  EXPECT_EQ(Code(authorizer, {"Bearer client-secret-token", "Bearer wrong"},
                 Role::kAdmin),
            absl::StatusCode::kPermissionDenied);
}

TEST(TokenAuthorizerTest, ReadsAuthorizationMetadata) {
  TokenAuthorizer authorizer(kClient, kAdmin);
  grpc::ServerContext without;
  EXPECT_EQ(authorizer.Authorize(without, Role::kClient).code(),
            absl::StatusCode::kUnauthenticated);

  grpc::ServerContext client;
  grpc::testing::ServerContextTestSpouse client_spouse(&client);
  client_spouse.AddClientMetadata("authorization",
                                  "Bearer client-secret-token");
  EXPECT_TRUE(authorizer.Authorize(client, Role::kClient).ok());
  EXPECT_EQ(authorizer.Authorize(client, Role::kAdmin).code(),
            absl::StatusCode::kPermissionDenied);

  grpc::ServerContext admin;
  grpc::testing::ServerContextTestSpouse admin_spouse(&admin);
  admin_spouse.AddClientMetadata("authorization", "Bearer admin-secret-token");
  EXPECT_TRUE(authorizer.Authorize(admin, Role::kAdmin).ok());
}

}  // namespace
}  // namespace paymento::bridge
