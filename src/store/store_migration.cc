#include "src/store/store_migration.h"

#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "src/store/postgres_commit_listener.h"
#include "src/store/postgres_connection.h"
#include "src/store/postgres_schema.h"
#include "src/store/postgres_store_options.h"
#include "src/store/sqlite_connection.h"
#include "src/store/sqlite_schema.h"
#include "src/store/store_migration_tables.h"
#include "src/store/subscription_records.h"

namespace paymento::bridge {
namespace {

absl::StatusOr<std::unique_ptr<SqliteConnection>> OpenSource(
    const std::string& path) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) {
    return absl::NotFoundError(absl::StrCat("no SQLite store at ", path));
  }
  // Read-write lets SQLite create the -shm file that a WAL database needs
  // when the service is not running; query_only makes sure nothing else is
  // written. A read-only file falls back to a read-only connection.
  absl::StatusOr<std::unique_ptr<SqliteConnection>> source =
      SqliteConnection::Open(path, SQLITE_OPEN_READWRITE);
  if (!source.ok()) source = SqliteConnection::Open(path, SQLITE_OPEN_READONLY);
  if (!source.ok()) return source.status();
  for (const char* pragma :
       {"PRAGMA busy_timeout=5000", "PRAGMA query_only=1"}) {
    absl::Status set = (*source)->Execute(pragma);
    if (!set.ok()) return set;
  }
  return source;
}

absl::StatusOr<int64_t> QueryInt64(SqliteConnection& source,
                                   const std::string& sql) {
  absl::StatusOr<SqliteStatement> query = source.Prepare(sql);
  if (!query.ok()) return query.status();
  absl::StatusOr<bool> row = query->Step();
  if (!row.ok()) return row.status();
  return *row ? query->ColumnInt64(0) : 0;
}

absl::Status CheckSourceSchema(SqliteConnection& source,
                               const std::string& path) {
  absl::StatusOr<int64_t> version = QueryInt64(
      source, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
  if (!version.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " is not a readable paymento-bridge SQLite store: ",
                     version.status().message()));
  }
  if (*version < SqliteSchemaVersion()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the SQLite store ", path, " has schema version ", *version,
        " and this binary reads version ", SqliteSchemaVersion(),
        ": run `paymento-bridge serve` on it once to upgrade it"));
  }
  if (*version > SqliteSchemaVersion()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the SQLite store ", path, " has schema version ",
                     *version, ", newer than this binary reads (",
                     SqliteSchemaVersion(), "): run a newer paymento-bridge"));
  }
  return absl::OkStatus();
}

absl::StatusOr<MigrationCounts> CountSource(SqliteConnection& source) {
  MigrationCounts counts;
  const std::pair<int64_t*, std::string> queries[] = {
      {&counts.events, "SELECT COUNT(*) FROM events"},
      {&counts.event_ids, "SELECT COUNT(*) FROM event_ids"},
      {&counts.tombstones,
       "SELECT COUNT(*) FROM event_ids i WHERE NOT EXISTS"
       " (SELECT 1 FROM events e WHERE e.sequence = i.sequence)"},
      {&counts.subscriptions, "SELECT COUNT(*) FROM subscriptions"},
      {&counts.expired_events,
       "SELECT COALESCE(SUM(expired_events), 0) FROM subscriptions"},
      {&counts.deliveries, "SELECT COUNT(*) FROM deliveries"},
      {&counts.dead_letters,
       absl::StrCat("SELECT COUNT(*) FROM deliveries WHERE state = ",
                    static_cast<int>(DeliveryState::kDeadLettered))},
      {&counts.quarantined, "SELECT COUNT(*) FROM quarantine"},
      // The highest sequence handed out: the counter, unless a damaged
      // store has rows above it, so that new events never reuse one.
      {&counts.last_sequence,
       "SELECT MAX(COALESCE((SELECT last_sequence FROM sequence_counter"
       " WHERE id = 1), 0), COALESCE((SELECT MAX(sequence) FROM events), 0),"
       " COALESCE((SELECT MAX(sequence) FROM event_ids), 0))"},
  };
  for (const auto& [count, sql] : queries) {
    absl::StatusOr<int64_t> value = QueryInt64(source, sql);
    if (!value.ok()) return value.status();
    *count = *value;
  }
  return counts;
}

// Returns the highest quarantine id the source ever assigned. SQLite's
// AUTOINCREMENT keeps it in sqlite_sequence, so it counts deleted rows too.
absl::StatusOr<int64_t> LastQuarantineId(SqliteConnection& source) {
  return QueryInt64(source,
                    "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence"
                    " WHERE name = 'quarantine'), 0),"
                    " COALESCE((SELECT MAX(id) FROM quarantine), 0))");
}

absl::StatusOr<std::unique_ptr<PostgresConnection>> ConnectTarget(
    absl::string_view url) {
  absl::StatusOr<PostgresStoreUrl> parsed = ParsePostgresStoreUrl(url);
  if (!parsed.ok()) return parsed.status();
  absl::StatusOr<std::unique_ptr<PostgresConnection>> target =
      PostgresConnection::Connect({parsed->libpq_url, parsed->password});
  if (!target.ok()) return target.status();
  absl::Status migrated = MigratePostgresSchema(**target);
  if (!migrated.ok()) return migrated;
  return target;
}

