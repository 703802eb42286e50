// Ingress throughput: signed webhooks, each with a unique event id, over 32
// keep-alive connections in a closed loop. The load runs first against
// paymento-bridge, which fsyncs every event before its 200, then with the
// same client against the bare cpp-httplib server in three forms, in turns
// that alternate by run: with the bridge's checks and a SQLite commit, with
// the commit alone, and bare. The
// bare server's rate is the ceiling of client, HTTP library and loopback on
// the machine. With the commit, it is the ceiling of a durable 200 with
// these libraries, and with the checks too, that of the bridge's work.
#include <sys/wait.h>

#include <algorithm>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "bench/bench_process.h"
#include "bench/bench_stats.h"
#include "bench/http_load.h"
#include "bench/pause_watch.h"
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
  // Server CPU seconds per 1,000 accepted requests in the window, in all
  // and in the bridge's store writer thread.
  double server_cpu_per_1000 = 0;
  double writer_cpu_per_1000 = 0;
  double client_cpu_per_1000 = 0;
  // Shares of the window in which the store writer thread ran and in which
  // it was ready but waited for a CPU (-1 when unknown), with 32
  // connection threads and the load client on the same cores.
  double writer_running = 0;
  double writer_waiting = 0;
  // Events per store transaction and the mean transaction time, from the
  // bridge's metrics; 0 when they were not read.
  double events_per_commit = 0;
  double commit_ms = 0;
  // Context switches of the server's threads per accepted request.
  double switches_per_request = 0;
  int64_t problems = 0;
  // Pauses of the whole machine while the load ran, warm-up included.
  PauseSummary pauses;
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

// The bridge's thread that commits events to the store.
constexpr char kWriterThread[] = "store-writer";

// A server under load: its process, for the CPU time, and its port.
struct Target {
  pid_t pid = 0;
  int port = 0;
  // The bridge's admin port, for its commit metrics; 0 for the bare server.
  int admin_port = 0;
};

// The server's threads and, for the bridge, its commit totals, read at one
// edge of the measured window.
struct WindowEdge {
  ThreadsSample threads;
  absl::StatusOr<CommitTotals> commits = absl::UnavailableError("not read");
};

WindowEdge ReadWindowEdge(const Target& target) {
  WindowEdge edge;
  edge.threads = SampleThreads(target.pid, kWriterThread);
  if (target.admin_port != 0) {
    edge.commits = ReadCommitTotals(target.admin_port);
  }
  return edge;
}

// Adds the figures of one closed loop, with the server's threads sampled
// at its start and end, to the sums in `total`.
void AddLoad(const HttpLoadResult& load, const WindowEdge& start_edge,
             const WindowEdge& end_edge, IngressRun& total,
             CommitTotals& commits, int64_t& accepted, int64_t& sent,
             std::vector<int64_t>& latencies) {
  const ThreadsSample& start = start_edge.threads;
  const ThreadsSample& end = end_edge.threads;
  if (start_edge.commits.ok() && end_edge.commits.ok()) {
    commits.commits += end_edge.commits->commits - start_edge.commits->commits;
    commits.events += end_edge.commits->events - start_edge.commits->events;
    commits.seconds += end_edge.commits->seconds - start_edge.commits->seconds;
  }
  total.accepted_per_second +=
      static_cast<double>(load.accepted) / load.window_seconds;
  total.server_cpu_per_1000 += end.cpu_seconds - start.cpu_seconds;
  total.writer_cpu_per_1000 += end.named_cpu_seconds - start.named_cpu_seconds;
  total.writer_running +=
      (end.named_cpu_seconds - start.named_cpu_seconds) / load.window_seconds;
  if (start.named_wait_seconds < 0 || end.named_wait_seconds < 0 ||
      total.writer_waiting < 0) {
    total.writer_waiting = -1;
  } else {
    total.writer_waiting +=
        (end.named_wait_seconds - start.named_wait_seconds) /
        load.window_seconds;
  }
  total.switches_per_request +=
      static_cast<double>(end.context_switches - start.context_switches);
  total.client_cpu_per_1000 += load.client_cpu_seconds;
  total.problems += load.unexpected + load.connection_errors;
  accepted += load.accepted;
  sent += load.sent;
  latencies.insert(latencies.end(), load.latencies_ns.begin(),
                   load.latencies_ns.end());
  if (load.unexpected + load.connection_errors > 0) {
    std::cerr << "ingress: " << load.unexpected + load.connection_errors
              << " requests without the response 200 {\"received\":true}; "
                 "first: "
              << load.first_problem << "\n";
  }
}

