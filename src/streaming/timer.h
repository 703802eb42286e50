// Timer: one thread that runs callbacks at given times, for stream
// heartbeats and lease deadlines. Callbacks run on the timer's thread and
// must only schedule work.
#ifndef PAYMENTO_BRIDGE_SRC_STREAMING_TIMER_H_
#define PAYMENTO_BRIDGE_SRC_STREAMING_TIMER_H_

#include <functional>
#include <queue>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace paymento::bridge {

class Timer {
 public:
  Timer();
  ~Timer();

  // Runs `callback` at `when` or soon after. Dropped after Shutdown.
  void Schedule(absl::Time when, std::function<void()> callback);

  // Drops pending callbacks and joins the thread. Idempotent.
  void Shutdown();

 private:
  struct Entry {
    absl::Time when;
    uint64_t order;
    std::function<void()> callback;
    bool operator>(const Entry& other) const {
      return when != other.when ? when > other.when : order > other.order;
    }
  };

  void Run();

  absl::Mutex mu_;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> entries_
      ABSL_GUARDED_BY(mu_);
  uint64_t next_order_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_STREAMING_TIMER_H_
