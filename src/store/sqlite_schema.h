// Versioned schema migrations for the SQLite store. Each migration runs once,
// in order, inside one transaction, and is recorded in schema_migrations.
#ifndef PAYMENTO_BRIDGE_SRC_STORE_SQLITE_SCHEMA_H_
#define PAYMENTO_BRIDGE_SRC_STORE_SQLITE_SCHEMA_H_

#include <cstdint>

#include "absl/status/status.h"
#include "src/store/sqlite_connection.h"

namespace paymento::bridge {

absl::Status MigrateSqliteSchema(SqliteConnection& connection);

// Migrates up to version `target`. Only tests pass a target below
// SqliteSchemaVersion(), to build a store as an older binary left it.
absl::Status MigrateSqliteSchemaTo(SqliteConnection& connection,
                                   int64_t target);

// The schema version this binary migrates SQLite stores to.
int64_t SqliteSchemaVersion();

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_STORE_SQLITE_SCHEMA_H_
