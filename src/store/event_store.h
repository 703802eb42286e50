// EventStore: the durable log of verified events, the only source that
// streams and queries read from.
//
// Contract shared by every implementation:
// - Append returns only after the event is durable (fsync'd) or has failed.
// - Sequence numbers are assigned in commit order and strictly increase, so a
//   reader that has seen sequence N and later reads "after N" never misses an
//   event that committed in between.
// - An event id is stored once. Appending the same id again with the same body
//   hash counts a duplicate; with another hash it is a conflict and nothing is
//   written to the log.
// - After each commit the store calls its CommitListener with the highest
//   committed sequence, from the committing thread and without holding store
//   locks, so the listener must not block.
#ifndef PAYMENTO_BRIDGE_SRC_STORE_EVENT_STORE_H_
#define PAYMENTO_BRIDGE_SRC_STORE_EVENT_STORE_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "paymento/bridge/v1/event.pb.h"
#include "src/store/subscription_change.h"
#include "src/store/subscription_records.h"

namespace paymento::bridge {

enum class AppendOutcome { kStored, kDuplicate, kConflict };

struct AppendResult {
  AppendOutcome outcome = AppendOutcome::kStored;
  // The sequence of the stored event: the new one, or the first copy's for a
  // duplicate or a conflict. 0 when a conflicting first copy was deleted by
  // retention and only its tombstone remains.
  int64_t sequence = 0;
};

// The result of EventStore::Append, with std::future's wait_for and get.
//
// A store's writer sets one value per stored event, so the cost of setting
// one counts. std::promise::set_value makes two futex calls: one finishes
// its call_once and can wake a waiting thread before the value is there,
// and one wakes the waiters. With a condition variable, the woken thread's
// unlock of the mutex makes a futex call as well. Here setting a value makes
// no system call when no thread waits and one when a thread does, and a
// waiting thread wakes once.
class AppendFuture {
 public:
  AppendFuture() = default;

  bool valid() const { return state_ != nullptr; }

  // Waits until the result is set or `timeout` passes.
  template <typename Rep, typename Period>
  std::future_status wait_for(
      const std::chrono::duration<Rep, Period>& timeout) const {
    return WaitUntil(std::chrono::steady_clock::now() +
                     std::chrono::ceil<std::chrono::nanoseconds>(timeout))
               ? std::future_status::ready
               : std::future_status::timeout;
  }

  // Waits for the result and moves it out. Call it once.
  absl::StatusOr<AppendResult> get();

 private:
  friend class AppendPromise;

  struct State {
    // The futex word: kPending, then kWaiting once a thread may sleep on it,
    // then kSet.
    std::atomic<uint32_t> word{0};
    absl::StatusOr<AppendResult> result;
  };

  explicit AppendFuture(std::shared_ptr<State> state)
      : state_(std::move(state)) {}

  // Returns false if `deadline` passes first; without one, waits forever.
  bool WaitUntil(
      std::optional<std::chrono::steady_clock::time_point> deadline) const;

  std::shared_ptr<State> state_;
};

// Sets the result of one AppendFuture. A promise destroyed without a value
// sets UNAVAILABLE, so no caller waits forever.
class AppendPromise {
 public:
  AppendPromise();
  AppendPromise(AppendPromise&&) = default;
  AppendPromise& operator=(AppendPromise&& other);
  ~AppendPromise();

  AppendFuture get_future() { return AppendFuture(state_); }

  // Sets the result. Call it once.
  void set_value(absl::StatusOr<AppendResult> result);

