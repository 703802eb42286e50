#include "src/config/serve_config.h"

#include <arpa/inet.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace paymento::bridge {
namespace {

absl::Status InvalidFlag(const FlagParser& parser, const std::string& flag,
                         absl::string_view value, absl::string_view expected) {
  return absl::InvalidArgumentError(absl::StrCat(
      "invalid ", parser.Source(flag), " \"", value, "\": ", expected));
}

absl::StatusOr<absl::Duration> ParsePositiveDuration(
    const FlagParser& parser, const std::string& flag) {
  absl::Duration duration;
  const std::string& value = parser.Get(flag);
  if (!absl::ParseDuration(value, &duration) ||
      duration <= absl::ZeroDuration()) {
    return InvalidFlag(parser, flag, value,
                       "use a positive duration such as 300s, 90m or 720h");
  }
  return duration;
}

absl::StatusOr<absl::Duration> ParseNonNegativeDuration(
    const FlagParser& parser, const std::string& flag) {
  absl::Duration duration;
  const std::string& value = parser.Get(flag);
  if (!absl::ParseDuration(value, &duration) ||
      duration < absl::ZeroDuration()) {
    return InvalidFlag(parser, flag, value,
                       "use a duration such as 0s, 2s or 500ms");
  }
  return duration;
}

absl::StatusOr<ListenAddress> ParseListenFlag(const FlagParser& parser,
                                              const std::string& flag) {
  absl::StatusOr<ListenAddress> address =
      ParseListenAddress(parser.Get(flag));
  if (!address.ok()) {
    return InvalidFlag(parser, flag, parser.Get(flag),
                       address.status().message());
  }
  return address;
}

absl::Status CheckPath(const FlagParser& parser, const std::string& flag,
                       const std::string& path) {
  if (path.empty() || path[0] != '/' ||
      path.find_first_of(" ?#*()[]{}\\+^$|") != std::string::npos) {
    return InvalidFlag(parser, flag, path,
                       "use an absolute URL path such as /webhook");
  }
  return absl::OkStatus();
}

absl::Status ParseTlsFlags(const FlagParser& parser, ServeConfig& config) {
  for (const char* flag : {"tls-cert", "tls-key", "grpc-tls-cert",
                           "grpc-tls-key", "grpc-tls-client-ca"}) {
    config.tls_flag_names[flag] = parser.Source(flag);
  }
  config.tls_cert = parser.Get("tls-cert");
  config.tls_key = parser.Get("tls-key");
  if (config.tls_cert.empty() != config.tls_key.empty()) {
    return absl::InvalidArgumentError(
        "--tls-cert and --tls-key must be set together");
  }
  config.grpc_tls_cert = parser.Get("grpc-tls-cert");
  config.grpc_tls_key = parser.Get("grpc-tls-key");
  config.grpc_tls_client_ca = parser.Get("grpc-tls-client-ca");
  if (config.grpc_tls_cert.empty() != config.grpc_tls_key.empty()) {
    return absl::InvalidArgumentError(
        "--grpc-tls-cert and --grpc-tls-key must be set together");
  }
  if (!config.grpc_tls_client_ca.empty() && config.grpc_tls_cert.empty()) {
    return absl::InvalidArgumentError(
        "--grpc-tls-client-ca needs --grpc-tls-cert and --grpc-tls-key: "
        "client certificates are checked only over TLS");
  }
  return absl::OkStatus();
}

}  // namespace

std::string ListenAddress::ToString() const {
  if (host.find(':') != std::string::npos) {
    return absl::StrCat("[", host, "]:", port);
  }
  return absl::StrCat(host, ":", port);
}

bool ListenAddress::IsLoopback() const {
  return host == "localhost" || host == "::1" ||
         absl::StartsWith(host, "127.");
}

