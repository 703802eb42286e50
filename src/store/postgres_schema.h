// Versioned schema migrations for the PostgreSQL store. Migrations run in
// order inside one transaction that first takes a transaction-scoped
// advisory lock, so replicas that start together wait for each other and
// the schema is migrated once. Each applied version is recorded in
// schema_migrations.
//
// Tables are created in the first schema of the session's search_path, so
// a URL with options=-csearch_path%3Dname keeps a deployment in its own
// schema.
#ifndef PAYMENTO_BRIDGE_SRC_STORE_POSTGRES_SCHEMA_H_
#define PAYMENTO_BRIDGE_SRC_STORE_POSTGRES_SCHEMA_H_

#include <cstdint>

#include "absl/status/status.h"
#include "src/store/postgres_connection.h"

namespace paymento::bridge {

// Fails with FAILED_PRECONDITION when the database was migrated by a newer
// binary than this one.
absl::Status MigratePostgresSchema(PostgresConnection& connection);

// Migrates up to version `target`. Only tests pass a target below
// PostgresSchemaVersion(), to build a database as an older binary left it.
absl::Status MigratePostgresSchemaTo(PostgresConnection& connection,
                                     int64_t target);

// The schema version this binary migrates PostgreSQL databases to.
int64_t PostgresSchemaVersion();

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_STORE_POSTGRES_SCHEMA_H_
