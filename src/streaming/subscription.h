// Subscription: the live state of one durable subscription, shared by every
// stream attached to it (competing consumers).
//
// The subscription reads matching events from the store after its read
// cursor into a window of unsettled entries, leases each entry to one
// attached stream with spare capacity, and settles it when acknowledged or
// dead-lettered. Leases expire after the ack deadline and the entry is
// leased again, to any stream. Every change is written through to the store
// (group-committed), so progress survives restarts; the cursor stored is
// the highest sequence below which every entry is settled.
//
// With a store that shares subscriptions between processes (PostgreSQL,
// EventStore::SharesSubscriptions), every process reads the same events.
// An entry goes to a stream only after the store leased it to this process
// (ClaimDeliveries, in batches), so streams on two processes never hold the
// same event at once. Acks, released leases and seeks go to the
// store first and reach the other processes as SubscriptionChanges
// (ApplyChange). An entry leased elsewhere stays in the window until it is
// settled, so the cursor stays correct. With a store of one process
// (SQLite), leases live only in memory and the store receives one batched
// write per change.
//
// Locking: mu_ guards all state. DeliverySink::Deliver is called with mu_
// held, so sinks must only queue and never call back into the subscription
// from Deliver. Store reads for the window happen on the executor without
// mu_ held.
#ifndef PAYMENTO_BRIDGE_SRC_STREAMING_SUBSCRIPTION_H_
#define PAYMENTO_BRIDGE_SRC_STREAMING_SUBSCRIPTION_H_

#include <cstdint>
#include <future>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "paymento/bridge/v1/event_service.pb.h"
#include "src/metrics/metrics.h"
#include "src/store/event_store.h"
#include "src/store/type_filter.h"
#include "src/streaming/commit_notifier.h"
#include "src/streaming/executor.h"
#include "src/streaming/timer.h"

