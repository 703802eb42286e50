// RetentionWorker: a background thread that deletes events older than the
// retention period and event ids older than the dedup window, in small
// batches with pauses between them so the ingress keeps the writer.
#ifndef PAYMENTO_BRIDGE_SRC_STORE_RETENTION_WORKER_H_
#define PAYMENTO_BRIDGE_SRC_STORE_RETENTION_WORKER_H_

#include <functional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "src/store/event_store.h"

namespace paymento::bridge {

struct RetentionOptions {
  absl::Duration retention = absl::Hours(720);
  absl::Duration dedup_window = absl::Hours(9600);
  // Time between runs.
  absl::Duration interval = absl::Minutes(1);
  int batch = 500;
  absl::Duration pause_between_batches = absl::Milliseconds(20);
  // Called after a run that left no event received before the time given,
  // so that windows in memory can drop the events the store no longer has.
  std::function<void(absl::Time)> on_expired;
};

class RetentionWorker {
 public:
  // `store` must outlive the worker.
  RetentionWorker(EventStore* store, RetentionOptions options);
  ~RetentionWorker();

  void Start();
  // Stops after the batch in progress. Idempotent.
  void Stop();

  // Runs until nothing is left to delete; returns the events deleted.
  int64_t RunOnce();

 private:
  void Run();
  // Waits for `duration` or until Stop; returns false when stopping.
  bool WaitFor(absl::Duration duration);

  EventStore* const store_;
  const RetentionOptions options_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_STORE_RETENTION_WORKER_H_
