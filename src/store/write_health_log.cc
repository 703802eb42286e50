#include "src/store/write_health_log.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "src/logging/log.h"

namespace paymento::bridge {

void WriteHealthLog::Report(const absl::Status& status) {
  std::optional<Line> line = Next(status, absl::Now());
  if (!line) return;
  std::string failed_commits = absl::StrCat(line->failed_commits);
  if (!line->failing) {
    logging::Info("store writes recovered",
                  {{"store", store_}, {"failed_commits", failed_commits}});
    return;
  }
  logging::Error("store writes failing", {{"store", store_},
                                          {"error", line->error},
                                          {"failed_commits", failed_commits}});
}

std::optional<WriteHealthLog::Line> WriteHealthLog::Next(
    const absl::Status& status, absl::Time now) {
  absl::MutexLock lock(&mu_);
  if (status.ok()) {
    if (!failing_logged_) return std::nullopt;
    failing_logged_ = false;
    Line recovered{false, "", failed_commits_};
    failed_commits_ = 0;
    return recovered;
  }
  ++failed_commits_;
  if (failing_logged_) return std::nullopt;
  if (last_failure_line_ && now - *last_failure_line_ < quiet_) {
    return std::nullopt;
  }
  failing_logged_ = true;
  last_failure_line_ = now;
  Line failing{true, std::string(status.message()), failed_commits_};
  failed_commits_ = 0;
  return failing;
}

}  // namespace paymento::bridge
