#include "src/store/sqlite_event_store.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>
#include <variant>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"
#include "src/logging/log.h"
#include "src/store/sqlite_schema.h"
#include "src/store/type_filter.h"

namespace paymento::bridge {
namespace {

int64_t ToMicros(const google::protobuf::Timestamp& timestamp) {
  return timestamp.seconds() * 1000000 + timestamp.nanos() / 1000;
}

// Returns `rest`, an event serialized without a sequence, after the
// sequence field. The sequence is field 1 and the C++ serializer writes
// fields in number order, so this equals serializing with the sequence set.
std::string WithSequence(int64_t sequence, absl::string_view rest) {
  using google::protobuf::internal::WireFormatLite;
  using google::protobuf::io::CodedOutputStream;
  // One tag byte, and at most 10 bytes for a 64-bit varint.
  uint8_t prefix[1 + 10];
  uint8_t* end = CodedOutputStream::WriteTagToArray(
      WireFormatLite::MakeTag(v1::Event::kSequenceFieldNumber,
                              WireFormatLite::WIRETYPE_VARINT),
      prefix);
  end = CodedOutputStream::WriteVarint64ToArray(static_cast<uint64_t>(sequence),
                                                end);
  std::string stored;
  stored.reserve(static_cast<size_t>(end - prefix) + rest.size());
  stored.append(reinterpret_cast<const char*>(prefix),
                static_cast<size_t>(end - prefix));
  stored.append(rest.data(), rest.size());
  return stored;
}

absl::StatusOr<v1::Event> ParseEvent(absl::string_view blob) {
  v1::Event event;
  if (!event.ParseFromArray(blob.data(), static_cast<int>(blob.size()))) {
    return absl::DataLossError("stored event does not parse");
  }
  return event;
}

// Escapes LIKE wildcards so that a prefix matches literally.
std::string LikePrefix(absl::string_view prefix) {
  std::string escaped;
  for (char c : prefix) {
    if (c == '%' || c == '_' || c == '\\') escaped.push_back('\\');
    escaped.push_back(c);
  }
  escaped.push_back('%');
  return escaped;
}

absl::Status CreateParentDirectory(const std::string& path) {
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (parent.empty()) return absl::OkStatus();
  std::error_code error;
  std::filesystem::create_directories(parent, error);
  if (error) {
    return absl::UnavailableError(absl::StrCat("cannot create data directory ",
                                               parent.string(), ": ",
                                               error.message()));
  }
  return absl::OkStatus();
}

}  // namespace

SqliteEventStore::SqliteEventStore(std::string path, SqliteStoreOptions options)
    : path_(std::move(path)), options_(options) {}

absl::StatusOr<std::unique_ptr<SqliteEventStore>> SqliteEventStore::Open(
    const std::string& path, SqliteStoreOptions options) {
  std::unique_ptr<SqliteEventStore> store(new SqliteEventStore(path, options));
  absl::Status initialized = store->Initialize();
  if (!initialized.ok()) return initialized;
  store->writer_thread_ =
      std::thread([raw = store.get()] { raw->WriterLoop(); });
  return store;
}

absl::Status SqliteEventStore::Initialize() {
  absl::Status directory = CreateParentDirectory(path_);
  if (!directory.ok()) return directory;

  absl::MutexLock lock(&writer_mu_);
  absl::StatusOr<std::unique_ptr<SqliteConnection>> writer =
      SqliteConnection::Open(path_);
  if (!writer.ok()) return writer.status();
  writer_ = std::move(*writer);
  // Opening created the file if it was missing, and nothing is written
  // before the lock is held.
  absl::Status locked = file_lock_.Acquire(path_);
  if (!locked.ok()) return locked;
  // SQLite falls back to read-only, without an error, when it cannot open
  // the file for writing, so every commit would fail.
  if (sqlite3_db_readonly(writer_->handle(), "main") == 1) {
    return absl::UnavailableError(absl::StrCat(
        "SQLite database ", path_,
        " is read-only for this process: make it, and any ", path_, "-wal and ",
        path_, "-shm, writable by the user the service runs as"));
  }
  // WAL lets readers run beside the writer; synchronous=FULL fsyncs the WAL
  // on every commit, which is what makes a 200 response durable.
  for (const char* pragma :
       {"PRAGMA busy_timeout=5000", "PRAGMA journal_mode=WAL",
        "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON"}) {
    absl::Status status = writer_->Execute(pragma);
    if (!status.ok()) {
      return absl::UnavailableError(absl::StrCat(
          "cannot initialize SQLite database ", path_, ": ", status.message()));
    }
  }
  absl::Status migrated = MigrateSqliteSchema(*writer_);
  if (!migrated.ok()) return migrated;
  // Commits once now, because a -wal or -shm file that the process cannot
  // write fails the first write, not the open.
  absl::Status writable = writer_->Execute(
      "UPDATE sequence_counter SET last_sequence = last_sequence WHERE id = 1");
  if (!writable.ok()) {
    bool read_only = absl::StrContains(writable.message(), "readonly");
    return absl::UnavailableError(absl::StrCat(
        "cannot write SQLite database ", path_, " (", writable.message(), ")",
        read_only
            ? absl::StrCat(": make it, and any ", path_, "-wal and ", path_,
                           "-shm, writable by the user the service "
                           "runs as")
            : ""));
  }

  absl::StatusOr<SqliteStatement> last = writer_->Prepare(
      "SELECT last_sequence FROM sequence_counter WHERE id = 1");
  if (!last.ok()) return last.status();
  absl::StatusOr<bool> row = last->Step();
  if (!row.ok()) return row.status();
  last_sequence_.store(*row ? last->ColumnInt64(0) : 0);

  absl::MutexLock readers_lock(&readers_mu_);
  for (int i = 0; i < options_.read_connections; ++i) {
    absl::StatusOr<std::unique_ptr<SqliteConnection>> reader =
        SqliteConnection::Open(path_);
    if (!reader.ok()) return reader.status();
    absl::Status timeout = (*reader)->Execute("PRAGMA busy_timeout=5000");
    if (!timeout.ok()) return timeout;
    readers_.push_back(std::move(*reader));
  }
  return absl::OkStatus();
}

SqliteEventStore::~SqliteEventStore() { Close(); }

SqliteEventStore::FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);
}