namespace paymento::bridge {

// The receiving end of a subscription: one stream.
class DeliverySink {
 public:
  virtual ~DeliverySink() = default;
  // Queues deliveries for the client. Called with the subscription's lock
  // held: must not block or call into the subscription.
  virtual void Deliver(std::vector<v1::Delivery> deliveries) = 0;
  // Ends the stream with `status`, for example when the subscription is
  // deleted. Same rules as Deliver.
  virtual void Terminate(const absl::Status& status) = 0;
};

// Services a subscription uses; owned elsewhere and outliving it.
struct SubscriptionEnvironment {
  EventStore* store = nullptr;
  CommitNotifier* notifier = nullptr;
  Executor* executor = nullptr;
  Timer* timer = nullptr;
  // Counts dead letters; may be null.
  Metrics* metrics = nullptr;
  // Names this process as the holder of the leases it takes in a store
  // that shares subscriptions. Unique per process start.
  std::string replica_id;
};

struct SubscriptionStats {
  int64_t cursor = 0;
  int64_t backlog_events = 0;
  std::optional<absl::Time> oldest_backlog_received_at;
  int64_t dead_lettered_events = 0;
  // Unacknowledged events that retention deleted.
  int64_t expired_events = 0;
  int open_streams = 0;
};

class Subscription : public CommitWaiter,
                     public std::enable_shared_from_this<Subscription> {
 public:
  // Maximum number of unsettled entries in memory, and maximum serialized
  // bytes of their events. Reading from the store pauses while either is
  // reached, so a backlog of large events does not take gigabytes.
  static constexpr size_t kWindow = 20000;
  static constexpr size_t kWindowBytes = 32 << 20;

  static absl::StatusOr<std::shared_ptr<Subscription>> Load(
      const SubscriptionEnvironment& environment, SubscriptionRecord record);

  const SubscriptionRecord& record() const { return record_; }
  const TypeFilter& filter() const { return filter_; }

  // Attaches a stream that holds at most `max_outstanding` leases.
  void Attach(std::shared_ptr<DeliverySink> sink, int max_outstanding);
  // Detaches a stream and returns its leases at once, without counting the
  // attempt.
  void Detach(DeliverySink* sink);

  // Acknowledges the deliveries whose ack ids match a live lease; the
  // future is ready once that is durable. Unknown, expired and repeated ack
  // ids are ignored. Sets `acknowledged` to the number that matched.
  std::shared_future<absl::Status> Acknowledge(
      const std::vector<std::string>& ids, int* acknowledged);
  // Extends matching leases to now + `deadline`, or returns them at once
  // when `deadline` is zero. Returns the number that matched.
  absl::StatusOr<int> ModifyAckDeadline(const std::vector<std::string>& ids,
                                        absl::Duration deadline);
  // Moves the cursor: events at or below it count as acknowledged, events
  // after it are delivered again. Outstanding ack ids become invalid. A
  // cursor before the subscription's start is moved to its start. Returns
  // the cursor set.
  absl::StatusOr<int64_t> Seek(int64_t cursor);
  // Puts dead-lettered events back with their attempts reset; returns how
  // many.
  absl::StatusOr<int> RedriveDeadLetters();
  // Terminates every attached stream; the subscription takes no more work.
  void Close(const absl::Status& status);
  // Drops the unsettled events received before `cutoff`, which retention
  // deleted from the store. They are no longer delivered or counted, and
  // their outstanding ack ids become invalid.
  void ForgetReceivedBefore(absl::Time cutoff);

  absl::StatusOr<SubscriptionStats> Stats();
  // Every event at or below this sequence is settled.
  int64_t Cursor();
  // The number of seeks the store recorded, as last seen by this process.
  int64_t Epoch();

  // Applies a change that a process sharing the store made: settles,
  // releases or extends leases, moves the cursor, or reloads redriven
  // events. Changes this process made itself arrive too and do nothing
  // more. Called on the store's listener thread, so it only queues store
  // writes and posts store reads to the executor, and never waits for them.
  void ApplyChange(const SubscriptionChange& change);

  void Wake() override;

 private:
  struct Entry {
    std::shared_ptr<const v1::Event> event;
    // The serialized size of `event`, counted in window_bytes_.
    size_t bytes = 0;
    DeliveryState state = DeliveryState::kPending;
    int attempts = 0;
    uint64_t generation = 0;
    DeliverySink* holder = nullptr;
    absl::Time lease_expiry;
    // Shared store only: a claim for `holder` is in flight.
    bool claiming = false;
    // Shared store only: the lease is being returned to the store.
    bool releasing = false;
    // Shared store only: leased by another process, or locked by its
    // claim, until about then.
    absl::Time blocked_until = absl::InfinitePast();
    absl::Time last_delivered_at = absl::UnixEpoch();
    std::string ordering_key;
  };
  struct SinkState {
    std::shared_ptr<DeliverySink> sink;
    int max_outstanding = 0;
    int outstanding = 0;
  };

  Subscription(const SubscriptionEnvironment& environment,
               SubscriptionRecord record, TypeFilter filter);

  // The key that orders events of one payment: its link or gateway id.
  static std::string OrderingKeyOf(const v1::Event& event);

  absl::Status LoadState();
  void ScheduleRefillLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Refill();
  // Loads the `redriven` events, taken from redrive_pending_, into the
  // window. Refill does this before reading further.
  void LoadRedriven(std::vector<std::pair<int64_t, int>> redriven,
                    uint64_t resets);
  // Ends a read of the store that started at reset count `resets`. Returns
  // false when the subscription closed or a seek made the read stale.
  bool FinishReadLocked(uint64_t resets) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Wakes the subscription after a pause, so that a failing store is not
  // read in a loop.
  void RetryReadLaterLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Adds an event read from the store, whose serialized size is `bytes`,
  // unless the subscription skips it.
  void AddEventLocked(v1::Event event, size_t bytes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Returns whether retention deleted `event`, judged by its receipt time.
  bool ForgottenLocked(const v1::Event& event) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether the window contains kWindow entries or kWindowBytes bytes.
  bool WindowFullLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Adds an entry for `event`, of `bytes` serialized, unless `sequence` has
  // one, and counts it in window_bytes_. Returns the entry, or null.
  Entry* InsertEntryLocked(int64_t sequence, v1::Event event, size_t bytes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::map<int64_t, Entry>::iterator EraseEntryLocked(
      std::map<int64_t, Entry>::iterator it) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ClearEntriesLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DispatchLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  DeliverySink* PickSinkLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Returns a leased entry to pending, dead-lettering it when it has used
  // its attempts.
  void ReleaseLocked(int64_t sequence, Entry& entry, bool count_attempt)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SettleLocked(std::map<int64_t, Entry>::iterator entry,
                    DeliveryState state) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MarkDirtyLocked(int64_t sequence, const Entry& entry,
                       absl::Time acknowledged_at = absl::UnixEpoch())
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Queues the dirty records and the cursor for the store. The future is
  // ready once they, and every write queued before them, are stored.
  std::shared_future<absl::Status> FlushLocked()
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int64_t FloorLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ScheduleLeaseTimerLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnLeaseTimer();
  // Finds the live lease an ack id names, or entries_.end().
  std::map<int64_t, Entry>::iterator FindLeaseLocked(absl::string_view id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Forgets every entry and reads again after `cursor`.
  void ResetLocked(int64_t cursor) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static v1::Delivery MakeDelivery(int64_t sequence, const Entry& entry);
  void LogDeadLetterLocked(int64_t sequence, const Entry& entry)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Shared store only (subscription_claims.cc).
  void DispatchSharedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Claim(std::vector<int64_t> candidates, uint64_t resets);
  void FinishClaim(const std::vector<int64_t>& candidates, uint64_t resets,
                   absl::Time started,
                   const absl::StatusOr<std::vector<ClaimResult>>& results);
  // Returns leases to the store on the executor.
  void ReleaseSoon(std::vector<LeaseId> leases, bool count_attempt)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Release(const std::vector<LeaseId>& leases, bool count_attempt);
  // Ends the entry's association with its stream and frees the stream's
  // slot.
  void DropHolderLocked(Entry& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Removes an entry that is settled in the store; returns whether one was
  // in the window.
  bool SettleSharedLocked(int64_t sequence) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ApplyChangeLocked(const SubscriptionChange& change)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DetachSharedLocked(DeliverySink* sink)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::future<absl::Status> AcknowledgeShared(
      const std::vector<std::string>& ids, int* acknowledged);
  absl::StatusOr<int> ModifyAckDeadlineShared(
      const std::vector<std::string>& ids, absl::Duration deadline);
  absl::StatusOr<int64_t> SeekShared(int64_t cursor);
  // Adds events that another process redrove.
  void ReloadRedriven();

  const SubscriptionEnvironment environment_;
  const SubscriptionRecord record_;
  const TypeFilter filter_;
  // Whether the store shares leases with other processes.
  const bool shared_;

  absl::Mutex mu_;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  // Highest sequence read from the store into the window.
  int64_t read_cursor_ ABSL_GUARDED_BY(mu_);
  // Unsettled entries: pending or leased.
  std::map<int64_t, Entry> entries_ ABSL_GUARDED_BY(mu_);
  // Sum of the entries' bytes.
  size_t window_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  // Serialized size of the largest event of the latest read from the store,
  // of any type, which sizes the next read. 0 before the first read.
  size_t read_event_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  // Pending events below the read cursor that are not in the window yet,
  // with their attempts: redriven dead letters, and events redriven before
  // a restart. Refill loads them before reading further.
  std::map<int64_t, int> redrive_pending_ ABSL_GUARDED_BY(mu_);
  // Entries above the cursor that were settled before a restart.
  std::set<int64_t> settled_ahead_ ABSL_GUARDED_BY(mu_);
  // Attempts already made for entries above the cursor, from before a
  // restart.
  std::map<int64_t, int> attempts_ahead_ ABSL_GUARDED_BY(mu_);
  std::map<DeliverySink*, SinkState> sinks_ ABSL_GUARDED_BY(mu_);
  std::map<int64_t, DeliveryRecord> dirty_ ABSL_GUARDED_BY(mu_);
  int64_t saved_cursor_ ABSL_GUARDED_BY(mu_);
  // The last write FlushLocked queued. The store applies a subscription's
  // writes in order, so once it is stored the earlier ones are too.
  std::shared_future<absl::Status> last_write_ ABSL_GUARDED_BY(mu_);
  uint64_t next_generation_ ABSL_GUARDED_BY(mu_);
  bool refill_scheduled_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<absl::Time> lease_timer_at_ ABSL_GUARDED_BY(mu_);
  // Round-robin position among sinks.
  size_t next_sink_ ABSL_GUARDED_BY(mu_) = 0;
  // Counts resets of the window (seeks), so that reads and claims started
  // before one are discarded.
  uint64_t resets_ ABSL_GUARDED_BY(mu_) = 0;
  // The store's seek count; a cursor is saved only in this epoch.
  int64_t epoch_ ABSL_GUARDED_BY(mu_);
  // Shared store only: one claim runs at a time, so that claims batch.
  bool claim_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  // Receipt time, in Unix microseconds, before which retention deleted every
  // event. A store read that started before the deletion must not add such
  // events to the window.
  int64_t forgotten_before_us_ ABSL_GUARDED_BY(mu_) =
      std::numeric_limits<int64_t>::min();
};

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_STREAMING_SUBSCRIPTION_H_
