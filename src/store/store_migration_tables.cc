#include "src/store/store_migration_tables.h"

#include <cctype>
#include <initializer_list>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace paymento::bridge {
namespace {

constexpr size_t kMaxBatchBytes = size_t{16} << 20;

// Rows waiting to be inserted together.
struct Batch {
  std::vector<PgParam> params;
  int rows = 0;
  size_t bytes = 0;
};

struct TextColumn {
  int index;
  const char* name;
};

// Fails when a text column of `row` contains invalid UTF-8 or a NUL byte,
// which PostgreSQL text cannot store. `owner` names the row ("event 12").
absl::Status CheckText(const SqliteStatement& row,
                       std::initializer_list<TextColumn> columns,
                       absl::string_view owner) {
  for (const TextColumn& column : columns) {
    if (IsStorableText(row.ColumnText(column.index))) continue;
    return absl::InvalidArgumentError(absl::StrCat(
        owner, " has a ", column.name,
        " that is not UTF-8 text without NUL bytes, which PostgreSQL cannot"
        " store as text"));
  }
  return absl::OkStatus();
}

PgParam MicrosTimestamp(int64_t micros) {
  return PgParam::Timestamp(absl::FromUnixMicros(micros));
}

// The SQLite store writes 0 for "never"; PostgreSQL stores NULL.
PgParam MicrosTimestampOrNull(int64_t micros) {
  return PgParam::TimestampOrNull(absl::FromUnixMicros(micros));
}

absl::StatusOr<std::vector<PgParam>> ReadEvent(const SqliteStatement& row) {
  absl::Status text = CheckText(
      row,
      {{1, "id"}, {2, "type"}, {4, "customer e-mail"}, {5, "payment link id"}},
      absl::StrCat("event ", row.ColumnInt64(0)));
  if (!text.ok()) return text;
  return std::vector<PgParam>{
      PgParam::Int64(row.ColumnInt64(0)), PgParam::Text(row.ColumnText(1)),
      PgParam::Text(row.ColumnText(2)),   MicrosTimestamp(row.ColumnInt64(3)),
      PgParam::Text(row.ColumnText(4)),   PgParam::Text(row.ColumnText(5)),
      PgParam::Bytea(row.ColumnBlob(6))};
}

absl::StatusOr<std::vector<PgParam>> ReadEventId(const SqliteStatement& row) {
  absl::Status text =
      CheckText(row, {{0, "id"}},
                absl::StrCat("the event id of sequence ", row.ColumnInt64(1)));
  if (!text.ok()) return text;
  return std::vector<PgParam>{
      PgParam::Text(row.ColumnText(0)), PgParam::Int64(row.ColumnInt64(1)),
      PgParam::Bytea(row.ColumnBlob(2)), MicrosTimestamp(row.ColumnInt64(3)),
      PgParam::Int64(row.ColumnInt64(4))};
}

absl::StatusOr<std::vector<PgParam>> ReadSubscription(
    const SqliteStatement& row) {
  absl::Status text =
      CheckText(row, {{0, "name"}, {1, "event type filter"}}, "a subscription");
  if (!text.ok()) return text;
  return std::vector<PgParam>{PgParam::Text(row.ColumnText(0)),
                              PgParam::Text(row.ColumnText(1)),
                              MicrosTimestamp(row.ColumnInt64(2)),
                              PgParam::Int64(row.ColumnInt64(3)),
                              PgParam::Int64(row.ColumnInt64(4)),
                              PgParam::Int64(row.ColumnInt64(5)),
                              PgParam::Int64(row.ColumnInt64(6)),
                              PgParam::Bool(row.ColumnInt64(7) != 0),
                              PgParam::Int64(row.ColumnInt64(8))};
}

absl::StatusOr<std::vector<PgParam>> ReadDelivery(const SqliteStatement& row) {
  absl::Status text =
      CheckText(row, {{0, "subscription name"}}, "a delivery row");
  if (!text.ok()) return text;
  return std::vector<PgParam>{PgParam::Text(row.ColumnText(0)),
                              PgParam::Int64(row.ColumnInt64(1)),
                              PgParam::Int64(row.ColumnInt64(2)),
                              PgParam::Int64(row.ColumnInt64(3)),
                              MicrosTimestampOrNull(row.ColumnInt64(4)),
                              MicrosTimestampOrNull(row.ColumnInt64(5))};
}

// Headers and body are exact bytes and go to bytea columns. Reason, route
// and event id only describe the request, so what text cannot hold is
// replaced, as PostgresEventStore::Quarantine does for new requests.
absl::StatusOr<std::vector<PgParam>> ReadQuarantined(
    const SqliteStatement& row) {
  return std::vector<PgParam>{PgParam::Int64(row.ColumnInt64(0)),
                              MicrosTimestamp(row.ColumnInt64(1)),
                              PgParam::Text(ToStorableText(row.ColumnText(2))),
                              PgParam::Text(ToStorableText(row.ColumnText(3))),
                              PgParam::Text(ToStorableText(row.ColumnText(4))),
                              PgParam::Bytea(row.ColumnBlob(5)),
                              PgParam::Bytea(row.ColumnBlob(6)),
                              PgParam::Bytea(row.ColumnBlob(7))};
}

// Returns `row_values` with every parameter number raised by `offset`.
std::string NumberParameters(absl::string_view row_values, int offset) {
  std::string numbered;
  size_t at = 0;
  while (at < row_values.size()) {
    char c = row_values[at++];
    numbered.push_back(c);
    if (c != '$') continue;
    size_t end = at;
    while (end < row_values.size() &&
           std::isdigit(static_cast<unsigned char>(row_values[end]))) {
      ++end;
    }
    int number = 0;
    if (absl::SimpleAtoi(row_values.substr(at, end - at), &number)) {
      absl::StrAppend(&numbered, number + offset);
      at = end;
    }
  }
  return numbered;
}

absl::Status InsertBatch(PostgresConnection& target, const TableCopy& copy,
                         const Batch& batch) {
  int columns = static_cast<int>(batch.params.size()) / batch.rows;
  std::vector<std::string> tuples;
  tuples.reserve(batch.rows);
  for (int row = 0; row < batch.rows; ++row) {
    tuples.push_back(NumberParameters(copy.row_values, row * columns));
  }
  std::string sql =
      absl::StrCat(copy.insert_sql, " VALUES ", absl::StrJoin(tuples, ", "));
  absl::StatusOr<PgResult> inserted = target.Execute(sql, batch.params);
  if (!inserted.ok()) return inserted.status();
  if (inserted->affected_rows() != batch.rows) {
    return absl::InternalError(
        absl::StrCat("inserted ", inserted->affected_rows(), " of ", batch.rows,
                     " rows into the target"));
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<TableCopy> MigrationTables(const MigrationCounts& counts) {
  return {
      {"events",
       "SELECT sequence, event_id, type, received_at_us, customer_email,"
       " payment_link_id, event FROM events ORDER BY sequence",
       "INSERT INTO events (sequence, event_id, type, received_at,"
       " customer_email, payment_link_id, event)",
       "($1, $2, $3, $4, $5, $6, $7)", ReadEvent, counts.events},
      {"event ids",
       "SELECT event_id, sequence, body_sha256, first_received_us,"
       " duplicate_count FROM event_ids ORDER BY sequence, event_id",
       "INSERT INTO event_ids (event_id, sequence, body_sha256,"
       " first_received_at, duplicate_count)",
       "($1, $2, $3, $4, $5)", ReadEventId, counts.event_ids},
      // Event types are one newline-separated text in SQLite and a text[]
      // in PostgreSQL, as the stores' CreateSubscription write them.
      {"subscriptions",
       "SELECT name, event_types, created_at_us, start_sequence, cursor,"
       " ack_deadline_ms, max_delivery_attempts, ordered, expired_events"
       " FROM subscriptions ORDER BY name",
       "INSERT INTO subscriptions (name, event_types, created_at,"
       " start_sequence, cursor, ack_deadline_ms, max_delivery_attempts,"
       " ordered, expired_events)",
       "($1, string_to_array($2, chr(10)), $3, $4, $5, $6, $7, $8, $9)",
       ReadSubscription, counts.subscriptions},
      {"delivery rows",
       "SELECT subscription, sequence, state, attempts, last_delivered_us,"
       " acknowledged_us FROM deliveries ORDER BY subscription, sequence",
       "INSERT INTO deliveries (subscription, sequence, state, attempts,"
       " last_delivered_at, acknowledged_at)",
       "($1, $2, $3, $4, $5, $6)", ReadDelivery, counts.deliveries},
      // Ids are kept, because operators release quarantined requests by id.
      {"quarantined requests",
       "SELECT id, received_at_us, reason, route, event_id, headers, body,"
       " body_sha256 FROM quarantine ORDER BY id",
       "INSERT INTO quarantine (id, received_at, reason, route, event_id,"
       " headers, body, body_sha256) OVERRIDING SYSTEM VALUE",
       "($1, $2, $3, $4, $5, $6, $7, $8)", ReadQuarantined, counts.quarantined},
  };
}

absl::Status CopyTable(SqliteConnection& source, PostgresConnection& target,
                       const TableCopy& copy, const MigrationOptions& options) {
  absl::StatusOr<SqliteStatement> rows = source.Prepare(copy.select_sql);
  if (!rows.ok()) return rows.status();
  MigrationProgress progress{copy.table, 0, copy.total};
  Batch batch;
  for (;;) {
    absl::StatusOr<bool> has_row = rows->Step();
    if (!has_row.ok()) return has_row.status();
    if (*has_row) {
      absl::StatusOr<std::vector<PgParam>> values = copy.read_row(*rows);
      if (!values.ok()) return values.status();
      for (PgParam& value : *values) {
        batch.bytes += value.bytes().size();
        batch.params.push_back(std::move(value));
      }
      ++batch.rows;
    }
    bool full =
        batch.rows >= options.batch_size || batch.bytes >= kMaxBatchBytes;
    if (batch.rows > 0 && (full || !*has_row)) {
      absl::Status inserted = InsertBatch(target, copy, batch);
      if (!inserted.ok()) return inserted;
      progress.copied += batch.rows;
      batch = Batch();
      if (options.on_progress) options.on_progress(progress);
    }
    if (!*has_row) break;
  }
  // An empty table is reported once too, so that every table shows up.
  if (progress.copied == 0 && options.on_progress) {
    options.on_progress(progress);
  }
  return absl::OkStatus();
}

}  // namespace paymento::bridge