absl::Status SqliteEventStore::FileLock::Acquire(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot open SQLite database ", path, ": ", std::strerror(errno)));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int error = errno;
    ::close(fd);
    if (error == EWOULDBLOCK) {
      return absl::FailedPreconditionError(
          absl::StrCat("another process is using ", path,
                       ": stop it, or give this process its own --store"));
    }
    return absl::UnavailableError(absl::StrCat(
        "cannot lock SQLite database ", path, ": ", std::strerror(error)));
  }
  struct stat info;
  if (::fstat(fd, &info) == 0) {
    device_ = info.st_dev;
    inode_ = info.st_ino;
  }
  fd_ = fd;
  return absl::OkStatus();
}

absl::Status SqliteEventStore::FileLock::CheckInPlace(
    const std::string& path) const {
  struct stat info;
  if (::stat(path.c_str(), &info) != 0) {
    return absl::UnavailableError(absl::StrCat(
        "SQLite database ", path, " is gone (", std::strerror(errno),
        "): restore it, or restart the service to create a new one"));
  }
  if (info.st_dev != device_ || info.st_ino != inode_) {
    return absl::UnavailableError(absl::StrCat(
        "SQLite database ", path,
        " was replaced by another file: restart the service to open it"));
  }
  return absl::OkStatus();
}

void SqliteEventStore::Close() {
  {
    absl::MutexLock lock(&queue_mu_);
    if (closing_ && !writer_thread_.joinable()) return;
    closing_ = true;
  }
  if (writer_thread_.joinable()) writer_thread_.join();
}