// Runs the closed loop against `targets` at once, with the connections
// split evenly between them.
absl::StatusOr<IngressRun> Measure(const BenchConfig& config,
                                   const std::vector<Target>& targets,
                                   int run) {
  SignedWebhooks webhooks(absl::Now());
  const int count = static_cast<int>(targets.size());
  std::vector<absl::StatusOr<HttpLoadResult>> loads(
      count, absl::UnknownError("not run"));
  std::vector<WindowEdge> samples_start(count);
  std::vector<WindowEdge> samples_end(count);
  std::vector<std::thread> threads;
  PauseWatch pause_watch(config.pause_watch);
  for (int t = 0; t < count; ++t) {
    threads.emplace_back([&, t] {
      RequestBuilder build = [&webhooks, run, t](int64_t index, int64_t) {
        return webhooks.Request(
            absl::StrFormat("evt_bench_%d_%d_%010d", run, t, index));
      };
      ClosedLoopOptions options = LoadOptions(config, targets[t].port);
      options.connections = kConnections / count;
      options.opening_request = [&webhooks, run, t](int connection) {
        return webhooks.Request(
            absl::StrFormat("evt_bench_open_%d_%d_%02d", run, t, connection));
      };
      const Target& target = targets[t];
      loads[t] = RunClosedLoop(
          options, build,
          [&, t] { samples_start[t] = ReadWindowEdge(target); },
          [&, t] { samples_end[t] = ReadWindowEdge(target); });
    });
  }
  for (std::thread& thread : threads) thread.join();

  IngressRun result;
  result.pauses = pause_watch.Stop();
  int64_t accepted = 0;
  int64_t sent = 0;
  std::vector<int64_t> latencies;
  CommitTotals commits;
  for (int t = 0; t < count; ++t) {
    if (!loads[t].ok()) return loads[t].status();
    AddLoad(*loads[t], samples_start[t], samples_end[t], result, commits,
            accepted, sent, latencies);
  }
  if (commits.commits > 0) {
    result.events_per_commit = commits.events / commits.commits;
    result.commit_ms = 1000 * commits.seconds / commits.commits;
  }
  if (accepted == 0) {
    return absl::InternalError(absl::StrCat(
        "no request was accepted; first problem: ", loads[0]->first_problem));
  }
  result.p50_ns = static_cast<double>(Percentile(latencies, 0.50));
  result.p99_ns = static_cast<double>(Percentile(latencies, 0.99));
  // The sums become figures per request, and CPU seconds per 1,000.
  result.server_cpu_per_1000 =
      result.server_cpu_per_1000 / static_cast<double>(accepted) * 1000;
  result.writer_cpu_per_1000 =
      result.writer_cpu_per_1000 / static_cast<double>(accepted) * 1000;
  result.switches_per_request /= static_cast<double>(accepted);
  result.writer_running /= count;
  if (result.writer_waiting >= 0) result.writer_waiting /= count;
  result.client_cpu_per_1000 =
      result.client_cpu_per_1000 / static_cast<double>(sent) * 1000;
  return result;
}

absl::StatusOr<IngressRun> RunBridge(const BenchConfig& config, int run) {
  absl::StatusOr<std::unique_ptr<TempDirectory>> directory =
      TempDirectory::Create(config.keep_temp);
  if (!directory.ok()) return directory.status();
  absl::StatusOr<std::unique_ptr<Deployment>> deployment =
      Deployment::Start(config, (*directory)->path());
  if (!deployment.ok()) return deployment.status();
  std::vector<Target> targets;
  for (int i = 0; i < (*deployment)->size(); ++i) {
    BridgeServer& bridge = (*deployment)->bridge(i);
    targets.push_back({bridge.pid(), bridge.endpoints().http_port,
                       bridge.endpoints().admin_port});
  }
  absl::StatusOr<IngressRun> result = Measure(config, targets, run);
  absl::Status stopped = (*deployment)->Stop();
  if (!result.ok()) return result.status();
  if (!stopped.ok()) return stopped;
  return result;
}

// A form of the bare server: its name in the rows, its load's name in the
// steal time rows, and what it does before its 200.
struct BareServer {
  std::string name;
  std::string load;
  bool sqlite = false;
  bool checks = false;
};

