// ServeConfig: everything `paymento-bridge serve` reads from its flags and
// environment, validated once at start-up so that a bad value stops the
// process with one clear line instead of failing later.
#ifndef PAYMENTO_BRIDGE_SRC_CONFIG_SERVE_CONFIG_H_
#define PAYMENTO_BRIDGE_SRC_CONFIG_SERVE_CONFIG_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "src/config/flag_parser.h"
#include "src/logging/log.h"
#include "src/verification/signature_verifier.h"

namespace paymento::bridge {

struct ListenAddress {
  std::string host;
  int port = 0;
  // "host:port", with brackets around IPv6 hosts.
  std::string ToString() const;
  bool IsLoopback() const;
};

// Parses "host:port" or "[v6-host]:port"; port 0 picks a free port.
absl::StatusOr<ListenAddress> ParseListenAddress(absl::string_view text);

struct ServeConfig {
  ListenAddress http_listen;
  ListenAddress admin_listen;
  ListenAddress grpc_listen;
  std::string store_url;
  std::string webhook_path;
  std::string ipn_path;
  size_t max_body_bytes = 0;
  absl::Duration timestamp_tolerance;
  absl::Duration retention;
  absl::Duration dedup_window;
  absl::Duration retention_interval;
  SchemePolicy signature_scheme = SchemePolicy::kAny;
  logging::Format log_format = logging::Format::kJson;
  logging::Level log_level = logging::Level::kInfo;
  int http_threads = 0;
  absl::Duration shutdown_timeout;
  // Time between readiness turning false and the ingress refusing new
  // webhooks, so that load balancers stop sending first.
  absl::Duration drain_delay;
  // HTTP/2 streams one gRPC connection may have open at once.
  int grpc_max_concurrent_streams = 0;
  // PEM file paths of the ingress; both empty for plain HTTP.
  std::string tls_cert;
  std::string tls_key;
  // PEM file paths; all empty for a plaintext gRPC port.
  std::string grpc_tls_cert;
  std::string grpc_tls_key;
  std::string grpc_tls_client_ca;
  // Names for errors to give the TLS flags, by flag name
  // (FlagParser::Source).
  std::map<std::string, std::string> tls_flag_names;
  bool help = false;
  std::string usage;
};

// Declares every serve flag on `parser`.
void AddServeFlags(FlagParser& parser);

// Parses the arguments after "serve". Fails with INVALID_ARGUMENT naming the
// flag and the value when one is invalid.
absl::StatusOr<ServeConfig> ParseServeConfig(
    const std::vector<std::string>& args, EnvironmentLookup environment);

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_CONFIG_SERVE_CONFIG_H_
