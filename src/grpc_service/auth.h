// TokenAuthorizer: bearer-token authorization of EventService calls.
//
// Two tokens may be configured. The client token allows the client role
// (Subscribe, Acknowledge, ModifyAckDeadline, GetEvent, ListEvents); the
// admin token allows both roles (also Seek, subscription and quarantine
// administration). A call sends its token as the metadata
// "authorization: Bearer <token>". Rules per role:
// - client role: open when no client token is configured; otherwise the
//   client or the admin token is required.
// - admin role: requires the admin token when one is configured. Without
//   an admin token it requires the client token, so that administration is
//   never more open than reading events. Open when no token is configured.
// A call without a valid token gets UNAUTHENTICATED; a call with the client
// token on an admin method gets PERMISSION_DENIED.
//
// Tokens are kept only as SHA-256 digests and compared with CRYPTO_memcmp,
// so the comparison takes the same time whatever the presented token.
//
// Usage, first line of a handler:
//   absl::Status allowed = authorizer.Authorize(*context, Role::kAdmin);
//   if (!allowed.ok()) return FinishUnary(context, allowed);
#ifndef PAYMENTO_BRIDGE_SRC_GRPC_SERVICE_AUTH_H_
#define PAYMENTO_BRIDGE_SRC_GRPC_SERVICE_AUTH_H_

#include <grpcpp/server_context.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace paymento::bridge {

enum class Role { kClient, kAdmin };

class TokenAuthorizer {
 public:
  // An empty token is not configured. With neither, every call is allowed.
  TokenAuthorizer(absl::string_view client_token,
                  absl::string_view admin_token);

  // Checks the call's authorization metadata against `role`. Takes any
  // server context, the callback API's CallbackServerContext included.
  absl::Status Authorize(const grpc::ServerContextBase& context,
                         Role role) const;

  // Checks the values of the authorization metadata, as Authorize does.
  // Each value may be "Bearer <token>", with the scheme matched without
  // regard to case. The strongest valid token among them counts.
  absl::Status AuthorizeValues(const std::vector<absl::string_view>& values,
                               Role role) const;

  bool client_token_configured() const { return client_digest_.has_value(); }
  bool admin_token_configured() const { return admin_digest_.has_value(); }

 private:
  enum class Grant { kNone, kClient, kAdmin };

  Grant GrantOf(absl::string_view value) const;

  std::optional<std::string> client_digest_;
  std::optional<std::string> admin_digest_;
};

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_GRPC_SERVICE_AUTH_H_
