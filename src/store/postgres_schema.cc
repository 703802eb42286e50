#include "src/store/postgres_schema.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace paymento::bridge {
namespace {

// The advisory lock key that serializes migrations across replicas:
// "pbschema" in ASCII. Advisory locks are per database, so another
// application using the same key would only make migrations wait.
constexpr int64_t kMigrationLockKey = 0x7062736368656d61;

// Migration N is Migrations()[N - 1]. Append new migrations; never edit one
// that has shipped.
const std::vector<std::string>& Migrations() {
  static const auto* migrations = new std::vector<std::string>{
      // 1: the event log, event ids (kept as tombstones after retention
      // deletes their events), the sequence counter and the quarantine.
      // The counter is one row whose lock serializes committing appends;
      // see PostgresEventStore::AppendEvents.
      R"sql(
CREATE TABLE events (
  sequence BIGINT PRIMARY KEY,
  event_id TEXT NOT NULL,
  type TEXT NOT NULL,
  received_at TIMESTAMPTZ NOT NULL,
  customer_email TEXT NOT NULL DEFAULT '',
  payment_link_id TEXT NOT NULL DEFAULT '',
  event BYTEA NOT NULL
);
CREATE INDEX events_received_at ON events (received_at);
CREATE INDEX events_type ON events (type text_pattern_ops, sequence);
CREATE INDEX events_customer_email ON events (customer_email, sequence)
  WHERE customer_email <> '';
CREATE INDEX events_payment_link ON events (payment_link_id, sequence)
  WHERE payment_link_id <> '';
CREATE TABLE event_ids (
  event_id TEXT PRIMARY KEY,
  sequence BIGINT NOT NULL,
  body_sha256 BYTEA NOT NULL,
  first_received_at TIMESTAMPTZ NOT NULL,
  duplicate_count BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX event_ids_first_received_at ON event_ids (first_received_at);
CREATE TABLE sequence_counter (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  last_sequence BIGINT NOT NULL
);
INSERT INTO sequence_counter (id, last_sequence) VALUES (1, 0);
CREATE TABLE quarantine (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  received_at TIMESTAMPTZ NOT NULL,
  reason TEXT NOT NULL,
  route TEXT NOT NULL,
  event_id TEXT NOT NULL DEFAULT '',
  -- Header bytes as received, which need not be UTF-8.
  headers BYTEA NOT NULL,
  body BYTEA NOT NULL,
  body_sha256 BYTEA NOT NULL,
  UNIQUE (body_sha256, reason)
);
)sql",
      // 2: durable subscriptions and their per-event delivery state. An
      // event at or below a subscription's cursor without a delivery row
      // counts as acknowledged; above it, as pending. States are the
      // numbers of DeliveryState.
      R"sql(
CREATE TABLE subscriptions (
  name TEXT PRIMARY KEY,
  event_types TEXT[] NOT NULL,
  created_at TIMESTAMPTZ NOT NULL,
  start_sequence BIGINT NOT NULL,
  cursor BIGINT NOT NULL,
  ack_deadline_ms BIGINT NOT NULL,
  max_delivery_attempts INTEGER NOT NULL,
  ordered BOOLEAN NOT NULL,
  expired_events BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE deliveries (
  subscription TEXT NOT NULL,
  sequence BIGINT NOT NULL,
  state INTEGER NOT NULL,
  attempts INTEGER NOT NULL,
  last_delivered_at TIMESTAMPTZ,
  acknowledged_at TIMESTAMPTZ,
  PRIMARY KEY (subscription, sequence)
);
CREATE INDEX deliveries_sequence ON deliveries (sequence);
CREATE INDEX deliveries_state ON deliveries (subscription, state, sequence);
)sql",
      // 3: leases shared between replicas. A leased row names its holder,
      // when the lease expires and a generation that no lease ever reuses,
      // so an ack id names one lease. A seek raises the subscription's
      // epoch, so that a cursor computed before the seek is not saved after
      // it. Rows leased before this migration have no expiry and are
      // claimable at once.
      R"sql(
ALTER TABLE subscriptions ADD COLUMN epoch BIGINT NOT NULL DEFAULT 0;
ALTER TABLE deliveries
  ADD COLUMN holder TEXT,
  ADD COLUMN lease_expiry TIMESTAMPTZ,
  ADD COLUMN lease_generation BIGINT NOT NULL DEFAULT 0;
CREATE SEQUENCE lease_generations;
)sql",
      // 4: a quarantined request is the same as an earlier one only when
      // its headers match too. The headers enter the index as a digest,
      // because a B-tree entry takes at most about 2.7 KB and headers reach
      // 64 KiB.
      // NOTE: the UNIQUE (body_sha256, reason) constraint stays, so
      // requests that differ in their headers alone are still merged here.
      // Replicas of the previous release name it in their ON CONFLICT
      // clause, and during a rolling update they would fail every
      // quarantine write without it. A later migration drops
      // quarantine_body_sha256_reason_key once no such release runs.
      R"sql(
CREATE UNIQUE INDEX quarantine_request
  ON quarantine (body_sha256, reason, sha256(headers));
)sql",
  };
  return *migrations;
}