// Runs the load against the bare server in the form `server`.
absl::StatusOr<IngressRun> RunBare(const BenchConfig& config, int run,
                                   const BareServer& server) {
  absl::StatusOr<std::unique_ptr<TempDirectory>> directory =
      TempDirectory::Create(config.keep_temp);
  if (!directory.ok()) return directory.status();
  std::vector<std::string> flags;
  if (server.sqlite) {
    flags.push_back(
        absl::StrCat("--sqlite=", (*directory)->path(), "/bare.db"));
  }
  if (server.checks) flags.push_back("--checks");
  int port = 0;
  absl::StatusOr<std::unique_ptr<ChildProcess>> bare =
      StartBareServer(config.bare_server_binary, kHttpThreads, flags,
                      (*directory)->path() + "/bare.log", &port);
  if (!bare.ok()) return bare.status();
  absl::StatusOr<IngressRun> result =
      Measure(config, {{(*bare)->pid(), port}}, run);
  // A server that died during the load, of a failed commit for instance,
  // would otherwise show only as requests without a 200.
  int status = (*bare)->Stop();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(
        absl::StrCat("bare-httplib-server (", server.name,
                     ") did not exit cleanly; its log:\n", (*bare)->LogTail()));
  }
  return result;
}

// The figures of one bare server over the runs.
struct BareFigures {
  std::vector<double> rate, p50, p99, cpu, writer_cpu, switches;
  std::vector<PauseSummary> pauses;

  void Add(const IngressRun& run) {
    rate.push_back(run.accepted_per_second);
    p50.push_back(run.p50_ns);
    p99.push_back(run.p99_ns);
    cpu.push_back(run.server_cpu_per_1000);
    writer_cpu.push_back(run.writer_cpu_per_1000);
    switches.push_back(run.switches_per_request);
    pauses.push_back(run.pauses);
  }
};

// Prints the rows of one form of the bare server. Only a form that commits
// to SQLite gets a row for its writer thread.
void PrintBareRows(const std::string& scenario, const BenchConfig& config,
                   const BareServer& server, const BareFigures& figures) {
  const std::string& name = server.name;
  const std::string& load = server.load;
  PrintRow({scenario, absl::StrCat(name, " requests/s"),
            FormatCount(Median(figures.rate)), "-"});
  PrintRow(
      {scenario, absl::StrCat(name, " p50 / p99"),
       absl::StrCat(
           FormatMilliseconds(static_cast<int64_t>(Median(figures.p50))), " / ",
           FormatMilliseconds(static_cast<int64_t>(Median(figures.p99)))),
       "-"});
  PrintRow({scenario, absl::StrCat(name, " CPU s per 1,000 requests"),
            absl::StrFormat("%.3f", Median(figures.cpu)), "-"});
  if (server.sqlite) {
    PrintRow({scenario,
              absl::StrCat(name, " writer thread CPU s per 1,000 requests"),
              absl::StrFormat("%.3f", Median(figures.writer_cpu)), "-"});
  }
  PrintRow({scenario, absl::StrCat(name, " context switches per request"),
            absl::StrFormat("%.1f", Median(figures.switches)), "-"});
  PrintRow({scenario,
            absl::StrCat("host steal time under ", load, ", share of CPU time"),
            FormatSteal(figures.pauses), "-"});
  if (config.pause_watch) {
    PrintRow({scenario,
              absl::StrCat("machine paused under ", load, " (all runs)"),
              FormatPauses(figures.pauses), "-"});
  }
}

}  // namespace