 private:
  std::shared_ptr<AppendFuture::State> state_;
};

// A request refused after its signature verified, kept with its exact bytes.
struct QuarantineRecord {
  int64_t id = 0;
  absl::Time received_at;
  std::string reason;
  std::string route;
  // Headers as "Name: value" lines, signature headers included: they are
  // needed to re-verify the request and never logged.
  std::string headers;
  std::string body;
  // Raw SHA-256 digest of `body`.
  std::string body_sha256;
  std::string event_id;
  // Size of `body` in bytes, set by ListQuarantined, which leaves `body`
  // empty.
  int64_t body_size = 0;
};

struct StoredEvent {
  v1::Event event;
  int64_t duplicate_count = 0;
};

// A stored event as it is on disk: a serialized v1::Event, with the fields
// that streams filter on, so that a stream can send it without parsing it.
// Shared and immutable, so many streams can hold one copy.
struct SerializedEvent {
  int64_t sequence = 0;
  std::string type;
  std::string bytes;
};
using SerializedEventPtr = std::shared_ptr<const SerializedEvent>;

// Filters for List. Empty fields do not filter.
struct EventQuery {
  std::vector<std::string> type_patterns;
  std::optional<absl::Time> received_after;   // inclusive
  std::optional<absl::Time> received_before;  // exclusive
  std::string customer_email;
  std::string payment_link_id;
  // With `delivery_state`, only events of this subscription in that state.
  std::string subscription;
  std::optional<DeliveryState> delivery_state;
  int64_t after_sequence = 0;
  int limit = 100;
};

// Matching events after a position, for subscription backlogs.
struct Backlog {
  int64_t events = 0;
  // Received time of the oldest of them; unset without events.
  std::optional<absl::Time> oldest_received_at;
};

// Counts of the rows one retention batch deleted.
struct RetentionResult {
  int64_t events_deleted = 0;
  int64_t tombstones_deleted = 0;
  // Highest sequence deleted; 0 when no event was.
  int64_t last_deleted = 0;
  // Unacknowledged events deleted, per subscription.
  std::map<std::string, int64_t> expired_by_subscription;
};

using CommitListener = std::function<void(int64_t last_sequence)>;

// Receives the subscription changes other processes made, and this
// process's own, on the store's listener thread; it must not block.
using SubscriptionChangeListener =
    std::function<void(const SubscriptionChange& change)>;

// A request to lease some events of one subscription to one holder.
struct ClaimRequest {
  std::string subscription;
  // The process that takes the leases, for diagnostics.
  std::string holder;
  // Candidate sequences, ascending.
  std::vector<int64_t> sequences;
  // Lease duration: the subscription's ack deadline.
  absl::Duration lease = absl::Seconds(30);
  // A candidate that has used this many attempts is dead-lettered instead.
  int max_delivery_attempts = 10;
};

enum class ClaimOutcome {
  // Leased to the holder; `attempts` counts this delivery.
  kLeased,
  // Dead-lettered by this claim, having used its attempts.
  kDeadLettered,
  // Already acknowledged or dead-lettered, or at or below the cursor.
  kSettled,
  // Leased to another holder for `remaining`, or locked by a concurrent
  // claim (then `remaining` is zero).
  kBusy,
};

struct ClaimResult {
  int64_t sequence = 0;
  ClaimOutcome outcome = ClaimOutcome::kBusy;
  int attempts = 0;
  // Identifies the lease; unique across holders and never reused.
  uint64_t generation = 0;
  absl::Duration remaining = absl::ZeroDuration();
};

class EventStore {
 public:
  virtual ~EventStore() = default;

  // Queues the event for the next group commit and returns a future that is
  // ready once it is durable. `body_sha256` is the raw digest of the
  // verified body. The event's sequence is assigned by the store.
  // Fails with UNAVAILABLE when the store cannot write, and with
  // RESOURCE_EXHAUSTED when too many appends are already waiting.
  virtual AppendFuture Append(v1::Event event, std::string body_sha256) = 0;

  // Stores a refused request. A record with the same body hash and reason
  // as an existing one is not stored twice; its id is returned instead.
  // The quarantine is size-capped, so when it is full the oldest records
  // are deleted first.
  virtual absl::StatusOr<int64_t> Quarantine(QuarantineRecord record) = 0;
  // Returns up to `limit` quarantined requests, newest first, without their
  // bodies: those with an id below `after_id`, or the newest when it is 0.
  virtual absl::StatusOr<std::vector<QuarantineRecord>> ListQuarantined(
      int64_t after_id, int limit) = 0;
  // Returns one quarantined request with its body, or nullopt.
  virtual absl::StatusOr<std::optional<QuarantineRecord>> GetQuarantined(
      int64_t id) = 0;
  // Deletes one quarantined request. NOT_FOUND if absent.
  virtual absl::Status DeleteQuarantined(int64_t id) = 0;

  // Returns up to `limit` events with a sequence greater than
  // `after_sequence`, in sequence order.
  virtual absl::StatusOr<std::vector<v1::Event>> ReadAfter(
      int64_t after_sequence, int limit) = 0;

  // Returns the same events as ReadAfter in their serialized form.
  virtual absl::StatusOr<std::vector<SerializedEventPtr>> ReadSerializedAfter(
      int64_t after_sequence, int limit) = 0;

  // Returns what ReadSerializedAfter would, but only when the store keeps
  // those events in memory, and nullopt otherwise. Implementations must read
  // memory only, because gRPC callbacks and the commit listener call this.
  virtual std::optional<std::vector<SerializedEventPtr>> ReadRecentSerialized(
      int64_t after_sequence, int limit) {
    return std::nullopt;
  }

  // Returns the sequence just before the first event received at or after
  // `time`, so that ReadAfter of it starts there.
  virtual absl::StatusOr<int64_t> SequenceBefore(absl::Time time) = 0;

  // Highest committed sequence, 0 for an empty store.
  virtual int64_t LastSequence() const = 0;

  virtual absl::StatusOr<std::optional<StoredEvent>> GetById(
      absl::string_view id) = 0;
  virtual absl::StatusOr<std::optional<StoredEvent>> GetBySequence(
      int64_t sequence) = 0;
  virtual absl::StatusOr<std::vector<v1::Event>> List(
      const EventQuery& query) = 0;

  // Durable subscriptions.

