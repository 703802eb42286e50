#include "src/verification/signature_verifier.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <array>
#include <cstdint>
#include <memory>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace paymento::bridge {
namespace {

constexpr size_t kMacBytes = 32;
using Mac = std::array<uint8_t, kMacBytes>;

constexpr absl::string_view kSha256Prefix = "sha256=";

// OpenSSL's EVP_MAC_init treats a null key as "keep the previous key", and a
// string_view of an empty string may hold a null pointer, so empty inputs
// point here.
const uint8_t kEmptyBytes[1] = {0};

const uint8_t* BytesOf(absl::string_view text) {
  return text.empty() ? kEmptyBytes
                      : reinterpret_cast<const uint8_t*>(text.data());
}

struct MacContextDeleter {
  void operator()(EVP_MAC_CTX* context) const { EVP_MAC_CTX_free(context); }
};
using MacContext = std::unique_ptr<EVP_MAC_CTX, MacContextDeleter>;

// Returns this thread's HMAC context with SHA-256 set, or null if OpenSSL
// cannot provide one. OpenSSL 3's one-shot HMAC() fetches the algorithm by
// name on every call, which cost more than the MAC of a 583-byte body, so
// the algorithm is fetched once and each call only sets the key.
EVP_MAC_CTX* ThreadMacContext() {
  static EVP_MAC* const hmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  thread_local MacContext context = []() -> MacContext {
    if (hmac == nullptr) return nullptr;
    MacContext created(EVP_MAC_CTX_new(hmac));
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end()};
    if (created != nullptr &&
        EVP_MAC_CTX_set_params(created.get(), params) != 1) {
      created.reset();
    }
    return created;
  }();
  return context.get();
}

// Computes HMAC-SHA256(key, data). Returns false only if OpenSSL fails.
bool ComputeMac(absl::string_view key, absl::string_view data, Mac* mac) {
  EVP_MAC_CTX* context = ThreadMacContext();
  if (context == nullptr) return false;
  size_t length = 0;
  return EVP_MAC_init(context, BytesOf(key), key.size(), nullptr) == 1 &&
         EVP_MAC_update(context, BytesOf(data), data.size()) == 1 &&
         EVP_MAC_final(context, mac->data(), &length, mac->size()) == 1 &&
         length == kMacBytes;
}

int HexDigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes 64 hex digits in either case into a MAC. Any other text cannot be
// a signature, so the caller treats it as a non-match. The branches depend
// only on the candidate, which the sender chose, never on a secret.
bool DecodeMacHex(absl::string_view hex, Mac* mac) {
  if (hex.size() != 2 * kMacBytes) return false;
  for (size_t i = 0; i < kMacBytes; ++i) {
    int high = HexDigitValue(hex[2 * i]);
    int low = HexDigitValue(hex[2 * i + 1]);
    if (high < 0 || low < 0) return false;
    (*mac)[i] = static_cast<uint8_t>(high << 4 | low);
  }
  return true;
}

std::vector<Mac> DecodeCandidates(const std::vector<std::string>& values) {
  std::vector<Mac> macs;
  for (const std::string& value : values) {
    Mac mac;
    if (DecodeMacHex(value, &mac)) macs.push_back(mac);
  }
  return macs;
}

// Returns the first secret whose HMAC of `message` equals any candidate, or
// nullptr. Every pair is compared with CRYPTO_memcmp and the loops never
// stop early, so the time taken does not depend on which pair matched.
const Secret* MatchSecret(const SecretSet& secrets, absl::string_view message,
                          const std::vector<Mac>& candidates) {
  const Secret* matched = nullptr;
  for (const Secret& secret : secrets.secrets()) {
    Mac expected;
    if (!ComputeMac(secret.value, message, &expected)) continue;
    for (const Mac& candidate : candidates) {
      bool equal =
          CRYPTO_memcmp(expected.data(), candidate.data(), kMacBytes) == 0;
      if (equal && matched == nullptr) matched = &secret;
    }
  }
  return matched;
}

VerifiedSignature Verified(v1::SignatureScheme scheme, const Secret& secret,
                           bool body_authenticated) {
  VerifiedSignature verified;
  verified.scheme = scheme;
  verified.secret_fingerprint = secret.fingerprint;
  verified.body_authenticated = body_authenticated;
  return verified;
}

absl::Status MissingSignature() {
  return absl::UnauthenticatedError("missing signature header");
}

absl::Status InvalidSignature() {
  return absl::UnauthenticatedError("invalid signature");
}

}  // namespace

absl::Status ParseSchemePolicy(absl::string_view text, SchemePolicy* policy) {
  if (text == "any") {
    *policy = SchemePolicy::kAny;
  } else if (text == "body") {
    *policy = SchemePolicy::kBody;
  } else if (text == "header") {
    *policy = SchemePolicy::kHeader;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid signature scheme \"", absl::CHexEscape(text),
                     "\": use any, body or header"));
  }
  return absl::OkStatus();
}

absl::StatusOr<VerifiedSignature> VerifyWebhookSignature(
    const SecretSet& secrets, SchemePolicy policy,
    const WebhookSignatureInput& input) {
  std::vector<std::string> values =
      ParseSignatureValues(input.signature_values);
  if (values.empty()) return MissingSignature();
  std::vector<Mac> candidates = DecodeCandidates(values);

  if (policy != SchemePolicy::kHeader) {
    const Secret* secret = MatchSecret(secrets, input.body, candidates);
    if (secret != nullptr) {
      return Verified(v1::SIGNATURE_SCHEME_BODY, *secret, true);
    }
  }

  bool has_headers = input.event_id.has_value() &&
                     input.event_type.has_value() &&
                     input.timestamp.has_value();
  if (policy != SchemePolicy::kBody && has_headers) {
    std::string message = HeaderSchemeMessage(
        *input.event_id, *input.event_type, *input.timestamp);
    const Secret* secret = MatchSecret(secrets, message, candidates);
    if (secret != nullptr) {
      return Verified(v1::SIGNATURE_SCHEME_HEADER, *secret, false);
    }
  }
  return InvalidSignature();
}

absl::StatusOr<VerifiedSignature> VerifyGatewaySignature(
    const SecretSet& secrets, absl::string_view body,
    const std::vector<std::string>& signature_values) {
  std::vector<std::string> values = ParseSignatureValues(signature_values);
  if (values.empty()) return MissingSignature();

  const Secret* secret = MatchSecret(secrets, body, DecodeCandidates(values));
  if (secret == nullptr) return InvalidSignature();
  return Verified(v1::SIGNATURE_SCHEME_GATEWAY_BODY, *secret, true);
}

std::vector<std::string> ParseSignatureValues(
    const std::vector<std::string>& header_values) {
  std::vector<std::string> values;
  for (const std::string& header_value : header_values) {
    for (absl::string_view part :
         absl::StrSplit(header_value, absl::ByAnyChar(" \t,"))) {
      if (absl::StartsWithIgnoreCase(part, kSha256Prefix)) {
        part.remove_prefix(kSha256Prefix.size());
      }
      if (!part.empty()) values.emplace_back(part);
    }
  }
  return values;
}

std::string HmacSha256Hex(absl::string_view key, absl::string_view data) {
  Mac mac;
  if (!ComputeMac(key, data, &mac)) return "";
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(mac.data()), mac.size()));
}

std::string HeaderSchemeMessage(absl::string_view event_id,
                                absl::string_view event_type,
                                absl::string_view timestamp) {
  return absl::StrCat(event_id, ":", event_type, ":", timestamp);
}

}  // namespace paymento::bridge
