// Idle streams: the bridge's resident memory with no stream and with 10,000
// open tail streams. The streams use gRPC's callback client API, 1,000 per
// channel on 10 connections, so the client needs no thread per stream. A
// stream counts as open once it has received a probe event, which proves
// that the server registered it.
#include <grpcpp/grpcpp.h>

#include <atomic>
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

constexpr char kScenario[] = "idle-streams";
constexpr int kStreamsPerChannel = 1000;

struct StreamCounters {
  std::atomic<int64_t> probed{0};
  std::atomic<int64_t> done{0};
  std::atomic<int64_t> failed{0};
};

// One tail stream that counts its first delivery and then reads on until it
// is cancelled.
class IdleStream : public grpc::ClientReadReactor<v1::SubscribeResponse> {
 public:
  IdleStream(v1::EventService::Stub* stub, StreamCounters* counters)
      : counters_(counters) {
    // From sequence 0, so that the probe reaches every stream, including
    // those the server registers after the probe's commit.
    request_.set_after_sequence(0);
    // Retries a failed connection attempt instead of ending the stream.
    context_.set_wait_for_ready(true);
    stub->async()->Subscribe(&context_, &request_, this);
    StartRead(&response_);
    StartCall();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;
    if (response_.deliveries_size() > 0 && !probed_) {
      probed_ = true;
      counters_->probed.fetch_add(1);
    }
    StartRead(&response_);
  }

  void OnDone(const grpc::Status& status) override {
    if (status.error_code() != grpc::StatusCode::CANCELLED) {
      counters_->failed.fetch_add(1);
    }
    counters_->done.fetch_add(1);
  }

  void Cancel() { context_.TryCancel(); }

 private:
  StreamCounters* const counters_;
  grpc::ClientContext context_;
  v1::SubscribeRequest request_;
  v1::SubscribeResponse response_;
  bool probed_ = false;
};

struct IdleRun {
  int64_t rss_none = 0;
  int64_t rss_open = 0;
  int64_t rss_after_close = 0;
  double fan_out_seconds = 0;
};

// Waits until `counter` reaches `target` or `timeout` passes.
bool WaitForCount(const std::atomic<int64_t>& counter, int64_t target,
                  absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (counter.load() < target) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

absl::StatusOr<IdleRun> RunOnce(const BenchConfig& config, int streams) {
  absl::StatusOr<std::unique_ptr<TempDirectory>> directory =
      TempDirectory::Create(config.keep_temp);
  if (!directory.ok()) return directory.status();
  absl::StatusOr<std::unique_ptr<BridgeServer>> bridge =
      StartBridgeIn(config, (*directory)->path());
  if (!bridge.ok()) return bridge.status();
  pid_t pid = (*bridge)->pid();
  const BridgeEndpoints& endpoints = (*bridge)->endpoints();

  // Pauses before each RSS reading, so that allocations settle.
  const absl::Duration settle =
      config.smoke ? absl::Milliseconds(200) : absl::Seconds(2);
  IdleRun run;
  absl::SleepFor(settle);
  run.rss_none = ProcessRssBytes(pid);

  int channels = (streams + kStreamsPerChannel - 1) / kStreamsPerChannel;
  std::vector<std::unique_ptr<v1::EventService::Stub>> stubs;
  for (int i = 0; i < channels; ++i) {
    stubs.push_back(NewEventStub(endpoints.grpc_address()));
  }
  StreamCounters counters;
  std::vector<std::unique_ptr<IdleStream>> open;
  for (int i = 0; i < streams; ++i) {
    open.push_back(std::make_unique<IdleStream>(
        stubs[i / kStreamsPerChannel].get(), &counters));
  }

  SignedWebhooks webhooks(absl::Now());
  int64_t probe_start = MonotonicNanos();
  absl::Status probe =
      PostWebhook(endpoints.http_port, webhooks, "evt_idle_probe");
  bool all_open =
      probe.ok() && WaitForCount(counters.probed, streams, absl::Seconds(120));
  int64_t probed_at = MonotonicNanos();
  run.fan_out_seconds = static_cast<double>(probed_at - probe_start) / 1e9;
  if (all_open) {
    absl::SleepFor(settle);
    run.rss_open = ProcessRssBytes(pid);
  }

  for (auto& stream : open) stream->Cancel();
  bool closed = WaitForCount(counters.done, streams, absl::Seconds(60));
  if (closed) {
    // The bridge checks every 5 s whether to return freed memory to the
    // system, so a full run waits longer than that.
    absl::SleepFor(config.smoke ? settle : absl::Seconds(7));
    run.rss_after_close = ProcessRssBytes(pid);
  } else {
    // The reactors must outlive their calls, so they are leaked rather
    // than destroyed while gRPC may still use them.
    for (auto& stream : open) stream.release();
  }
  absl::Status stopped = (*bridge)->Stop();
  if (!probe.ok()) return probe;
  if (!all_open) {
    return absl::DeadlineExceededError(absl::StrCat(
        "only ", counters.probed.load(), " of ", streams,
        " streams received the probe event within 120 s; ",
        counters.failed.load(), " streams failed"));
  }
  if (!closed) {
    return absl::DeadlineExceededError(
        absl::StrCat("only ", counters.done.load(), " of ", streams,
                     " streams ended within 60 s of their cancellation"));
  }
  if (!stopped.ok()) return stopped;
  return run;
}

}  // namespace

absl::Status RunIdleStreamsScenario(const BenchConfig& config) {
  const int streams = config.smoke ? 1000 : 10000;
  std::vector<double> none, open, after_close, fan_out;
  for (int run = 0; run < config.runs; ++run) {
    absl::StatusOr<IdleRun> result = RunOnce(config, streams);
    if (!result.ok()) return result.status();
    none.push_back(static_cast<double>(result->rss_none));
    open.push_back(static_cast<double>(result->rss_open));
    after_close.push_back(static_cast<double>(result->rss_after_close));
    fan_out.push_back(result->fan_out_seconds);
    std::cerr << absl::StrFormat(
        "idle-streams run %d: RSS %.1f MiB without streams, %.1f MiB with "
        "%d\n",
        run + 1, result->rss_none / 1048576.0, result->rss_open / 1048576.0,
        streams);
  }
  double per_stream =
      (Median(open) - Median(none)) / static_cast<double>(streams);
  PrintRow({kScenario, "bridge RSS, no stream",
            FormatMebibytes(static_cast<int64_t>(Median(none))), "<= 30 MiB"});
  PrintRow({kScenario,
            absl::StrCat("bridge RSS, ", FormatCount(streams), " tail streams"),
            FormatMebibytes(static_cast<int64_t>(Median(open))),
            "<= 300 MiB"});
  PrintRow({kScenario, "RSS per open stream",
            absl::StrFormat("%.1f KiB", per_stream / 1024), "-"});
  PrintRow({kScenario,
            config.smoke ? "bridge RSS after the streams closed"
                         : "bridge RSS 7 s after the streams closed",
            FormatMebibytes(static_cast<int64_t>(Median(after_close))), "-"});
  PrintRow({kScenario, "probe event delivered to every stream after",
            absl::StrFormat("%.2f s", Median(fan_out)), "-"});
  return absl::OkStatus();
}

}  // namespace paymento::bridge::bench
