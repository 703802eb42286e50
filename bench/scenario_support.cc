#include "bench/scenario_support.h"

#include <grpcpp/grpcpp.h>

#include <httplib.h>
#include <unistd.h>

#include <iostream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "src/store/postgres_connection.h"
#include "src/store/postgres_store_options.h"
#include "src/verification/signature_verifier.h"

namespace paymento::bridge::bench {
namespace {

// Runs `sql` on the server `url` names, in a session of its own.
absl::Status ExecuteOnServer(const std::string& url, const std::string& sql) {
  absl::StatusOr<PostgresStoreUrl> parsed = ParsePostgresStoreUrl(url);
  if (!parsed.ok()) return parsed.status();
  absl::StatusOr<std::unique_ptr<PostgresConnection>> connection =
      PostgresConnection::Connect({parsed->libpq_url, parsed->password});
  if (!connection.ok()) return connection.status();
  return (*connection)->ExecuteScript(sql);
}

}  // namespace

std::string StoreLabel(const BenchConfig& config) {
  if (config.postgres_url.empty()) return "sqlite";
  return absl::StrCat("postgres, ", config.replicas,
                      config.replicas == 1 ? " replica" : " replicas");
}

std::string RowScenario(const char* base, const BenchConfig& config) {
  if (config.postgres_url.empty()) return base;
  return absl::StrCat(base, " (", StoreLabel(config), ")");
}

absl::StatusOr<std::unique_ptr<Deployment>> Deployment::Start(
    const BenchConfig& config, const std::string& directory) {
  BridgeLaunch launch;
  launch.binary = config.bridge_binary;
  launch.store_path = directory + "/events.db";
  launch.webhook_secret = kBenchSecret;
  std::string schema;
  if (!config.postgres_url.empty()) {
    // Only digits and underscores follow the prefix, so the name needs no
    // quoting beyond the double quotes.
    schema = absl::StrCat("bench_", getpid(), "_",
                          absl::ToUnixMicros(absl::Now()));
    absl::Status created = ExecuteOnServer(
        config.postgres_url, absl::StrCat("CREATE SCHEMA \"", schema, "\""));
    if (!created.ok()) return created;
    launch.store_url = absl::StrCat(
        config.postgres_url,
        absl::StrContains(config.postgres_url, "?") ? "&" : "?",
        "options=-csearch_path%3D", schema);
  }
  std::unique_ptr<Deployment> deployment(
      new Deployment(config.postgres_url, schema));
  int replicas = config.postgres_url.empty() ? 1 : config.replicas;
  for (int i = 0; i < replicas; ++i) {
    launch.log_path = absl::StrCat(directory, "/bridge-", i, ".log");
    absl::StatusOr<std::unique_ptr<BridgeServer>> bridge =
        BridgeServer::Start(launch);
    if (!bridge.ok()) return bridge.status();
    deployment->bridges_.push_back(*std::move(bridge));
  }
  return deployment;
}

absl::Status Deployment::Stop() {
  absl::Status first;
  for (std::unique_ptr<BridgeServer>& bridge : bridges_) {
    absl::Status stopped = bridge->Stop();
    if (first.ok()) first = stopped;
  }
  bridges_.clear();
  return first;
}

Deployment::~Deployment() {
  bridges_.clear();
  if (schema_.empty()) return;
  absl::Status dropped = ExecuteOnServer(
      postgres_url_, absl::StrCat("DROP SCHEMA \"", schema_, "\" CASCADE"));
  if (!dropped.ok()) {
    std::cerr << "paymento-bench: cannot drop schema " << schema_ << ": "
              << dropped.message() << "\n";
  }
}

absl::StatusOr<std::unique_ptr<BridgeServer>> StartBridgeIn(
    const BenchConfig& config, const std::string& directory) {
  BridgeLaunch launch;
  launch.binary = config.bridge_binary;
  launch.store_path = directory + "/events.db";
  launch.log_path = directory + "/bridge.log";
  launch.webhook_secret = kBenchSecret;
  return BridgeServer::Start(launch);
}

std::unique_ptr<v1::EventService::Stub> NewEventStub(
    const std::string& address) {
  grpc::ChannelArguments arguments;
  arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  // The default 4 MB would do; replay responses stay far below it.
  arguments.SetMaxReceiveMessageSize(64 << 20);
  return v1::EventService::NewStub(grpc::CreateCustomChannel(
      address, grpc::InsecureChannelCredentials(), arguments));
}

std::string GrpcCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    default:
      return absl::StrCat("status code ", static_cast<int>(code));
  }
}

absl::Status PostWebhook(int http_port, const SignedWebhooks& webhooks,
                         const std::string& event_id) {
  httplib::Client client("127.0.0.1", http_port);
  client.set_read_timeout(10);
  std::string body = webhooks.Body(event_id);
  httplib::Headers headers = {
      {"X-Paymento-Signature", HmacSha256Hex(kBenchSecret, body)}};
  httplib::Result result =
      client.Post("/webhook", headers, body, "application/json");
  if (!result) {
    return absl::UnavailableError(absl::StrCat(
        "posting webhook ", event_id, " failed: ",
        httplib::to_string(result.error())));
  }
  if (result->status != 200) {
    return absl::InternalError(absl::StrCat("webhook ", event_id,
                                            " got status ", result->status, " ",
                                            result->body));
  }
  return absl::OkStatus();
}

}  // namespace paymento::bridge::bench
