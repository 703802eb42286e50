// The OpenSSL server context of the HTTPS ingress, made once at start-up
// from PEM files already checked by LoadServerTlsFiles.
//
// TLS 1.2 is the oldest version offered and renegotiation is refused.
// Certificates are read only here: replacing the files takes a restart.
#ifndef PAYMENTO_BRIDGE_SRC_INGRESS_TLS_SERVER_CONTEXT_H_
#define PAYMENTO_BRIDGE_SRC_INGRESS_TLS_SERVER_CONTEXT_H_

#include <openssl/ssl.h>

#include <memory>

#include "absl/status/statusor.h"
#include "src/config/tls_files.h"

namespace paymento::bridge {

using SslContextPtr = std::shared_ptr<SSL_CTX>;

// Builds a server context with the certificate chain and private key of
// `files`. Fails with INVALID_ARGUMENT when OpenSSL rejects them.
absl::StatusOr<SslContextPtr> MakeServerTlsContext(
    const ServerTlsFiles& files);

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_INGRESS_TLS_SERVER_CONTEXT_H_
