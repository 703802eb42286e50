// WriteHealthLog: logs a store's commits failing and recovering once per
// change of state, not once per failed commit. When commits alternate, as
// near a full disk, a failure is logged at most once per quiet period.
#ifndef PAYMENTO_BRIDGE_SRC_STORE_WRITE_HEALTH_LOG_H_
#define PAYMENTO_BRIDGE_SRC_STORE_WRITE_HEALTH_LOG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace paymento::bridge {

class WriteHealthLog {
 public:
  // A log line: a failure or a recovery.
  struct Line {
    bool failing = false;
    // The error of the failed commit, or empty for a recovery.
    std::string error;
    // Failed commits since the previous line.
    int64_t failed_commits = 0;
  };

  // `store` names the store in each line: "sqlite" or "postgres".
  explicit WriteHealthLog(std::string store,
                          absl::Duration quiet = absl::Seconds(10))
      : store_(std::move(store)), quiet_(quiet) {}

  // Logs the line Next returns for `status` now, if any.
  void Report(const absl::Status& status);

  // Returns the line to log for one commit's `status` at `now`, if any: a
  // failure outside the quiet period, or a recovery after a logged failure.
  std::optional<Line> Next(const absl::Status& status, absl::Time now);

 private:
  const std::string store_;
  const absl::Duration quiet_;
  absl::Mutex mu_;
  // Whether the last line logged was a failure.
  bool failing_logged_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<absl::Time> last_failure_line_ ABSL_GUARDED_BY(mu_);
  int64_t failed_commits_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_STORE_WRITE_HEALTH_LOG_H_
