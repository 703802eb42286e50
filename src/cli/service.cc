#include "src/cli/service.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "src/cli/version.h"
#include "src/config/api_tokens.h"
#include "src/config/listen_check.h"
#include "src/logging/log.h"
#include "src/metrics/grpc_metrics_interceptor.h"
#include "src/store/store_url.h"

namespace paymento::bridge {
namespace {

// Tail streams that a commit wakes, per executor task. One task covers a
// wake-up of a few dozen streams, and thousands of streams still spread
// over both executor threads.
constexpr size_t kStreamWakeupBatch = 32;

const char* SchemeName(SchemePolicy policy) {
  switch (policy) {
    case SchemePolicy::kAny:
      return "body,header";
    case SchemePolicy::kBody:
      return "body";
    case SchemePolicy::kHeader:
      return "header";
  }
  return "body,header";
}

// Server-side HTTP/2 settings of the gRPC port.
void AddGrpcArguments(grpc::ServerBuilder& builder,
                      int max_concurrent_streams) {
  // gRPC sets SO_REUSEPORT by default, which lets a second process bind the
  // same port and silently take half of the connections.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // The server pings a connection idle for a minute and closes it when the
  // ping is not acknowledged within 20 s, so dead peers free their streams.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 60000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20000);
  // Clients may send keepalive pings every 10 s, also without open calls.
  // No strike limit, so a client pinging more often is never sent a GOAWAY
  // ("too_many_pings") that would end its streams.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(
      GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                             max_concurrent_streams);
}

// Logs a warning when a certificate has expired, since clients will reject
// it; the service starts anyway so that the operator sees the warning.
void WarnIfExpired(absl::string_view server, const std::string& file,
                   absl::Time not_after) {
  if (not_after >= absl::Now()) return;
  logging::Warn(absl::StrCat(server, " TLS certificate has expired"),
                {{"file", file}, {"not_after", absl::FormatTime(not_after)}});
}

std::string TlsMode(const std::optional<ServerTlsFiles>& tls) {
  if (!tls.has_value()) return "off";
  return tls->client_ca.empty() ? "server" : "mutual";
}

// Returns 16 random hex digits that name this process as the holder of
// leases in a store shared with other replicas.
std::string NewReplicaId() {
  unsigned char bytes[8] = {};
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    // Falls back to the time, unique enough among a few replicas.
    int64_t now = absl::ToUnixNanos(absl::Now());
    std::memcpy(bytes, &now, sizeof(bytes));
  }
  return absl::BytesToHexString(absl::string_view(
      reinterpret_cast<const char*>(bytes), sizeof(bytes)));
}

}  // namespace

Service::Service(ServeConfig config)
    : config_(std::move(config)),
      metrics_(std::make_unique<Metrics>(kVersion)) {}

Service::~Service() { Shutdown(); }

absl::Status Service::LoadSecrets() {
  absl::StatusOr<std::unique_ptr<SecretSource>> webhook =
      SecretSource::FromEnvironment("PAYMENTO_WEBHOOK_SECRET",
                                    /*required=*/true);
  if (!webhook.ok()) return webhook.status();
  webhook_secrets_ = std::move(*webhook);
  absl::StatusOr<std::unique_ptr<SecretSource>> ipn =
      SecretSource::FromEnvironment("PAYMENTO_IPN_SECRET",
                                    /*required=*/false);
  if (!ipn.ok()) return ipn.status();
  ipn_secrets_ = std::move(*ipn);
  absl::Status reloading = webhook_secrets_->StartReloading(absl::Seconds(2));
  if (reloading.ok()) reloading = ipn_secrets_->StartReloading(absl::Seconds(2));
  if (!reloading.ok()) return reloading;
  if (!ipn_secrets_->configured()) {
    logging::Info("gateway callbacks disabled",
                  {{"route", config_.ipn_path},
                   {"reason",
                    "set PAYMENTO_IPN_SECRET or PAYMENTO_IPN_SECRET_FILE to "
                    "enable them"}});
  }
  return absl::OkStatus();
}

