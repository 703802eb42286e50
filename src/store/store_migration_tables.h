// The tables `paymento-bridge migrate` copies from a SQLite store into a
// PostgreSQL store, and the copy of one table in batches. The migration as
// a whole is in store_migration.h.
#ifndef PAYMENTO_BRIDGE_SRC_STORE_STORE_MIGRATION_TABLES_H_
#define PAYMENTO_BRIDGE_SRC_STORE_STORE_MIGRATION_TABLES_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "src/store/postgres_connection.h"
#include "src/store/sqlite_connection.h"
#include "src/store/store_migration.h"

namespace paymento::bridge {

// Reads one source row as the parameters of one target row, in the order
// of the target's columns.
using RowReader =
    std::function<absl::StatusOr<std::vector<PgParam>>(const SqliteStatement&)>;

// The copy of one table's rows. The tables and columns are those of
// schema version 2 of both stores (sqlite_schema.cc, postgres_schema.cc);
// a schema change that adds state must add it here too.
struct TableCopy {
  // The name progress reports and errors use, such as "event ids".
  const char* table;
  // Selects every row of the source.
  const char* select_sql;
  // The target statement up to its VALUES keyword.
  const char* insert_sql;
  // One row's VALUES tuple, with parameters numbered from $1.
  const char* row_values;
  RowReader read_row;
  int64_t total;
};

// The copies of every table that contains state, in the order they run,
// each with its row count from `counts` for progress reports.
std::vector<TableCopy> MigrationTables(const MigrationCounts& counts);

// Copies every row of `copy` from `source` into the open transaction of
// `target`, in INSERT statements of at most `options.batch_size` rows or
// 16 MiB of values, and reports progress after each.
absl::Status CopyTable(SqliteConnection& source, PostgresConnection& target,
                       const TableCopy& copy, const MigrationOptions& options);

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_STORE_STORE_MIGRATION_TABLES_H_
