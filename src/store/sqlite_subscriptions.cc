// SqliteEventStore: durable subscription records and delivery state.
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "src/store/sqlite_event_store.h"

namespace paymento::bridge {
namespace {

absl::Time FromMicros(int64_t micros) { return absl::FromUnixMicros(micros); }

SubscriptionRecord ReadSubscription(const SqliteStatement& row) {
  SubscriptionRecord record;
  record.name = std::string(row.ColumnText(0));
  std::string types(row.ColumnText(1));
  if (!types.empty()) {
    record.event_types = absl::StrSplit(types, '\n');
  }
  record.created_at = FromMicros(row.ColumnInt64(2));
  record.start_sequence = row.ColumnInt64(3);
  record.cursor = row.ColumnInt64(4);
  record.ack_deadline = absl::Milliseconds(row.ColumnInt64(5));
  record.max_delivery_attempts = static_cast<int>(row.ColumnInt64(6));
  record.ordered = row.ColumnInt64(7) != 0;
  record.expired_events = row.ColumnInt64(8);
  return record;
}

constexpr char kSubscriptionColumns[] =
    "name, event_types, created_at_us, start_sequence, cursor,"
    " ack_deadline_ms, max_delivery_attempts, ordered, expired_events";

constexpr char kDeliveryColumns[] =
    "subscription, sequence, state, attempts, last_delivered_us,"
    " acknowledged_us";

}  // namespace

absl::StatusOr<std::vector<SubscriptionRecord>>
SqliteEventStore::LoadSubscriptions() {
  absl::StatusOr<ReadLease> reader = BorrowReader();
  if (!reader.ok()) return reader.status();
  absl::StatusOr<SqliteStatement> query = (*reader)->Prepare(absl::StrCat(
      "SELECT ", kSubscriptionColumns, " FROM subscriptions ORDER BY name"));
  if (!query.ok()) return query.status();
  std::vector<SubscriptionRecord> records;
  for (;;) {
    absl::StatusOr<bool> row = query->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    records.push_back(ReadSubscription(*query));
  }
  return records;
}

absl::Status SqliteEventStore::ExecuteInTransaction(
    const std::function<absl::Status(SqliteConnection&)>& body) {
  absl::MutexLock lock(&writer_mu_);
  absl::Status in_place = file_lock_.CheckInPlace(path_);
  if (!in_place.ok()) return in_place;
  absl::Status begun = writer_->Execute("BEGIN IMMEDIATE");
  if (!begun.ok()) return begun;
  absl::Status status = body(*writer_);
  if (status.ok()) status = writer_->Execute("COMMIT");
  if (!status.ok()) writer_->Execute("ROLLBACK").IgnoreError();
  return status;
}

absl::StatusOr<SubscriptionRecord> SqliteEventStore::CreateSubscription(
    const SubscriptionRecord& record) {
  SubscriptionRecord stored;
  absl::Status status = ExecuteInTransaction(
      [&](SqliteConnection& connection) -> absl::Status {
        absl::StatusOr<SqliteStatement> insert = connection.Prepare(
            absl::StrCat("INSERT INTO subscriptions (", kSubscriptionColumns,
                         ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0)"
                         " ON CONFLICT (name) DO NOTHING"));
        if (!insert.ok()) return insert.status();
        insert->BindText(1, record.name);
        insert->BindText(2, absl::StrJoin(record.event_types, "\n"));
        insert->BindInt64(3, absl::ToUnixMicros(record.created_at));
        insert->BindInt64(4, record.start_sequence);
        insert->BindInt64(5, record.cursor);
        insert->BindInt64(6, absl::ToInt64Milliseconds(record.ack_deadline));
        insert->BindInt64(7, record.max_delivery_attempts);
        insert->BindInt64(8, record.ordered ? 1 : 0);
        absl::Status inserted = insert->Run();
        if (!inserted.ok()) return inserted;

        absl::StatusOr<SqliteStatement> query = connection.Prepare(
            absl::StrCat("SELECT ", kSubscriptionColumns,
                         " FROM subscriptions WHERE name = ?1"));
        if (!query.ok()) return query.status();
        query->BindText(1, record.name);
        absl::StatusOr<bool> row = query->Step();
        if (!row.ok()) return row.status();
        stored = ReadSubscription(*query);
        return absl::OkStatus();
      });
  if (!status.ok()) return status;
  return stored;
}

