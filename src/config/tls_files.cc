#include "src/config/tls_files.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>

#include "absl/strings/str_cat.h"

namespace paymento::bridge {
namespace {

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* certificate) const { X509_free(certificate); }
};
struct KeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyFree>;

absl::Status Invalid(absl::string_view flag, const std::string& path,
                     absl::string_view problem) {
  ERR_clear_error();
  return absl::InvalidArgumentError(
      absl::StrCat("invalid ", flag, " ", path, ": ", problem));
}

absl::StatusOr<std::string> ReadFile(absl::string_view flag,
                                     const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot read ", flag, " ", path, ": ", std::strerror(errno)));
  }
  struct stat info;
  if (fstat(fd, &info) == 0 && S_ISDIR(info.st_mode)) {
    close(fd);
    return Invalid(flag, path, "is a directory, not a PEM file");
  }
  std::string contents;
  char buffer[8192];
  ssize_t count = 0;
  while ((count = read(fd, buffer, sizeof(buffer))) > 0) {
    contents.append(buffer, static_cast<size_t>(count));
  }
  int error = errno;
  close(fd);
  if (count < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot read ", flag, " ", path, ": ", std::strerror(error)));
  }
  return contents;
}

BioPtr MemoryBio(const std::string& pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// Returns the first certificate of a PEM file, after checking that every
// PEM block in it is a certificate.
absl::StatusOr<X509Ptr> FirstCertificate(absl::string_view flag,
                                         const std::string& path,
                                         const std::string& pem) {
  BioPtr bio = MemoryBio(pem);
  X509Ptr first;
  while (X509* next = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    if (first == nullptr) {
      first.reset(next);
    } else {
      X509_free(next);
    }
  }
  // Reading stops at the end of the data or at a block that is not a
  // certificate, and only the end of the data is clean.
  unsigned long error = ERR_peek_last_error();
  bool clean_end = ERR_GET_LIB(error) == ERR_LIB_PEM &&
                   ERR_GET_REASON(error) == PEM_R_NO_START_LINE;
  if (first == nullptr) return Invalid(flag, path, "no PEM certificate found");
  if (error != 0 && !clean_end) {
    return Invalid(flag, path, "contains a damaged PEM certificate");
  }
  ERR_clear_error();
  return first;
}

// Fails instead of prompting on the terminal for a passphrase.
int NoPassphrase(char*, int, int, void*) { return -1; }

absl::StatusOr<KeyPtr> PrivateKey(absl::string_view flag,
                                  const std::string& path,
                                  const std::string& pem) {
  BioPtr bio = MemoryBio(pem);
  KeyPtr key(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
  if (key == nullptr) {
    return Invalid(flag, path, "no unencrypted PEM private key found");
  }
  ERR_clear_error();
  return key;
}

absl::Time NotAfter(const X509* certificate) {
  struct tm time = {};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(certificate), &time) != 1) {
    return absl::InfiniteFuture();
  }
  return absl::FromTimeT(timegm(&time));
}

}  // namespace

absl::StatusOr<ServerTlsFiles> LoadServerTlsFiles(const ServerTlsPaths& paths) {
  // Names such as "--tls-cert", or the variable that set the flag.
  auto name = [&paths](absl::string_view suffix) {
    std::string flag = absl::StrCat(paths.flag_prefix, suffix);
    auto found = paths.flag_names.find(flag);
    return found != paths.flag_names.end() ? found->second
                                           : absl::StrCat("--", flag);
  };
  const std::string cert_flag = name("-cert");
  const std::string key_flag = name("-key");
  const std::string ca_flag = name("-client-ca");
  ServerTlsFiles files;
  absl::StatusOr<std::string> chain = ReadFile(cert_flag, paths.certificate);
  if (!chain.ok()) return chain.status();
  files.certificate_chain = *std::move(chain);
  absl::StatusOr<std::string> key = ReadFile(key_flag, paths.private_key);
  if (!key.ok()) return key.status();
  files.private_key = *std::move(key);

  absl::StatusOr<X509Ptr> leaf =
      FirstCertificate(cert_flag, paths.certificate, files.certificate_chain);
  if (!leaf.ok()) return leaf.status();
  absl::StatusOr<KeyPtr> parsed_key =
      PrivateKey(key_flag, paths.private_key, files.private_key);
  if (!parsed_key.ok()) return parsed_key.status();
  if (X509_check_private_key(leaf->get(), parsed_key->get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat(
        key_flag, " ", paths.private_key, " does not match the certificate in ",
        cert_flag, " ", paths.certificate));
  }
  files.not_after = NotAfter(leaf->get());

  if (!paths.client_ca.empty()) {
    absl::StatusOr<std::string> ca = ReadFile(ca_flag, paths.client_ca);
    if (!ca.ok()) return ca.status();
    files.client_ca = *std::move(ca);
    absl::StatusOr<X509Ptr> ca_certificate =
        FirstCertificate(ca_flag, paths.client_ca, files.client_ca);
    if (!ca_certificate.ok()) return ca_certificate.status();
  }
  return files;
}

}  // namespace paymento::bridge
