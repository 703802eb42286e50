// PostgresEventStore: the EventStore for several replicas sharing one
// PostgreSQL database, opened with --store=postgres://... (a libpq URI; the
// password may also come from PGPASSWORD or a PGPASSFILE).
//
// Writes: appends and delivery changes go to a queue that one writer thread
// per process drains, each drain one transaction on its own connection
// (group commit). Sequence numbers come from a one-row counter locked at
// the start of every appending transaction and held to its commit, so
// replicas commit appends one at a time and sequences follow commit order
// across all of them (see AppendEvents). Each appending commit notifies the
// channel kPostgresCommitChannel with its last sequence.
//
// Reads and the writes outside the group commit (quarantine, subscription
// administration, retention) use a pool of connections. A listener thread
// on one more connection turns every replica's notifications into calls of
// the CommitListener, so streams here wake for events appended anywhere.
//
// When the database is unreachable, appends and reads fail with UNAVAILABLE
// and Health() reports it. Connections are opened again on next use and by
// the listener, with growing delays between attempts, so the store recovers
// by itself when the database returns. Each change between reachable and
// unreachable is logged once.
//
// Sizes come from PostgresStoreOptions or from the URL's query parameters
// (see postgres_store_options.h).
#ifndef PAYMENTO_BRIDGE_SRC_STORE_POSTGRES_EVENT_STORE_H_
#define PAYMENTO_BRIDGE_SRC_STORE_POSTGRES_EVENT_STORE_H_

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "src/store/event_store.h"
#include "src/store/postgres_commit_listener.h"
#include "src/store/postgres_connection.h"
#include "src/store/postgres_connection_pool.h"
#include "src/store/postgres_connector.h"
#include "src/store/postgres_store_options.h"
#include "src/store/write_health_log.h"

namespace paymento::bridge {

class PostgresEventStore : public EventStore {
 public:
  // Connects to the database `url` names, applies schema migrations and
  // starts the writer and listener threads. Query parameters of `url`
  // override `options`. Fails with UNAVAILABLE when the database cannot be
  // reached; no message contains the URL's password.
  static absl::StatusOr<std::unique_ptr<PostgresEventStore>> Open(
      absl::string_view url, PostgresStoreOptions options = {});
  ~PostgresEventStore() override;

  AppendFuture Append(v1::Event event, std::string body_sha256) override;
  absl::StatusOr<int64_t> Quarantine(QuarantineRecord record) override;
  absl::StatusOr<std::vector<QuarantineRecord>> ListQuarantined(
      int64_t after_id, int limit) override;
  absl::StatusOr<std::optional<QuarantineRecord>> GetQuarantined(
      int64_t id) override;
  absl::Status DeleteQuarantined(int64_t id) override;
  absl::StatusOr<std::vector<v1::Event>> ReadAfter(int64_t after_sequence,
                                                   int limit) override;
  absl::StatusOr<std::vector<SerializedEventPtr>> ReadSerializedAfter(
      int64_t after_sequence, int limit) override;
  absl::StatusOr<int64_t> SequenceBefore(absl::Time time) override;
  // The highest sequence this replica has seen committed, by itself or,
  // through notifications, by any other replica.
  int64_t LastSequence() const override { return last_sequence_.load(); }
  absl::StatusOr<std::optional<StoredEvent>> GetById(
      absl::string_view id) override;
  absl::StatusOr<std::optional<StoredEvent>> GetBySequence(
      int64_t sequence) override;
  absl::StatusOr<std::vector<v1::Event>> List(const EventQuery& query) override;
  void SetCommitListener(CommitListener listener) override;
  void SetCommitObserver(
      std::function<void(absl::Duration, int64_t)> observer) override;
  void Close() override;
  // OK while the database is reachable; UNAVAILABLE with the last
  // connection error otherwise.
  absl::Status Health() const override;

  absl::StatusOr<std::vector<SubscriptionRecord>> LoadSubscriptions() override;
  absl::StatusOr<SubscriptionRecord> CreateSubscription(
      const SubscriptionRecord& record) override;
  absl::Status DeleteSubscription(absl::string_view name) override;
  absl::StatusOr<std::vector<DeliveryRecord>> LoadDeliveries(
      absl::string_view subscription, int64_t cursor) override;
  absl::StatusOr<std::vector<DeliveryRecord>> LoadDeadLetters(
      absl::string_view subscription) override;
  std::future<absl::Status> SaveDeliveries(DeliveryUpdate update) override;
  absl::StatusOr<int64_t> SeekSubscription(absl::string_view name,
                                          int64_t cursor) override;
  bool SharesSubscriptions() const override { return true; }
  absl::StatusOr<std::vector<ClaimResult>> ClaimDeliveries(
      const ClaimRequest& request) override;
  absl::StatusOr<std::vector<LeaseId>> AcknowledgeLeases(
      absl::string_view subscription,
      const std::vector<LeaseId>& leases) override;
  absl::StatusOr<std::vector<LeaseId>> ReleaseLeases(
      absl::string_view subscription, const std::vector<LeaseId>& leases,
      bool count_attempt) override;
  absl::StatusOr<std::vector<LeaseId>> ExtendLeases(
      absl::string_view subscription, const std::vector<LeaseId>& leases,
      absl::Duration deadline) override;
  absl::Status PublishSubscriptionChange(
      const SubscriptionChange& change) override;
  void SetSubscriptionChangeListener(
      SubscriptionChangeListener listener) override;
  absl::StatusOr<std::vector<DeliveryRecord>> DeliveriesOf(
      int64_t sequence) override;
  absl::StatusOr<int64_t> FirstSequenceAtOrAfter(absl::Time time) override;
  absl::StatusOr<RetentionResult> DeleteExpired(absl::Time events_before,
                                                absl::Time ids_before,
                                                int batch) override;
  absl::StatusOr<Backlog> CountBacklog(
      const std::vector<std::string>& type_patterns,
      int64_t after_sequence) override;

