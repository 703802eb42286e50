#include "src/grpc_service/page_token.h"

#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace paymento::bridge {

uint64_t QueryFingerprint(absl::string_view text) {
  uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return hash;
}

std::string EncodePageToken(int64_t after_sequence, uint64_t fingerprint) {
  return absl::WebSafeBase64Escape(
      absl::StrCat("v1:", after_sequence, ":", fingerprint));
}

absl::StatusOr<int64_t> DecodePageToken(absl::string_view token,
                                        uint64_t fingerprint) {
  std::string decoded;
  std::vector<std::string> parts;
  if (absl::WebSafeBase64Unescape(token, &decoded)) {
    parts = absl::StrSplit(decoded, ':');
  }
  int64_t sequence = 0;
  uint64_t token_fingerprint = 0;
  if (parts.size() != 3 || parts[0] != "v1" ||
      !absl::SimpleAtoi(parts[1], &sequence) || sequence < 0 ||
      !absl::SimpleAtoi(parts[2], &token_fingerprint)) {
    return absl::InvalidArgumentError(
        "invalid page_token: pass next_page_token from the previous response "
        "unchanged");
  }
  if (token_fingerprint != fingerprint) {
    return absl::InvalidArgumentError(
        "page_token belongs to a query with other filters: repeat the same "
        "filters, or start again without a token");
  }
  return sequence;
}

}  // namespace paymento::bridge
