// TaskBatcher: runs many small tasks on an Executor as a few executor
// tasks. A commit wakes every tail stream that waits for it, and a post per
// stream would cost one thread hand-off each. Through the batcher, the
// streams woken together run one after another in one executor task. Each
// executor task runs at most `max_batch` of them, so a large wake-up still
// spreads over the executor's threads.
#ifndef PAYMENTO_BRIDGE_SRC_STREAMING_TASK_BATCHER_H_
#define PAYMENTO_BRIDGE_SRC_STREAMING_TASK_BATCHER_H_

#include <cstddef>
#include <deque>
#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "src/streaming/executor.h"

namespace paymento::bridge {

class TaskBatcher {
 public:
  // `executor` must outlive the batcher and be shut down before it is
  // destroyed.
  TaskBatcher(Executor* executor, size_t max_batch)
      : executor_(executor), max_batch_(max_batch) {}

  // Queues `task` to run on an executor thread. Tasks start in the order
  // posted, but two batches may run at once on different threads, so tasks
  // must not depend on each other. Tasks must not block.
  void Post(std::function<void()> task);

 private:
  void RunBatch();

  Executor* const executor_;
  const size_t max_batch_;

  absl::Mutex mu_;
  std::deque<std::function<void()>> pending_ ABSL_GUARDED_BY(mu_);
  // Whether an executor task that drains pending_ is queued or running.
  bool scheduled_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_STREAMING_TASK_BATCHER_H_
