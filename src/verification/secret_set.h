// The shared secrets that sign Paymento requests, and the parsers for the
// two ways they are configured: a comma-separated environment variable and a
// mounted file with one secret per line.
//
// Several secrets are held at once so that a secret can be rotated without
// rejecting requests signed with the old one. Each secret is identified by
// its fingerprint, the first 8 lowercase hex digits of the SHA-256 of its
// bytes. Events record the fingerprint because it stays the same when other
// secrets are added to or removed from the list, and it does not reveal the
// secret.
//
// Paymento uses the secret as its UTF-8 bytes with no decoding and no
// trimming, so the parsers keep spaces and tabs. They strip only CR and LF,
// which a file or a shell adds at line ends.
#ifndef PAYMENTO_BRIDGE_SRC_VERIFICATION_SECRET_SET_H_
#define PAYMENTO_BRIDGE_SRC_VERIFICATION_SECRET_SET_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace paymento::bridge {

struct Secret {
  std::string value;
  // First 8 lowercase hex digits of SHA-256(value).
  std::string fingerprint;
};

// An immutable list of secrets. Empty values are dropped, because anybody
// can compute an HMAC under an empty key, and so are repeated values. The
// remaining secrets keep their order.
class SecretSet {
 public:
  explicit SecretSet(std::vector<std::string> values);

  const std::vector<Secret>& secrets() const { return secrets_; }
  size_t size() const { return secrets_.size(); }
  bool empty() const { return secrets_.empty(); }

  // Fingerprints of all secrets, comma-separated, for log lines.
  std::string FingerprintList() const;

 private:
  std::vector<Secret> secrets_;
};

// Computes the fingerprint of a secret: the first 8 lowercase hex digits of
// SHA-256(secret).
std::string SecretFingerprint(absl::string_view secret);

// Splits the value of a secret variable such as PAYMENTO_WEBHOOK_SECRET on
// ','. CR and LF are stripped from both ends of each entry, other bytes are
// kept as they are, and entries that are empty or only whitespace are
// dropped.
std::vector<std::string> SplitSecretList(absl::string_view comma_separated);

// Splits the contents of a secret file into one secret per line. CR and LF
// are stripped, and lines that are empty or only whitespace are skipped.
// Commas are part of the secret.
std::vector<std::string> SplitSecretFile(absl::string_view contents);

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_VERIFICATION_SECRET_SET_H_
