#include "bench/pause_watch.h"

#include <pthread.h>
#include <sched.h>
#include <time.h>

#include <algorithm>

#include "absl/strings/str_format.h"

namespace paymento::bridge::bench {
namespace {

constexpr int64_t kSleepNanos = 1'000'000;
// A wake-up later than this after its due time counts as a pause.
constexpr int64_t kLateNanos = 2'000'000;

int64_t MonotonicNow() {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
}

}  // namespace

PauseWatch::PauseWatch() : thread_([this] { Watch(); }) {}

PauseWatch::~PauseWatch() { Stop(); }

PauseSummary PauseWatch::Stop() {
  stopping_.store(true);
  if (thread_.joinable()) thread_.join();
  return summary_;
}

void PauseWatch::Watch() {
  sched_param priority{};
  priority.sched_priority = 1;
  summary_.measured =
      pthread_setschedparam(pthread_self(), SCHED_FIFO, &priority) == 0;
  if (!summary_.measured) return;
  const int64_t start = MonotonicNow();
  int64_t due = start;
  while (!stopping_.load(std::memory_order_relaxed)) {
    due += kSleepNanos;
    timespec wake{static_cast<time_t>(due / 1'000'000'000),
                  static_cast<long>(due % 1'000'000'000)};
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &wake, nullptr);
    int64_t now = MonotonicNow();
    int64_t late = now - due;
    if (late > kLateNanos) {
      ++summary_.pauses;
      summary_.paused_ns += late;
      summary_.longest_ns = std::max(summary_.longest_ns, late);
    }
    // A late wake-up starts the next interval from now, so one pause is
    // counted once and not again as a string of missed intervals.
    due = std::max(due, now);
  }
  summary_.watched_ns = MonotonicNow() - start;
}

std::string FormatPauses(const std::vector<PauseSummary>& runs) {
  PauseSummary total;
  for (const PauseSummary& run : runs) {
    if (!run.measured) {
      return "not measured: no realtime priority (needs CAP_SYS_NICE)";
    }
    total.pauses += run.pauses;
    total.paused_ns += run.paused_ns;
    total.longest_ns = std::max(total.longest_ns, run.longest_ns);
    total.watched_ns += run.watched_ns;
  }
  if (total.watched_ns <= 0) return "not measured";
  return absl::StrFormat("%d %s, %.1f%% of %.1f s, longest %.2f ms",
                         total.pauses, total.pauses == 1 ? "pause" : "pauses",
                         100.0 * static_cast<double>(total.paused_ns) /
                             static_cast<double>(total.watched_ns),
                         static_cast<double>(total.watched_ns) / 1e9,
                         static_cast<double>(total.longest_ns) / 1e6);
}

}  // namespace paymento::bridge::bench
