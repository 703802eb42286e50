#include "bench/pause_watch.h"

#include <pthread.h>
#include <sched.h>
#include <time.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace paymento::bridge::bench {
namespace {

constexpr int64_t kSleepNanos = 1'000'000;
// A watcher's wake-up later than this after its due time is noted.
constexpr int64_t kLateNanos = 1'000'000;
// A time in which every watcher was late counts as a pause from this long.
constexpr int64_t kPauseNanos = 1'000'000;

int64_t MonotonicNow() {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
}

// Reads the steal and total CPU time of all CPUs from /proc/stat, in clock
// ticks. Returns false when the line is missing or shorter than expected.
bool ReadCpuTicks(int64_t* steal, int64_t* total) {
  std::ifstream stat("/proc/stat");
  std::string line;
  if (!std::getline(stat, line) || !absl::StartsWith(line, "cpu ")) {
    return false;
  }
  std::vector<std::string> fields =
      absl::StrSplit(line.substr(4), ' ', absl::SkipEmpty());
  // user nice system idle iowait irq softirq steal: steal is the eighth.
  if (fields.size() < 8) return false;
  *total = 0;
  for (size_t i = 0; i < 8; ++i) {
    int64_t ticks = 0;
    if (!absl::SimpleAtoi(fields[i], &ticks)) return false;
    *total += ticks;
    if (i == 7) *steal = ticks;
  }
  return true;
}

}  // namespace

LateIntervals IntersectAll(const std::vector<LateIntervals>& lists) {
  if (lists.empty()) return {};
  LateIntervals common = lists[0];
  for (size_t i = 1; i < lists.size(); ++i) {
    LateIntervals next;
    size_t a = 0;
    size_t b = 0;
    while (a < common.size() && b < lists[i].size()) {
      int64_t start = std::max(common[a].first, lists[i][b].first);
      int64_t end = std::min(common[a].second, lists[i][b].second);
      if (start < end) next.emplace_back(start, end);
      // The interval that ends first cannot overlap anything later.
      if (common[a].second < lists[i][b].second) {
        ++a;
      } else {
        ++b;
      }
    }
    common = std::move(next);
  }
  return common;
}

PauseWatch::PauseWatch(bool watch) {
  started_ns_ = MonotonicNow();
  if (!ReadCpuTicks(&steal_ticks_, &total_ticks_)) {
    steal_ticks_ = -1;
    total_ticks_ = -1;
  }
  if (!watch) return;
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) {
    error_ = absl::StrCat("sched_getaffinity failed: ", std::strerror(errno));
    return;
  }
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &allowed)) continue;
    auto watcher = std::make_unique<Watcher>();
    watcher->cpu = cpu;
    watcher->late.reserve(1024);
    Watcher* raw = watcher.get();
    watcher->thread = std::thread([this, raw] { Watch(*raw); });
    watchers_.push_back(std::move(watcher));
  }
}

PauseWatch::~PauseWatch() { Stop(); }

PauseSummary PauseWatch::Stop() {
  if (stopped_) return summary_;
  stopped_ = true;
  stopping_.store(true);
  for (auto& watcher : watchers_) watcher->thread.join();
  summary_.watched_ns = MonotonicNow() - started_ns_;
  int64_t steal = 0;
  int64_t total = 0;
  if (total_ticks_ >= 0 && ReadCpuTicks(&steal, &total) &&
      total > total_ticks_) {
    summary_.steal_share = static_cast<double>(steal - steal_ticks_) /
                           static_cast<double>(total - total_ticks_);
  }

  if (watchers_.empty() && error_.empty()) return summary_;
  summary_.watched = true;
  summary_.error = error_;
  std::vector<LateIntervals> lists;
  for (auto& watcher : watchers_) {
    if (summary_.error.empty() && !watcher->error.empty()) {
      summary_.error = watcher->error;
    }
    lists.push_back(std::move(watcher->late));
  }
  if (!summary_.error.empty() || lists.empty()) {
    if (summary_.error.empty()) summary_.error = "no CPU to watch";
    return summary_;
  }

  for (const auto& [start, end] : IntersectAll(lists)) {
    int64_t length = end - start;
    if (length < kPauseNanos) continue;
    ++summary_.pauses;
    summary_.paused_ns += length;
    summary_.longest_ns = std::max(summary_.longest_ns, length);
  }
  return summary_;
}

void PauseWatch::Watch(Watcher& watcher) {
  cpu_set_t only;
  CPU_ZERO(&only);
  CPU_SET(watcher.cpu, &only);
  int pinned = pthread_setaffinity_np(pthread_self(), sizeof(only), &only);
  if (pinned != 0) {
    watcher.error = absl::StrCat("cannot pin a thread to CPU ", watcher.cpu,
                                 ": ", std::strerror(pinned));
    return;
  }
  sched_param priority{};
  priority.sched_priority = 1;
  int realtime = pthread_setschedparam(pthread_self(), SCHED_FIFO, &priority);
  if (realtime != 0) {
    watcher.error = absl::StrCat(
        "no realtime priority (", std::strerror(realtime),
        "): run as root or with CAP_SYS_NICE or an RLIMIT_RTPRIO above 0");
    return;
  }
  int64_t due = MonotonicNow();
  while (!stopping_.load(std::memory_order_relaxed)) {
    due += kSleepNanos;
    timespec wake{static_cast<time_t>(due / 1'000'000'000),
                  static_cast<long>(due % 1'000'000'000)};
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &wake, nullptr);
    int64_t now = MonotonicNow();
    if (now - due > kLateNanos) watcher.late.emplace_back(due, now);
    // A late wake-up starts the next interval from now, so one pause is
    // noted once and not again as a string of missed intervals.
    due = std::max(due, now);
  }
}

std::string FormatSteal(const std::vector<PauseSummary>& runs) {
  std::vector<double> shares;
  for (const PauseSummary& run : runs) {
    if (run.steal_share < 0) return "unknown";
    shares.push_back(run.steal_share);
  }
  if (shares.empty()) return "unknown";
  std::sort(shares.begin(), shares.end());
  size_t middle = shares.size() / 2;
  double median = shares.size() % 2 == 1
                      ? shares[middle]
                      : (shares[middle - 1] + shares[middle]) / 2;
  if (shares.size() == 1) return absl::StrFormat("%.1f%%", 100 * median);
  return absl::StrFormat("%.1f%% (runs %.1f%% to %.1f%%)", 100 * median,
                         100 * shares.front(), 100 * shares.back());
}

std::string FormatPauses(const std::vector<PauseSummary>& runs) {
  PauseSummary total;
  for (const PauseSummary& run : runs) {
    if (!run.watched) return "not watched";
    if (!run.error.empty()) return absl::StrCat("not measured: ", run.error);
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
