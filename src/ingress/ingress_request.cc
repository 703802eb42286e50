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

namespace {

absl::string_view StripSpacesAndTabs(absl::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> ParseHeaderBlock(
    absl::string_view head) {
  std::vector<std::pair<std::string, std::string>> headers;
  bool request_line = true;
  for (;;) {
    size_t end = head.find('\n');
    if (end == absl::string_view::npos) break;
    absl::string_view line = head.substr(0, end + 1);
    head.remove_prefix(end + 1);
    if (request_line) {
      request_line = false;
      continue;
    }
    if (!absl::EndsWith(line, "\r\n")) continue;
    line.remove_suffix(2);
    if (line.empty()) break;
    size_t colon = line.find(':');
    if (colon == absl::string_view::npos) continue;
    headers.emplace_back(std::string(line.substr(0, colon)),
                         std::string(StripSpacesAndTabs(line.substr(colon + 1))));
  }
  return headers;
}

std::string LoggableValue(absl::string_view value) {
  // Masked whole first, so that a cut cannot leave an address's local part
  // in front of an '@' that falls past it.
  if (!absl::StrContains(value, '@')) {
    return logging::Shorten(value, kMaxLoggedValueBytes, value.size());
  }
  return logging::Shorten(logging::MaskEmail(value), kMaxLoggedValueBytes,
                          value.size());
}

}  // namespace paymento::bridge
