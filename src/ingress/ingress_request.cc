#include "src/ingress/ingress_request.h"

#include "absl/strings/match.h"
#include "nlohmann/json.hpp"
#include "src/logging/log.h"

namespace paymento::bridge {

std::vector<std::string> IngressRequest::HeaderValues(
    absl::string_view name) const {
  std::vector<std::string> values;
  for (const auto& [key, value] : headers) {
    if (absl::EqualsIgnoreCase(key, name)) values.push_back(value);
  }
  return values;
}

bool IngressRequest::FirstHeader(absl::string_view name,
                                 std::string* value) const {
  for (const auto& [key, found] : headers) {
    if (absl::EqualsIgnoreCase(key, name)) {
      *value = found;
      return true;
    }
  }
  return false;
}

IngressResponse ErrorResponse(int status, absl::string_view outcome,
                              absl::string_view message) {
  IngressResponse response;
  response.status = status;
  response.outcome = std::string(outcome);
  response.body = nlohmann::json{{"error", std::string(message)}}.dump();
  return response;
}

std::string LoggableValue(absl::string_view value) {
  if (!absl::StrContains(value, '@')) return std::string(value);
  return logging::MaskEmail(value);
}

}  // namespace paymento::bridge
