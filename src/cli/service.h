// Service: the running paymento-bridge, wiring the store, the ingress, the
// gRPC API and the admin port together, and taking them down in order.
#ifndef PAYMENTO_BRIDGE_SRC_CLI_SERVICE_H_
#define PAYMENTO_BRIDGE_SRC_CLI_SERVICE_H_

#include <atomic>
#include <memory>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "src/admin/admin_server.h"
#include "src/config/serve_config.h"
#include "src/grpc_service/event_service.h"
#include "src/ingress/http_ingress.h"
#include "src/ingress/webhook_handler.h"
#include "src/store/event_store.h"
#include "src/streaming/commit_notifier.h"
#include "src/streaming/executor.h"
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

  // Drains and stops: readiness turns false first, then the ingress answers
  // 503, streams end, and the store closes.
  void Shutdown();

  absl::Status Readiness() const;

 private:
  absl::Status LoadSecrets();
  absl::Status StartGrpc();
  void LogStarted() const;

  const ServeConfig config_;
  std::atomic<bool> draining_{false};
  std::unique_ptr<SecretSource> webhook_secrets_;
  std::unique_ptr<SecretSource> ipn_secrets_;
  std::unique_ptr<EventStore> store_;
  std::unique_ptr<CommitNotifier> notifier_;
  std::unique_ptr<Executor> executor_;
  std::unique_ptr<Timer> timer_;
  std::unique_ptr<WebhookHandler> handler_;
  std::unique_ptr<HttpIngress> ingress_;
  std::unique_ptr<EventServiceImpl> event_service_;
  std::unique_ptr<grpc::Server> grpc_server_;
  int grpc_port_ = 0;
  std::unique_ptr<AdminServer> admin_;
};

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_CLI_SERVICE_H_