 private:
  struct PendingAppend {
    v1::Event event;
    std::string body_sha256;
    AppendPromise promise;
    absl::StatusOr<AppendResult> result = AppendResult{};
  };

  struct PendingUpdate {
    DeliveryUpdate update;
    std::promise<absl::Status> promise;
  };

  explicit PostgresEventStore(PostgresStoreUrl url);

  absl::Status Initialize();
  void WriterLoop();
  // Commits `batch` and `updates` in one transaction on the writer
  // connection and fills each append's result. Returns the last sequence
  // stored, 0 when no event was new, or an error after rolling back.
  absl::StatusOr<int64_t> CommitBatch(std::vector<PendingAppend>& batch,
                                      std::vector<PendingUpdate>& updates);
  // Starts the writer's transaction, connecting first when needed.
  absl::Status BeginWrite();
  absl::StatusOr<int64_t> WriteBatch(std::vector<PendingAppend>& batch,
                                     std::vector<PendingUpdate>& updates);
  absl::StatusOr<int64_t> AppendEvents(std::vector<PendingAppend>& batch);
  // Stores `fresh`, whose ids are new and distinct, with the sequences from
  // `first` on, in one statement.
  absl::Status AppendFresh(const std::vector<PendingAppend*>& fresh,
                           int64_t first);
  // Returns the ids of `batch` that are already in event_ids.
  absl::StatusOr<std::set<std::string>> StoredIds(
      const std::vector<PendingAppend>& batch);
  absl::Status AppendOne(PendingAppend& pending, int64_t next_sequence,
                         bool* stored);
  absl::Status ApplyUpdate(const DeliveryUpdate& update);
  // Raises LastSequence to `last` and calls the CommitListener when it
  // grew. Called by the listener thread.
  void PublishCommitted(int64_t last);
  // Raises LastSequence to `last`; returns whether it grew.
  bool RaiseLastSequence(int64_t last);
  void CallListener(int64_t last);
  // Decodes a subscription channel payload and passes it on. Called by the
  // listener thread.
  void PublishChange(const std::string& payload);
  void CallChangeListener(const SubscriptionChange& change);
  // Sends `change` from inside the transaction on `connection`, so that it
  // reaches the other replicas exactly when the transaction commits.
  static absl::Status NotifyChange(PostgresConnection& connection,
                                   const SubscriptionChange& change);
  // Runs one lease statement that takes the subscription as $1, the
  // sequences and generations of `leases` as $2 and $3 and `extra` after
  // them, and notifies `change` with the leases that matched.
  absl::StatusOr<std::vector<LeaseId>> UpdateLeases(
      const std::string& sql, absl::string_view subscription,
      const std::vector<LeaseId>& leases, std::vector<PgParam> extra,
      SubscriptionChange change);

  // Runs `work` in one READ COMMITTED transaction on a pooled connection.
  absl::Status RunTransaction(
      const std::function<absl::Status(PostgresConnection&)>& work);
  absl::StatusOr<std::optional<StoredEvent>> GetWhere(const std::string& sql,
                                                      PgParam key);
  absl::StatusOr<std::vector<DeliveryRecord>> QueryDeliveries(
      const std::string& sql, std::vector<PgParam> params);
  absl::StatusOr<SubscriptionRecord> FindSubscription(absl::string_view name);
  // Deletes the oldest quarantined requests beyond the quarantine's cap
  // (postgres_quarantine.cc), always keeping the newest one.
  static absl::Status TrimQuarantine(PostgresConnection& connection);

  const PostgresStoreOptions options_;
  PostgresConnector connector_;
  PostgresConnectionPool pool_;
  std::atomic<int64_t> last_sequence_{0};
  WriteHealthLog write_health_{"postgres"};

  // Guards the queues between request threads and the writer thread.
  absl::Mutex queue_mu_;
  std::deque<PendingAppend> queue_ ABSL_GUARDED_BY(queue_mu_);
  std::deque<PendingUpdate> updates_ ABSL_GUARDED_BY(queue_mu_);
  bool closing_ ABSL_GUARDED_BY(queue_mu_) = false;
  bool closed_ ABSL_GUARDED_BY(queue_mu_) = false;
  CommitListener listener_ ABSL_GUARDED_BY(queue_mu_);
  std::function<void(absl::Duration, int64_t)> observer_
      ABSL_GUARDED_BY(queue_mu_);
  SubscriptionChangeListener change_listener_ ABSL_GUARDED_BY(queue_mu_);

  // Used by Initialize and then only by the writer thread.
  std::unique_ptr<PostgresConnection> writer_;
  std::unique_ptr<PostgresCommitListener> commit_listener_;
  std::thread writer_thread_;
};

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_STORE_POSTGRES_EVENT_STORE_H_
