#include "src/store/postgres_event_store.h"

#include <pthread.h>

#include <limits>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "src/store/postgres_query.h"
#include "src/store/postgres_schema.h"
#include "src/store/type_filter.h"

namespace paymento::bridge {
namespace {

absl::Time ToTime(const google::protobuf::Timestamp& timestamp) {
  return absl::FromUnixSeconds(timestamp.seconds()) +
         absl::Nanoseconds(timestamp.nanos());
}

// PostgreSQL text must be UTF-8 without NUL bytes. An event that breaks
// this is rejected on its own, before it joins a batch, so that it cannot
// fail the transaction of the events committed with it.
absl::Status CheckStorable(const v1::Event& event) {
  const std::pair<const char*, const std::string*> fields[] = {
      {"id", &event.id()},
      {"type", &event.type()},
      {"customer e-mail", &event.customer().email()},
      {"payment link id", &event.payment_link().id()},
  };
  for (const auto& [name, value] : fields) {
    if (!IsStorableText(*value)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "event ", name,
          " is not UTF-8 text without NUL bytes, which PostgreSQL cannot "
          "store as text"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

PostgresEventStore::PostgresEventStore(PostgresStoreUrl url)
    : options_(url.options),
      connector_(PostgresConnectionConfig{url.libpq_url, url.password},
                 url.options.min_reconnect_delay,
                 url.options.max_reconnect_delay),
      pool_(&connector_, url.options.read_connections) {}

absl::StatusOr<std::unique_ptr<PostgresEventStore>> PostgresEventStore::Open(
    absl::string_view url, PostgresStoreOptions options) {
  absl::StatusOr<PostgresStoreUrl> parsed = ParsePostgresStoreUrl(url, options);
  if (!parsed.ok()) return parsed.status();
  std::unique_ptr<PostgresEventStore> store(
      new PostgresEventStore(*std::move(parsed)));
  absl::Status initialized = store->Initialize();
  if (!initialized.ok()) return initialized;

  PostgresEventStore* raw = store.get();
  store->commit_listener_ = std::make_unique<PostgresCommitListener>(
      &store->connector_, [raw] { return raw->LastSequence(); },
      [raw](int64_t last) { raw->PublishCommitted(last); },
      [raw](const std::string& payload) { raw->PublishChange(payload); },
      [raw] {
        SubscriptionChange resync;
        resync.kind = SubscriptionChange::Kind::kResync;
        raw->CallChangeListener(resync);
      });
  absl::Status listening = store->commit_listener_->Start();
  if (!listening.ok()) return listening;
  store->writer_thread_ = std::thread([raw] { raw->WriterLoop(); });
  return store;
}

absl::Status PostgresEventStore::Initialize() {
  absl::StatusOr<std::unique_ptr<PostgresConnection>> writer =
      connector_.Connect();
  if (!writer.ok()) return writer.status();
  writer_ = std::move(*writer);
  absl::Status migrated = MigratePostgresSchema(*writer_);
  if (!migrated.ok()) return migrated;
  absl::StatusOr<PgResult> counter = writer_->Execute(
      "SELECT last_sequence FROM sequence_counter WHERE id = 1");
  if (!counter.ok()) return counter.status();
  if (counter->rows() == 1) last_sequence_.store(counter->Int64(0, 0));
  return absl::OkStatus();
}

PostgresEventStore::~PostgresEventStore() { Close(); }

void PostgresEventStore::Close() {
  {
    absl::MutexLock lock(&queue_mu_);
    closing_ = true;
  }
  if (writer_thread_.joinable()) writer_thread_.join();
  if (commit_listener_ != nullptr) commit_listener_->Stop();
}

absl::Status PostgresEventStore::Health() const { return connector_.status(); }

void PostgresEventStore::SetCommitListener(CommitListener listener) {
  absl::MutexLock lock(&queue_mu_);
  listener_ = std::move(listener);
}

void PostgresEventStore::SetCommitObserver(
    std::function<void(absl::Duration, int64_t)> observer) {
  absl::MutexLock lock(&queue_mu_);
  observer_ = std::move(observer);
}

bool PostgresEventStore::RaiseLastSequence(int64_t last) {
  int64_t known = last_sequence_.load();
  while (last > known && !last_sequence_.compare_exchange_weak(known, last)) {
  }
  return last > known;
}

void PostgresEventStore::PublishCommitted(int64_t last) {
  if (RaiseLastSequence(last)) CallListener(last);
}

void PostgresEventStore::CallListener(int64_t last) {
  CommitListener listener;
  {
    absl::MutexLock lock(&queue_mu_);
    listener = listener_;
  }
  if (listener) listener(last);
}

AppendFuture PostgresEventStore::Append(v1::Event event,
                                        std::string body_sha256) {
  PendingAppend pending;
  pending.event = std::move(event);
  pending.body_sha256 = std::move(body_sha256);
  AppendFuture future = pending.promise.get_future();
  absl::Status storable = CheckStorable(pending.event);
  if (!storable.ok()) {
    pending.promise.set_value(storable);
    return future;
  }

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

void PostgresEventStore::WriterLoop() {
  // Shown by top -H and perf, and read by the benchmark.
  pthread_setname_np(pthread_self(), "store-writer");
  for (;;) {
    std::vector<PendingAppend> batch;
    std::vector<PendingUpdate> updates;
    std::function<void(absl::Duration, int64_t)> observer;
    {
      absl::MutexLock lock(&queue_mu_);
      queue_mu_.Await(absl::Condition(
          +[](PostgresEventStore* self) ABSL_NO_THREAD_SAFETY_ANALYSIS {
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
      observer = observer_;
    }

    absl::Time started = absl::Now();
    absl::StatusOr<int64_t> committed = CommitBatch(batch, updates);
    if (committed.ok() && observer && !batch.empty()) {
      observer(absl::Now() - started, static_cast<int64_t>(batch.size()));
    }
    write_health_.Report(committed.status());
    // LastSequence covers the batch before any of its appends returns.
    bool raised = committed.ok() && RaiseLastSequence(*committed);
    for (PendingAppend& pending : batch) {
      pending.promise.set_value(committed.ok() ? pending.result
                                               : committed.status());
    }
    for (PendingUpdate& pending : updates) {
      pending.promise.set_value(committed.status());
    }
    if (raised) CallListener(*committed);
  }
  writer_.reset();
}

absl::StatusOr<int64_t> PostgresEventStore::CommitBatch(
    std::vector<PendingAppend>& batch, std::vector<PendingUpdate>& updates) {
  absl::Status begun = BeginWrite();
  if (!begun.ok()) return begun;
  absl::StatusOr<int64_t> last = WriteBatch(batch, updates);
  absl::Status status = last.status();
  // A COMMIT cut off by a lost connection may or may not have happened.
  // Either way the appends fail with UNAVAILABLE and their senders retry;
  // if it did happen, the retry finds the id and counts a duplicate.
  if (status.ok()) status = writer_->ExecuteScript("COMMIT");
  if (status.ok()) return last;
  if (writer_->broken()) {
    connector_.ReportLost(*writer_, status);
    writer_.reset();
  } else {
    writer_->ExecuteScript("ROLLBACK").IgnoreError();
  }
  return status;
}

absl::Status PostgresEventStore::BeginWrite() {
  for (int attempt = 0;; ++attempt) {
    bool was_idle = writer_ != nullptr;
    if (writer_ == nullptr) {
      absl::StatusOr<std::unique_ptr<PostgresConnection>> connection =
          connector_.Connect();
      if (!connection.ok()) return connection.status();
      writer_ = std::move(*connection);
    }
    // READ COMMITTED whatever the database's default: under it, a
    // transaction that waited for the sequence counter's row lock reads the
    // row as the previous holder committed it. Under REPEATABLE READ or
    // SERIALIZABLE it would fail with a serialization error instead. The
    // lock timeout bounds that wait, so appends fail with UNAVAILABLE
    // (SQLSTATE 55P03) instead of hanging behind a stuck replica.
    absl::Status begun = writer_->ExecuteScript(
        "BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL lock_timeout = '5s'");
    if (begun.ok()) return begun;
    if (!writer_->broken()) {
      writer_->ExecuteScript("ROLLBACK").IgnoreError();
      return begun;
    }
    connector_.ReportLost(*writer_, begun);
    writer_.reset();
    // A connection lost while idle, as after a database restart, ran
    // nothing of this batch, so the batch can go to a new connection once.
    if (!was_idle || attempt > 0) return begun;
  }
}

absl::StatusOr<int64_t> PostgresEventStore::WriteBatch(
    std::vector<PendingAppend>& batch, std::vector<PendingUpdate>& updates) {
  int64_t last = 0;
  if (!batch.empty()) {
    absl::StatusOr<int64_t> appended = AppendEvents(batch);
    if (!appended.ok()) return appended.status();
    last = *appended;
  }
  for (PendingUpdate& pending : updates) {
    absl::Status applied = ApplyUpdate(pending.update);
    if (!applied.ok()) return applied;
  }
  return last;
}

// Sequence numbers must follow commit order: a reader that has seen N and
// then reads "after N" must never miss an event that commits later with a
// smaller number. A PostgreSQL SEQUENCE (or BIGSERIAL) hands numbers out
// when nextval() runs, before commit, so a transaction holding 10 can
// commit after one holding 11, and a reader that ran between the two
// commits has moved past 10 for good.
//
// Instead, every appending transaction, on every replica, first locks the
// single row of sequence_counter and holds the lock until it commits or
// rolls back. The next appending transaction waits for that lock and then,
// under READ COMMITTED, reads the row as the first one committed it, so it
// numbers on from there. PostgreSQL releases a transaction's row locks only
// after its commit is visible to new snapshots, so any snapshot that sees
// sequence N + 1 also sees every sequence up to N. The price is that
// appending transactions commit one at a time across all replicas; group
// commit makes each of them carry a whole batch.
absl::StatusOr<int64_t> PostgresEventStore::AppendEvents(
    std::vector<PendingAppend>& batch) {
  absl::StatusOr<PgResult> locked = writer_->Execute(
      "SELECT last_sequence FROM sequence_counter WHERE id = 1 FOR UPDATE");
  if (!locked.ok()) return locked.status();
  if (locked->rows() != 1) {
    return absl::InternalError(
        "sequence_counter has no row: the schema is "
        "damaged, restore it from a backup");
  }
  int64_t first = locked->Int64(0, 0) + 1;
  int64_t next = first;
  // With more than one event, the new ones are inserted in one statement,
  // and only ids already stored or repeated in the batch take a round trip
  // each, through AppendOne, which separates duplicates from conflicts.
  std::vector<PendingAppend*> one_by_one;
  if (batch.size() > 1) {
    absl::StatusOr<std::set<std::string>> stored = StoredIds(batch);
    if (!stored.ok()) return stored.status();
    std::set<std::string> seen;
    std::vector<PendingAppend*> fresh;
    for (PendingAppend& pending : batch) {
      const std::string& id = pending.event.id();
      if (stored->count(id) > 0 || !seen.insert(id).second) {
        one_by_one.push_back(&pending);
      } else {
        fresh.push_back(&pending);
      }
    }
    if (!fresh.empty()) {
      absl::Status appended = AppendFresh(fresh, next);
      if (!appended.ok()) return appended;
      next += static_cast<int64_t>(fresh.size());
    }
  } else {
    for (PendingAppend& pending : batch) one_by_one.push_back(&pending);
  }
  for (PendingAppend* pending : one_by_one) {
    bool stored = false;
    absl::Status appended = AppendOne(*pending, next, &stored);
    if (!appended.ok()) return appended;
    if (stored) ++next;
  }
  if (next == first) return 0;

  absl::StatusOr<PgResult> counted = writer_->Execute(
      "UPDATE sequence_counter SET last_sequence = last_sequence + $1"
      " WHERE id = 1 RETURNING last_sequence",
      {PgParam::Int64(next - first)});
  if (!counted.ok()) return counted.status();
  int64_t last = counted->Int64(0, 0);
  if (last != next - 1) {
    return absl::InternalError(
        absl::StrCat("sequence counter moved while locked: expected ", next - 1,
                     ", got ", last));
  }
  // Delivered to every listening session when this transaction commits,
  // and not at all if it rolls back.
  absl::StatusOr<PgResult> notified = writer_->Execute(
      "SELECT pg_notify($1, $2)", {PgParam::Text(kPostgresCommitChannel),
                                   PgParam::Text(absl::StrCat(last))});
  if (!notified.ok()) return notified.status();
  return last;
}

absl::StatusOr<std::set<std::string>> PostgresEventStore::StoredIds(
    const std::vector<PendingAppend>& batch) {
  std::vector<PgParam> ids;
  ids.reserve(batch.size());
  for (const PendingAppend& pending : batch) {
    ids.push_back(PgParam::Text(pending.event.id()));
  }
  absl::StatusOr<PgResult> rows = writer_->Execute(
      "SELECT event_id FROM event_ids WHERE event_id = ANY($1)",
      {PgParam::Array(ids)});
  if (!rows.ok()) return rows.status();
  std::set<std::string> stored;
  for (int row = 0; row < rows->rows(); ++row) {
    stored.emplace(rows->Bytes(row, 0));
  }
  return stored;
}

absl::Status PostgresEventStore::AppendFresh(
    const std::vector<PendingAppend*>& fresh, int64_t first) {
  std::vector<PgParam> ids, sequences, hashes, times, types, emails, links,
      blobs;
  int64_t sequence = first;
  for (PendingAppend* pending : fresh) {
    v1::Event& event = pending->event;
    event.set_sequence(sequence);
    std::string blob;
    event.SerializeToString(&blob);
    ids.push_back(PgParam::Text(event.id()));
    sequences.push_back(PgParam::Int64(sequence));
    hashes.push_back(PgParam::Bytea(pending->body_sha256));
    times.push_back(PgParam::Timestamp(ToTime(event.received_at())));
    types.push_back(PgParam::Text(event.type()));
    emails.push_back(
        PgParam::Text(absl::AsciiStrToLower(event.customer().email())));
    links.push_back(PgParam::Text(event.payment_link().id()));
    blobs.push_back(PgParam::Bytea(blob));
    ++sequence;
  }
  // The same two inserts as AppendOne, for every row of the arrays at once.
  absl::StatusOr<PgResult> inserted = writer_->Execute(
      "WITH input AS ("
      " SELECT * FROM unnest($1::text[], $2::int8[], $3::bytea[],"
      " $4::timestamptz[], $5::text[], $6::text[], $7::text[], $8::bytea[])"
      " AS t(event_id, sequence, body_sha256, received_at, type,"
      " customer_email, payment_link_id, event)),"
      " claimed AS ("
      " INSERT INTO event_ids (event_id, sequence, body_sha256,"
      " first_received_at)"
      " SELECT event_id, sequence, body_sha256, received_at FROM input"
      " ON CONFLICT (event_id) DO NOTHING RETURNING event_id)"
      " INSERT INTO events (sequence, event_id, type, received_at,"
      " customer_email, payment_link_id, event)"
      " SELECT i.sequence, i.event_id, i.type, i.received_at,"
      " i.customer_email, i.payment_link_id, i.event"
      " FROM input i JOIN claimed USING (event_id)",
      {PgParam::Array(ids), PgParam::Array(sequences), PgParam::Array(hashes),
       PgParam::Array(times), PgParam::Array(types), PgParam::Array(emails),
       PgParam::Array(links), PgParam::Array(blobs)});
  if (!inserted.ok()) return inserted.status();
  // Every appender holds the sequence counter's lock, so no id can have
  // been claimed since StoredIds read them.
  if (inserted->affected_rows() != static_cast<int64_t>(fresh.size())) {
    return absl::InternalError(absl::StrCat(
        "stored ", inserted->affected_rows(), " of ", fresh.size(),
        " new events: an event id was claimed without the sequence lock"));
  }
  sequence = first;
  for (PendingAppend* pending : fresh) {
    pending->result = AppendResult{AppendOutcome::kStored, sequence++};
  }
  return absl::OkStatus();
}

absl::Status PostgresEventStore::AppendOne(PendingAppend& pending,
                                           int64_t next_sequence,
                                           bool* stored) {
  v1::Event& event = pending.event;
  event.set_sequence(next_sequence);
  std::string blob;
  event.SerializeToString(&blob);

  // The id is claimed in event_ids and the event inserted in one statement;
  // an id already claimed, by this batch or any replica, inserts nothing.
  absl::StatusOr<PgResult> inserted = writer_->Execute(
      "WITH claimed AS ("
      " INSERT INTO event_ids (event_id, sequence, body_sha256,"
      " first_received_at) VALUES ($1, $2, $3, $4)"
      " ON CONFLICT (event_id) DO NOTHING RETURNING sequence)"
      " INSERT INTO events (sequence, event_id, type, received_at,"
      " customer_email, payment_link_id, event)"
      " SELECT sequence, $1, $5, $4, $6, $7, $8 FROM claimed",
      {PgParam::Text(event.id()), PgParam::Int64(next_sequence),
       PgParam::Bytea(pending.body_sha256),
       PgParam::Timestamp(ToTime(event.received_at())),
       PgParam::Text(event.type()),
       PgParam::Text(absl::AsciiStrToLower(event.customer().email())),
       PgParam::Text(event.payment_link().id()), PgParam::Bytea(blob)});
  if (!inserted.ok()) return inserted.status();
  if (inserted->affected_rows() == 1) {
    *stored = true;
    pending.result = AppendResult{AppendOutcome::kStored, next_sequence};
    return absl::OkStatus();
  }

  absl::StatusOr<PgResult> first = writer_->Execute(
      "SELECT i.sequence, i.body_sha256,"
      " EXISTS (SELECT 1 FROM events e WHERE e.sequence = i.sequence)"
      " FROM event_ids i WHERE i.event_id = $1",
      {PgParam::Text(event.id())});
  if (!first.ok()) return first.status();
  if (first->rows() == 0) {
    // Retention deleted the tombstone between the two statements. It deletes
    // only ids older than the dedup window, so this is a replay of an event
    // that is gone, and it counts as a duplicate without a sequence.
    pending.result = AppendResult{AppendOutcome::kDuplicate, 0};
    return absl::OkStatus();
  }
  int64_t first_sequence = first->Int64(0, 0);
  if (first->Bytes(0, 1) != pending.body_sha256) {
    pending.result = AppendResult{AppendOutcome::kConflict,
                                  first->Bool(0, 2) ? first_sequence : 0};
    return absl::OkStatus();
  }
  absl::StatusOr<PgResult> counted = writer_->Execute(
      "UPDATE event_ids SET duplicate_count = duplicate_count + 1"
      " WHERE event_id = $1",
      {PgParam::Text(event.id())});
  if (!counted.ok()) return counted.status();
  pending.result = AppendResult{AppendOutcome::kDuplicate, first_sequence};
  return absl::OkStatus();
}

absl::Status PostgresEventStore::RunTransaction(
    const std::function<absl::Status(PostgresConnection&)>& work) {
  return pool_.Run([&](PostgresConnection& connection) -> absl::Status {
    absl::Status status =
        connection.ExecuteScript("BEGIN ISOLATION LEVEL READ COMMITTED");
    if (status.ok()) status = work(connection);
    if (status.ok()) status = connection.ExecuteScript("COMMIT");
    if (!status.ok() && !connection.broken()) {
      connection.ExecuteScript("ROLLBACK").IgnoreError();
    }
    return status;
  });
}

absl::StatusOr<std::vector<v1::Event>> PostgresEventStore::ReadAfter(
    int64_t after_sequence, int limit) {
  return pool_.Run([&](PostgresConnection& connection)
                       -> absl::StatusOr<std::vector<v1::Event>> {
    absl::StatusOr<PgResult> rows = connection.Execute(
        "SELECT event FROM events WHERE sequence > $1 ORDER BY sequence"
        " LIMIT $2",
        {PgParam::Int64(after_sequence), PgParam::Int64(RowLimit(limit))});
    if (!rows.ok()) return rows.status();
    return ParseEvents(*rows, 0);
  });
}

absl::StatusOr<std::vector<SerializedEventPtr>>
PostgresEventStore::ReadSerializedAfter(int64_t after_sequence, int limit) {
  return pool_.Run([&](PostgresConnection& connection)
                       -> absl::StatusOr<std::vector<SerializedEventPtr>> {
    absl::StatusOr<PgResult> rows = connection.Execute(
        "SELECT sequence, type, event FROM events WHERE sequence > $1"
        " ORDER BY sequence LIMIT $2",
        {PgParam::Int64(after_sequence), PgParam::Int64(RowLimit(limit))});
    if (!rows.ok()) return rows.status();
    std::vector<SerializedEventPtr> events;
    events.reserve(static_cast<size_t>(rows->rows()));
    for (int row = 0; row < rows->rows(); ++row) {
      events.push_back(std::make_shared<const SerializedEvent>(
          SerializedEvent{rows->Int64(row, 0), std::string(rows->Bytes(row, 1)),
                          std::string(rows->Bytes(row, 2))}));
    }
    return events;
  });
}

absl::StatusOr<int64_t> PostgresEventStore::SequenceBefore(absl::Time time) {
  return pool_.Run(
      [&](PostgresConnection& connection) -> absl::StatusOr<int64_t> {
        absl::StatusOr<PgResult> row = connection.Execute(
            "SELECT COALESCE("
            " (SELECT MIN(sequence) - 1 FROM events WHERE received_at >= $1),"
            " (SELECT last_sequence FROM sequence_counter WHERE id = 1))",
            {PgParam::Timestamp(time)});
        if (!row.ok()) return row.status();
        return row->Int64(0, 0);
      });
}

absl::StatusOr<int64_t> PostgresEventStore::FirstSequenceAtOrAfter(
    absl::Time time) {
  absl::StatusOr<int64_t> before = SequenceBefore(time);
  if (!before.ok()) return before.status();
  return *before + 1;
}

absl::StatusOr<std::optional<StoredEvent>> PostgresEventStore::GetWhere(
    const std::string& sql, PgParam key) {
  return pool_.Run([&](PostgresConnection& connection)
                       -> absl::StatusOr<std::optional<StoredEvent>> {
    absl::StatusOr<PgResult> row = connection.Execute(sql, {key});
    if (!row.ok()) return row.status();
    if (row->rows() == 0) return std::nullopt;
    absl::StatusOr<v1::Event> event = ParseEvent(row->Bytes(0, 0));
    if (!event.ok()) return event.status();
    StoredEvent stored;
    stored.event = *std::move(event);
    stored.duplicate_count = row->Int64(0, 1);
    return stored;
  });
}

absl::StatusOr<std::optional<StoredEvent>> PostgresEventStore::GetById(
    absl::string_view id) {
  // An id text cannot hold was never stored.
  if (id.empty() || !IsStorableText(id)) return std::nullopt;
  return GetWhere(
      "SELECT e.event, i.duplicate_count FROM event_ids i"
      " JOIN events e ON e.sequence = i.sequence WHERE i.event_id = $1",
      PgParam::Text(id));
}

absl::StatusOr<std::optional<StoredEvent>> PostgresEventStore::GetBySequence(
    int64_t sequence) {
  return GetWhere(
      "SELECT e.event, COALESCE(i.duplicate_count, 0) FROM events e"
      " LEFT JOIN event_ids i ON i.event_id = e.event_id"
      " WHERE e.sequence = $1",
      PgParam::Int64(sequence));
}

absl::StatusOr<SubscriptionRecord> PostgresEventStore::FindSubscription(
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

absl::StatusOr<std::vector<v1::Event>> PostgresEventStore::List(
    const EventQuery& query) {
  absl::StatusOr<TypeFilter> filter = TypeFilter::Create(query.type_patterns);
  if (!filter.ok()) return filter.status();
  // Values text cannot hold match no stored event.
  if (!IsStorableText(query.customer_email) ||
      !IsStorableText(query.payment_link_id)) {
    return std::vector<v1::Event>();
  }

  PgWhere where;
  where.Add("e.sequence > ", PgParam::Int64(query.after_sequence));
  where.AddTypes(*filter, "e.type");
  if (query.received_after) {
    where.Add("e.received_at >= ", PgParam::Timestamp(*query.received_after));
  }
  if (query.received_before) {
    where.Add("e.received_at < ", PgParam::Timestamp(*query.received_before));
  }
  if (!query.customer_email.empty()) {
    where.Add("e.customer_email = ",
              PgParam::Text(absl::AsciiStrToLower(query.customer_email)));
  }
  if (!query.payment_link_id.empty()) {
    where.Add("e.payment_link_id = ", PgParam::Text(query.payment_link_id));
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
    from = absl::StrCat("events e LEFT JOIN deliveries d ON d.subscription = ",
                        where.Bind(PgParam::Text(subscription->name)),
                        " AND d.sequence = e.sequence");
    where.Add("e.sequence > ", PgParam::Int64(subscription->start_sequence));
    where.AddTypes(*subscribed, "e.type");
    std::string cursor = where.Bind(PgParam::Int64(subscription->cursor));
    where.Add(
        absl::StrCat("COALESCE(d.state, CASE WHEN e.sequence <= ", cursor,
                     " THEN ", static_cast<int>(DeliveryState::kAcknowledged),
                     " ELSE ", static_cast<int>(DeliveryState::kPending),
                     " END) = "),
        PgParam::Int64(static_cast<int64_t>(*query.delivery_state)));
  }
  std::string limit = where.Bind(PgParam::Int64(RowLimit(query.limit)));
  std::string sql =
      absl::StrCat("SELECT e.event FROM ", from, " WHERE ", where.Sql(),
                   " ORDER BY e.sequence LIMIT ", limit);

  return pool_.Run([&](PostgresConnection& connection)
                       -> absl::StatusOr<std::vector<v1::Event>> {
    absl::StatusOr<PgResult> rows = connection.Execute(sql, where.params());
    if (!rows.ok()) return rows.status();
    return ParseEvents(*rows, 0);
  });
}

absl::StatusOr<Backlog> PostgresEventStore::CountBacklog(
    const std::vector<std::string>& type_patterns, int64_t after_sequence) {
  absl::StatusOr<TypeFilter> filter = TypeFilter::Create(type_patterns);
  if (!filter.ok()) return filter.status();
  PgWhere where;
  where.Add("e.sequence > ", PgParam::Int64(after_sequence));
  where.AddTypes(*filter, "e.type");
  std::string sql = absl::StrCat(
      "SELECT COUNT(*), MIN(e.received_at) FROM events e WHERE ", where.Sql());
  return pool_.Run(
      [&](PostgresConnection& connection) -> absl::StatusOr<Backlog> {
        absl::StatusOr<PgResult> row = connection.Execute(sql, where.params());
        if (!row.ok()) return row.status();
        Backlog backlog;
        backlog.events = row->Int64(0, 0);
        if (backlog.events > 0)
          backlog.oldest_received_at = row->Timestamp(0, 1);
        return backlog;
      });
}

}  // namespace paymento::bridge
