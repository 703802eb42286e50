// The bearer tokens of the gRPC API, read once at start-up from the
// environment, never from flags:
//   PAYMENTO_BRIDGE_GRPC_TOKEN or PAYMENTO_BRIDGE_GRPC_TOKEN_FILE    client
//   PAYMENTO_BRIDGE_ADMIN_TOKEN or PAYMENTO_BRIDGE_ADMIN_TOKEN_FILE  admin
// A file contains the token on one line; trailing CR and LF are removed. A
// variable set to the empty string counts as unset. Changing a token takes
// a restart.
#ifndef PAYMENTO_BRIDGE_SRC_CONFIG_API_TOKENS_H_
#define PAYMENTO_BRIDGE_SRC_CONFIG_API_TOKENS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "src/config/flag_parser.h"

namespace paymento::bridge {

inline constexpr char kClientTokenVariable[] = "PAYMENTO_BRIDGE_GRPC_TOKEN";
inline constexpr char kAdminTokenVariable[] = "PAYMENTO_BRIDGE_ADMIN_TOKEN";

struct ApiTokens {
  // Empty when not configured.
  std::string client;
  std::string admin;
};

// Reads `variable` or `variable`_FILE. Returns an empty string when neither
// is set. Fails with INVALID_ARGUMENT when both are set or the token
// contains a space or a control character, and with FAILED_PRECONDITION
// when the file cannot be read or is empty.
absl::StatusOr<std::string> LoadToken(const EnvironmentLookup& environment,
                                      absl::string_view variable);

// Reads both tokens. Fails as LoadToken does, and with INVALID_ARGUMENT when
// the two are equal, which would make every client an administrator.
absl::StatusOr<ApiTokens> LoadApiTokens(const EnvironmentLookup& environment);

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_CONFIG_API_TOKENS_H_
