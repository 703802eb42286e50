// Reading and checking the PEM files of a server's TLS at start-up: the gRPC
// port's and the HTTPS ingress's.
// A missing file, a damaged key or a key that belongs to another certificate
// stops the process with one line naming the file, instead of failing inside
// gRPC at the first handshake.
#ifndef PAYMENTO_BRIDGE_SRC_CONFIG_TLS_FILES_H_
#define PAYMENTO_BRIDGE_SRC_CONFIG_TLS_FILES_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace paymento::bridge {

struct ServerTlsPaths {
  std::string certificate;  // --PREFIX-cert
  std::string private_key;  // --PREFIX-key
  // --PREFIX-client-ca; empty unless clients must present a certificate.
  std::string client_ca;
  // The flags' common prefix, which errors name: "grpc-tls" or "tls".
  std::string flag_prefix = "grpc-tls";
  // Names for errors to give the flags, by flag name without "--", such as
  // the variable that set one (FlagParser::Source). Others are "--" and
  // the flag name.
  std::map<std::string, std::string> flag_names;
};

// The checked PEM contents, as grpc::SslServerCredentialsOptions and
// OpenSSL's PEM readers take them.
struct ServerTlsFiles {
  std::string certificate_chain;
  std::string private_key;
  std::string client_ca;
  // End of the leaf certificate's validity.
  absl::Time not_after;
};

// Reads the files and checks that the certificate chain and the CA file
// contain PEM certificates, that the key is an unencrypted PEM private key,
// and that the key matches the first certificate (X509_check_private_key).
// Fails with INVALID_ARGUMENT naming the flag and the file.
absl::StatusOr<ServerTlsFiles> LoadServerTlsFiles(const ServerTlsPaths& paths);

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_CONFIG_TLS_FILES_H_
