#include "src/cli/service.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "src/cli/version.h"
#include "src/logging/log.h"
#include "src/store/store_url.h"

namespace paymento::bridge {
namespace {

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

}  // namespace

Service::Service(ServeConfig config) : config_(std::move(config)) {}

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
  webhook_secrets_->StartReloading(absl::Seconds(2));
  ipn_secrets_->StartReloading(absl::Seconds(2));
  if (!ipn_secrets_->configured()) {
    logging::Info("gateway callbacks disabled",
                  {{"route", config_.ipn_path},
                   {"reason",
                    "set PAYMENTO_IPN_SECRET or PAYMENTO_IPN_SECRET_FILE to "
                    "enable them"}});
  }
  return absl::OkStatus();
}

absl::Status Service::Start() {
  absl::Status secrets = LoadSecrets();
  if (!secrets.ok()) return secrets;

  absl::StatusOr<std::unique_ptr<EventStore>> store =
      OpenStore(config_.store_url);
  if (!store.ok()) {
    return absl::Status(store.status().code(),
                        absl::StrCat("cannot open store ",
                                     MaskStoreUrl(config_.store_url), ": ",
                                     store.status().message()));
  }
  store_ = std::move(*store);
  notifier_ = std::make_unique<CommitNotifier>(store_->LastSequence());
  store_->SetCommitListener(
      [notifier = notifier_.get()](int64_t last) { notifier->Publish(last); });
  executor_ = std::make_unique<Executor>(2);
  timer_ = std::make_unique<Timer>();

  WebhookHandlerOptions handler_options;
  handler_options.scheme_policy = config_.signature_scheme;
  handler_options.freshness.tolerance = config_.timestamp_tolerance;
  handler_options.freshness.dedup_window = config_.dedup_window;
  handler_ = std::make_unique<WebhookHandler>(
      store_.get(), webhook_secrets_.get(), ipn_secrets_.get(),
      handler_options);

  absl::Status grpc = StartGrpc();
  if (!grpc.ok()) return grpc;

  HttpIngressOptions ingress_options;
  ingress_options.host = config_.http_listen.host;
  ingress_options.port = config_.http_listen.port;
  ingress_options.webhook_path = config_.webhook_path;
  ingress_options.ipn_path = config_.ipn_path;
  ingress_options.max_body_bytes = config_.max_body_bytes;
  ingress_options.threads = config_.http_threads;
  ingress_ = std::make_unique<HttpIngress>(ingress_options, handler_.get());
  absl::Status http = ingress_->Start();
  if (!http.ok()) return http;

  admin_ = std::make_unique<AdminServer>(
      config_.admin_listen.host, config_.admin_listen.port,
      [this] { return Readiness(); });
  absl::Status admin = admin_->Start();
  if (!admin.ok()) return admin;

  LogStarted();
  return absl::OkStatus();
}

absl::Status Service::StartGrpc() {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  StreamEnvironment environment{store_.get(), notifier_.get(),
                                executor_.get(), timer_.get()};
  event_service_ = std::make_unique<EventServiceImpl>(environment);

  grpc::ServerBuilder builder;
  builder.AddListeningPort(config_.grpc_listen.ToString(),
                           grpc::InsecureServerCredentials(), &grpc_port_);
  builder.RegisterService(event_service_.get());
  grpc_server_ = builder.BuildAndStart();
  if (grpc_server_ == nullptr || grpc_port_ == 0) {
    grpc_server_.reset();
    return absl::UnavailableError(absl::StrCat(
        "cannot listen for gRPC on ", config_.grpc_listen.ToString(),
        ": the address is invalid or the port is in use"));
  }
  if (!config_.grpc_listen.IsLoopback()) {
    logging::Warn("gRPC listens beyond loopback without TLS or a token",
                  {{"grpc_listen", config_.grpc_listen.ToString()}});
  }
  return absl::OkStatus();
}

void Service::LogStarted() const {
  logging::Info(
      "paymento-bridge started",
      {{"version", kVersion},
       {"http_listen", absl::StrCat(config_.http_listen.host, ":",
                                    ingress_->port())},
       {"grpc_listen",
        absl::StrCat(config_.grpc_listen.host, ":", grpc_port_)},
       {"admin_listen",
        absl::StrCat(config_.admin_listen.host, ":", admin_->port())},
       {"store", MaskStoreUrl(config_.store_url)},
       {"webhook_path", config_.webhook_path},
       {"webhook_secrets",
        absl::StrCat(webhook_secrets_->Current()->size())},
       {"ipn_secrets", absl::StrCat(ipn_secrets_->Current()->size())},
       {"signature_schemes", SchemeName(config_.signature_scheme)}});
}

absl::Status Service::Readiness() const {
  if (draining_.load()) return absl::UnavailableError("shutting down");
  if (store_ == nullptr || grpc_server_ == nullptr || ingress_ == nullptr) {
    return absl::UnavailableError("starting");
  }
  return absl::OkStatus();
}

void Service::Shutdown() {
  if (draining_.exchange(true)) return;
  logging::Info("paymento-bridge stopping", {});
  if (ingress_ != nullptr) {
    ingress_->SetDraining(true);
    ingress_->Stop();
  }
  if (grpc_server_ != nullptr) {
    // Open streams never end on their own, so they are cancelled after a
    // short grace period for unary calls in flight.
    absl::Duration grace = std::min(absl::Seconds(1), config_.shutdown_timeout);
    grpc_server_->Shutdown(std::chrono::system_clock::now() +
                           absl::ToChronoMilliseconds(grace));
  }
  if (timer_ != nullptr) timer_->Shutdown();
  if (executor_ != nullptr) executor_->Shutdown();
  if (admin_ != nullptr) admin_->Stop();
  if (store_ != nullptr) store_->Close();
  if (webhook_secrets_ != nullptr) webhook_secrets_->Stop();
  if (ipn_secrets_ != nullptr) ipn_secrets_->Stop();
  logging::Info("paymento-bridge stopped", {});
}

}  // namespace paymento::bridge