// Starts the target's transaction and locks the store's tables against
// writes until it ends. A bridge still serving the target waits for the
// lock, so the lock timeout turns that into an error instead of a hang.
absl::Status BeginTarget(PostgresConnection& target) {
  absl::Status begun = target.ExecuteScript(
      "BEGIN ISOLATION LEVEL READ COMMITTED;"
      " SET LOCAL lock_timeout = '10s';"
      " SET LOCAL idle_in_transaction_session_timeout = '5min'");
  if (!begun.ok()) return begun;
  absl::Status locked = target.ExecuteScript(
      "LOCK TABLE sequence_counter, events, event_ids, subscriptions,"
      " deliveries, quarantine IN EXCLUSIVE MODE");
  if (!locked.ok()) {
    return absl::Status(
        locked.code(),
        absl::StrCat("cannot lock the target's tables: ", locked.message(),
                     "; stop every bridge that uses the target"));
  }
  return absl::OkStatus();
}

// Fails unless the target contains no events, ids, subscriptions,
// deliveries or quarantined requests and its sequence counter is 0.
absl::Status CheckTargetEmpty(PostgresConnection& target) {
  absl::StatusOr<PgResult> counts = target.Execute(
      "SELECT (SELECT COUNT(*) FROM events), (SELECT COUNT(*) FROM event_ids),"
      " (SELECT COUNT(*) FROM subscriptions),"
      " (SELECT COUNT(*) FROM deliveries), (SELECT COUNT(*) FROM quarantine),"
      " (SELECT COALESCE(MAX(last_sequence), 0) FROM sequence_counter)");
  if (!counts.ok()) return counts.status();
  const char* names[] = {"events",
                         "event ids",
                         "subscriptions",
                         "delivery rows",
                         "quarantined requests",
                         "last sequence"};
  std::vector<std::string> found;
  for (int column = 0; column < 6; ++column) {
    int64_t count = counts->Int64(0, column);
    if (count > 0) found.push_back(absl::StrCat(names[column], ": ", count));
  }
  if (found.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "the target database is not empty (", absl::StrJoin(found, ", "),
      "); migrate into an empty database or schema"));
}

// Sets the counters that number new rows, so that new events and
// quarantined requests follow the copied ones, and wakes any bridge that
// listens on the target.
absl::Status SetCounters(PostgresConnection& target, int64_t last_sequence,
                         int64_t last_quarantine_id) {
  absl::StatusOr<PgResult> counter = target.Execute(
      "UPDATE sequence_counter SET last_sequence = $1 WHERE id = 1",
      {PgParam::Int64(last_sequence)});
  if (!counter.ok()) return counter.status();
  if (last_quarantine_id > 0) {
    absl::StatusOr<PgResult> identity = target.Execute(
        "SELECT setval(pg_get_serial_sequence('quarantine', 'id'), $1)",
        {PgParam::Int64(last_quarantine_id)});
    if (!identity.ok()) return identity.status();
  }
  return target
      .Execute("SELECT pg_notify($1, $2)",
               {PgParam::Text(kPostgresCommitChannel),
                PgParam::Text(absl::StrCat(last_sequence))})
      .status();
}

// Reads the source's snapshot and writes it inside the target's open
// transaction.
absl::StatusOr<MigrationCounts> CopySnapshot(SqliteConnection& source,
                                             PostgresConnection& target,
                                             const MigrationOptions& options) {
  absl::StatusOr<MigrationCounts> counts = CountSource(source);
  if (!counts.ok()) return counts.status();
  absl::StatusOr<int64_t> last_quarantine_id = LastQuarantineId(source);
  if (!last_quarantine_id.ok()) return last_quarantine_id.status();
  if (options.on_source_counted) options.on_source_counted(*counts);

  for (const TableCopy& copy : MigrationTables(*counts)) {
    absl::Status copied = CopyTable(source, target, copy, options);
    if (!copied.ok()) {
      return absl::Status(
          copied.code(),
          absl::StrCat("copying ", copy.table, " failed: ", copied.message()));
    }
  }
  absl::Status set =
      SetCounters(target, counts->last_sequence, *last_quarantine_id);
  if (!set.ok()) return set;
  return counts;
}

// Runs the copy between the target's BEGIN and COMMIT, rolling back on any
// error. The source's read transaction spans the whole copy.
absl::StatusOr<MigrationCounts> MigrateInTransaction(
    SqliteConnection& source, PostgresConnection& target,
    const MigrationOptions& options) {
  absl::Status status = BeginTarget(target);
  if (status.ok()) status = CheckTargetEmpty(target);
  if (status.ok()) status = source.Execute("BEGIN");
  MigrationCounts counts;
  if (status.ok()) {
    absl::StatusOr<MigrationCounts> copied =
        CopySnapshot(source, target, options);
    source.Execute("COMMIT").IgnoreError();
    status = copied.status();
    if (copied.ok()) counts = *copied;
  }
  if (status.ok()) status = target.ExecuteScript("COMMIT");
  if (status.ok()) return counts;
  if (!target.broken()) target.ExecuteScript("ROLLBACK").IgnoreError();
  return status;
}

}  // namespace

absl::StatusOr<MigrationCounts> MigrateSqliteToPostgres(
    const std::string& sqlite_path, absl::string_view postgres_url,
    const MigrationOptions& options) {
  absl::StatusOr<std::unique_ptr<SqliteConnection>> source =
      OpenSource(sqlite_path);
  if (!source.ok()) return source.status();
  absl::Status schema = CheckSourceSchema(**source, sqlite_path);
  if (!schema.ok()) return schema;
  absl::StatusOr<std::unique_ptr<PostgresConnection>> target =
      ConnectTarget(postgres_url);
  if (!target.ok()) return target.status();
  return MigrateInTransaction(**source, **target, options);
}

}  // namespace paymento::bridge
