#include "src/store/retention_worker.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "src/logging/log.h"

namespace paymento::bridge {

RetentionWorker::RetentionWorker(EventStore* store, RetentionOptions options)
    : store_(store), options_(options) {}

RetentionWorker::~RetentionWorker() { Stop(); }

void RetentionWorker::Start() {
  thread_ = std::thread([this] { Run(); });
}

void RetentionWorker::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

bool RetentionWorker::WaitFor(absl::Duration duration) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&stopping_), duration);
  return !stopping_;
}

void RetentionWorker::Run() {
  while (WaitFor(options_.interval)) RunOnce();
}

int64_t RetentionWorker::RunOnce() {
  int64_t events = 0;
  int64_t tombstones = 0;
  for (;;) {
    absl::Time now = absl::Now();
    absl::Time events_before = now - options_.retention;
    absl::StatusOr<RetentionResult> result = store_->DeleteExpired(
        events_before, now - options_.dedup_window, options_.batch);
    if (!result.ok()) {
      logging::Error("retention failed",
                     {{"error", std::string(result.status().message())}});
      break;
    }
    events += result->events_deleted;
    tombstones += result->tombstones_deleted;
    for (const auto& [subscription, expired] :
         result->expired_by_subscription) {
      logging::Warn("unacknowledged events deleted by retention",
                    {{"subscription", subscription},
                     {"events", absl::StrCat(expired)}});
    }
    if (result->events_deleted == 0 && result->tombstones_deleted == 0) {
      if (options_.on_expired) options_.on_expired(events_before);
      break;
    }
    if (!WaitFor(options_.pause_between_batches)) break;
  }
  if (events > 0 || tombstones > 0) {
    logging::Info("retention deleted old data",
                  {{"events", absl::StrCat(events)},
                   {"event_ids", absl::StrCat(tombstones)}});
  }
  return events;
}

}  // namespace paymento::bridge