absl::Status MigrateLocked(PostgresConnection& connection, int64_t target) {
  absl::StatusOr<PgResult> locked = connection.Execute(
      "SELECT pg_advisory_xact_lock($1)", {PgParam::Int64(kMigrationLockKey)});
  if (!locked.ok()) return locked.status();
  absl::Status created = connection.ExecuteScript(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      " version INTEGER PRIMARY KEY,"
      " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())");
  if (!created.ok()) return created;
  absl::StatusOr<PgResult> current = connection.Execute(
      "SELECT COALESCE(MAX(version), 0)::bigint FROM schema_migrations");
  if (!current.ok()) return current.status();
  int64_t version = current->Int64(0, 0);

  const std::vector<std::string>& migrations = Migrations();
  if (version > static_cast<int64_t>(migrations.size())) {
    return absl::FailedPreconditionError(
        absl::StrCat("database schema version ", version,
                     " is newer than this binary supports (", migrations.size(),
                     "): run a newer paymento-bridge"));
  }
  for (int64_t next = version + 1;
       next <= std::min<int64_t>(target, migrations.size()); ++next) {
    absl::Status applied = connection.ExecuteScript(migrations[next - 1]);
    if (applied.ok()) {
      applied = connection
                    .Execute(
                        "INSERT INTO schema_migrations (version)"
                        " VALUES ($1)",
                        {PgParam::Int64(next)})
                    .status();
    }
    if (!applied.ok()) {
      return absl::Status(applied.code(),
                          absl::StrCat("schema migration ", next,
                                       " failed: ", applied.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status MigratePostgresSchema(PostgresConnection& connection) {
  return MigratePostgresSchemaTo(connection, PostgresSchemaVersion());
}

int64_t PostgresSchemaVersion() {
  return static_cast<int64_t>(Migrations().size());
}

absl::Status MigratePostgresSchemaTo(PostgresConnection& connection,
                                     int64_t target) {
  absl::Status begun = connection.ExecuteScript("BEGIN");
  if (!begun.ok()) return begun;
  absl::Status migrated = MigrateLocked(connection, target);
  if (migrated.ok()) migrated = connection.ExecuteScript("COMMIT");
  if (!migrated.ok() && !connection.broken()) {
    connection.ExecuteScript("ROLLBACK").IgnoreError();
  }
  // SQLSTATE 3F000: no schema of the search path exists, so there is
  // nowhere to create the tables.
  if (absl::StrContains(migrated.message(), "SQLSTATE 3F000")) {
    return absl::Status(
        migrated.code(),
        absl::StrCat(migrated.message(),
                     ": the schema that the URL's search_path names does not "
                     "exist; create it first (CREATE SCHEMA name)"));
  }
  return migrated;
}

}  // namespace paymento::bridge
