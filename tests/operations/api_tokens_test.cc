#include "src/config/api_tokens.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>

#include "absl/strings/match.h"
#include "tests/operations/operations_support.h"

namespace paymento::bridge {
namespace {

using test_support::MakeTempDirectory;
using test_support::WriteTextFile;

EnvironmentLookup Environment(std::map<std::string, std::string> values) {
  return [values = std::move(values)](
             const std::string& name) -> std::optional<std::string> {
    auto found = values.find(name);
    if (found == values.end()) return std::nullopt;
    return found->second;
  };
}

TEST(ApiTokensTest, NoneConfigured) {
  absl::StatusOr<ApiTokens> tokens = LoadApiTokens(Environment({}));
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  EXPECT_EQ(tokens->client, "");
  EXPECT_EQ(tokens->admin, "");
}

TEST(ApiTokensTest, FromVariables) {
  absl::StatusOr<ApiTokens> tokens =
      LoadApiTokens(Environment({{"PAYMENTO_BRIDGE_GRPC_TOKEN", "c1"},
                                 {"PAYMENTO_BRIDGE_ADMIN_TOKEN", "a1"}}));
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  EXPECT_EQ(tokens->client, "c1");
  EXPECT_EQ(tokens->admin, "a1");
}

TEST(ApiTokensTest, EmptyVariableCountsAsUnset) {
  absl::StatusOr<std::string> token = LoadToken(
      Environment({{"PAYMENTO_BRIDGE_GRPC_TOKEN", ""}}), kClientTokenVariable);
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(*token, "");
}

TEST(ApiTokensTest, FileLineEndingsAreRemoved) {
  std::string file = MakeTempDirectory() + "/token";
  WriteTextFile(file, "from-file\r\n\n");
  absl::StatusOr<std::string> token =
      LoadToken(Environment({{"PAYMENTO_BRIDGE_GRPC_TOKEN_FILE", file}}),
                kClientTokenVariable);
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(*token, "from-file");
}

TEST(ApiTokensTest, Errors) {
  std::string directory = MakeTempDirectory();
  std::string empty = directory + "/empty";
  WriteTextFile(empty, "\n");
  std::string two_lines = directory + "/two-lines";
  WriteTextFile(two_lines, "first\nsecond\n");
  struct Case {
    std::map<std::string, std::string> environment;
    absl::StatusCode code;
    std::string fragment;
  };
  const Case cases[] = {
      {{{"PAYMENTO_BRIDGE_GRPC_TOKEN", "x"},
        {"PAYMENTO_BRIDGE_GRPC_TOKEN_FILE", empty}},
       absl::StatusCode::kInvalidArgument,
       "both PAYMENTO_BRIDGE_GRPC_TOKEN and PAYMENTO_BRIDGE_GRPC_TOKEN_FILE"},
      {{{"PAYMENTO_BRIDGE_GRPC_TOKEN_FILE", directory + "/absent"}},
       absl::StatusCode::kFailedPrecondition,
       "cannot read PAYMENTO_BRIDGE_GRPC_TOKEN_FILE file"},
      {{{"PAYMENTO_BRIDGE_GRPC_TOKEN_FILE", empty}},
       absl::StatusCode::kFailedPrecondition,
       "is empty"},
      {{{"PAYMENTO_BRIDGE_GRPC_TOKEN_FILE", two_lines}},
       absl::StatusCode::kInvalidArgument,
       "visible ASCII"},
      {{{"PAYMENTO_BRIDGE_GRPC_TOKEN", "has space"}},
       absl::StatusCode::kInvalidArgument,
       "visible ASCII"},
      {{{"PAYMENTO_BRIDGE_GRPC_TOKEN", "same"},
        {"PAYMENTO_BRIDGE_ADMIN_TOKEN", "same"}},
       absl::StatusCode::kInvalidArgument,
       "must differ"},
  };
  for (const Case& test : cases) {
    absl::StatusOr<ApiTokens> tokens =
        LoadApiTokens(Environment(test.environment));
    EXPECT_EQ(tokens.status().code(), test.code) << test.fragment;
    EXPECT_TRUE(absl::StrContains(tokens.status().message(), test.fragment))
        << tokens.status();
  }
}

}  // namespace
}  // namespace paymento::bridge
