// PauseWatch: measures the time in which the whole machine stops, as a
// virtual machine does when its host throttles or deschedules it. Such a
// pause looks like latency in every figure. Inside the guest it shows only
// as steal time, which PauseWatch also reads. Steal time does not tell
// whether the CPUs stopped together or for how long.
//
// One thread per CPU, pinned to it at realtime priority, sleeps 1 ms at a
// time and notes each wake-up more than 1 ms late. Inside the machine only
// the kernel's own work on that CPU can hold such a thread back, so a time
// in which every CPU's thread was late is a time in which no CPU ran: a
// pause. One CPU stopped alone, or busy in the kernel, does not count.
// Without realtime priority (it needs CAP_SYS_NICE, or an RLIMIT_RTPRIO
// above 0) a late wake-up could be a wait behind the benchmark's own
// threads, so nothing is measured. The watchers' wake-ups preempt the
// threads they find running, which adds to those threads' involuntary
// context switches.
#ifndef PAYMENTO_BRIDGE_BENCH_PAUSE_WATCH_H_
#define PAYMENTO_BRIDGE_BENCH_PAUSE_WATCH_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace paymento::bridge::bench {

// The pauses one PauseWatch saw between its start and Stop.
struct PauseSummary {
  // The share of all CPUs' time that the host took from the machine (steal
  // time in /proc/stat), from 0 to 1, or -1 when unknown. Always read.
  double steal_share = -1;
  // False when the watchers did not run; the counts below are then zero.
  bool watched = false;
  // Empty when watched; otherwise why not.
  std::string error;
  int64_t pauses = 0;
  int64_t paused_ns = 0;
  int64_t longest_ns = 0;
  int64_t watched_ns = 0;
};

// Late wake-ups of one CPU's watcher, as [due, woken] in monotonic ns.
using LateIntervals = std::vector<std::pair<int64_t, int64_t>>;

// Returns the intervals that every list covers; each list is sorted and
// its intervals do not overlap.
LateIntervals IntersectAll(const std::vector<LateIntervals>& lists);

class PauseWatch {
 public:
  // Reads the steal time and, when `watch` is set, starts one watcher per
  // CPU that this process may run on. The watchers' wake-ups slow the
  // figures they run beside, so they are for diagnosis.
  explicit PauseWatch(bool watch);
  ~PauseWatch();
  PauseWatch(const PauseWatch&) = delete;
  PauseWatch& operator=(const PauseWatch&) = delete;

  // Stops the watchers and returns what they saw; later calls return the
  // same.
  PauseSummary Stop();

 private:
  struct Watcher {
    int cpu = 0;
    // Set by the watcher's thread, read after it is joined.
    std::string error;
    LateIntervals late;
    std::thread thread;
  };

  void Watch(Watcher& watcher);

  std::atomic<bool> stopping_{false};
  int64_t started_ns_ = 0;
  // Steal and total CPU time at the start, in clock ticks; -1 when unknown.
  int64_t steal_ticks_ = -1;
  int64_t total_ticks_ = -1;
  std::string error_;
  std::vector<std::unique_ptr<Watcher>> watchers_;
  bool stopped_ = false;
  PauseSummary summary_;
};

// Formats the steal time of several runs as one figure, the median of their
// shares of CPU time with the range, such as "3.4% (runs 2.9% to 4.1%)".
std::string FormatSteal(const std::vector<PauseSummary>& runs);

// Formats the pauses of several runs as one figure, such as
// "42 pauses, 2.6% of 24.1 s, longest 8.67 ms", or the reason none was
// measured.
std::string FormatPauses(const std::vector<PauseSummary>& runs);

}  // namespace paymento::bridge::bench

#endif  // PAYMENTO_BRIDGE_BENCH_PAUSE_WATCH_H_
