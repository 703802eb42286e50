#include "src/store/postgres_store_options.h"

#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace paymento::bridge {
namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes %XX escapes as libpq does; a malformed escape stays as it is.
std::string PercentDecode(absl::string_view text) {
  std::string decoded;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && HexDigit(text[i + 1]) >= 0 &&
        HexDigit(text[i + 2]) >= 0) {
      decoded.push_back(static_cast<char>(HexDigit(text[i + 1]) * 16 +
                                          HexDigit(text[i + 2])));
      i += 2;
    } else {
      decoded.push_back(text[i]);
    }
  }
  return decoded;
}

// The password of "scheme://user:password@host...", decoded.
std::string UserInfoPassword(absl::string_view url) {
  size_t scheme_end = url.find("://");
  if (scheme_end == absl::string_view::npos) return "";
  size_t start = scheme_end + 3;
  size_t end = url.find_first_of("/?#", start);
  absl::string_view authority =
      url.substr(start, end == absl::string_view::npos ? absl::string_view::npos
                                                       : end - start);
  size_t at = authority.rfind('@');
  if (at == absl::string_view::npos) return "";
  absl::string_view user_info = authority.substr(0, at);
  size_t colon = user_info.find(':');
  if (colon == absl::string_view::npos) return "";
  return PercentDecode(user_info.substr(colon + 1));
}

absl::Status ParsePositive(absl::string_view name, absl::string_view value,
                           int64_t* parsed) {
  if (!absl::SimpleAtoi(value, parsed) || *parsed <= 0 ||
      *parsed > 1000000000) {
    return absl::InvalidArgumentError(absl::StrCat(
        "store URL parameter ", name, "=", value,
        " is not a positive integer: give a count such as ", name, "=4"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<PostgresStoreUrl> ParsePostgresStoreUrl(
    absl::string_view url, PostgresStoreOptions defaults) {
  PostgresStoreUrl parsed;
  parsed.options = defaults;
  parsed.password = UserInfoPassword(url);

  size_t query_start = url.find('?');
  if (query_start == absl::string_view::npos) {
    parsed.libpq_url = std::string(url);
    return parsed;
  }
  std::vector<absl::string_view> libpq_parameters;
  for (absl::string_view parameter :
       absl::StrSplit(url.substr(query_start + 1), '&', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> pair =
        absl::StrSplit(parameter, absl::MaxSplits('=', 1));
    absl::string_view name = pair.first;
    int64_t value = 0;
    if (name == "read_connections") {
      absl::Status valid = ParsePositive(name, pair.second, &value);
      if (!valid.ok()) return valid;
      parsed.options.read_connections = static_cast<int>(value);
    } else if (name == "max_batch") {
      absl::Status valid = ParsePositive(name, pair.second, &value);
      if (!valid.ok()) return valid;
      parsed.options.max_batch = static_cast<size_t>(value);
    } else if (name == "max_pending_appends") {
      absl::Status valid = ParsePositive(name, pair.second, &value);
      if (!valid.ok()) return valid;
      parsed.options.max_pending_appends = static_cast<size_t>(value);
    } else {
      if (name == "password") parsed.password = PercentDecode(pair.second);
      libpq_parameters.push_back(parameter);
    }
  }
  parsed.libpq_url = std::string(url.substr(0, query_start));
  if (!libpq_parameters.empty()) {
    absl::StrAppend(&parsed.libpq_url, "?",
                    absl::StrJoin(libpq_parameters, "&"));
  }
  return parsed;
}

}  // namespace paymento::bridge
