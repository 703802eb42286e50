// End-to-end latency: webhooks posted at a steady 2,000/s by an open-loop
// sender, each received by 10 tail subscribers on their own gRPC
// connections. Each event id carries the time its request was due, so the
// latency of a delivery is the subscriber's receive time minus that: HTTP,
// verification, the fsync'd commit, the wake-up and the gRPC write.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "bench/bench_stats.h"
#include "bench/http_load.h"
#include "bench/pause_watch.h"
#include "bench/scenario_support.h"
#include "bench/scenarios.h"
#include "bench/signed_webhooks.h"

namespace paymento::bridge::bench {
namespace {

constexpr char kScenario[] = "end-to-end";
constexpr int kSubscribers = 10;
constexpr double kRate = 2000;
constexpr char kProbeId[] = "evt_e2e_probe";
// Ids of measured events: evt_e2e_<index>_<due time in ns>.
constexpr char kMeasuredPrefix[] = "evt_e2e_m";

// Returns the due time embedded in a measured event id, or -1.
int64_t DueNanos(const std::string& id) {
  if (!absl::StartsWith(id, kMeasuredPrefix)) return -1;
  size_t underscore = id.rfind('_');
  int64_t due = -1;
  if (!absl::SimpleAtoi(absl::string_view(id).substr(underscore + 1), &due)) {
    return -1;
  }
  return due;
}

// One tail subscriber on its own connection, reading on its own thread.
class Subscriber {
 public:
  explicit Subscriber(const std::string& address)
      : stub_(NewEventStub(address)) {}

  void Start() {
    thread_ = std::thread([this] { Read(); });
  }

  // Cancels the stream and joins the reading thread.
  void Stop() {
    context_.TryCancel();
    if (thread_.joinable()) thread_.join();
  }

  bool saw_probe() const { return saw_probe_.load(); }
  // Returns how the stream ended, or "open" while it runs.
  std::string Ending() {
    std::lock_guard<std::mutex> lock(mu_);
    return ending_;
  }
  int64_t measured() const { return measured_.load(); }
  std::vector<int64_t> TakeLatencies() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::move(latencies_);
  }

 private:
  void Read() {
    v1::SubscribeRequest request;
    // From the earliest event, so that the probe reaches a stream whose
    // Subscribe the server handles after the probe's commit.
    request.set_position(v1::START_POSITION_EARLIEST);
    // A connection attempt that fails, as one subscriber's did in a run on a
    // busy machine, is retried instead of ending the stream with
    // UNAVAILABLE. The wait for the probe bounds the retries.
    context_.set_wait_for_ready(true);
    std::unique_ptr<grpc::ClientReader<v1::SubscribeResponse>> reader =
        stub_->Subscribe(&context_, request);
    v1::SubscribeResponse response;
    std::vector<int64_t> latencies;
    while (reader->Read(&response)) {
      int64_t now = MonotonicNanos();
      for (const v1::Delivery& delivery : response.deliveries()) {
        const std::string& id = delivery.event().id();
        if (id == kProbeId) {
          saw_probe_.store(true);
          continue;
        }
        int64_t due = DueNanos(id);
        if (due < 0) continue;
        latencies.push_back(now - due);
      }
      measured_.store(static_cast<int64_t>(latencies.size()));
    }
    grpc::Status status = reader->Finish();
    std::lock_guard<std::mutex> lock(mu_);
    ending_ = absl::StrCat("ended with ", GrpcCodeName(status.error_code()),
                           ": ", status.error_message());
    latencies_ = std::move(latencies);
  }

