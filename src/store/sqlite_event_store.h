// SqliteEventStore: the embedded EventStore, one SQLite file in WAL mode.
//
// Appends go to a queue that one writer thread drains: each drain is one
// transaction (group commit), so concurrent requests share one fsync.
// `synchronous=FULL` makes every commit durable before Append's future is
// ready. Reads use a small pool of separate connections, which WAL lets run
// beside the writer; each read is one short statement, so checkpoints are
// never held back for long.
#ifndef PAYMENTO_BRIDGE_SRC_STORE_SQLITE_EVENT_STORE_H_
#define PAYMENTO_BRIDGE_SRC_STORE_SQLITE_EVENT_STORE_H_

#include <sys/types.h>

#include <atomic>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "src/store/event_store.h"
#include "src/store/sqlite_connection.h"
#include "src/store/write_health_log.h"

namespace paymento::bridge {

struct SqliteStoreOptions {
  // Appends waiting for a commit beyond which Append fails fast with
  // RESOURCE_EXHAUSTED instead of queueing more work.
  size_t max_pending_appends = 20000;
  // Upper bound on events in one transaction.
  size_t max_batch = 1024;
  int read_connections = 4;
  // Committed events kept in memory for live streams, at most this many
  // and at most this many bytes of them, so that large events cannot fill
  // the memory: 8,192 events of 250 KB would take 2 GB.
  size_t recent_events = 8192;
  size_t recent_bytes = 64 << 20;
};

class SqliteEventStore : public EventStore {
 public:
  // Opens or creates the database at `path`, creating its directory, and
  // applies schema migrations.
  static absl::StatusOr<std::unique_ptr<SqliteEventStore>> Open(
      const std::string& path, SqliteStoreOptions options = {});
  ~SqliteEventStore() override;

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
  std::optional<std::vector<SerializedEventPtr>> ReadRecentSerialized(
      int64_t after_sequence, int limit) override;
  absl::StatusOr<int64_t> SequenceBefore(absl::Time time) override;
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
  // Reads the sequence counter through a new read-only connection, so it
  // reports a database file that became unreadable or damaged.
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
  // An event taken apart on the appending thread, so that the writer only
  // prepends the sequence and binds the columns.
  struct PendingAppend {
    std::string event_id;
    std::string type;
    int64_t received_us = 0;
    // Lowercased, as the customer e-mail index compares it.
    std::string customer_email;
    std::string payment_link_id;
    // The event serialized without a sequence, then, once inserted, with it.
    std::string serialized;
    // Set when inserted.
    int64_t sequence = 0;
    std::string body_sha256;
    AppendPromise promise;
    absl::StatusOr<AppendResult> result = AppendResult{};
  };

  struct PendingUpdate {
    DeliveryUpdate update;
    std::promise<absl::Status> promise;
  };

  // An exclusive flock(2) on the database file for the store's lifetime,
  // so that a second process cannot open the same store. Separate from
  // SQLite's own fcntl(2) locks, which Linux keeps independent of flock.
  // Its descriptor must close only after every SQLite connection to the
  // file has closed, because closing any descriptor of a file drops the
  // process's fcntl locks on it.
  class FileLock {
   public:
    FileLock() = default;
    FileLock(const FileLock&) = delete;
    FileLock& operator=(const FileLock&) = delete;
    ~FileLock();
    // Opens `path` and locks it without waiting.
    absl::Status Acquire(const std::string& path);
    // Fails when `path` no longer names the locked file, because it was
    // removed or replaced, since commits would go to a file that the next
    // start does not open.
    absl::Status CheckInPlace(const std::string& path) const;

   private:
    int fd_ = -1;
    dev_t device_ = 0;
    ino_t inode_ = 0;
  };

  // A read connection borrowed from the pool, returned on destruction.
  class ReadLease {
   public:
    ReadLease(SqliteEventStore* store,
              std::unique_ptr<SqliteConnection> connection)
        : store_(store), connection_(std::move(connection)) {}
    ReadLease(ReadLease&& other) noexcept = default;
    ~ReadLease() {
      if (connection_ != nullptr) store_->ReturnReader(std::move(connection_));
    }
    SqliteConnection* operator->() { return connection_.get(); }