absl::Status Service::LoadTokens() {
  absl::StatusOr<ApiTokens> tokens = LoadApiTokens(ProcessEnvironment());
  if (!tokens.ok()) return tokens.status();
  authorizer_ = std::make_unique<TokenAuthorizer>(tokens->client, tokens->admin);
  if (!tokens->client.empty() && tokens->admin.empty()) {
    logging::Info("gRPC admin calls accept the client token",
                  {{"reason", absl::StrCat(kAdminTokenVariable,
                                           " is not set; set it to require "
                                           "a separate admin token")}});
  }
  return absl::OkStatus();
}

absl::Status Service::LoadGrpcTls() {
  if (config_.grpc_tls_cert.empty()) return absl::OkStatus();
  ServerTlsPaths paths;
  paths.certificate = config_.grpc_tls_cert;
  paths.private_key = config_.grpc_tls_key;
  paths.client_ca = config_.grpc_tls_client_ca;
  paths.flag_names = config_.tls_flag_names;
  absl::StatusOr<ServerTlsFiles> files = LoadServerTlsFiles(paths);
  if (!files.ok()) return files.status();
  grpc_tls_ = *std::move(files);
  WarnIfExpired("gRPC", config_.grpc_tls_cert, grpc_tls_->not_after);
  return absl::OkStatus();
}

absl::Status Service::LoadIngressTls() {
  if (config_.tls_cert.empty()) return absl::OkStatus();
  ServerTlsPaths paths;
  paths.certificate = config_.tls_cert;
  paths.private_key = config_.tls_key;
  paths.flag_prefix = "tls";
  paths.flag_names = config_.tls_flag_names;
  absl::StatusOr<ServerTlsFiles> files = LoadServerTlsFiles(paths);
  if (!files.ok()) return files.status();
  absl::StatusOr<SslContextPtr> context = MakeServerTlsContext(*files);
  OPENSSL_cleanse(files->private_key.data(), files->private_key.size());
  if (!context.ok()) return context.status();
  ingress_tls_ = *std::move(context);
  WarnIfExpired("ingress", config_.tls_cert, files->not_after);
  return absl::OkStatus();
}

absl::Status Service::OpenEventStore() {
  absl::StatusOr<std::unique_ptr<EventStore>> store =
      OpenStore(config_.store_url);
  if (!store.ok()) {
    return absl::Status(store.status().code(),
                        absl::StrCat("cannot open store ",
                                     MaskStoreUrl(config_.store_url), ": ",
                                     store.status().message()));
  }
  store_ = std::move(*store);
  absl::StatusOr<StoreUrl> url = ParseStoreUrl(config_.store_url);
  if (url.ok() && url->kind == StoreUrl::Kind::kSqlite) {
    std::filesystem::path parent =
        std::filesystem::path(url->target).parent_path();
    data_directory_ = parent.empty() ? "." : parent.string();
  }
  // NOTE: the check covers the store's reachability and the disk space and
  // I/O errors of the data directory. A commit that fails for another
  // reason shows only as 503 responses, because Health() reports
  // reachability, not the result of the last commit.
  store_monitor_ = std::make_unique<HealthMonitor>(
      "store check", absl::Seconds(1), [this] { return CheckStore(); },
      [this](const absl::Status&) {
        if (started_.load()) PublishReadiness();
      });
  store_monitor_->Start();
  return absl::OkStatus();
}

absl::Status Service::CheckStore() const {
  absl::Status reachable = store_->Health();
  if (!reachable.ok()) return reachable;
  if (data_directory_.empty()) return absl::OkStatus();
  return ProbeDirectoryWritable(data_directory_);
}