  std::unique_ptr<v1::EventService::Stub> stub_;
  grpc::ClientContext context_;
  std::thread thread_;
  std::atomic<bool> saw_probe_{false};
  std::atomic<int64_t> measured_{0};
  std::mutex mu_;
  std::vector<int64_t> latencies_;
  std::string ending_ = "open";
};

struct EndToEndRun {
  double p50_ns = 0;
  double p99_ns = 0;
  double max_ns = 0;
  double sent_per_second = 0;
  double http_p50_ns = 0;
  double http_p99_ns = 0;
  // Deliveries that did not arrive, over all subscribers.
  int64_t missing = 0;
  int64_t http_problems = 0;
  // Pauses of the whole machine while the webhooks were sent.
  PauseSummary pauses;
};

// Waits until `done` returns true or `timeout` passes.
template <typename Predicate>
bool WaitFor(Predicate done, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

absl::StatusOr<EndToEndRun> RunOnce(const BenchConfig& config) {
  absl::StatusOr<std::unique_ptr<TempDirectory>> directory =
      TempDirectory::Create(config.keep_temp);
  if (!directory.ok()) return directory.status();
  absl::StatusOr<std::unique_ptr<Deployment>> deployment =
      Deployment::Start(config, (*directory)->path());
  if (!deployment.ok()) return deployment.status();
  // Webhooks go to the first bridge. With several replicas the subscribers
  // take turns between them, so some receive each event from another
  // process, woken through the database.
  const BridgeEndpoints& endpoints = (*deployment)->bridge(0).endpoints();

  std::vector<std::unique_ptr<Subscriber>> subscribers;
  for (int i = 0; i < kSubscribers; ++i) {
    BridgeServer& bridge = (*deployment)->bridge(i % (*deployment)->size());
    subscribers.push_back(
        std::make_unique<Subscriber>(bridge.endpoints().grpc_address()));
    subscribers.back()->Start();
  }
  auto stop_all = [&subscribers] {
    for (auto& subscriber : subscribers) subscriber->Stop();
  };

  // Every stream is live once it has received the probe.
  SignedWebhooks webhooks(absl::Now());
  absl::Status probe = PostWebhook(endpoints.http_port, webhooks, kProbeId);
  bool live = probe.ok() && WaitFor(
                                [&subscribers] {
                                  for (auto& subscriber : subscribers) {
                                    if (!subscriber->saw_probe()) return false;
                                  }
                                  return true;
                                },
                                absl::Seconds(30));
  if (!live) {
    // Says which streams missed the probe and how they ended, with the
    // bridge's log, because a stream that ends early looks like a slow one.
    std::string missed;
    for (size_t i = 0; i < subscribers.size(); ++i) {
      if (subscribers[i]->saw_probe()) continue;
      absl::StrAppend(&missed, "\n  subscriber ", i, " (",
                      subscribers[i]->Ending(), ")");
    }
    stop_all();
    if (!probe.ok()) return probe;
    return absl::DeadlineExceededError(absl::StrCat(
        "the probe event did not reach every subscriber within 30 s:", missed,
        "\nbridge log:\n", (*deployment)->bridge(0).process().LogTail()));
  }

  PacedOptions paced;
  paced.port = endpoints.http_port;
  paced.opening_request = [&webhooks](int connection) {
    return webhooks.Request(absl::StrFormat("evt_e2e_open_%02d", connection));
  };
  paced.requests_per_second = kRate;
  paced.requests = config.smoke ? 2000 : 20000;
  RequestBuilder build = [&webhooks](int64_t index, int64_t due_ns) {
    return webhooks.Request(
        absl::StrFormat("%s%09d_%d", kMeasuredPrefix, index, due_ns));
  };
  PauseWatch pause_watch(config.pause_watch);
  absl::StatusOr<HttpLoadResult> load = RunPaced(paced, build);
  PauseSummary pauses = pause_watch.Stop();
  if (!load.ok()) {
    stop_all();
    return load.status();
  }
  int64_t accepted = load->accepted;
  WaitFor(
      [&] {
        for (auto& subscriber : subscribers) {
          if (subscriber->measured() < accepted) return false;
        }
        return true;
      },
      absl::Seconds(30));
  stop_all();

  EndToEndRun result;
  result.pauses = pauses;
  std::vector<int64_t> latencies;
  for (auto& subscriber : subscribers) {
    std::vector<int64_t> part = subscriber->TakeLatencies();
    // A request that timed out at the client may still have been stored
    // and delivered, so a subscriber can receive more than `accepted`.
    result.missing +=
        std::max<int64_t>(0, accepted - static_cast<int64_t>(part.size()));
    latencies.insert(latencies.end(), part.begin(), part.end());
  }
  result.p50_ns = static_cast<double>(Percentile(latencies, 0.50));
  result.p99_ns = static_cast<double>(Percentile(latencies, 0.99));
  result.max_ns = static_cast<double>(Percentile(latencies, 1.0));
  result.sent_per_second =
      static_cast<double>(load->sent) / load->window_seconds;
  result.http_p50_ns =
      static_cast<double>(Percentile(load->latencies_ns, 0.50));
  result.http_p99_ns =
      static_cast<double>(Percentile(load->latencies_ns, 0.99));
  result.http_problems = load->unexpected + load->connection_errors;
  if (result.http_problems > 0) {
    std::cerr << "end-to-end: " << result.http_problems
              << " requests not accepted; first: " << load->first_problem
              << "\n";
  }
  absl::Status stopped = (*deployment)->Stop();
  if (!stopped.ok()) return stopped;
  return result;
}

}  // namespace

absl::Status RunEndToEndScenario(const BenchConfig& config) {
  const std::string scenario = RowScenario(kScenario, config);
  std::vector<double> p50, p99, max, rate, http_p50, http_p99;
  std::vector<PauseSummary> pauses;
  int64_t missing = 0;
  int64_t http_problems = 0;
  for (int run = 0; run < config.runs; ++run) {
    absl::StatusOr<EndToEndRun> result = RunOnce(config);
    if (!result.ok()) return result.status();
    p50.push_back(result->p50_ns);
    p99.push_back(result->p99_ns);
    max.push_back(result->max_ns);
    rate.push_back(result->sent_per_second);
    http_p50.push_back(result->http_p50_ns);
    http_p99.push_back(result->http_p99_ns);
    pauses.push_back(result->pauses);
    missing += result->missing;
    http_problems += result->http_problems;
    std::cerr << absl::StrFormat(
        "end-to-end run %d: p50 %.2f ms, p99 %.2f ms, max %.2f ms, sent "
        "%.0f/s; steal %s%s\n",
        run + 1, result->p50_ns / 1e6, result->p99_ns / 1e6,
        result->max_ns / 1e6, result->sent_per_second,
        FormatSteal({result->pauses}),
        config.pause_watch
            ? absl::StrCat("; machine paused: ", FormatPauses({result->pauses}))
            : std::string());
  }

  PrintRow({scenario, "send to receive p50 (10 subscribers)",
            FormatMilliseconds(static_cast<int64_t>(Median(p50))), "<= 1 ms"});
  PrintRow({scenario, "send to receive p99",
            FormatMilliseconds(static_cast<int64_t>(Median(p99))), "<= 5 ms"});
  PrintRow({scenario, "send to receive max (worst run)",
            FormatMilliseconds(static_cast<int64_t>(
                *std::max_element(max.begin(), max.end()))),
            "-"});
  PrintRow({scenario, "webhooks/s sent", FormatCount(Median(rate)), "2,000"});
  PrintRow(
      {scenario, "HTTP response p50 / p99",
       absl::StrCat(FormatMilliseconds(static_cast<int64_t>(Median(http_p50))),
                    " / ",
                    FormatMilliseconds(static_cast<int64_t>(Median(http_p99)))),
       "-"});
  PrintRow({scenario, "host steal time while sending, share of CPU time",
            FormatSteal(pauses), "-"});
  if (config.pause_watch) {
    PrintRow({scenario, "machine paused while sending (all runs)",
              FormatPauses(pauses), "-"});
  }
  PrintRow({scenario, "deliveries missing (all runs)",
            FormatCount(static_cast<double>(missing)), "0"});
  if (http_problems > 0) {
    PrintRow({scenario, "responses other than 200 (all runs)",
              FormatCount(static_cast<double>(http_problems)), "0"});
  }
  return absl::OkStatus();
}

}  // namespace paymento::bridge::bench
