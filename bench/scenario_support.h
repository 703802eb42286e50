// Helpers that several scenarios share: a bridge on a fresh store, gRPC
// stubs with their own connections, and single webhook posts.
#ifndef PAYMENTO_BRIDGE_BENCH_SCENARIO_SUPPORT_H_
#define PAYMENTO_BRIDGE_BENCH_SCENARIO_SUPPORT_H_

#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bench/bench_process.h"
#include "bench/scenarios.h"
#include "bench/signed_webhooks.h"
#include "paymento/bridge/v1/event_service.grpc.pb.h"

namespace paymento::bridge::bench {

// Starts paymento-bridge on the store `directory`/events.db (created when
// missing), logging to `directory`/bridge.log.
absl::StatusOr<std::unique_ptr<BridgeServer>> StartBridgeIn(
    const BenchConfig& config, const std::string& directory);

// The bridges of one run: one on the SQLite file `directory`/events.db, or
// config.replicas processes sharing a new schema on config.postgres_url.
class Deployment {
 public:
  static absl::StatusOr<std::unique_ptr<Deployment>> Start(
      const BenchConfig& config, const std::string& directory);
  // Stops the bridges that still run and drops the schema.
  ~Deployment();

  int size() const { return static_cast<int>(bridges_.size()); }
  BridgeServer& bridge(int index) { return *bridges_[index]; }
  // Stops every bridge with SIGTERM; returns the first error.
  absl::Status Stop();

 private:
  Deployment(std::string postgres_url, std::string schema)
      : postgres_url_(std::move(postgres_url)), schema_(std::move(schema)) {}

  std::string postgres_url_;
  // Empty on SQLite.
  std::string schema_;
  std::vector<std::unique_ptr<BridgeServer>> bridges_;
};

// Returns a stub on a channel with its own TCP connection. Without the
// local subchannel pool, gRPC shares one connection between channels to
// the same address.
std::unique_ptr<v1::EventService::Stub> NewEventStub(
    const std::string& address);

// Returns the canonical name of a gRPC status code, such as "UNIMPLEMENTED".
std::string GrpcCodeName(grpc::StatusCode code);

// Posts one signed webhook with `event_id` and checks the 200 status.
absl::Status PostWebhook(int http_port, const SignedWebhooks& webhooks,
                         const std::string& event_id);

}  // namespace paymento::bridge::bench

#endif  // PAYMENTO_BRIDGE_BENCH_SCENARIO_SUPPORT_H_