absl::Status RunIngressScenario(const BenchConfig& config) {
  const std::string scenario = RowScenario(kScenario, config);
  std::vector<double> rate, p50, p99, cpu, writer_cpu, switches, client_cpu;
  std::vector<double> writer_running, writer_waiting, per_commit, commit_ms;
  std::vector<PauseSummary> pauses;
  // The bare server is the last entry, the base of the ratios. The two
  // forms before it do the minimum work of a durable 200, with and without
  // the bridge's checks.
  const std::vector<BareServer> servers = {
      {"bare httplib + checks + SQLite commit",
       "the bare server with checks and SQLite", true, true},
      {"bare httplib + SQLite commit", "the bare server with SQLite", true,
       false},
      {"bare httplib", "the bare server's load", false, false},
  };
  std::vector<BareFigures> figures(servers.size());
  int64_t problems = 0;
  for (int run = 0; run < config.runs; ++run) {
    absl::StatusOr<IngressRun> bridge = RunBridge(config, run);
    if (!bridge.ok()) return bridge.status();
    std::string progress = absl::StrFormat(
        "ingress run %d: bridge %.0f/s (p50 %.2f ms, p99 %.2f ms)", run + 1,
        bridge->accepted_per_second, bridge->p50_ns / 1e6,
        bridge->p99_ns / 1e6);
    // Odd runs take the forms in the reverse order, so that a host that
    // speeds up or slows down within a run does not favour one of them.
    for (size_t k = 0; k < servers.size(); ++k) {
      size_t i = run % 2 == 0 ? k : servers.size() - 1 - k;
      absl::StatusOr<IngressRun> bare = RunBare(config, run, servers[i]);
      if (!bare.ok()) return bare.status();
      problems += bare->problems;
      figures[i].Add(*bare);
      absl::StrAppendFormat(&progress, ", %s %.0f/s", servers[i].name,
                            bare->accepted_per_second);
    }
    std::cerr << progress << "\n";
    rate.push_back(bridge->accepted_per_second);
    p50.push_back(bridge->p50_ns);
    p99.push_back(bridge->p99_ns);
    cpu.push_back(bridge->server_cpu_per_1000);
    writer_cpu.push_back(bridge->writer_cpu_per_1000);
    writer_running.push_back(bridge->writer_running);
    writer_waiting.push_back(bridge->writer_waiting);
    per_commit.push_back(bridge->events_per_commit);
    commit_ms.push_back(bridge->commit_ms);
    switches.push_back(bridge->switches_per_request);
    client_cpu.push_back(bridge->client_cpu_per_1000);
    problems += bridge->problems;
    pauses.push_back(bridge->pauses);
  }
  std::cerr << "ingress: bridge webhooks/s per run " << FormatRuns(rate);
  for (size_t i = 0; i < servers.size(); ++i) {
    std::cerr << ", " << servers[i].name << " per run "
              << FormatRuns(figures[i].rate);
  }
  std::cerr << "\n";

  double median_rate = Median(rate);
  double median_bare = Median(figures.back().rate);
  PrintRow({scenario, "accepted webhooks/s (fsync'd)", FormatCount(median_rate),
            ">= 20,000"});
  PrintRow({scenario, "latency p50",
            FormatMilliseconds(static_cast<int64_t>(Median(p50))), "-"});
  PrintRow({scenario, "latency p99",
            FormatMilliseconds(static_cast<int64_t>(Median(p99))), "-"});
  PrintRow({scenario, "bridge CPU s per 1,000 webhooks",
            absl::StrFormat("%.3f", Median(cpu)), "-"});
  PrintRow({scenario, "bridge store-writer thread CPU s per 1,000 webhooks",
            absl::StrFormat("%.3f", Median(writer_cpu)), "-"});
  // A single negative reading means the kernel gives no schedstat.
  bool waits_known = *std::min_element(writer_waiting.begin(),
                                       writer_waiting.end()) >= 0;
  PrintRow({scenario,
            "bridge store-writer thread running / waiting for a CPU, share "
            "of the time",
            absl::StrFormat("%.0f%% / %s", 100 * Median(writer_running),
                            waits_known
                                ? absl::StrFormat(
                                      "%.0f%%", 100 * Median(writer_waiting))
                                : std::string("unknown")),
            "-"});
  // A store that reports no commit metrics leaves both at 0.
  PrintRow({scenario, "bridge events per commit / mean commit time",
            Median(per_commit) > 0
                ? absl::StrFormat("%.1f / %.2f ms", Median(per_commit),
                                  Median(commit_ms))
                : std::string("not reported"),
            "-"});
  PrintRow({scenario, "bridge context switches per webhook",
            absl::StrFormat("%.1f", Median(switches)), "-"});
  PrintRow({scenario,
            "host steal time under the bridge's load, share of CPU time",
            FormatSteal(pauses), "-"});
  if (config.pause_watch) {
    PrintRow({scenario, "machine paused under the bridge's load (all runs)",
              FormatPauses(pauses), "-"});
  }
  for (size_t i = servers.size(); i-- > 0;) {
    PrintBareRows(scenario, config, servers[i], figures[i]);
  }
  for (size_t i = servers.size() - 1; i-- > 0;) {
    PrintRow(
        {scenario, absl::StrCat(servers[i].name, " / bare"),
         absl::StrFormat("%.0f%%", 100 * Median(figures[i].rate) / median_bare),
         "-"});
  }
  PrintRow({scenario, "bridge / bare",
            absl::StrFormat("%.0f%%", 100 * median_rate / median_bare),
            ">= 60%"});
  PrintRow({scenario, "load client CPU s per 1,000 requests",
            absl::StrFormat("%.3f", Median(client_cpu)), "-"});
  if (problems > 0) {
    PrintRow({scenario, "responses other than 200 (all runs)",
              FormatCount(static_cast<double>(problems)), "0"});
  }
  return absl::OkStatus();
}

}  // namespace paymento::bridge::bench
