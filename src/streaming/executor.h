// Executor: a fixed pool of threads that runs posted tasks in FIFO order.
// Streams use it to read the store and to prepare writes, so that neither
// gRPC's callback threads nor the store's writer thread ever wait on a read.
#ifndef PAYMENTO_BRIDGE_SRC_STREAMING_EXECUTOR_H_
#define PAYMENTO_BRIDGE_SRC_STREAMING_EXECUTOR_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace paymento::bridge {

class Executor {
 public:
  explicit Executor(int threads);
  ~Executor();

  // Queues `task`. After Shutdown the task is dropped.
  void Post(std::function<void()> task);

  // Runs the tasks already queued, then joins the threads. Idempotent.
  void Shutdown();

 private:
  void Run();

  absl::Mutex mu_;
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_STREAMING_EXECUTOR_H_
