// PostgresEventStore: durable subscription records and delivery state.
//
// Delivery changes join the writer's group commit; subscription
// administration runs in short transactions on pooled connections.
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "src/store/postgres_event_store.h"

namespace paymento::bridge {
namespace {

// Event types are a text[] column; they cross the wire joined by newlines,
// which TypeFilter never allows inside a pattern.
constexpr char kSubscriptionColumns[] =
    "name, array_to_string(event_types, chr(10)), created_at, start_sequence,"
    " cursor, ack_deadline_ms, max_delivery_attempts, ordered, expired_events,"
    " epoch";

constexpr char kDeliveryColumns[] =
    "subscription, sequence, state, attempts, last_delivered_at,"
    " acknowledged_at";

SubscriptionRecord ReadSubscription(const PgResult& rows, int row) {
  SubscriptionRecord record;
  record.name = std::string(rows.Bytes(row, 0));
  std::string types(rows.Bytes(row, 1));
  if (!types.empty()) record.event_types = absl::StrSplit(types, '\n');
  record.created_at = rows.Timestamp(row, 2);
  record.start_sequence = rows.Int64(row, 3);
  record.cursor = rows.Int64(row, 4);
  record.ack_deadline = absl::Milliseconds(rows.Int64(row, 5));
  record.max_delivery_attempts = static_cast<int>(rows.Int64(row, 6));
  record.ordered = rows.Bool(row, 7);
  record.expired_events = rows.Int64(row, 8);
  record.epoch = rows.Int64(row, 9);
  return record;
}

absl::Status NoSubscription(absl::string_view name) {
  return absl::NotFoundError(
      absl::StrCat("no subscription named \"", name, "\""));
}

}  // namespace

absl::StatusOr<std::vector<SubscriptionRecord>>
PostgresEventStore::LoadSubscriptions() {
  return pool_.Run([](PostgresConnection& connection)
                       -> absl::StatusOr<std::vector<SubscriptionRecord>> {
    absl::StatusOr<PgResult> rows = connection.Execute(absl::StrCat(
        "SELECT ", kSubscriptionColumns, " FROM subscriptions ORDER BY name"));
    if (!rows.ok()) return rows.status();
    std::vector<SubscriptionRecord> records;
    for (int row = 0; row < rows->rows(); ++row) {
      records.push_back(ReadSubscription(*rows, row));
    }
    return records;
  });
}

absl::StatusOr<SubscriptionRecord> PostgresEventStore::CreateSubscription(
    const SubscriptionRecord& record) {
  if (!IsStorableText(record.name)) {
    return absl::InvalidArgumentError(
        "subscription name must be UTF-8 text without NUL bytes");
  }
  // Both statements are safe to repeat, so no transaction is needed: when
  // two replicas create the same name at once, the second insert waits for
  // the first and then does nothing, and both read the first's record.
  return pool_.Run([&](PostgresConnection& connection)
                       -> absl::StatusOr<SubscriptionRecord> {
    absl::StatusOr<PgResult> inserted = connection.Execute(
        "INSERT INTO subscriptions (name, event_types, created_at,"
        " start_sequence, cursor, ack_deadline_ms, max_delivery_attempts,"
        " ordered) VALUES ($1, string_to_array($2, chr(10)), $3, $4, $5, $6,"
        " $7, $8) ON CONFLICT (name) DO NOTHING",
        {PgParam::Text(record.name),
         PgParam::Text(absl::StrJoin(record.event_types, "\n")),
         PgParam::Timestamp(record.created_at),
         PgParam::Int64(record.start_sequence), PgParam::Int64(record.cursor),
         PgParam::Int64(absl::ToInt64Milliseconds(record.ack_deadline)),
         PgParam::Int64(record.max_delivery_attempts),
         PgParam::Bool(record.ordered)});
    if (!inserted.ok()) return inserted.status();
    absl::StatusOr<PgResult> stored =
        connection.Execute(absl::StrCat("SELECT ", kSubscriptionColumns,
                                        " FROM subscriptions WHERE name = $1"),
                           {PgParam::Text(record.name)});
    if (!stored.ok()) return stored.status();
    if (stored->rows() == 0) {
      return absl::AbortedError(
          absl::StrCat("subscription \"", record.name,
                       "\" was deleted while being created: subscribe again"));
    }
    return ReadSubscription(*stored, 0);
  });
}

absl::Status PostgresEventStore::DeleteSubscription(absl::string_view name) {
  if (!IsStorableText(name)) return NoSubscription(name);
  return RunTransaction([&](PostgresConnection& connection) -> absl::Status {
    absl::StatusOr<PgResult> removed = connection.Execute(
        "DELETE FROM subscriptions WHERE name = $1", {PgParam::Text(name)});
    if (!removed.ok()) return removed.status();
    if (removed->affected_rows() == 0) return NoSubscription(name);
    absl::StatusOr<PgResult> forgotten =
        connection.Execute("DELETE FROM deliveries WHERE subscription = $1",
                           {PgParam::Text(name)});
    if (!forgotten.ok()) return forgotten.status();
    SubscriptionChange change;
    change.kind = SubscriptionChange::Kind::kDelete;
    change.subscription = std::string(name);
    return NotifyChange(connection, change);
  });
}

absl::StatusOr<std::vector<DeliveryRecord>> PostgresEventStore::QueryDeliveries(
    const std::string& sql, std::vector<PgParam> params) {
  return pool_.Run([&](PostgresConnection& connection)
                       -> absl::StatusOr<std::vector<DeliveryRecord>> {
    absl::StatusOr<PgResult> rows = connection.Execute(sql, params);
    if (!rows.ok()) return rows.status();
    std::vector<DeliveryRecord> records;
    for (int row = 0; row < rows->rows(); ++row) {
      DeliveryRecord record;
      record.subscription = std::string(rows->Bytes(row, 0));
      record.sequence = rows->Int64(row, 1);
      record.state = static_cast<DeliveryState>(rows->Int64(row, 2));
      record.attempts = static_cast<int>(rows->Int64(row, 3));
      record.last_delivered_at = rows->Timestamp(row, 4);
      record.acknowledged_at = rows->Timestamp(row, 5);
      records.push_back(std::move(record));
    }
    return records;
  });
}

absl::StatusOr<std::vector<DeliveryRecord>> PostgresEventStore::LoadDeliveries(
    absl::string_view subscription, int64_t cursor) {
  if (!IsStorableText(subscription)) return std::vector<DeliveryRecord>();
  return QueryDeliveries(
      absl::StrCat("SELECT ", kDeliveryColumns,
                   " FROM deliveries WHERE subscription = $1 AND"
                   " (sequence > $2 OR state IN ($3, $4)) ORDER BY sequence"),
      {PgParam::Text(subscription), PgParam::Int64(cursor),
       PgParam::Int64(static_cast<int64_t>(DeliveryState::kPending)),
       PgParam::Int64(static_cast<int64_t>(DeliveryState::kLeased))});
}

absl::StatusOr<std::vector<DeliveryRecord>> PostgresEventStore::LoadDeadLetters(
    absl::string_view subscription) {
  if (!IsStorableText(subscription)) return std::vector<DeliveryRecord>();
  return QueryDeliveries(
      absl::StrCat("SELECT ", kDeliveryColumns,
                   " FROM deliveries WHERE subscription = $1 AND state = $2"
                   " ORDER BY sequence"),
      {PgParam::Text(subscription),
       PgParam::Int64(static_cast<int64_t>(DeliveryState::kDeadLettered))});
}

absl::StatusOr<std::vector<DeliveryRecord>> PostgresEventStore::DeliveriesOf(
    int64_t sequence) {
  return QueryDeliveries(absl::StrCat("SELECT ", kDeliveryColumns,
                                      " FROM deliveries WHERE sequence = $1"
                                      " ORDER BY subscription"),
                         {PgParam::Int64(sequence)});
}

std::future<absl::Status> PostgresEventStore::SaveDeliveries(
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

absl::Status PostgresEventStore::ApplyUpdate(const DeliveryUpdate& update) {
  // Rows of a subscription deleted meanwhile are not written back.
  const std::string upsert =
      absl::StrCat("INSERT INTO deliveries (", kDeliveryColumns,
                   ") SELECT $1, $2, $3, $4, $5, $6"
                   " WHERE EXISTS (SELECT 1 FROM subscriptions WHERE name = $1)"
                   " ON CONFLICT (subscription, sequence) DO UPDATE SET"
                   " state = excluded.state, attempts = excluded.attempts,"
                   " last_delivered_at = excluded.last_delivered_at,"
                   " acknowledged_at = excluded.acknowledged_at");
  for (const DeliveryRecord& record : update.records) {
    absl::StatusOr<PgResult> saved = writer_->Execute(
        upsert,
        {PgParam::Text(update.subscription), PgParam::Int64(record.sequence),
         PgParam::Int64(static_cast<int64_t>(record.state)),
         PgParam::Int64(record.attempts),
         PgParam::TimestampOrNull(record.last_delivered_at),
         PgParam::TimestampOrNull(record.acknowledged_at)});
    if (!saved.ok()) return saved.status();
  }
  if (update.cursor < 0) return absl::OkStatus();
  return writer_
      ->Execute(
          "UPDATE subscriptions SET cursor = $2 WHERE name = $1 AND cursor < "
          "$2 AND ($3 < 0 OR epoch = $3)",
          {PgParam::Text(update.subscription), PgParam::Int64(update.cursor),
           PgParam::Int64(update.epoch)})
      .status();
}

absl::StatusOr<int64_t> PostgresEventStore::SeekSubscription(
    absl::string_view name, int64_t cursor) {
  if (!IsStorableText(name)) return NoSubscription(name);
  int64_t epoch = 0;
  absl::Status sought = RunTransaction([&](PostgresConnection& connection)
                                           -> absl::Status {
    absl::StatusOr<PgResult> moved = connection.Execute(
        "UPDATE subscriptions SET cursor = $2, epoch = epoch + 1"
        " WHERE name = $1 RETURNING epoch",
        {PgParam::Text(name), PgParam::Int64(cursor)});
    if (!moved.ok()) return moved.status();
    if (moved->rows() == 0) return NoSubscription(name);
    epoch = moved->Int64(0, 0);
    absl::StatusOr<PgResult> forgotten = connection.Execute(
        "DELETE FROM deliveries WHERE subscription = $1 AND sequence > $2",
        {PgParam::Text(name), PgParam::Int64(cursor)});
    if (!forgotten.ok()) return forgotten.status();
    absl::StatusOr<PgResult> settled = connection.Execute(
        "UPDATE deliveries SET state = $3, holder = NULL, lease_expiry = NULL"
        " WHERE subscription = $1 AND sequence <= $2 AND state <> $3",
        {PgParam::Text(name), PgParam::Int64(cursor),
         PgParam::Int64(static_cast<int64_t>(DeliveryState::kAcknowledged))});
    if (!settled.ok()) return settled.status();
    SubscriptionChange change;
    change.kind = SubscriptionChange::Kind::kSeek;
    change.subscription = std::string(name);
    change.cursor = cursor;
    change.epoch = epoch;
    return NotifyChange(connection, change);
  });
  if (!sought.ok()) return sought;
  return epoch;
}

}  // namespace paymento::bridge