absl::Status Service::Start() {
  absl::Status loaded = LoadSecrets();
  if (loaded.ok()) loaded = LoadTokens();
  if (loaded.ok()) loaded = LoadGrpcTls();
  if (loaded.ok()) loaded = LoadIngressTls();
  if (loaded.ok()) loaded = OpenEventStore();
  if (!loaded.ok()) return loaded;

  notifier_ = std::make_unique<CommitNotifier>(store_->LastSequence());
  store_->SetCommitListener(
      [notifier = notifier_.get()](int64_t last) { notifier->Publish(last); });
  store_->SetCommitObserver(
      [metrics = metrics_.get()](absl::Duration duration, int64_t events) {
        metrics->ObserveCommit(duration, events);
      });
  executor_ = std::make_unique<Executor>(2);
  stream_wakeups_ =
      std::make_unique<TaskBatcher>(executor_.get(), kStreamWakeupBatch);
  timer_ = std::make_unique<Timer>();

  WebhookHandlerOptions handler_options;
  handler_options.scheme_policy = config_.signature_scheme;
  handler_options.freshness.tolerance = config_.timestamp_tolerance;
  handler_options.freshness.dedup_window = config_.dedup_window;
  handler_options.metrics = metrics_.get();
  handler_ = std::make_unique<WebhookHandler>(
      store_.get(), webhook_secrets_.get(), ipn_secrets_.get(),
      handler_options);

  absl::Status grpc = StartGrpc();
  if (!grpc.ok()) return grpc;
  metrics_->SetBacklogSource([this] { return SubscriptionBacklogs(); });

  HttpIngressOptions ingress_options;
  ingress_options.host = config_.http_listen.host;
  ingress_options.port = config_.http_listen.port;
  ingress_options.webhook_path = config_.webhook_path;
  ingress_options.ipn_path = config_.ipn_path;
  ingress_options.max_body_bytes = config_.max_body_bytes;
  ingress_options.threads = config_.http_threads;
  ingress_options.metrics = metrics_.get();
  ingress_options.tls = ingress_tls_;
  ingress_ = std::make_unique<HttpIngress>(ingress_options, handler_.get());
  absl::Status http = ingress_->Start();
  if (!http.ok()) return http;

  admin_ = std::make_unique<AdminServer>(
      config_.admin_listen.host, config_.admin_listen.port,
      [this] { return Readiness(); }, [this] { return metrics_->Render(); });
  absl::Status admin = admin_->Start();
  if (!admin.ok()) return admin;

  // Returns the memory of closed streams and drained backlogs to the system.
  memory_trimmer_ = std::make_unique<MemoryTrimmer>(MemoryTrimmer::Options{});
  memory_trimmer_->Start();

  started_.store(true);
  PublishReadiness();
  LogStarted();
  return absl::OkStatus();
}

absl::Status Service::StartGrpc() {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  StreamEnvironment environment{store_.get(), notifier_.get(), executor_.get(),
                                stream_wakeups_.get(), timer_.get()};
  std::string replica_id = NewReplicaId();
  subscriptions_ = std::make_unique<SubscriptionManager>(
      SubscriptionEnvironment{store_.get(), notifier_.get(), executor_.get(),
                              timer_.get(), metrics_.get(), replica_id});
  // Registered before loading, so no change made meanwhile is missed.
  store_->SetSubscriptionChangeListener(
      [subscriptions = subscriptions_.get()](const SubscriptionChange& change) {
        subscriptions->OnChange(change);
      });
  absl::Status loaded = subscriptions_->LoadAll();
  if (!loaded.ok()) return loaded;
  if (store_->SharesSubscriptions()) {
    logging::Info("durable subscription leases shared through the store",
                  {{"replica_id", replica_id}});
  }
  RetentionOptions retention;
  retention.retention = config_.retention;
  retention.dedup_window = config_.dedup_window;
  retention.interval = config_.retention_interval;
  retention.on_expired = [subscriptions =
                              subscriptions_.get()](absl::Time cutoff) {
    subscriptions->ForgetReceivedBefore(cutoff);
  };
  retention_ = std::make_unique<RetentionWorker>(store_.get(), retention);
  retention_->Start();
  event_service_ = std::make_unique<EventServiceImpl>(
      environment, subscriptions_.get(), authorizer_.get());

  // gRPC logs its own error lines when a bind fails, so the address is
  // checked first and a known cause becomes the failure's only line.
  if (config_.grpc_listen.port != 0) {
    absl::Status listenable = CheckListenAddress("gRPC", config_.grpc_listen);
    if (!listenable.ok()) return listenable;
  }
  grpc::ServerBuilder builder;
  builder.AddListeningPort(config_.grpc_listen.ToString(), GrpcCredentials(),
                           &grpc_port_);
  builder.RegisterService(event_service_.get());
  AddGrpcArguments(builder, config_.grpc_max_concurrent_streams);
  std::vector<
      std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      interceptors;
  interceptors.push_back(
      std::make_unique<GrpcMetricsInterceptorFactory>(metrics_.get()));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  grpc_server_ = builder.BuildAndStart();
  if (grpc_tls_.has_value()) {
    // gRPC keeps its own copy; this one is no longer needed.
    OPENSSL_cleanse(grpc_tls_->private_key.data(),
                    grpc_tls_->private_key.size());
    grpc_tls_->private_key.clear();
  }
  if (grpc_server_ == nullptr || grpc_port_ == 0) {
    grpc_server_.reset();
    return ListenFailure("gRPC", config_.grpc_listen);
  }
  // The health service starts SERVING; readiness decides once all is up.
  grpc_server_->GetHealthCheckService()->SetServingStatus(false);
  WarnIfGrpcIsOpen();
  return absl::OkStatus();
}