absl::Status SqliteEventStore::DeleteSubscription(absl::string_view name) {
  bool found = false;
  absl::Status status = ExecuteInTransaction(
      [&](SqliteConnection& connection) -> absl::Status {
        absl::StatusOr<SqliteStatement> remove =
            connection.Prepare("DELETE FROM subscriptions WHERE name = ?1");
        if (!remove.ok()) return remove.status();
        remove->BindText(1, name);
        absl::Status removed = remove->Run();
        if (!removed.ok()) return removed;
        found = sqlite3_changes(connection.handle()) > 0;
        absl::StatusOr<SqliteStatement> rows = connection.Prepare(
            "DELETE FROM deliveries WHERE subscription = ?1");
        if (!rows.ok()) return rows.status();
        rows->BindText(1, name);
        return rows->Run();
      });
  if (!status.ok()) return status;
  if (!found) {
    return absl::NotFoundError(
        absl::StrCat("no subscription named \"", name, "\""));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<DeliveryRecord>> SqliteEventStore::QueryDeliveries(
    const std::string& sql, absl::string_view text, int64_t number) {
  absl::StatusOr<ReadLease> reader = BorrowReader();
  if (!reader.ok()) return reader.status();
  absl::StatusOr<SqliteStatement> query = (*reader)->Prepare(sql);
  if (!query.ok()) return query.status();
  int index = 1;
  if (!text.empty()) query->BindText(index++, text);
  query->BindInt64(index, number);
  std::vector<DeliveryRecord> records;
  for (;;) {
    absl::StatusOr<bool> row = query->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    DeliveryRecord record;
    record.subscription = std::string(query->ColumnText(0));
    record.sequence = query->ColumnInt64(1);
    record.state = static_cast<DeliveryState>(query->ColumnInt64(2));
    record.attempts = static_cast<int>(query->ColumnInt64(3));
    record.last_delivered_at = FromMicros(query->ColumnInt64(4));
    record.acknowledged_at = FromMicros(query->ColumnInt64(5));
    records.push_back(std::move(record));
  }
  return records;
}

absl::StatusOr<std::vector<DeliveryRecord>> SqliteEventStore::LoadDeliveries(
    absl::string_view subscription, int64_t cursor) {
  return QueryDeliveries(
      absl::StrCat("SELECT ", kDeliveryColumns,
                   " FROM deliveries WHERE subscription = ?1 AND (sequence > "
                   "?2 OR state IN (1, 2)) ORDER BY sequence"),
      subscription, cursor);
}

absl::StatusOr<std::vector<DeliveryRecord>> SqliteEventStore::LoadDeadLetters(
    absl::string_view subscription) {
  return QueryDeliveries(
      absl::StrCat("SELECT ", kDeliveryColumns,
                   " FROM deliveries WHERE subscription = ?1 AND state = ?2"
                   " ORDER BY sequence"),
      subscription, static_cast<int64_t>(DeliveryState::kDeadLettered));
}

absl::StatusOr<std::vector<DeliveryRecord>> SqliteEventStore::DeliveriesOf(
    int64_t sequence) {
  return QueryDeliveries(
      absl::StrCat("SELECT ", kDeliveryColumns,
                   " FROM deliveries WHERE sequence = ?1"),
      "", sequence);
}

std::future<absl::Status> SqliteEventStore::SaveDeliveries(
    DeliveryUpdate update) {
  PendingUpdate pending;
  pending.update = std::move(update);
  std::future<absl::Status> future = pending.promise.get_future();
  absl::MutexLock lock(&queue_mu_);
  if (closing_) {
    pending.promise.set_value(
        absl::UnavailableError("store is closing: retry later"));
  } else {
    updates_.push_back(std::move(pending));
  }
  return future;
}

absl::Status SqliteEventStore::ApplyUpdateLocked(const DeliveryUpdate& update) {
  absl::StatusOr<SqliteStatement> upsert = writer_->Prepare(absl::StrCat(
      "INSERT INTO deliveries (", kDeliveryColumns,
      ") SELECT ?1, ?2, ?3, ?4, ?5, ?6"
      " WHERE EXISTS (SELECT 1 FROM subscriptions WHERE name = ?1)"
      " ON CONFLICT (subscription, sequence) DO UPDATE SET"
      " state = excluded.state, attempts = excluded.attempts,"
      " last_delivered_us = excluded.last_delivered_us,"
      " acknowledged_us = excluded.acknowledged_us"));
  if (!upsert.ok()) return upsert.status();
  for (const DeliveryRecord& record : update.records) {
    upsert->BindText(1, update.subscription);
    upsert->BindInt64(2, record.sequence);
    upsert->BindInt64(3, static_cast<int64_t>(record.state));
    upsert->BindInt64(4, record.attempts);
    upsert->BindInt64(5, absl::ToUnixMicros(record.last_delivered_at));
    upsert->BindInt64(6, absl::ToUnixMicros(record.acknowledged_at));
    absl::Status saved = upsert->Run();
    if (!saved.ok()) return saved;
    upsert->Reset();
  }
  if (update.cursor < 0) return absl::OkStatus();
  absl::StatusOr<SqliteStatement> cursor = writer_->Prepare(
      "UPDATE subscriptions SET cursor = ?2 WHERE name = ?1 AND cursor < ?2");
  if (!cursor.ok()) return cursor.status();
  cursor->BindText(1, update.subscription);
  cursor->BindInt64(2, update.cursor);
  return cursor->Run();
}

absl::StatusOr<int64_t> SqliteEventStore::SeekSubscription(
    absl::string_view name, int64_t cursor) {
  // One process owns the file, so seeks need no epoch.
  absl::Status moved = ExecuteInTransaction(
      [&](SqliteConnection& connection) -> absl::Status {
        absl::StatusOr<SqliteStatement> move = connection.Prepare(
            "UPDATE subscriptions SET cursor = ?2 WHERE name = ?1");
        if (!move.ok()) return move.status();
        move->BindText(1, name);
        move->BindInt64(2, cursor);
        absl::Status moved = move->Run();
        if (!moved.ok()) return moved;
        if (sqlite3_changes(connection.handle()) == 0) {
          return absl::NotFoundError(
              absl::StrCat("no subscription named \"", name, "\""));
        }
        absl::StatusOr<SqliteStatement> forget = connection.Prepare(
            "DELETE FROM deliveries WHERE subscription = ?1 AND sequence > ?2");
        if (!forget.ok()) return forget.status();
        forget->BindText(1, name);
        forget->BindInt64(2, cursor);
        absl::Status forgotten = forget->Run();
        if (!forgotten.ok()) return forgotten;
        absl::StatusOr<SqliteStatement> settle = connection.Prepare(
            "UPDATE deliveries SET state = ?3 WHERE subscription = ?1"
            " AND sequence <= ?2 AND state <> ?3");
        if (!settle.ok()) return settle.status();
        settle->BindText(1, name);
        settle->BindInt64(2, cursor);
        settle->BindInt64(3, static_cast<int64_t>(DeliveryState::kAcknowledged));
        return settle->Run();
      });
  if (!moved.ok()) return moved;
  return 0;
}

absl::StatusOr<int64_t> SqliteEventStore::FirstSequenceAtOrAfter(
    absl::Time time) {
  absl::StatusOr<int64_t> before = SequenceBefore(time);
  if (!before.ok()) return before.status();
  return *before + 1;
}

}  // namespace paymento::bridge