absl::StatusOr<ListenAddress> ParseListenAddress(absl::string_view text) {
  ListenAddress address;
  absl::string_view port_text;
  if (absl::StartsWith(text, "[")) {
    size_t close = text.find("]:");
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError("use [IPv6-address]:port");
    }
    address.host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == absl::string_view::npos) {
      return absl::InvalidArgumentError("use host:port, as in 127.0.0.1:8080");
    }
    address.host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
  }
  if (address.host.empty()) {
    return absl::InvalidArgumentError(
        "missing host: use 0.0.0.0:PORT for every interface");
  }
  if (!absl::SimpleAtoi(port_text, &address.port) || address.port < 0 ||
      address.port > 65535) {
    return absl::InvalidArgumentError("the port must be a number up to 65535");
  }
  if (address.host != "localhost") {
    unsigned char buffer[16];
    bool v4 = inet_pton(AF_INET, address.host.c_str(), buffer) == 1;
    bool v6 = inet_pton(AF_INET6, address.host.c_str(), buffer) == 1;
    if (!v4 && !v6) {
      return absl::InvalidArgumentError(
          "the host must be an IP address or localhost");
    }
  }
  return address;
}

void AddServeFlags(FlagParser& parser) {
  parser.AddSwitch("help", "Print this help and exit.");
  parser.Add("http-listen", "0.0.0.0:8080",
             "Address for the public webhook ingress.");
  parser.Add("admin-listen", "127.0.0.1:9090",
             "Address for /healthz, /readyz and /metrics.");
  parser.Add("grpc-listen", "127.0.0.1:50051", "Address for the gRPC API.");
  parser.Add("store", "sqlite://data/events.db",
             "Event store: sqlite://PATH or postgres://...");
  parser.Add("webhook-path", "/webhook", "URL path of Payment Link webhooks.");
  parser.Add("ipn-path", "/ipn",
             "URL path of gateway payment callbacks (POST or PUT).");
  parser.Add("max-body-bytes", "262144", "Largest accepted body, in bytes.");
  parser.Add("timestamp-tolerance", "300s",
             "Allowed clock difference for signed timestamps.");
  parser.Add("retention", "720h", "How long events are kept.");
  parser.Add("dedup-window", "9600h",
             "How long event ids are remembered to reject replays; longer "
             "than --retention.");
  parser.Add("retention-interval", "1m",
             "Time between runs that delete events past --retention.");
  parser.Add("signature-scheme", "any",
             "Accepted signature schemes: any, body or header.");
  parser.Add("log-format", "json", "Log line format: json or text.");
  parser.Add("log-level", "info", "Lowest level logged: debug, info, warn "
             "or error.");
  parser.Add("http-threads", "128",
             "Threads serving ingress connections, one per open connection.");
  parser.Add("shutdown-timeout", "30s",
             "Maximum time a graceful shutdown may take; the process exits "
             "with status 1 when it takes longer.");
  parser.Add("drain-delay", "2s",
             "Time between /readyz turning 503 on SIGTERM and the ingress "
             "responding to new webhooks with 503, so that load balancers "
             "stop sending first. Shorter than --shutdown-timeout.");
  parser.Add("grpc-max-concurrent-streams", "10000",
             "Maximum gRPC calls open at once on one client connection.");
  parser.Add("tls-cert", "",
             "PEM certificate chain of the webhook ingress; serves HTTPS, "
             "with --tls-key.");
  parser.Add("tls-key", "", "PEM private key of --tls-cert.");
  parser.Add("grpc-tls-cert", "",
             "PEM certificate chain of the gRPC server; enables TLS, with "
             "--grpc-tls-key.");
  parser.Add("grpc-tls-key", "", "PEM private key of --grpc-tls-cert.");
  parser.Add("grpc-tls-client-ca", "",
             "PEM CA certificates; when set, gRPC clients must present a "
             "certificate signed by one of them (mutual TLS).");
}

