#include "src/ingress/tls_server_context.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <string>

#include "absl/strings/str_cat.h"

namespace paymento::bridge {
namespace {

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

BioPtr MemoryBio(const std::string& pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

absl::Status Rejected(absl::string_view item) {
  unsigned long code = ERR_get_error();
  const char* reason = code != 0 ? ERR_reason_error_string(code) : nullptr;
  ERR_clear_error();
  return absl::InvalidArgumentError(absl::StrCat(
      "OpenSSL rejected the ingress ", item, ": ",
      reason != nullptr ? reason : "unknown error"));
}

int NoPassphrase(char*, int, int, void*) { return -1; }

// Installs the leaf certificate and then every further certificate of the
// chain, in file order.
absl::Status UseCertificateChain(SSL_CTX* context, const std::string& pem) {
  BioPtr bio = MemoryBio(pem);
  X509* leaf = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
  if (leaf == nullptr || SSL_CTX_use_certificate(context, leaf) != 1) {
    X509_free(leaf);
    return Rejected("certificate");
  }
  X509_free(leaf);
  while (X509* next = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    // add0 takes ownership on success.
    if (SSL_CTX_add0_chain_cert(context, next) != 1) {
      X509_free(next);
      return Rejected("certificate chain");
    }
  }
  ERR_clear_error();
  return absl::OkStatus();
}

absl::Status UsePrivateKey(SSL_CTX* context, const std::string& pem) {
  BioPtr bio = MemoryBio(pem);
  EVP_PKEY* key =
      PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr);
  if (key == nullptr || SSL_CTX_use_PrivateKey(context, key) != 1) {
    EVP_PKEY_free(key);
    return Rejected("private key");
  }
  EVP_PKEY_free(key);
  if (SSL_CTX_check_private_key(context) != 1) {
    return Rejected("private key");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SslContextPtr> MakeServerTlsContext(
    const ServerTlsFiles& files) {
  SslContextPtr context(SSL_CTX_new(TLS_server_method()), SSL_CTX_free);
  if (context == nullptr) return Rejected("TLS settings");
  SSL_CTX_set_min_proto_version(context.get(), TLS1_2_VERSION);
  SSL_CTX_set_options(context.get(), SSL_OP_NO_RENEGOTIATION |
                                         SSL_OP_CIPHER_SERVER_PREFERENCE);
  // The connection loop retries a write with the rest of its buffer.
  SSL_CTX_set_mode(context.get(), SSL_MODE_ENABLE_PARTIAL_WRITE |
                                      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  absl::Status chain =
      UseCertificateChain(context.get(), files.certificate_chain);
  if (!chain.ok()) return chain;
  absl::Status key = UsePrivateKey(context.get(), files.private_key);
  if (!key.ok()) return key;
  return context;
}

}  // namespace paymento::bridge