  virtual absl::StatusOr<std::vector<SubscriptionRecord>>
  LoadSubscriptions() = 0;
  // Creates the subscription unless one with its name exists; returns the
  // stored record either way.
  virtual absl::StatusOr<SubscriptionRecord> CreateSubscription(
      const SubscriptionRecord& record) = 0;
  // Deletes the subscription and its delivery rows. NOT_FOUND if absent.
  virtual absl::Status DeleteSubscription(absl::string_view name) = 0;
  // Returns the delivery rows a subscription needs after a restart: those
  // above its cursor, and pending or leased ones below it.
  virtual absl::StatusOr<std::vector<DeliveryRecord>> LoadDeliveries(
      absl::string_view subscription, int64_t cursor) = 0;
  // Returns the dead-lettered delivery rows of a subscription.
  virtual absl::StatusOr<std::vector<DeliveryRecord>> LoadDeadLetters(
      absl::string_view subscription) = 0;
  // Queues delivery changes for the next group commit; the future is ready
  // once they are durable.
  virtual std::future<absl::Status> SaveDeliveries(DeliveryUpdate update) = 0;
  // Moves the cursor: rows above it are deleted (their events are pending
  // again) and rows at or below it become acknowledged. Returns the
  // subscription's new epoch: a store that shares subscriptions counts
  // seeks, so that cursors computed before a seek are not saved after it.
  virtual absl::StatusOr<int64_t> SeekSubscription(absl::string_view name,
                                                   int64_t cursor) = 0;
  // Returns the delivery rows of one event, for every subscription.
  virtual absl::StatusOr<std::vector<DeliveryRecord>> DeliveriesOf(
      int64_t sequence) = 0;
  // Returns the sequence of the first event received at or after `time`,
  // or LastSequence() + 1 when there is none.
  virtual absl::StatusOr<int64_t> FirstSequenceAtOrAfter(absl::Time time) = 0;

  // Counts the events after `after_sequence` whose type matches.
  virtual absl::StatusOr<Backlog> CountBacklog(
      const std::vector<std::string>& type_patterns,
      int64_t after_sequence) = 0;

  // Deletes up to `batch` events received before `events_before` with
  // their delivery rows, counting per subscription those not yet
  // acknowledged, and up to `batch` event ids first received before
  // `ids_before` whose events are gone. Each call is one short transaction,
  // so callers loop until nothing is deleted.
  virtual absl::StatusOr<RetentionResult> DeleteExpired(
      absl::Time events_before, absl::Time ids_before, int batch) = 0;

  // Leases shared between processes.
  //
  // A store that several processes use at once (PostgreSQL) keeps the
  // leases of durable subscriptions in its rows, so that two processes never
  // lease the same event at once, and notifies every process of the changes
  // through the SubscriptionChangeListener. A store of one process (SQLite)
  // returns false here, its subscriptions keep leases in memory, and the
  // calls below return UNIMPLEMENTED.
  virtual bool SharesSubscriptions() const { return false; }
  // Leases the claimable candidates (pending, or leased with the lease
  // expired) to the holder and returns a result for each candidate that
  // exists. Candidates locked by a concurrent claim are skipped and come
  // back as kBusy.
  virtual absl::StatusOr<std::vector<ClaimResult>> ClaimDeliveries(
      const ClaimRequest& request) {
    return absl::UnimplementedError("this store keeps leases in memory");
  }
  // Acknowledges the live leases named and returns those that matched.
  // Others are ignored: unknown, expired, replaced or already settled.
  virtual absl::StatusOr<std::vector<LeaseId>> AcknowledgeLeases(
      absl::string_view subscription, const std::vector<LeaseId>& leases) {
    return absl::UnimplementedError("this store keeps leases in memory");
  }
  // Returns the live leases named to pending and returns those that
  // matched. Without `count_attempt` the delivery does not count as an
  // attempt, as for a stream that closed.
  virtual absl::StatusOr<std::vector<LeaseId>> ReleaseLeases(
      absl::string_view subscription, const std::vector<LeaseId>& leases,
      bool count_attempt) {
    return absl::UnimplementedError("this store keeps leases in memory");
  }
  // Sets the live leases named to expire `deadline` from now and returns
  // those that matched.
  virtual absl::StatusOr<std::vector<LeaseId>> ExtendLeases(
      absl::string_view subscription, const std::vector<LeaseId>& leases,
      absl::Duration deadline) {
    return absl::UnimplementedError("this store keeps leases in memory");
  }
  // Sends `change` to every process's SubscriptionChangeListener.
  virtual absl::Status PublishSubscriptionChange(
      const SubscriptionChange& change) {
    return absl::UnimplementedError("this store keeps leases in memory");
  }
  // Sets the function that receives subscription changes.
  virtual void SetSubscriptionChangeListener(
      SubscriptionChangeListener listener) {}

  // Sets a function that receives the duration and the number of events of each
  // successful group commit, for metrics, before that commit's appends
  // complete. Call before the first Append.
  virtual void SetCommitObserver(
      std::function<void(absl::Duration, int64_t)> observer) {}

  // Sets the function called after each commit. Call before the first
  // Append.
  virtual void SetCommitListener(CommitListener listener) = 0;

  // Stops accepting appends, commits what is queued and closes the store.
  virtual void Close() = 0;

  // OK while the store can reach its database; UNAVAILABLE with the reason
  // otherwise. Cheap enough to call on every readiness probe, and it
  // recovers by itself once the database is back.
  virtual absl::Status Health() const { return absl::OkStatus(); }
};

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_STORE_EVENT_STORE_H_
