// The benchmark scenarios. Each one starts its own servers on 127.0.0.1
// with fresh temporary stores, runs its load `runs` times, and prints its
// figures as result rows (bench_stats.h): medians over the runs.
#ifndef PAYMENTO_BRIDGE_BENCH_SCENARIOS_H_
#define PAYMENTO_BRIDGE_BENCH_SCENARIOS_H_

#include <string>

#include "absl/status/status.h"

namespace paymento::bridge::bench {

struct BenchConfig {
  std::string bridge_binary;
  std::string bare_server_binary;
  // Every scenario scaled down to about a second, for the smoke test.
  bool smoke = false;
  int runs = 3;
  // Threads of the HTTP load client in the ingress scenario.
  int client_threads = 1;
  // Kept for inspection instead of being deleted after each run.
  bool keep_temp = false;
  // Watch for pauses of the whole machine during the ingress and
  // end-to-end loads (pause_watch.h), which slows their figures.
  bool pause_watch = false;
  // A PostgreSQL server for the ingress and end-to-end scenarios; empty
  // means SQLite. Each run uses a new schema, dropped afterwards.
  std::string postgres_url;
  // Bridge processes sharing the PostgreSQL store.
  int replicas = 1;
};

// The store the scenarios run on, as result rows name it: "sqlite", or
// "postgres" with the number of replicas.
std::string StoreLabel(const BenchConfig& config);
// The scenario's name in result rows: `base` on SQLite, and `base` with
// StoreLabel in parentheses on PostgreSQL.
std::string RowScenario(const char* base, const BenchConfig& config);

// fsync latency of the temporary directory's file system: the floor under
// every durable figure.
absl::Status RunDiskScenario(const BenchConfig& config);
// The bridge's own work on one webhook, step by step, in this process.
absl::Status RunStepsScenario(const BenchConfig& config);
// The SQLite store alone, appended to by 32 threads in this process: the
// store writer's own rate and CPU per event.
absl::Status RunStoreScenario(const BenchConfig& config);
// Signed webhooks over 32 keep-alive connections, closed loop, against the
// bridge and against the bare cpp-httplib server.
absl::Status RunIngressScenario(const BenchConfig& config);
// 2,000 webhooks/s paced, received by 10 tail subscribers.
absl::Status RunEndToEndScenario(const BenchConfig& config);
// One durable subscription receiving and acknowledging a preloaded backlog.
absl::Status RunDurableScenario(const BenchConfig& config);
// One tail subscriber reading 1,000,000 stored events from the earliest.
absl::Status RunReplayScenario(const BenchConfig& config);
// 10,000 open, idle tail streams: the bridge's resident memory.
absl::Status RunIdleStreamsScenario(const BenchConfig& config);

}  // namespace paymento::bridge::bench

#endif  // PAYMENTO_BRIDGE_BENCH_SCENARIOS_H_
