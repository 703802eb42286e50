#include "src/store/sqlite_schema.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace paymento::bridge {
namespace {

// Migration N is Migrations()[N - 1]. Append new migrations; never edit one
// that has shipped.
const std::vector<std::string>& Migrations() {
  static const auto* migrations = new std::vector<std::string>{
      // 1: the event log, event ids (kept as tombstones after retention
      // deletes their events), the sequence counter and the quarantine.
      R"sql(
CREATE TABLE events (
  sequence INTEGER PRIMARY KEY,
  event_id TEXT NOT NULL,
  type TEXT NOT NULL,
  received_at_us INTEGER NOT NULL,
  customer_email TEXT NOT NULL DEFAULT '',
  payment_link_id TEXT NOT NULL DEFAULT '',
  event BLOB NOT NULL
);
CREATE INDEX events_received_at ON events(received_at_us);
CREATE INDEX events_type ON events(type, sequence);
CREATE INDEX events_customer_email ON events(customer_email, sequence)
  WHERE customer_email <> '';
CREATE INDEX events_payment_link ON events(payment_link_id, sequence)
  WHERE payment_link_id <> '';
CREATE TABLE event_ids (
  event_id TEXT PRIMARY KEY,
  sequence INTEGER NOT NULL,
  body_sha256 BLOB NOT NULL,
  first_received_us INTEGER NOT NULL,
  duplicate_count INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE sequence_counter (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  last_sequence INTEGER NOT NULL
);
INSERT INTO sequence_counter (id, last_sequence) VALUES (1, 0);
CREATE TABLE quarantine (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  received_at_us INTEGER NOT NULL,
  reason TEXT NOT NULL,
  route TEXT NOT NULL,
  event_id TEXT NOT NULL DEFAULT '',
  headers TEXT NOT NULL,
  body BLOB NOT NULL,
  body_sha256 BLOB NOT NULL,
  UNIQUE (body_sha256, reason)
);
)sql",
      // 2: durable subscriptions and their per-event delivery state. An
      // event at or below a subscription's cursor without a delivery row
      // counts as acknowledged; above it, as pending.
      R"sql(
CREATE TABLE subscriptions (
  name TEXT PRIMARY KEY,
  event_types TEXT NOT NULL,
  created_at_us INTEGER NOT NULL,
  start_sequence INTEGER NOT NULL,
  cursor INTEGER NOT NULL,
  ack_deadline_ms INTEGER NOT NULL,
  max_delivery_attempts INTEGER NOT NULL,
  ordered INTEGER NOT NULL,
  expired_events INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE deliveries (
  subscription TEXT NOT NULL,
  sequence INTEGER NOT NULL,
  state INTEGER NOT NULL,
  attempts INTEGER NOT NULL,
  last_delivered_us INTEGER NOT NULL DEFAULT 0,
  acknowledged_us INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (subscription, sequence)
) WITHOUT ROWID;
CREATE INDEX deliveries_sequence ON deliveries(sequence);
CREATE INDEX deliveries_state ON deliveries(subscription, state, sequence);
)sql",
      // 3: a quarantined request is the same as an earlier one only when
      // its headers match too, so a request that differs from an earlier
      // one in its headers alone is kept with them. SQLite cannot drop a
      // table's UNIQUE constraint, so the table is copied, with its ids and
      // its AUTOINCREMENT counter, which never hands out an id again.
      R"sql(
CREATE TABLE quarantine_new (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  received_at_us INTEGER NOT NULL,
  reason TEXT NOT NULL,
  route TEXT NOT NULL,
  event_id TEXT NOT NULL DEFAULT '',
  headers TEXT NOT NULL,
  body BLOB NOT NULL,
  body_sha256 BLOB NOT NULL,
  UNIQUE (body_sha256, reason, headers)
);
INSERT INTO quarantine_new (id, received_at_us, reason, route, event_id,
  headers, body, body_sha256)
  SELECT id, received_at_us, reason, route, event_id, headers, body,
    body_sha256 FROM quarantine;
DELETE FROM sqlite_sequence WHERE name = 'quarantine_new';
INSERT INTO sqlite_sequence (name, seq)
  SELECT 'quarantine_new', seq FROM sqlite_sequence WHERE name = 'quarantine';
DROP TABLE quarantine;
ALTER TABLE quarantine_new RENAME TO quarantine;
)sql",
  };
  return *migrations;
}

absl::StatusOr<int64_t> CurrentVersion(SqliteConnection& connection) {
  absl::Status created = connection.Execute(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      " version INTEGER PRIMARY KEY, applied_at_us INTEGER NOT NULL)");
  if (!created.ok()) return created;
  absl::StatusOr<SqliteStatement> query = connection.Prepare(
      "SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
  if (!query.ok()) return query.status();
  absl::StatusOr<bool> row = query->Step();
  if (!row.ok()) return row.status();
  return query->ColumnInt64(0);
}

}  // namespace

int64_t SqliteSchemaVersion() {
  return static_cast<int64_t>(Migrations().size());
}

absl::Status MigrateSqliteSchema(SqliteConnection& connection) {
  return MigrateSqliteSchemaTo(connection, SqliteSchemaVersion());
}

absl::Status MigrateSqliteSchemaTo(SqliteConnection& connection,
                                   int64_t target) {
  absl::StatusOr<int64_t> version = CurrentVersion(connection);
  if (!version.ok()) return version.status();
  const std::vector<std::string>& migrations = Migrations();
  if (*version > static_cast<int64_t>(migrations.size())) {
    return absl::FailedPreconditionError(absl::StrCat(
        "database schema version ", *version,
        " is newer than this binary supports (",
        migrations.size(), "): run a newer paymento-bridge"));
  }
  for (int64_t next = *version + 1;
       next <= std::min<int64_t>(target, migrations.size()); ++next) {
    std::string sql = absl::StrCat(
        "BEGIN IMMEDIATE;", migrations[next - 1],
        "INSERT INTO schema_migrations (version, applied_at_us) VALUES (", next,
        ", CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER));",
        "COMMIT;");
    absl::Status applied = connection.Execute(sql);
    if (!applied.ok()) {
      connection.Execute("ROLLBACK").IgnoreError();
      return absl::Status(applied.code(),
                          absl::StrCat("schema migration ", next,
                                       " failed: ", applied.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace paymento::bridge
