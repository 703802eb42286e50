// The SQLite store alone, in this process: 32 threads each append one event
// and wait for its commit, then append the next, as the ingress's 32
// connection threads do, but without HTTP, signatures or JSON. The events
// are those the ingress stores for the signed sample body. So the figures
// are the store writer's own: how many events per second one writer thread
// commits when its appenders cost almost nothing, and its CPU per event, to
// set against the ingress scenario's rows for the same thread.
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "bench/bench_process.h"
#include "bench/bench_stats.h"
#include "bench/scenarios.h"
#include "bench/signed_webhooks.h"
#include "bench/store_preload.h"
#include "src/store/sqlite_event_store.h"

namespace paymento::bridge::bench {
namespace {

constexpr char kScenario[] = "store";
constexpr int kAppenders = 32;

struct StoreRun {
  double appends_per_second = 0;
  double writer_micros_per_event = 0;
  double writer_running = 0;
  // Negative when the kernel does not report the waits.
  double writer_waiting = 0;
  double process_micros_per_event = 0;
  double events_per_commit = 0;
};

// Totals of the commits that the writer's observer reports.
struct CommitCounter {
  std::atomic<int64_t> commits{0};
  std::atomic<int64_t> events{0};
};

absl::StatusOr<StoreRun> RunOnce(const BenchConfig& config, int run) {
  absl::StatusOr<std::unique_ptr<TempDirectory>> directory =
      TempDirectory::Create(config.keep_temp);
  if (!directory.ok()) return directory.status();
  absl::StatusOr<std::unique_ptr<SqliteEventStore>> store =
      SqliteEventStore::Open((*directory)->path() + "/events.db");
  if (!store.ok()) return store.status();
  auto counter = std::make_shared<CommitCounter>();
  (*store)->SetCommitObserver([counter](absl::Duration, int64_t events) {
    counter->commits.fetch_add(1, std::memory_order_relaxed);
    counter->events.fetch_add(events, std::memory_order_relaxed);
  });

  absl::Time now = absl::Now();
  SignedWebhooks webhooks(now);
  absl::StatusOr<v1::Event> sample =
      StoredEvent(webhooks, absl::StrFormat("evt_store_%d", run), now);
  if (!sample.ok()) return sample.status();

  std::atomic<bool> stop{false};
  std::atomic<int64_t> appended{0};
  absl::Mutex error_mu;
  absl::Status error;
  std::vector<std::thread> appenders;
  for (int t = 0; t < kAppenders; ++t) {
    appenders.emplace_back([&, t] {
      for (int64_t index = 0; !stop.load(std::memory_order_relaxed); ++index) {
        std::string id =
            absl::StrFormat("evt_store_%d_%02d_%010d", run, t, index);
        v1::Event event = *sample;
        event.set_id(id);
        std::string body = webhooks.Body(id);
        std::string digest = RawSha256(body);
        event.set_raw_body(std::move(body));
        absl::StatusOr<AppendResult> result =
            (*store)->Append(std::move(event), std::move(digest)).get();
        if (!result.ok() || result->outcome != AppendOutcome::kStored) {
          absl::MutexLock lock(&error_mu);
          if (error.ok()) {
            error = result.ok() ? absl::InternalError(absl::StrFormat(
                                      "event %s was not stored as new", id))
                                : result.status();
          }
          stop = true;
          return;
        }
        appended.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }

  absl::Duration warmup =
      config.smoke ? absl::Milliseconds(200) : absl::Seconds(1);
  absl::Duration window =
      config.smoke ? absl::Milliseconds(800) : absl::Seconds(5);
  absl::SleepFor(warmup);
  ThreadsSample start = SampleThreads(getpid(), "store-writer");
  int64_t start_appended = appended.load();
  int64_t start_commits = counter->commits.load();
  int64_t start_events = counter->events.load();
  absl::Time started = absl::Now();
  absl::SleepFor(window);
  ThreadsSample end = SampleThreads(getpid(), "store-writer");
  int64_t events = appended.load() - start_appended;
  int64_t commits = counter->commits.load() - start_commits;
  int64_t committed = counter->events.load() - start_events;
  double seconds = absl::ToDoubleSeconds(absl::Now() - started);
  stop = true;
  for (std::thread& appender : appenders) appender.join();
  (*store)->Close();
  {
    absl::MutexLock lock(&error_mu);
    if (!error.ok()) return error;
  }
  if (events <= 0 || commits <= 0) {
    return absl::InternalError("no event was committed in the window");
  }

  StoreRun result;
  result.appends_per_second = static_cast<double>(events) / seconds;
  result.writer_micros_per_event =
      1e6 * (end.named_cpu_seconds - start.named_cpu_seconds) / events;
  result.writer_running =
      (end.named_cpu_seconds - start.named_cpu_seconds) / seconds;
  result.writer_waiting =
      start.named_wait_seconds < 0 || end.named_wait_seconds < 0
          ? -1
          : (end.named_wait_seconds - start.named_wait_seconds) / seconds;
  result.process_micros_per_event =
      1e6 * (end.cpu_seconds - start.cpu_seconds) / events;
  result.events_per_commit = static_cast<double>(committed) / commits;
  return result;
}

}  // namespace

absl::Status RunStoreScenario(const BenchConfig& config) {
  if (!config.postgres_url.empty()) {
    std::cerr << "store: measures the SQLite store only, skipped with "
                 "PostgreSQL\n";
    return absl::OkStatus();
  }
  std::vector<double> rates, writer_micros, running, waiting, process_micros,
      per_commit;
  for (int run = 0; run < config.runs; ++run) {
    absl::StatusOr<StoreRun> result = RunOnce(config, run);
    if (!result.ok()) return result.status();
    std::cerr << absl::StrFormat(
        "store run %d: %.0f events/s, writer %.1f µs per event\n", run + 1,
        result->appends_per_second, result->writer_micros_per_event);
    rates.push_back(result->appends_per_second);
    writer_micros.push_back(result->writer_micros_per_event);
    running.push_back(result->writer_running);
    waiting.push_back(result->writer_waiting);
    process_micros.push_back(result->process_micros_per_event);
    per_commit.push_back(result->events_per_commit);
  }
  std::cerr << "store: events/s per run " << FormatRuns(rates) << "\n";
  PrintRow({kScenario,
            "committed events/s, 32 threads appending in this process",
            FormatCount(Median(rates)), "-"});
  PrintRow({kScenario, "store-writer thread CPU µs per event",
            absl::StrFormat("%.1f", Median(writer_micros)), "-"});
  double median_waiting = Median(waiting);
  PrintRow(
      {kScenario,
       "store-writer thread running / waiting for a CPU, share of the "
       "time",
       median_waiting < 0
           ? absl::StrFormat("%.0f%% / not reported", 100 * Median(running))
           : absl::StrFormat("%.0f%% / %.0f%%", 100 * Median(running),
                             100 * median_waiting),
       "-"});
  PrintRow({kScenario, "events per commit",
            absl::StrFormat("%.1f", Median(per_commit)), "-"});
  PrintRow({kScenario, "CPU µs per event, appending threads included",
            absl::StrFormat("%.1f", Median(process_micros)), "-"});
  return absl::OkStatus();
}

}  // namespace paymento::bridge::bench
