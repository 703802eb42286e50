#include "src/streaming/commit_notifier.h"

#include <algorithm>
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
      } else if (!entry.waiter.expired()) {
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
  if (waiters_.size() >= prune_at_) {
    waiters_.erase(std::remove_if(waiters_.begin(), waiters_.end(),
                                  [](const Entry& entry) {
                                    return entry.waiter.expired();
                                  }),
                   waiters_.end());
    // Pruning again only after the list doubles keeps each registration's
    // cost constant on average.
    prune_at_ = std::max(kMinPruneSize, 2 * waiters_.size());
  }
  waiters_.push_back(Entry{cursor, std::move(waiter)});
  return true;
}

int64_t CommitNotifier::last_sequence() const {
  absl::MutexLock lock(&mu_);
  return last_sequence_;
}

size_t CommitNotifier::entries() const {
  absl::MutexLock lock(&mu_);
  return waiters_.size();
}

}  // namespace paymento::bridge
