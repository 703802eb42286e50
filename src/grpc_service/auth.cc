#include "src/grpc_service/auth.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace paymento::bridge {
namespace {

constexpr absl::string_view kBearer = "bearer ";

std::string Digest(absl::string_view token) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(),
         digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof(digest));
}

std::optional<std::string> DigestIfSet(absl::string_view token) {
  if (token.empty()) return std::nullopt;
  return Digest(token);
}

// Both digests are SHA-256, so the sizes differ only for an unset token.
bool SameDigest(const std::string& presented,
                const std::optional<std::string>& configured) {
  return configured.has_value() && configured->size() == presented.size() &&
         CRYPTO_memcmp(presented.data(), configured->data(),
                       presented.size()) == 0;
}

}  // namespace

TokenAuthorizer::TokenAuthorizer(absl::string_view client_token,
                                 absl::string_view admin_token)
    : client_digest_(DigestIfSet(client_token)),
      admin_digest_(DigestIfSet(admin_token)) {}

TokenAuthorizer::Grant TokenAuthorizer::GrantOf(absl::string_view value) const {
  value = absl::StripAsciiWhitespace(value);
  if (value.size() <= kBearer.size() ||
      !absl::StartsWithIgnoreCase(value, kBearer)) {
    return Grant::kNone;
  }
  absl::string_view token =
      absl::StripLeadingAsciiWhitespace(value.substr(kBearer.size()));
  std::string presented = Digest(token);
  // Both comparisons always run, so the time taken does not reveal which
  // token matched.
  bool admin = SameDigest(presented, admin_digest_);
  bool client = SameDigest(presented, client_digest_);
  if (admin) return Grant::kAdmin;
  if (client) return Grant::kClient;
  return Grant::kNone;
}

absl::Status TokenAuthorizer::AuthorizeValues(
    const std::vector<absl::string_view>& values, Role role) const {
  Grant required = Grant::kNone;
  if (role == Role::kClient && client_digest_.has_value()) {
    required = Grant::kClient;
  } else if (role == Role::kAdmin) {
    if (admin_digest_.has_value()) {
      required = Grant::kAdmin;
    } else if (client_digest_.has_value()) {
      required = Grant::kClient;
    }
  }
  if (required == Grant::kNone) return absl::OkStatus();

  Grant best = Grant::kNone;
  for (absl::string_view value : values) {
    Grant grant = GrantOf(value);
    if (static_cast<int>(grant) > static_cast<int>(best)) best = grant;
  }
  if (static_cast<int>(best) >= static_cast<int>(required)) {
    return absl::OkStatus();
  }
  if (best == Grant::kClient) {
    return absl::PermissionDeniedError(
        "this method requires the admin token: send \"authorization: Bearer "
        "<admin token>\"");
  }
  if (values.empty()) {
    return absl::UnauthenticatedError(
        "missing bearer token: send the metadata \"authorization: Bearer "
        "<token>\"");
  }
  return absl::UnauthenticatedError(
      "invalid bearer token: check the token the client sends");
}

absl::Status TokenAuthorizer::Authorize(const grpc::ServerContextBase& context,
                                        Role role) const {
  std::vector<absl::string_view> values;
  auto [begin, end] = context.client_metadata().equal_range("authorization");
  for (auto it = begin; it != end; ++it) {
    values.emplace_back(it->second.data(), it->second.size());
  }
  return AuthorizeValues(values, role);
}

}  // namespace paymento::bridge