std::shared_ptr<grpc::ServerCredentials> Service::GrpcCredentials() const {
  if (!grpc_tls_.has_value()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions options(
      grpc_tls_->client_ca.empty()
          ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
          : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_root_certs = grpc_tls_->client_ca;
  options.pem_key_cert_pairs.push_back(
      {grpc_tls_->private_key, grpc_tls_->certificate_chain});
  return grpc::SslServerCredentials(options);
}

std::vector<SubscriptionBacklog> Service::SubscriptionBacklogs() const {
  std::vector<SubscriptionBacklog> backlogs;
  absl::Time now = absl::Now();
  for (const std::shared_ptr<Subscription>& subscription :
       subscriptions_->All()) {
    absl::StatusOr<SubscriptionStats> stats = subscription->Stats();
    if (!stats.ok()) continue;
    SubscriptionBacklog backlog;
    backlog.subscription = subscription->record().name;
    backlog.events = stats->backlog_events;
    if (stats->oldest_backlog_received_at.has_value()) {
      backlog.age = now - *stats->oldest_backlog_received_at;
    }
    backlogs.push_back(std::move(backlog));
  }
  return backlogs;
}

void Service::WarnIfGrpcIsOpen() const {
  if (config_.grpc_listen.IsLoopback() || grpc_tls_.has_value() ||
      authorizer_->client_token_configured()) {
    return;
  }
  logging::Warn(
      "gRPC listens beyond loopback without TLS or a client token",
      {{"grpc_listen", config_.grpc_listen.ToString()},
       {"fix", absl::StrCat("set --grpc-tls-cert and --grpc-tls-key, or ",
                            kClientTokenVariable)}});
}

void Service::LogStarted() const {
  logging::Info(
      "paymento-bridge started",
      {{"version", kVersion},
       {"http_listen", absl::StrCat(config_.http_listen.host, ":",
                                    ingress_->port())},
       {"http_tls", ingress_tls_ != nullptr ? "on" : "off"},
       {"grpc_listen",
        absl::StrCat(config_.grpc_listen.host, ":", grpc_port_)},
       {"admin_listen",
        absl::StrCat(config_.admin_listen.host, ":", admin_->port())},
       {"store", MaskStoreUrl(config_.store_url)},
       {"webhook_path", config_.webhook_path},
       {"webhook_secrets",
        absl::StrCat(webhook_secrets_->Current()->size())},
       {"ipn_secrets", absl::StrCat(ipn_secrets_->Current()->size())},
       {"signature_schemes", SchemeName(config_.signature_scheme)},
       {"grpc_tls", TlsMode(grpc_tls_)},
       {"grpc_client_token",
        authorizer_->client_token_configured() ? "set" : "unset"},
       {"grpc_admin_token",
        authorizer_->admin_token_configured() ? "set" : "unset"}});
}

absl::Status Service::Readiness() const {
  if (draining_.load()) return absl::UnavailableError("shutting down");
  if (!started_.load()) return absl::UnavailableError("starting");
  absl::Status store = store_monitor_->status();
  if (!store.ok()) {
    return absl::UnavailableError(
        absl::StrCat("store check failing: ", store.message()));
  }
  return absl::OkStatus();
}

void Service::PublishReadiness() {
  absl::Status readiness = Readiness();
  bool ready = readiness.ok();
  absl::MutexLock lock(&readiness_mu_);
  if (readiness_published_ && ready == published_ready_) return;
  bool first = !readiness_published_;
  readiness_published_ = true;
  published_ready_ = ready;

  metrics_->SetReady(ready);
  if (grpc_server_ != nullptr) {
    grpc::HealthCheckServiceInterface* health =
        grpc_server_->GetHealthCheckService();
    if (draining_.load()) {
      // NOT_SERVING for every service, and later changes are ignored.
      health->Shutdown();
    } else {
      health->SetServingStatus(ready);
    }
  }
  if (!first) {
    logging::Info("readiness changed",
                  {{"ready", ready ? "true" : "false"},
                   {"reason", std::string(readiness.message())}});
  }
}

void Service::Shutdown() {
  if (draining_.exchange(true)) return;
  const bool started = started_.load();
  const absl::Time begin = absl::Now();
  const absl::Time deadline = begin + config_.shutdown_timeout;
  if (started) {
    logging::Info("paymento-bridge stopping",
                  {{"drain_delay", absl::FormatDuration(config_.drain_delay)},
                   {"shutdown_timeout",
                    absl::FormatDuration(config_.shutdown_timeout)}});
    // Readiness is false from here on. The ingress keeps storing webhooks
    // for the drain delay, so that load balancers stop sending before
    // requests are refused.
    PublishReadiness();
    absl::SleepFor(config_.drain_delay);
  }

  if (ingress_ != nullptr) ingress_->SetDraining(true);
  StopGrpc(deadline);
  // Stop joins the ingress threads, so every request in flight has its
  // response, and its commit, before the store closes.
  if (ingress_ != nullptr) ingress_->Stop();

  if (store_monitor_ != nullptr) store_monitor_->Stop();
  if (memory_trimmer_ != nullptr) memory_trimmer_->Stop();
  if (timer_ != nullptr) timer_->Shutdown();
  if (executor_ != nullptr) executor_->Shutdown();
  if (retention_ != nullptr) retention_->Stop();
  if (store_ != nullptr) store_->Close();
  // Last, so that /readyz returns 503 until the end.
  if (admin_ != nullptr) admin_->Stop();
  if (webhook_secrets_ != nullptr) webhook_secrets_->Stop();
  if (ipn_secrets_ != nullptr) ipn_secrets_->Stop();

  if (started) {
    logging::Info(
        "paymento-bridge stopped",
        {{"elapsed_ms",
          absl::StrCat(absl::ToInt64Milliseconds(absl::Now() - begin))}});
  }
}

void Service::StopGrpc(absl::Time deadline) {
  if (subscriptions_ != nullptr) {
    subscriptions_->CloseAll(absl::UnavailableError(
        "paymento-bridge is shutting down: reconnect to another replica or "
        "retry"));
  }
  if (event_service_ != nullptr) {
    event_service_->TerminateStreams(grpc::Status(
        grpc::StatusCode::UNAVAILABLE,
        "paymento-bridge is shutting down: reconnect to another replica or "
        "retry"));
  }
  if (grpc_server_ == nullptr) return;
  // Streams end above; Shutdown cancels whatever is still open after a
  // short grace period for unary calls in flight.
  absl::Time grace_end = std::min(absl::Now() + absl::Seconds(1), deadline);
  grpc_server_->Shutdown(absl::ToChronoTime(grace_end));
}

}  // namespace paymento::bridge
