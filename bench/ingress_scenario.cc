// Ingress throughput: signed webhooks, each with a unique event id, over 32
// keep-alive connections in a closed loop. The load runs first against
// paymento-bridge, which fsyncs every event before its 200, then with the
// same client against the bare cpp-httplib server. The bare server's rate
// is the ceiling of client, HTTP library and loopback on the machine.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "bench/bench_process.h"
#include "bench/bench_stats.h"
#include "bench/http_load.h"
#include "bench/scenario_support.h"
#include "bench/scenarios.h"
#include "bench/signed_webhooks.h"

namespace paymento::bridge::bench {
namespace {

constexpr char kScenario[] = "ingress";
constexpr int kConnections = 32;
// The ingress's default --http-threads; the bare server gets the same.
constexpr int kHttpThreads = 128;

struct IngressRun {
  double accepted_per_second = 0;
  double p50_ns = 0;
  double p99_ns = 0;
  // Server CPU seconds per 1,000 accepted requests in the window.
  double server_cpu_per_1000 = 0;
  double client_cpu_per_1000 = 0;
  int64_t problems = 0;
};

ClosedLoopOptions LoadOptions(const BenchConfig& config, int port) {
  ClosedLoopOptions options;
  options.port = port;
  options.connections = kConnections;
  options.threads = config.client_threads;
  options.warmup = config.smoke ? absl::Milliseconds(200) : absl::Seconds(1);
  options.window = config.smoke ? absl::Milliseconds(800) : absl::Seconds(5);
  return options;
}

// Runs the closed loop against the server `pid` listening on `port`.
absl::StatusOr<IngressRun> Measure(const BenchConfig& config, pid_t pid,
                                   int port, int run) {
  SignedWebhooks webhooks(absl::Now());
  RequestBuilder build = [&webhooks, run](int64_t index, int64_t) {
    return webhooks.Request(absl::StrFormat("evt_bench_%d_%010d", run, index));
  };
  ClosedLoopOptions options = LoadOptions(config, port);
  options.opening_request = [&webhooks, run](int connection) {
    return webhooks.Request(
        absl::StrFormat("evt_bench_open_%d_%02d", run, connection));
  };
  double cpu_start = 0;
  double cpu_end = 0;
  absl::StatusOr<HttpLoadResult> load = RunClosedLoop(
      options, build,
      [&] { cpu_start = ProcessCpuSeconds(pid); },
      [&] { cpu_end = ProcessCpuSeconds(pid); });
  if (!load.ok()) return load.status();
  if (load->accepted == 0) {
    return absl::InternalError(absl::StrCat(
        "no request was accepted; first problem: ", load->first_problem));
  }
  IngressRun result;
  result.accepted_per_second =
      static_cast<double>(load->accepted) / load->window_seconds;
  result.p50_ns = static_cast<double>(Percentile(load->latencies_ns, 0.50));
  result.p99_ns = static_cast<double>(Percentile(load->latencies_ns, 0.99));
  result.server_cpu_per_1000 =
      (cpu_end - cpu_start) / static_cast<double>(load->accepted) * 1000;
  result.client_cpu_per_1000 = load->client_cpu_seconds /
                               static_cast<double>(load->sent) * 1000;
  result.problems = load->unexpected + load->connection_errors;
  if (result.problems > 0) {
    std::cerr << "ingress: " << result.problems
              << " requests without the response 200 {\"received\":true}; first: "
              << load->first_problem << "\n";
  }
  return result;
}

absl::StatusOr<IngressRun> RunBridge(const BenchConfig& config, int run) {
  absl::StatusOr<std::unique_ptr<TempDirectory>> directory =
      TempDirectory::Create(config.keep_temp);
  if (!directory.ok()) return directory.status();
  absl::StatusOr<std::unique_ptr<BridgeServer>> bridge =
      StartBridgeIn(config, (*directory)->path());
  if (!bridge.ok()) return bridge.status();
  absl::StatusOr<IngressRun> result = Measure(
      config, (*bridge)->pid(), (*bridge)->endpoints().http_port, run);
  absl::Status stopped = (*bridge)->Stop();
  if (!result.ok()) return result.status();
  if (!stopped.ok()) return stopped;
  return result;
}

absl::StatusOr<IngressRun> RunBare(const BenchConfig& config, int run) {
  absl::StatusOr<std::unique_ptr<TempDirectory>> directory =
      TempDirectory::Create(config.keep_temp);
  if (!directory.ok()) return directory.status();
  int port = 0;
  absl::StatusOr<std::unique_ptr<ChildProcess>> bare =
      StartBareServer(config.bare_server_binary, kHttpThreads,
                      (*directory)->path() + "/bare.log", &port);
  if (!bare.ok()) return bare.status();
  absl::StatusOr<IngressRun> result =
      Measure(config, (*bare)->pid(), port, run);
  (*bare)->Stop();
  return result;
}

}  // namespace

absl::Status RunIngressScenario(const BenchConfig& config) {
  std::vector<double> rate, p50, p99, cpu, client_cpu;
  std::vector<double> bare_rate, bare_p50, bare_p99, bare_cpu;
  int64_t problems = 0;
  for (int run = 0; run < config.runs; ++run) {
    absl::StatusOr<IngressRun> bridge = RunBridge(config, run);
    if (!bridge.ok()) return bridge.status();
    absl::StatusOr<IngressRun> bare = RunBare(config, run);
    if (!bare.ok()) return bare.status();
    rate.push_back(bridge->accepted_per_second);
    p50.push_back(bridge->p50_ns);
    p99.push_back(bridge->p99_ns);
    cpu.push_back(bridge->server_cpu_per_1000);
    client_cpu.push_back(bridge->client_cpu_per_1000);
    problems += bridge->problems;
    bare_rate.push_back(bare->accepted_per_second);
    bare_p50.push_back(bare->p50_ns);
    bare_p99.push_back(bare->p99_ns);
    bare_cpu.push_back(bare->server_cpu_per_1000);
    std::cerr << absl::StrFormat(
        "ingress run %d: bridge %.0f/s (p50 %.2f ms, p99 %.2f ms), bare "
        "%.0f/s\n",
        run + 1, bridge->accepted_per_second, bridge->p50_ns / 1e6,
        bridge->p99_ns / 1e6, bare->accepted_per_second);
  }
  std::cerr << "ingress: bridge webhooks/s per run " << FormatRuns(rate)
            << ", bare per run " << FormatRuns(bare_rate) << "\n";

  double median_rate = Median(rate);
  double median_bare = Median(bare_rate);
  PrintRow({kScenario, "accepted webhooks/s (fsync'd)",
            FormatCount(median_rate), ">= 20,000"});
  PrintRow({kScenario, "latency p50",
            FormatMilliseconds(static_cast<int64_t>(Median(p50))), "-"});
  PrintRow({kScenario, "latency p99",
            FormatMilliseconds(static_cast<int64_t>(Median(p99))), "-"});
  PrintRow({kScenario, "bridge CPU s per 1,000 webhooks",
            absl::StrFormat("%.3f", Median(cpu)), "-"});
  PrintRow({kScenario, "bare httplib requests/s", FormatCount(median_bare),
            "-"});
  PrintRow({kScenario, "bare httplib p50 / p99",
            absl::StrCat(
                FormatMilliseconds(static_cast<int64_t>(Median(bare_p50))),
                " / ",
                FormatMilliseconds(static_cast<int64_t>(Median(bare_p99)))),
            "-"});
  PrintRow({kScenario, "bare httplib CPU s per 1,000 requests",
            absl::StrFormat("%.3f", Median(bare_cpu)), "-"});
  PrintRow({kScenario, "bridge / bare",
            absl::StrFormat("%.0f%%", 100 * median_rate / median_bare),
            ">= 60%"});
  PrintRow({kScenario, "load client CPU s per 1,000 requests",
            absl::StrFormat("%.3f", Median(client_cpu)), "-"});
  if (problems > 0) {
    PrintRow({kScenario, "responses other than 200 (all runs)",
              FormatCount(static_cast<double>(problems)), "0"});
  }
  return absl::OkStatus();
}

}  // namespace paymento::bridge::bench
