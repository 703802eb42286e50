// CommitNotifier: wakes streams that have read everything committed so far
// when the store commits more.
//
// A stream that finds no new events calls WaitAfter with its cursor. If the
// store has already committed past the cursor the call returns false and the
// stream reads again at once; otherwise the stream is woken exactly once by
// the next Publish that passes its cursor. The notifier holds waiters by
// weak pointer, so a stream that ends while waiting is not kept alive. Its
// entry goes at the next Publish, or when registrations have doubled the
// list since it was last pruned, so a quiet store with clients that come
// and go keeps at most about twice as many entries as live waiters.
#ifndef PAYMENTO_BRIDGE_SRC_STREAMING_COMMIT_NOTIFIER_H_
#define PAYMENTO_BRIDGE_SRC_STREAMING_COMMIT_NOTIFIER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace paymento::bridge {

class CommitWaiter {
 public:
  virtual ~CommitWaiter() = default;
  // Called without the notifier's lock held, on the publishing thread, so it
  // must only schedule work.
  virtual void Wake() = 0;
};

class CommitNotifier {
 public:
  explicit CommitNotifier(int64_t last_sequence = 0)
      : last_sequence_(last_sequence) {}

  // Records that everything up to `last_sequence` is committed and wakes the
  // waiters behind it.
  void Publish(int64_t last_sequence);

  // Registers `waiter` unless events after `cursor` are already committed;
  // returns whether it was registered.
  bool WaitAfter(int64_t cursor, std::weak_ptr<CommitWaiter> waiter);

  int64_t last_sequence() const;

  // Returns the number of entries, including those of ended waiters not
  // pruned yet.
  size_t entries() const;

 private:
  // Registrations prune ended waiters once the list reaches this size.
  static constexpr size_t kMinPruneSize = 64;

  struct Entry {
    int64_t cursor;
    std::weak_ptr<CommitWaiter> waiter;
  };

  mutable absl::Mutex mu_;
  int64_t last_sequence_ ABSL_GUARDED_BY(mu_);
  std::vector<Entry> waiters_ ABSL_GUARDED_BY(mu_);
  // The size at which the next registration prunes waiters_.
  size_t prune_at_ ABSL_GUARDED_BY(mu_) = kMinPruneSize;
};

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_STREAMING_COMMIT_NOTIFIER_H_
