// CommitNotifier: wakes streams that have read everything committed so far
// when the store commits more.
//
// A stream that finds no new events calls WaitAfter with its cursor. If the
// store has already committed past the cursor the call returns false and the
// stream reads again at once; otherwise the stream is woken exactly once by
// the next Publish that passes its cursor. The notifier holds waiters by
// weak pointer, so a stream that ends while waiting costs nothing.
#ifndef PAYMENTO_BRIDGE_SRC_STREAMING_COMMIT_NOTIFIER_H_
#define PAYMENTO_BRIDGE_SRC_STREAMING_COMMIT_NOTIFIER_H_

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

 private:
  struct Entry {
    int64_t cursor;
    std::weak_ptr<CommitWaiter> waiter;
  };

  mutable absl::Mutex mu_;
  int64_t last_sequence_ ABSL_GUARDED_BY(mu_);
  std::vector<Entry> waiters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_STREAMING_COMMIT_NOTIFIER_H_