absl::Status SqliteEventStore::Health() const {
  // Read-only and without SQLITE_OPEN_CREATE, so a missing file is reported
  // instead of recreated empty.
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* statement = nullptr;
  if (rc == SQLITE_OK) {
    sqlite3_busy_timeout(db, 1000);
    rc = sqlite3_prepare_v2(db, "SELECT last_sequence FROM sequence_counter",
                            -1, &statement, nullptr);
  }
  if (rc == SQLITE_OK) rc = sqlite3_step(statement);
  absl::Status status =
      rc == SQLITE_ROW || rc == SQLITE_DONE
          ? absl::OkStatus()
          : absl::UnavailableError(absl::StrCat(
                "cannot read SQLite database ", path_, ": ",
                db != nullptr ? sqlite3_errmsg(db) : "out of memory"));
  sqlite3_finalize(statement);
  sqlite3_close(db);
  return status;
}

void SqliteEventStore::SetCommitObserver(
    std::function<void(absl::Duration, int64_t)> observer) {
  absl::MutexLock lock(&queue_mu_);
  observer_ = std::move(observer);
}

void SqliteEventStore::SetCommitListener(CommitListener listener) {
  absl::MutexLock lock(&queue_mu_);
  listener_ = std::move(listener);
}

AppendFuture SqliteEventStore::Append(v1::Event event,
                                      std::string body_sha256) {
  PendingAppend pending;
  event.clear_sequence();
  event.SerializeToString(&pending.serialized);
  pending.received_us = ToMicros(event.received_at());
  pending.customer_email = absl::AsciiStrToLower(event.customer().email());
  pending.payment_link_id =
      std::move(*event.mutable_payment_link()->mutable_id());
  pending.event_id = std::move(*event.mutable_id());
  pending.type = std::move(*event.mutable_type());
  pending.body_sha256 = std::move(body_sha256);
  AppendFuture future = pending.promise.get_future();

  absl::MutexLock lock(&queue_mu_);
  if (closing_) {
    pending.promise.set_value(
        absl::UnavailableError("store is closing: retry later"));
  } else if (queue_.size() >= options_.max_pending_appends) {
    pending.promise.set_value(absl::ResourceExhaustedError(absl::StrCat(
        "store overloaded: ", queue_.size(), " appends waiting for commit")));
  } else {
    queue_.push_back(std::move(pending));
  }
  return future;
}

