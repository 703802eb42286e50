#include "src/streaming/commit_notifier.h"

#include <utility>

namespace paymento::bridge {

void CommitNotifier::Publish(int64_t last_sequence) {
  std::vector<std::shared_ptr<CommitWaiter>> woken;
  {
    absl::MutexLock lock(&mu_);
    if (last_sequence > last_sequence_) last_sequence_ = last_sequence;
    std::vector<Entry> still_waiting;
    for (Entry& entry : waiters_) {
      if (entry.cursor < last_sequence_) {
        if (auto waiter = entry.waiter.lock()) woken.push_back(waiter);
      } else {
        still_waiting.push_back(std::move(entry));
      }
    }
    waiters_.swap(still_waiting);
  }
  for (const auto& waiter : woken) waiter->Wake();
}

bool CommitNotifier::WaitAfter(int64_t cursor,
                               std::weak_ptr<CommitWaiter> waiter) {
  absl::MutexLock lock(&mu_);
  if (last_sequence_ > cursor) return false;
  waiters_.push_back(Entry{cursor, std::move(waiter)});
  return true;
}

int64_t CommitNotifier::last_sequence() const {
  absl::MutexLock lock(&mu_);
  return last_sequence_;
}

}  // namespace paymento::bridge
