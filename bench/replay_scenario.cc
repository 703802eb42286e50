// Replay throughput: one tail subscriber starting from the earliest of
// 1,000,000 stored events, reading until the last. The store is built once
// through the store library (store_preload.h), and each run starts a fresh
// bridge on it. The file stays in the page cache between runs, so the
// figure is for a warm cache.
#include <grpcpp/grpcpp.h>

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
#include "bench/store_preload.h"

namespace paymento::bridge::bench {
namespace {

constexpr char kScenario[] = "replay";

struct ReplayRun {
  double events_per_second = 0;
  double bridge_cpu_per_1000 = 0;
  double client_cpu_per_1000 = 0;
  int64_t bytes = 0;
};

absl::StatusOr<ReplayRun> RunOnce(const BenchConfig& config,
                                  const std::string& directory,
                                  int64_t events) {
  absl::StatusOr<std::unique_ptr<BridgeServer>> bridge =
      StartBridgeIn(config, directory);
  if (!bridge.ok()) return bridge.status();
  std::unique_ptr<v1::EventService::Stub> stub =
      NewEventStub((*bridge)->endpoints().grpc_address());

  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(config.smoke ? 60 : 600));
  // Retries a failed connection attempt until the deadline.
  context.set_wait_for_ready(true);
  v1::SubscribeRequest request;
  request.set_position(v1::START_POSITION_EARLIEST);
  double bridge_cpu_start = ProcessCpuSeconds((*bridge)->pid());
  double client_cpu_start = ThreadCpuSeconds();
  int64_t start = MonotonicNanos();
  std::unique_ptr<grpc::ClientReader<v1::SubscribeResponse>> reader =
      stub->Subscribe(&context, request);
  v1::SubscribeResponse response;
  int64_t received = 0;
  int64_t last_sequence = 0;
  ReplayRun run;
  while (last_sequence < events && reader->Read(&response)) {
    run.bytes += static_cast<int64_t>(response.ByteSizeLong());
    for (const v1::Delivery& delivery : response.deliveries()) {
      last_sequence = delivery.event().sequence();
      ++received;
    }
  }
  int64_t end = MonotonicNanos();
  double client_cpu = ThreadCpuSeconds() - client_cpu_start;
  double bridge_cpu = ProcessCpuSeconds((*bridge)->pid()) - bridge_cpu_start;
  context.TryCancel();
  grpc::Status status = reader->Finish();
  absl::Status stopped = (*bridge)->Stop();
  if (last_sequence < events) {
    return absl::InternalError(absl::StrCat(
        "the replay stream ended after ", received, " of ", events,
        " events: ", GrpcCodeName(status.error_code()), " ",
        status.error_message()));
  }
  if (!stopped.ok()) return stopped;
  if (received != events) {
    std::cerr << "replay: received " << received << " deliveries for "
              << events << " events\n";
  }
  double seconds = static_cast<double>(end - start) / 1e9;
  run.events_per_second = static_cast<double>(received) / seconds;
  run.bridge_cpu_per_1000 = bridge_cpu / static_cast<double>(received) * 1000;
  run.client_cpu_per_1000 = client_cpu / static_cast<double>(received) * 1000;
  return run;
}

}  // namespace

absl::Status RunReplayScenario(const BenchConfig& config) {
  const int64_t events = config.smoke ? 5000 : 1000000;
  absl::StatusOr<std::unique_ptr<TempDirectory>> directory =
      TempDirectory::Create(config.keep_temp);
  if (!directory.ok()) return directory.status();
  int64_t preload_start = MonotonicNanos();
  absl::Status preloaded =
      PreloadStore((*directory)->path() + "/events.db", events);
  if (!preloaded.ok()) return preloaded;
  double preload_seconds =
      static_cast<double>(MonotonicNanos() - preload_start) / 1e9;
  std::cerr << absl::StrFormat(
      "replay: preloaded %d events through the store library in %.1f s\n",
      events, preload_seconds);

  std::vector<double> rates, bridge_cpu, client_cpu;
  int64_t bytes = 0;
  for (int run = 0; run < config.runs; ++run) {
    absl::StatusOr<ReplayRun> result =
        RunOnce(config, (*directory)->path(), events);
    if (!result.ok()) return result.status();
    rates.push_back(result->events_per_second);
    bridge_cpu.push_back(result->bridge_cpu_per_1000);
    client_cpu.push_back(result->client_cpu_per_1000);
    bytes = result->bytes;
    std::cerr << absl::StrFormat("replay run %d: %.0f events/s\n", run + 1,
                                 result->events_per_second);
  }
  PrintRow({kScenario,
            absl::StrCat("events/s from the earliest of ", FormatCount(events)),
            FormatCount(Median(rates)), ">= 100,000"});
  PrintRow({kScenario, "bridge CPU s per 1,000 events",
            absl::StrFormat("%.4f", Median(bridge_cpu)), "-"});
  PrintRow({kScenario, "subscriber CPU s per 1,000 events",
            absl::StrFormat("%.4f", Median(client_cpu)), "-"});
  PrintRow({kScenario, "bytes per event on the stream",
            FormatCount(static_cast<double>(bytes) /
                        static_cast<double>(events)),
            "-"});
  PrintRow({kScenario, "preload through the store library, events/s",
            FormatCount(static_cast<double>(events) / preload_seconds), "-"});
  return absl::OkStatus();
}

}  // namespace paymento::bridge::bench
