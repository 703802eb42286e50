#include "src/verification/secret_set.h"

#include <openssl/sha.h>

#include <cstdint>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace paymento::bridge {
namespace {

constexpr size_t kFingerprintHexDigits = 8;

absl::string_view StripLineBreaks(absl::string_view text) {
  while (!text.empty() && (text.front() == '\r' || text.front() == '\n')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == '\r' || text.back() == '\n')) {
    text.remove_suffix(1);
  }
  return text;
}

std::vector<std::string> SplitAndStrip(absl::string_view text, char separator) {
  std::vector<std::string> values;
  for (absl::string_view entry : absl::StrSplit(text, separator)) {
    entry = StripLineBreaks(entry);
    // An entry of whitespace only is most likely a typing mistake, and a
    // secret that easy to guess would let anyone sign requests.
    if (!absl::StripAsciiWhitespace(entry).empty()) values.emplace_back(entry);
  }
  return values;
}

}  // namespace

SecretSet::SecretSet(std::vector<std::string> values) {
  absl::flat_hash_set<std::string> seen;
  for (std::string& value : values) {
    if (value.empty() || !seen.insert(value).second) continue;
    std::string fingerprint = SecretFingerprint(value);
    secrets_.push_back(Secret{std::move(value), std::move(fingerprint)});
  }
}

std::string SecretSet::FingerprintList() const {
  return absl::StrJoin(secrets_, ",", [](std::string* out, const Secret& s) {
    out->append(s.fingerprint);
  });
}

std::string SecretFingerprint(absl::string_view secret) {
  uint8_t digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const uint8_t*>(secret.data()), secret.size(),
         digest);
  std::string hex = absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
  return hex.substr(0, kFingerprintHexDigits);
}

std::vector<std::string> SplitSecretList(absl::string_view comma_separated) {
  return SplitAndStrip(comma_separated, ',');
}

std::vector<std::string> SplitSecretFile(absl::string_view contents) {
  return SplitAndStrip(contents, '\n');
}

}  // namespace paymento::bridge
