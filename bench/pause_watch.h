// PauseWatch: measures the time in which the whole machine stops, as a
// virtual machine does when its host throttles or deschedules it. Such a
// pause looks like latency in every figure, and the machine itself does
// not report it: a guest can show no steal time while its CPUs stand
// still for milliseconds.
//
// A thread at realtime priority sleeps 1 ms at a time. Inside the machine
// only the kernel can keep such a thread from running once it is due, so
// a wake-up more than 2 ms late means that no CPU ran. Without realtime
// priority (it needs CAP_SYS_NICE) a late wake-up could be a wait for a
// CPU behind the benchmark's own threads, so nothing is measured.
#ifndef PAYMENTO_BRIDGE_BENCH_PAUSE_WATCH_H_
#define PAYMENTO_BRIDGE_BENCH_PAUSE_WATCH_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace paymento::bridge::bench {

// What one PauseWatch saw between its start and Stop.
struct PauseSummary {
  // False when the thread did not get realtime priority; the counts are
  // then zero.
  bool measured = false;
  int64_t pauses = 0;
  int64_t paused_ns = 0;
  int64_t longest_ns = 0;
  int64_t watched_ns = 0;
};

class PauseWatch {
 public:
  // Starts watching on a thread of its own.
  PauseWatch();
  ~PauseWatch();
  PauseWatch(const PauseWatch&) = delete;
  PauseWatch& operator=(const PauseWatch&) = delete;

  // Stops the thread and returns what it saw; later calls return the same.
  PauseSummary Stop();

 private:
  void Watch();

  std::atomic<bool> stopping_{false};
  PauseSummary summary_;
  std::thread thread_;
};

// Formats the pauses of several runs as one figure, such as
// "42 pauses, 2.6% of 24.1 s, longest 8.67 ms", or says why there is none.
std::string FormatPauses(const std::vector<PauseSummary>& runs);

}  // namespace paymento::bridge::bench

#endif  // PAYMENTO_BRIDGE_BENCH_PAUSE_WATCH_H_
