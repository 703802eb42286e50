#include "src/config/api_tokens.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace paymento::bridge {
namespace {

std::optional<std::string> NonEmpty(const EnvironmentLookup& environment,
                                    const std::string& name) {
  std::optional<std::string> value = environment(name);
  if (!value.has_value() || value->empty()) return std::nullopt;
  return value;
}

absl::StatusOr<std::string> ReadTokenFile(const std::string& variable,
                                          const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot read ", variable, " file ", path, ": ", std::strerror(errno)));
  }
  std::stringstream contents;
  contents << file.rdbuf();
  std::string token = contents.str();
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) {
    token.pop_back();
  }
  if (token.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        variable, " file ", path, " is empty: write the token on one line"));
  }
  return token;
}

// gRPC sends metadata values as visible ASCII, and "Bearer <token>" would
// be ambiguous with spaces, so a token is restricted to visible characters.
absl::Status CheckTokenCharacters(const std::string& source,
                                  const std::string& token) {
  for (char c : token) {
    if (c < 0x21 || c > 0x7e) {
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid token in ", source,
          ": use visible ASCII characters only, without spaces or line "
          "breaks inside"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> LoadToken(const EnvironmentLookup& environment,
                                      absl::string_view variable) {
  std::string name(variable);
  std::string file_name = absl::StrCat(variable, "_FILE");
  std::optional<std::string> value = NonEmpty(environment, name);
  std::optional<std::string> path = NonEmpty(environment, file_name);
  if (value.has_value() && path.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "both ", name, " and ", file_name, " are set: set only one"));
  }
  if (!value.has_value() && !path.has_value()) return std::string();

  std::string token;
  std::string source = name;
  if (value.has_value()) {
    token = *value;
  } else {
    absl::StatusOr<std::string> read = ReadTokenFile(file_name, *path);
    if (!read.ok()) return read.status();
    token = *std::move(read);
    source = absl::StrCat(file_name, " file ", *path);
  }
  absl::Status characters = CheckTokenCharacters(source, token);
  if (!characters.ok()) return characters;
  return token;
}

absl::StatusOr<ApiTokens> LoadApiTokens(const EnvironmentLookup& environment) {
  ApiTokens tokens;
  absl::StatusOr<std::string> client =
      LoadToken(environment, kClientTokenVariable);
  if (!client.ok()) return client.status();
  tokens.client = *std::move(client);
  absl::StatusOr<std::string> admin =
      LoadToken(environment, kAdminTokenVariable);
  if (!admin.ok()) return admin.status();
  tokens.admin = *std::move(admin);
  if (!tokens.client.empty() && tokens.client == tokens.admin) {
    return absl::InvalidArgumentError(absl::StrCat(
        kAdminTokenVariable, " must differ from ", kClientTokenVariable,
        ": with equal tokens every client could administer subscriptions"));
  }
  return tokens;
}

}  // namespace paymento::bridge
