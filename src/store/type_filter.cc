#include "src/store/type_filter.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace paymento::bridge {
namespace {

bool IsPrintableAscii(absl::string_view text) {
  for (char c : text) {
    if (c <= ' ' || c > '~') return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<TypeFilter> TypeFilter::Create(
    const std::vector<std::string>& patterns) {
  TypeFilter filter;
  filter.match_all_ = patterns.empty();
  for (const std::string& pattern : patterns) {
    if (pattern.empty() || !IsPrintableAscii(pattern)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid event type pattern \"", pattern,
          "\": use a type such as payment_link.paid or a prefix such as "
          "subscription.*"));
    }
    if (pattern == "*") {
      filter.match_all_ = true;
      continue;
    }
    size_t star = pattern.find('*');
    if (star == std::string::npos) {
      filter.exact_.insert(pattern);
      continue;
    }
    if (star != pattern.size() - 1 || !absl::EndsWith(pattern, ".*")) {
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid event type pattern \"", pattern,
          "\": \"*\" may only end a prefix, as in subscription.*"));
    }
    filter.prefixes_.insert(pattern.substr(0, pattern.size() - 1));
  }
  if (filter.match_all_) {
    filter.exact_.clear();
    filter.prefixes_.clear();
  }
  return filter;
}

bool TypeFilter::Matches(absl::string_view type) const {
  if (match_all_) return true;
  if (exact_.count(std::string(type)) > 0) return true;
  for (const std::string& prefix : prefixes_) {
    if (absl::StartsWith(type, prefix)) return true;
  }
  return false;
}

std::vector<std::string> TypeFilter::Patterns() const {
  if (match_all_) return {};
  std::vector<std::string> patterns(exact_.begin(), exact_.end());
  for (const std::string& prefix : prefixes_) {
    patterns.push_back(prefix + "*");
  }
  return patterns;
}

}  // namespace paymento::bridge
