// HealthMonitor: runs a health check on its own thread at a fixed interval
// and keeps the latest result, so that GET /readyz and the gRPC health
// service read a cached status instead of touching the store per probe.
//
// The check runs whether or not traffic arrives. That matters for
// readiness: a replica marked not ready gets no requests, so a status
// derived from request outcomes would never recover by itself.
//
// A change between passing and failing is logged once, with the error, and
// reported to the change listener; repeated failures are not logged again.
#ifndef PAYMENTO_BRIDGE_SRC_ADMIN_HEALTH_MONITOR_H_
#define PAYMENTO_BRIDGE_SRC_ADMIN_HEALTH_MONITOR_H_

#include <functional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace paymento::bridge {

class HealthMonitor {
 public:
  using Check = std::function<absl::Status()>;
  // Called on the monitor's thread after the status changes.
  using ChangeListener = std::function<void(const absl::Status& status)>;

  // `name` names the checked part in log lines, such as "store".
  HealthMonitor(std::string name, absl::Duration interval, Check check,
                ChangeListener on_change);
  ~HealthMonitor();

  // Runs the check once on the calling thread, so that status() is current
  // when Start returns, then starts the periodic thread.
  void Start();
  // Stops the thread and waits for it. Safe to call more than once.
  void Stop();

  // The latest result; UNAVAILABLE before Start.
  absl::Status status() const;

 private:
  void RunCheck();
  void Loop();

  const std::string name_;
  const absl::Duration interval_;
  const Check check_;
  const ChangeListener on_change_;

  mutable absl::Mutex mu_;
  absl::Status status_ ABSL_GUARDED_BY(mu_) =
      absl::UnavailableError("not checked yet");
  bool checked_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// Checks that `directory` takes a write: creates a probe file, writes 4 KiB,
// fsyncs and removes it. Fails with UNAVAILABLE naming the directory and the
// system error, such as "No space left on device" on a full disk.
absl::Status ProbeDirectoryWritable(const std::string& directory);

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_ADMIN_HEALTH_MONITOR_H_