absl::StatusOr<ServeConfig> ParseServeConfig(
    const std::vector<std::string>& args, EnvironmentLookup environment) {
  FlagParser parser(std::move(environment));
  AddServeFlags(parser);
  absl::Status parsed = parser.Parse(args);
  if (!parsed.ok()) return parsed;
  ServeConfig config;
  config.usage = parser.Usage();
  if (parser.IsSet("help")) {
    config.help = true;
    return config;
  }
  if (!parser.positional().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unexpected argument \"", parser.positional().front(),
        "\": serve takes only flags"));
  }

  absl::StatusOr<ListenAddress> http = ParseListenFlag(parser, "http-listen");
  if (!http.ok()) return http.status();
  config.http_listen = *http;
  absl::StatusOr<ListenAddress> admin = ParseListenFlag(parser, "admin-listen");
  if (!admin.ok()) return admin.status();
  config.admin_listen = *admin;
  absl::StatusOr<ListenAddress> grpc = ParseListenFlag(parser, "grpc-listen");
  if (!grpc.ok()) return grpc.status();
  config.grpc_listen = *grpc;

  config.store_url = parser.Get("store");
  config.webhook_path = parser.Get("webhook-path");
  config.ipn_path = parser.Get("ipn-path");
  absl::Status path = CheckPath(parser, "webhook-path", config.webhook_path);
  if (path.ok()) path = CheckPath(parser, "ipn-path", config.ipn_path);
  if (!path.ok()) return path;
  if (config.webhook_path == config.ipn_path) {
    return InvalidFlag(parser, "ipn-path", config.ipn_path,
                       "must differ from --webhook-path");
  }

  const std::string& body = parser.Get("max-body-bytes");
  if (!absl::SimpleAtoi(body, &config.max_body_bytes) ||
      config.max_body_bytes < 1024 || config.max_body_bytes > (64u << 20)) {
    return InvalidFlag(parser, "max-body-bytes", body,
                       "use a number of bytes from 1024 to 67108864");
  }
  const std::string& threads = parser.Get("http-threads");
  if (!absl::SimpleAtoi(threads, &config.http_threads) ||
      config.http_threads < 2 || config.http_threads > 4096) {
    return InvalidFlag(parser, "http-threads", threads,
                       "use a number from 2 to 4096");
  }

  absl::StatusOr<absl::Duration> tolerance =
      ParsePositiveDuration(parser, "timestamp-tolerance");
  if (!tolerance.ok()) return tolerance.status();
  config.timestamp_tolerance = *tolerance;
  absl::StatusOr<absl::Duration> retention =
      ParsePositiveDuration(parser, "retention");
  if (!retention.ok()) return retention.status();
  config.retention = *retention;
  absl::StatusOr<absl::Duration> window =
      ParsePositiveDuration(parser, "dedup-window");
  if (!window.ok()) return window.status();
  config.dedup_window = *window;
  absl::StatusOr<absl::Duration> retention_interval =
      ParsePositiveDuration(parser, "retention-interval");
  if (!retention_interval.ok()) return retention_interval.status();
  config.retention_interval = *retention_interval;
  if (config.dedup_window < config.retention) {
    return InvalidFlag(parser, "dedup-window", parser.Get("dedup-window"),
                       "must be at least --retention, so that ids outlive "
                       "their events and replays stay detectable");
  }
  absl::StatusOr<absl::Duration> shutdown =
      ParsePositiveDuration(parser, "shutdown-timeout");
  if (!shutdown.ok()) return shutdown.status();
  config.shutdown_timeout = *shutdown;
  absl::StatusOr<absl::Duration> drain =
      ParseNonNegativeDuration(parser, "drain-delay");
  if (!drain.ok()) return drain.status();
  config.drain_delay = *drain;
  if (config.drain_delay >= config.shutdown_timeout) {
    return InvalidFlag(parser, "drain-delay", parser.Get("drain-delay"),
                       "must be shorter than --shutdown-timeout");
  }

  const std::string& streams = parser.Get("grpc-max-concurrent-streams");
  if (!absl::SimpleAtoi(streams, &config.grpc_max_concurrent_streams) ||
      config.grpc_max_concurrent_streams < 1 ||
      config.grpc_max_concurrent_streams > 1000000) {
    return InvalidFlag(parser, "grpc-max-concurrent-streams", streams,
                       "use a number from 1 to 1000000");
  }
  absl::Status tls = ParseTlsFlags(parser, config);
  if (!tls.ok()) return tls;

  absl::Status scheme =
      ParseSchemePolicy(parser.Get("signature-scheme"), &config.signature_scheme);
  if (!scheme.ok()) {
    return InvalidFlag(parser, "signature-scheme",
                       parser.Get("signature-scheme"),
                       "use any, body or header");
  }
  absl::Status format =
      logging::ParseFormat(parser.Get("log-format"), &config.log_format);
  if (!format.ok()) return format;
  absl::Status level =
      logging::ParseLevel(parser.Get("log-level"), &config.log_level);
  if (!level.ok()) return level;
  return config;
}

}  // namespace paymento::bridge