void SqliteEventStore::WriterLoop() {
  // Shown by top -H and perf, and read by the benchmark.
  pthread_setname_np(pthread_self(), "store-writer");
  for (;;) {
    std::vector<PendingAppend> batch;
    std::vector<PendingUpdate> updates;
    CommitListener listener;
    std::function<void(absl::Duration, int64_t)> observer;
    {
      absl::MutexLock lock(&queue_mu_);
      queue_mu_.Await(absl::Condition(
          +[](SqliteEventStore* self) ABSL_NO_THREAD_SAFETY_ANALYSIS {
            return !self->queue_.empty() || !self->updates_.empty() ||
                   self->closing_;
          },
          this));
      if (queue_.empty() && updates_.empty() && closing_) break;
      while (!queue_.empty() && batch.size() < options_.max_batch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      while (!updates_.empty() && updates.size() < options_.max_batch) {
        updates.push_back(std::move(updates_.front()));
        updates_.pop_front();
      }
      listener = listener_;
      observer = observer_;
    }

    absl::StatusOr<int64_t> committed;
    absl::Time started = absl::Now();
    {
      absl::MutexLock lock(&writer_mu_);
      committed = CommitBatch(batch, updates);
    }
    if (committed.ok() && observer && !batch.empty()) {
      observer(absl::Now() - started, static_cast<int64_t>(batch.size()));
    }
    write_health_.Report(committed.status());
    int64_t previous = last_sequence_.load();
    if (committed.ok()) {
      RememberRecent(batch);
      last_sequence_.store(*committed);
    }
    for (PendingAppend& pending : batch) {
      pending.promise.set_value(committed.ok() ? pending.result
                                               : committed.status());
    }
    for (PendingUpdate& pending : updates) {
      pending.promise.set_value(committed.status());
    }
    if (committed.ok() && *committed != previous && listener) {
      listener(*committed);
    }
  }
}

absl::StatusOr<int64_t> SqliteEventStore::CommitBatch(
    std::vector<PendingAppend>& batch, std::vector<PendingUpdate>& updates) {
  absl::Status in_place = file_lock_.CheckInPlace(path_);
  if (!in_place.ok()) return in_place;
  absl::Status begun = writer_->Execute("BEGIN IMMEDIATE");
  if (!begun.ok()) return begun;
  int64_t next_sequence = last_sequence_.load() + 1;
  for (PendingAppend& pending : batch) {
    absl::Status appended = AppendOneLocked(pending, next_sequence);
    if (!appended.ok()) {
      writer_->Execute("ROLLBACK").IgnoreError();
      return appended;
    }
  }
  for (PendingUpdate& pending : updates) {
    absl::Status applied = ApplyUpdateLocked(pending.update);
    if (!applied.ok()) {
      writer_->Execute("ROLLBACK").IgnoreError();
      return applied;
    }
  }
  int64_t last = next_sequence - 1;
  absl::Status status = SaveLastSequenceLocked(last);
  if (status.ok()) status = writer_->Execute("COMMIT");
  if (!status.ok()) {
    writer_->Execute("ROLLBACK").IgnoreError();
    return status;
  }
  return last;
}

absl::Status SqliteEventStore::SaveLastSequenceLocked(int64_t last) {
  absl::StatusOr<SqliteStatement> counter = writer_->Prepare(
      "UPDATE sequence_counter SET last_sequence = ?1 WHERE id = 1");
  if (!counter.ok()) return counter.status();
  counter->BindInt64(1, last);
  return counter->Run();
}

absl::Status SqliteEventStore::AppendOneLocked(PendingAppend& pending,
                                               int64_t& next_sequence) {
  // Claiming the id first takes one lookup in event_ids for a new event,
  // the usual case, where a SELECT before the INSERT would take two.
  int64_t sequence = next_sequence;
  absl::StatusOr<SqliteStatement> remember = writer_->Prepare(
      "INSERT INTO event_ids (event_id, sequence, body_sha256,"
      " first_received_us) VALUES (?1, ?2, ?3, ?4)"
      " ON CONFLICT (event_id) DO NOTHING");
  if (!remember.ok()) return remember.status();
  // `pending` outlives both statements, which reset when they go out of
  // scope, so their values are bound without a copy.
  constexpr SqliteStatement::Binding kBorrowed =
      SqliteStatement::Binding::kBorrowed;
  remember->BindText(1, pending.event_id, kBorrowed);
  remember->BindInt64(2, sequence);
  remember->BindBlob(3, pending.body_sha256, kBorrowed);
  remember->BindInt64(4, pending.received_us);
  absl::Status remembered = remember->Run();
  if (!remembered.ok()) return remembered;
  if (sqlite3_changes(writer_->handle()) == 0) {
    return RecordRepeatLocked(pending);
  }

  pending.sequence = sequence;
  pending.serialized = WithSequence(sequence, pending.serialized);
  absl::StatusOr<SqliteStatement> insert = writer_->Prepare(
      "INSERT INTO events (sequence, event_id, type, received_at_us,"
      " customer_email, payment_link_id, event)"
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  if (!insert.ok()) return insert.status();
  insert->BindInt64(1, sequence);
  insert->BindText(2, pending.event_id, kBorrowed);
  insert->BindText(3, pending.type, kBorrowed);
  insert->BindInt64(4, pending.received_us);
  insert->BindText(5, pending.customer_email, kBorrowed);
  insert->BindText(6, pending.payment_link_id, kBorrowed);
  insert->BindBlob(7, pending.serialized, kBorrowed);
  absl::Status inserted = insert->Run();
  if (!inserted.ok()) return inserted;

  pending.result = AppendResult{AppendOutcome::kStored, sequence};
  ++next_sequence;
  return absl::OkStatus();
}

absl::Status SqliteEventStore::RecordRepeatLocked(PendingAppend& pending) {
  absl::StatusOr<SqliteStatement> lookup = writer_->Prepare(
      "SELECT sequence, body_sha256 FROM event_ids WHERE event_id = ?1");
  if (!lookup.ok()) return lookup.status();
  lookup->BindText(1, pending.event_id);
  absl::StatusOr<bool> found = lookup->Step();
  if (!found.ok()) return found.status();
  if (!*found) {
    return absl::InternalError(
        absl::StrCat("event id ", pending.event_id,
                     " was neither inserted into event_ids nor found there"));
  }
  int64_t first_sequence = lookup->ColumnInt64(0);
  bool same_body = lookup->ColumnBlob(1) == pending.body_sha256;
  if (!same_body) {
    pending.result = AppendResult{AppendOutcome::kConflict, first_sequence};
    return absl::OkStatus();
  }

  absl::StatusOr<SqliteStatement> bump = writer_->Prepare(
      "UPDATE event_ids SET duplicate_count = duplicate_count + 1"
      " WHERE event_id = ?1");
  if (!bump.ok()) return bump.status();
  bump->BindText(1, pending.event_id);
  absl::Status bumped = bump->Run();
  if (!bumped.ok()) return bumped;
  pending.result = AppendResult{AppendOutcome::kDuplicate, first_sequence};
  return absl::OkStatus();
}

// Logs once per change between failing and working writes, not per request.
absl::StatusOr<int64_t> SqliteEventStore::Quarantine(QuarantineRecord record) {
  absl::MutexLock lock(&writer_mu_);
  // A write to a removed file would be lost at the next start.
  absl::Status in_place = file_lock_.CheckInPlace(path_);
  if (!in_place.ok()) return in_place;
  absl::StatusOr<SqliteStatement> insert = writer_->Prepare(
      "INSERT INTO quarantine (received_at_us, reason, route, event_id,"
      " headers, body, body_sha256) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
      " ON CONFLICT (body_sha256, reason, headers) DO NOTHING");
  if (!insert.ok()) return insert.status();
  insert->BindInt64(1, absl::ToUnixMicros(record.received_at));
  insert->BindText(2, record.reason);
  insert->BindText(3, record.route);
  insert->BindText(4, record.event_id);
  insert->BindText(5, record.headers);
  insert->BindBlob(6, record.body);
  insert->BindBlob(7, record.body_sha256);
  absl::Status inserted = insert->Run();
  if (!inserted.ok()) return inserted;
  absl::Status trimmed = TrimQuarantineLocked();
  if (!trimmed.ok()) return trimmed;

  absl::StatusOr<SqliteStatement> lookup = writer_->Prepare(
      "SELECT id FROM quarantine"
      " WHERE body_sha256 = ?1 AND reason = ?2 AND headers = ?3");
  if (!lookup.ok()) return lookup.status();
  lookup->BindBlob(1, record.body_sha256);
  lookup->BindText(2, record.reason);
  lookup->BindText(3, record.headers);
  absl::StatusOr<bool> row = lookup->Step();
  if (!row.ok()) return row.status();
  return lookup->ColumnInt64(0);
}

absl::StatusOr<SqliteEventStore::ReadLease> SqliteEventStore::BorrowReader() {
  absl::MutexLock lock(&readers_mu_);
  readers_mu_.Await(absl::Condition(
      +[](std::vector<std::unique_ptr<SqliteConnection>>* readers) {
        return !readers->empty();
      },
      &readers_));
  std::unique_ptr<SqliteConnection> connection = std::move(readers_.back());
  readers_.pop_back();
  return ReadLease(this, std::move(connection));
}

void SqliteEventStore::ReturnReader(
    std::unique_ptr<SqliteConnection> connection) {
  absl::MutexLock lock(&readers_mu_);
  readers_.push_back(std::move(connection));
}

void SqliteEventStore::RememberRecent(std::vector<PendingAppend>& batch) {
  absl::MutexLock lock(&recent_mu_);
  for (PendingAppend& pending : batch) {
    if (!pending.result.ok() ||
        pending.result->outcome != AppendOutcome::kStored) {
      continue;
    }
    recent_.push_back(std::make_shared<const SerializedEvent>(
        SerializedEvent{pending.sequence, std::move(pending.type),
                        std::move(pending.serialized)}));
    recent_size_ += recent_.back()->bytes.size();
  }
  while (!recent_.empty() && (recent_.size() > options_.recent_events ||
                              recent_size_ > options_.recent_bytes)) {
    recent_size_ -= recent_.front()->bytes.size();
    recent_.pop_front();
  }
}

void SqliteEventStore::ForgetRecentThrough(int64_t sequence) {
  absl::MutexLock lock(&recent_mu_);
  while (!recent_.empty() && recent_.front()->sequence <= sequence) {
    recent_size_ -= recent_.front()->bytes.size();
    recent_.pop_front();
  }
}

bool SqliteEventStore::ReadRecent(int64_t after_sequence, int limit,
                                  std::vector<SerializedEventPtr>& events) {
  absl::MutexLock lock(&recent_mu_);
  if (recent_.empty()) {
    // Nothing was committed since the store opened, or retention emptied
    // the cache, so only a reader that has seen every commit is served.
    return after_sequence >= last_sequence_.load();
  }
  int64_t first = recent_.front()->sequence;
  if (after_sequence < first - 1) return false;
  size_t start = static_cast<size_t>(after_sequence - first + 1);
  for (size_t i = start;
       i < recent_.size() && events.size() < static_cast<size_t>(limit); ++i) {
    events.push_back(recent_[i]);
  }
  return true;
}

absl::StatusOr<std::vector<v1::Event>> SqliteEventStore::ReadAfter(
    int64_t after_sequence, int limit) {
  std::vector<SerializedEventPtr> recent;
  if (!ReadRecent(after_sequence, limit, recent)) {
    absl::StatusOr<std::vector<SerializedEventPtr>> stored =
        ReadSerializedAfter(after_sequence, limit);
    if (!stored.ok()) return stored.status();
    recent = *std::move(stored);
  }
  std::vector<v1::Event> events;
  events.reserve(recent.size());
  for (const SerializedEventPtr& serialized : recent) {
    absl::StatusOr<v1::Event> event = ParseEvent(serialized->bytes);
    if (!event.ok()) return event.status();
    events.push_back(*std::move(event));
  }
  return events;
}

absl::StatusOr<std::vector<SerializedEventPtr>>
SqliteEventStore::ReadSerializedAfter(int64_t after_sequence, int limit) {
  std::vector<SerializedEventPtr> events;
  if (ReadRecent(after_sequence, limit, events)) return events;
  absl::StatusOr<ReadLease> reader = BorrowReader();
  if (!reader.ok()) return reader.status();
  absl::StatusOr<SqliteStatement> query = (*reader)->Prepare(
      "SELECT sequence, type, event FROM events WHERE sequence > ?1"
      " ORDER BY sequence LIMIT ?2");
  if (!query.ok()) return query.status();
  query->BindInt64(1, after_sequence);
  query->BindInt64(2, limit);
  for (;;) {
    absl::StatusOr<bool> row = query->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    events.push_back(std::make_shared<const SerializedEvent>(SerializedEvent{
        query->ColumnInt64(0), std::string(query->ColumnText(1)),
        std::string(query->ColumnBlob(2))}));
  }
  return events;
}

std::optional<std::vector<SerializedEventPtr>>
SqliteEventStore::ReadRecentSerialized(int64_t after_sequence, int limit) {
  std::vector<SerializedEventPtr> events;
  if (!ReadRecent(after_sequence, limit, events)) return std::nullopt;
  return events;
}

absl::StatusOr<int64_t> SqliteEventStore::SequenceBefore(absl::Time time) {
  absl::StatusOr<ReadLease> reader = BorrowReader();
  if (!reader.ok()) return reader.status();
  absl::StatusOr<SqliteStatement> query = (*reader)->Prepare(
      "SELECT MIN(sequence) FROM events WHERE received_at_us >= ?1");
  if (!query.ok()) return query.status();
  query->BindInt64(1, absl::ToUnixMicros(time));
  absl::StatusOr<bool> row = query->Step();
  if (!row.ok()) return row.status();
  if (!*row || query->ColumnIsNull(0)) return LastSequence();
  return query->ColumnInt64(0) - 1;
}

absl::StatusOr<std::optional<StoredEvent>> SqliteEventStore::GetWhere(
    const std::string& sql, int64_t sequence, absl::string_view id) {
  absl::StatusOr<ReadLease> reader = BorrowReader();
  if (!reader.ok()) return reader.status();
  absl::StatusOr<SqliteStatement> query = (*reader)->Prepare(sql);
  if (!query.ok()) return query.status();
  if (id.empty()) {
    query->BindInt64(1, sequence);
  } else {
    query->BindText(1, id);
  }
  absl::StatusOr<bool> row = query->Step();
  if (!row.ok()) return row.status();
  if (!*row) return std::nullopt;
  absl::StatusOr<v1::Event> event = ParseEvent(query->ColumnBlob(0));
  if (!event.ok()) return event.status();
  StoredEvent stored;
  stored.event = std::move(*event);
  stored.duplicate_count = query->ColumnInt64(1);
  return stored;
}

absl::StatusOr<std::optional<StoredEvent>> SqliteEventStore::GetById(
    absl::string_view id) {
  if (id.empty()) return std::nullopt;
  return GetWhere(
      "SELECT e.event, i.duplicate_count FROM event_ids i"
      " JOIN events e ON e.sequence = i.sequence WHERE i.event_id = ?1",
      0, id);
}

absl::StatusOr<std::optional<StoredEvent>> SqliteEventStore::GetBySequence(
    int64_t sequence) {
  return GetWhere(
      "SELECT e.event, COALESCE(i.duplicate_count, 0) FROM events e"
      " LEFT JOIN event_ids i ON i.event_id = e.event_id"
      " WHERE e.sequence = ?1",
      sequence, "");
}

namespace {

// A WHERE clause built from optional filters. Values are bound, never
// spliced into the SQL, so only the clause's shape varies and each shape is
// prepared once and cached.
struct WhereClause {
  std::vector<std::string> conditions;
  std::vector<std::variant<int64_t, std::string>> values;

  void Add(std::string condition, std::variant<int64_t, std::string> value) {
    conditions.push_back(std::move(condition));
    values.push_back(std::move(value));
  }
  // Adds "(type = ? OR type LIKE ? ...)" for a filter that is not "all".
  void AddTypes(const TypeFilter& filter, absl::string_view column) {
    if (filter.MatchesAll()) return;
    std::vector<std::string> terms;
    for (const std::string& type : filter.exact_types()) {
      terms.push_back(absl::StrCat(column, " = ?"));
      values.push_back(type);
    }
    for (const std::string& prefix : filter.prefixes()) {
      terms.push_back(absl::StrCat(column, " LIKE ? ESCAPE '\\'"));
      values.push_back(LikePrefix(prefix));
    }
    conditions.push_back(absl::StrCat("(", absl::StrJoin(terms, " OR "), ")"));
  }
  std::string Sql() const { return absl::StrJoin(conditions, " AND "); }
  void Bind(SqliteStatement& statement) const {
    int index = 1;
    for (const auto& value : values) {
      if (std::holds_alternative<int64_t>(value)) {
        statement.BindInt64(index++, std::get<int64_t>(value));
      } else {
        statement.BindText(index++, std::get<std::string>(value));
      }
    }
  }
};

}  // namespace

absl::StatusOr<SubscriptionRecord> SqliteEventStore::FindSubscription(
    absl::string_view name) {
  absl::StatusOr<std::vector<SubscriptionRecord>> all = LoadSubscriptions();
  if (!all.ok()) return all.status();
  for (SubscriptionRecord& record : *all) {
    if (record.name == name) return std::move(record);
  }
  return absl::NotFoundError(
      absl::StrCat("no subscription named \"", name,
                   "\": list them with ListSubscriptions"));
}

absl::StatusOr<std::vector<v1::Event>> SqliteEventStore::List(
    const EventQuery& query) {
  absl::StatusOr<TypeFilter> filter = TypeFilter::Create(query.type_patterns);
  if (!filter.ok()) return filter.status();

  WhereClause where;
  where.Add("e.sequence > ?", query.after_sequence);
  where.AddTypes(*filter, "e.type");
  if (query.received_after) {
    where.Add("e.received_at_us >= ?",
              absl::ToUnixMicros(*query.received_after));
  }
  if (query.received_before) {
    where.Add("e.received_at_us < ?",
              absl::ToUnixMicros(*query.received_before));
  }
  if (!query.customer_email.empty()) {
    where.Add("e.customer_email = ?",
              absl::AsciiStrToLower(query.customer_email));
  }
  if (!query.payment_link_id.empty()) {
    where.Add("e.payment_link_id = ?", query.payment_link_id);
  }
  std::string from = "events e";
  if (query.delivery_state.has_value()) {
    absl::StatusOr<SubscriptionRecord> subscription =
        FindSubscription(query.subscription);
    if (!subscription.ok()) return subscription.status();
    absl::StatusOr<TypeFilter> subscribed =
        TypeFilter::Create(subscription->event_types);
    if (!subscribed.ok()) return subscribed.status();
    // Without a delivery row, an event at or below the cursor counts as
    // acknowledged and one above it as pending.
    from = absl::StrCat(
        "events e LEFT JOIN deliveries d ON d.subscription = ? AND"
        " d.sequence = e.sequence");
    where.values.insert(where.values.begin(), subscription->name);
    where.Add("e.sequence > ?", subscription->start_sequence);
    where.AddTypes(*subscribed, "e.type");
    where.values.push_back(subscription->cursor);
    where.Add(
        absl::StrCat("COALESCE(d.state, CASE WHEN e.sequence <= ? THEN ",
                     static_cast<int>(DeliveryState::kAcknowledged), " ELSE ",
                     static_cast<int>(DeliveryState::kPending), " END) = ?"),
        static_cast<int64_t>(*query.delivery_state));
  }
  std::string sql =
      absl::StrCat("SELECT e.event FROM ", from, " WHERE ", where.Sql(),
                   " ORDER BY e.sequence LIMIT ", query.limit);

  absl::StatusOr<ReadLease> reader = BorrowReader();
  if (!reader.ok()) return reader.status();
  absl::StatusOr<SqliteStatement> statement = (*reader)->Prepare(sql);
  if (!statement.ok()) return statement.status();
  where.Bind(*statement);
  std::vector<v1::Event> events;
  for (;;) {
    absl::StatusOr<bool> row = statement->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    absl::StatusOr<v1::Event> event = ParseEvent(statement->ColumnBlob(0));
    if (!event.ok()) return event.status();
    events.push_back(std::move(*event));
  }
  return events;
}

absl::StatusOr<Backlog> SqliteEventStore::CountBacklog(
    const std::vector<std::string>& type_patterns, int64_t after_sequence) {
  absl::StatusOr<TypeFilter> filter = TypeFilter::Create(type_patterns);
  if (!filter.ok()) return filter.status();
  WhereClause where;
  where.Add("e.sequence > ?", after_sequence);
  where.AddTypes(*filter, "e.type");
  absl::StatusOr<ReadLease> reader = BorrowReader();
  if (!reader.ok()) return reader.status();
  absl::StatusOr<SqliteStatement> statement = (*reader)->Prepare(
      absl::StrCat("SELECT COUNT(*), MIN(e.received_at_us) FROM events e"
                   " WHERE ",
                   where.Sql()));
  if (!statement.ok()) return statement.status();
  where.Bind(*statement);
  absl::StatusOr<bool> row = statement->Step();
  if (!row.ok()) return row.status();
  Backlog backlog;
  backlog.events = statement->ColumnInt64(0);
  if (backlog.events > 0) {
    backlog.oldest_received_at =
        absl::FromUnixMicros(statement->ColumnInt64(1));
  }
  return backlog;
}

}  // namespace paymento::bridge