   private:
    SqliteEventStore* store_;
    std::unique_ptr<SqliteConnection> connection_;
  };

  SqliteEventStore(std::string path, SqliteStoreOptions options);

  absl::Status Initialize();
  void WriterLoop();
  // Commits `batch` in one transaction and fills each entry's result.
  // Returns the new last sequence, or an error after rolling back.
  absl::StatusOr<int64_t> CommitBatch(std::vector<PendingAppend>& batch,
                                      std::vector<PendingUpdate>& updates)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(writer_mu_);
  absl::StatusOr<SubscriptionRecord> FindSubscription(absl::string_view name);
  absl::Status ApplyUpdateLocked(const DeliveryUpdate& update)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(writer_mu_);
  // Runs `sql` statements in one immediate transaction on the writer.
  absl::Status ExecuteInTransaction(
      const std::function<absl::Status(SqliteConnection&)>& body);
  absl::StatusOr<std::vector<DeliveryRecord>> QueryDeliveries(
      const std::string& sql, absl::string_view text, int64_t number);
  absl::Status AppendOneLocked(PendingAppend& pending, int64_t& next_sequence)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(writer_mu_);
  // Sets the result of an append whose event id is already stored: a
  // duplicate, counted, or a conflict when the body differs.
  absl::Status RecordRepeatLocked(PendingAppend& pending)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(writer_mu_);
  absl::Status SaveLastSequenceLocked(int64_t last)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(writer_mu_);
  // Deletes the oldest quarantined requests beyond the quarantine's cap
  // (sqlite_quarantine.cc), always keeping the newest one.
  absl::Status TrimQuarantineLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(writer_mu_);

  absl::StatusOr<ReadLease> BorrowReader();
  void ReturnReader(std::unique_ptr<SqliteConnection> connection);
  absl::StatusOr<std::optional<StoredEvent>> GetWhere(const std::string& sql,
                                                      int64_t sequence,
                                                      absl::string_view id);

  // Serves ReadAfter and ReadSerializedAfter from the recent-events cache
  // when it covers the cursor. Returns false otherwise.
  bool ReadRecent(int64_t after_sequence, int limit,
                  std::vector<SerializedEventPtr>& events);
  void RememberRecent(std::vector<PendingAppend>& batch);
  // Drops recent events at or below `sequence`, after retention deleted them.
  void ForgetRecentThrough(int64_t sequence);

  // First, so that it is destroyed after every connection below.
  FileLock file_lock_;
  const std::string path_;
  const SqliteStoreOptions options_;

  // The most recently committed events, in sequence order with no gaps, so
  // that live streams read new events without a query. The writer thread
  // adds to it before it publishes the new last sequence.
  absl::Mutex recent_mu_;
  std::deque<SerializedEventPtr> recent_ ABSL_GUARDED_BY(recent_mu_);
  // Sum of the sizes of the events in recent_.
  size_t recent_size_ ABSL_GUARDED_BY(recent_mu_) = 0;
  std::atomic<int64_t> last_sequence_{0};
  WriteHealthLog write_health_{"sqlite"};

  // Guards the queue between request threads and the writer thread.
  absl::Mutex queue_mu_;
  std::deque<PendingAppend> queue_ ABSL_GUARDED_BY(queue_mu_);
  std::deque<PendingUpdate> updates_ ABSL_GUARDED_BY(queue_mu_);
  bool closing_ ABSL_GUARDED_BY(queue_mu_) = false;
  CommitListener listener_ ABSL_GUARDED_BY(queue_mu_);
  std::function<void(absl::Duration, int64_t)> observer_
      ABSL_GUARDED_BY(queue_mu_);

  // Held by the writer thread for each transaction and by Quarantine, the
  // only other writer.
  absl::Mutex writer_mu_;
  std::unique_ptr<SqliteConnection> writer_ ABSL_GUARDED_BY(writer_mu_);

  absl::Mutex readers_mu_;
  std::vector<std::unique_ptr<SqliteConnection>> readers_
      ABSL_GUARDED_BY(readers_mu_);

  std::thread writer_thread_;
};

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_STORE_SQLITE_EVENT_STORE_H_
