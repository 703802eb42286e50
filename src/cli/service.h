// Service: the running paymento-bridge, wiring the store, the ingress, the
// gRPC API and the admin port together, and taking them down in order.
#ifndef PAYMENTO_BRIDGE_SRC_CLI_SERVICE_H_
#define PAYMENTO_BRIDGE_SRC_CLI_SERVICE_H_

#include <atomic>
#include <memory>
#include <optional>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "src/admin/admin_server.h"
#include "src/admin/health_monitor.h"
#include "src/admin/memory_trimmer.h"
#include "src/config/serve_config.h"
#include "src/config/tls_files.h"
#include "src/grpc_service/auth.h"
#include "src/grpc_service/event_service.h"
#include "src/ingress/http_ingress.h"
#include "src/ingress/tls_server_context.h"
#include "src/ingress/webhook_handler.h"
#include "src/metrics/metrics.h"
#include "src/store/event_store.h"
#include "src/store/retention_worker.h"
#include "src/streaming/commit_notifier.h"
#include "src/streaming/executor.h"
#include "src/streaming/task_batcher.h"
#include "src/streaming/timer.h"
#include "src/verification/secret_source.h"

namespace paymento::bridge {

class Service {
 public:
  explicit Service(ServeConfig config);
  ~Service();

  // Opens the store and starts every listener. On failure, what was started
  // is stopped again and the error names the part that failed.
  absl::Status Start();

  // Drains and stops, in this order. Readiness turns false (gRPC health
  // NOT_SERVING) at once. After --drain-delay the ingress responds to new
  // webhooks with 503 and Retry-After, and open streams end with
  // UNAVAILABLE. Requests in flight finish, then the store closes. Safe to
  // call more than once, and after a failed Start.
  void Shutdown();

  // OK when the service takes traffic: started, not draining, and the store
  // check passing. Otherwise UNAVAILABLE with the reason.
  absl::Status Readiness() const;

 private:
  absl::Status LoadSecrets();
  absl::Status LoadTokens();
  absl::Status LoadGrpcTls();
  // Builds the HTTPS context when --tls-cert is set.
  absl::Status LoadIngressTls();
  absl::Status OpenEventStore();
  absl::Status CheckStore() const;
  absl::Status StartGrpc();
  std::shared_ptr<grpc::ServerCredentials> GrpcCredentials() const;
  void WarnIfGrpcIsOpen() const;
  // Returns the backlog of every durable subscription, for /metrics.
  std::vector<SubscriptionBacklog> SubscriptionBacklogs() const;
  void StopGrpc(absl::Time deadline);
  // Pushes a change of Readiness() to the gRPC health service, the ready
  // gauge and the log.
  void PublishReadiness();
  void LogStarted() const;

  const ServeConfig config_;
  const std::unique_ptr<Metrics> metrics_;
  // Set once every listener is up; read by the admin and monitor threads.
  std::atomic<bool> started_{false};
  std::atomic<bool> draining_{false};
  std::unique_ptr<TokenAuthorizer> authorizer_;
  // The checked PEM files of --grpc-tls-*; empty for a plaintext port.
  std::optional<ServerTlsFiles> grpc_tls_;
  // Null for plain HTTP.
  SslContextPtr ingress_tls_;
  // The directory of a SQLite store, probed for writes; empty otherwise.
  std::string data_directory_;
  std::unique_ptr<HealthMonitor> store_monitor_;
  std::unique_ptr<SecretSource> webhook_secrets_;
  std::unique_ptr<SecretSource> ipn_secrets_;
  std::unique_ptr<EventStore> store_;
  std::unique_ptr<CommitNotifier> notifier_;
  // Declared before executor_, so that the executor's threads, which run
  // its batches, are joined before it is destroyed.
  std::unique_ptr<TaskBatcher> stream_wakeups_;
  std::unique_ptr<Executor> executor_;
  std::unique_ptr<Timer> timer_;
  std::unique_ptr<WebhookHandler> handler_;
  std::unique_ptr<HttpIngress> ingress_;
  std::unique_ptr<SubscriptionManager> subscriptions_;
  std::unique_ptr<RetentionWorker> retention_;
  std::unique_ptr<EventServiceImpl> event_service_;
  std::unique_ptr<grpc::Server> grpc_server_;
  int grpc_port_ = 0;
  std::unique_ptr<AdminServer> admin_;
  std::unique_ptr<MemoryTrimmer> memory_trimmer_;

  // Serializes PublishReadiness between the monitor thread and Shutdown.
  absl::Mutex readiness_mu_;
  bool readiness_published_ ABSL_GUARDED_BY(readiness_mu_) = false;
  bool published_ready_ ABSL_GUARDED_BY(readiness_mu_) = false;
};

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_CLI_SERVICE_H_
