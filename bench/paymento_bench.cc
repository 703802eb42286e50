// paymento-bench: benchmarks of the real paymento-bridge binary on
// 127.0.0.1. Each scenario starts its own servers with fresh temporary
// stores, runs its own load generator, and prints its figures as lines
// "ROW<TAB>scenario<TAB>figure<TAB>value<TAB>target" on stdout, medians over
// --runs runs; progress and per-run figures go to stderr.
// scripts/bench.sh runs every scenario and prints the rows as one table.
//
// Usage:
//   paymento-bench --scenario=ingress --bridge=build/paymento-bridge
//       --bare_server=build/bare-httplib-server [--smoke] [--runs=3]
//       [--postgres_url=postgres://... [--replicas=2]]
#include <signal.h>

#include <cstdio>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_join.h"
#include "bench/scenarios.h"

ABSL_FLAG(std::string, bridge, "",
          "path of the paymento-bridge binary to benchmark");
ABSL_FLAG(std::string, bare_server, "",
          "path of the bare-httplib-server binary (ingress scenario only)");
ABSL_FLAG(std::string, scenario, "",
          "scenario to run: disk, steps, store, ingress, end-to-end, "
          "durable, replay or idle-streams");
ABSL_FLAG(bool, smoke, false,
          "scale the scenario down to about a second, for a quick check");
ABSL_FLAG(int, runs, 3, "runs per scenario; the figures are medians over them");
ABSL_FLAG(int, client_threads, 1,
          "threads of the HTTP load client in the ingress scenario");
ABSL_FLAG(std::string, postgres_url, "",
          "PostgreSQL server for the ingress and end-to-end scenarios, as a "
          "store URL; each run creates and drops a schema of its own");
ABSL_FLAG(int, replicas, 1,
          "bridge processes sharing the PostgreSQL store (with "
          "--postgres_url)");
ABSL_FLAG(bool, keep_temp, false,
          "keep the temporary stores and logs instead of deleting them");
ABSL_FLAG(bool, pause_watch, false,
          "watch for pauses of the whole machine during the ingress and "
          "end-to-end loads, with one realtime thread per CPU; their "
          "wake-ups slow the figures");

namespace {

using paymento::bridge::bench::BenchConfig;
using ScenarioFunction = absl::Status (*)(const BenchConfig&);

const std::map<std::string, ScenarioFunction>& Scenarios() {
  static const auto* scenarios = new std::map<std::string, ScenarioFunction>{
      {"disk", paymento::bridge::bench::RunDiskScenario},
      {"steps", paymento::bridge::bench::RunStepsScenario},
      {"store", paymento::bridge::bench::RunStoreScenario},
      {"ingress", paymento::bridge::bench::RunIngressScenario},
      {"end-to-end", paymento::bridge::bench::RunEndToEndScenario},
      {"durable", paymento::bridge::bench::RunDurableScenario},
      {"replay", paymento::bridge::bench::RunReplayScenario},
      {"idle-streams", paymento::bridge::bench::RunIdleStreamsScenario},
  };
  return *scenarios;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "runs one benchmark scenario against paymento-bridge on 127.0.0.1");
  absl::ParseCommandLine(argc, argv);
  // A server that closes a connection mid-write must not end the benchmark.
  signal(SIGPIPE, SIG_IGN);

  std::string name = absl::GetFlag(FLAGS_scenario);
  auto found = Scenarios().find(name);
  if (found == Scenarios().end()) {
    std::vector<std::string> names;
    for (const auto& [known, function] : Scenarios()) names.push_back(known);
    std::cerr << "paymento-bench: invalid --scenario \"" << name
              << "\": use one of " << absl::StrJoin(names, ", ") << "\n";
    return 2;
  }
  BenchConfig config;
  config.bridge_binary = absl::GetFlag(FLAGS_bridge);
  config.bare_server_binary = absl::GetFlag(FLAGS_bare_server);
  config.smoke = absl::GetFlag(FLAGS_smoke);
  config.runs = absl::GetFlag(FLAGS_runs);
  config.client_threads = absl::GetFlag(FLAGS_client_threads);
  config.keep_temp = absl::GetFlag(FLAGS_keep_temp);
  config.pause_watch = absl::GetFlag(FLAGS_pause_watch);
  config.postgres_url = absl::GetFlag(FLAGS_postgres_url);
  config.replicas = absl::GetFlag(FLAGS_replicas);
  if (config.bridge_binary.empty() && name != "disk") {
    std::cerr << "paymento-bench: missing --bridge: give the path of the "
                 "paymento-bridge binary\n";
    return 2;
  }
  if (config.bare_server_binary.empty() && name == "ingress") {
    std::cerr << "paymento-bench: missing --bare_server: the ingress "
                 "scenario needs the bare-httplib-server binary\n";
    return 2;
  }
  if (!config.postgres_url.empty() && name != "ingress" &&
      name != "end-to-end") {
    std::cerr << "paymento-bench: --postgres_url applies to the ingress and "
                 "end-to-end scenarios only, not \""
              << name << "\"\n";
    return 2;
  }
  if (config.replicas < 1 || config.replicas > 8 ||
      (config.replicas > 1 && config.postgres_url.empty())) {
    std::cerr << "paymento-bench: invalid --replicas: use 1 to 8, and more "
                 "than 1 only with --postgres_url\n";
    return 2;
  }
  if (config.runs < 1 || config.client_threads < 1) {
    std::cerr << "paymento-bench: invalid --runs or --client_threads: use 1 "
                 "or more\n";
    return 2;
  }

  absl::Status status = found->second(config);
  if (!status.ok()) {
    std::cerr << "paymento-bench: scenario " << name
              << " failed: " << status.message() << "\n";
    return 1;
  }
  return 0;
}
