// Copies a SQLite store into an empty PostgreSQL store, for teams that
// outgrow the embedded store (`paymento-bridge migrate`).
//
// Everything the service reads is copied as it is stored. That is events
// with their sequence numbers and serialized bytes, event ids with their
// duplicate counts (tombstones of deleted events included), and the
// sequence counter. It is also durable subscriptions with their cursors and
// expired counts, every delivery row (dead letters included), and
// quarantined requests with their ids. Subscribers' cursors, ack ids' sequences and GetEvent keys therefore
// mean the same on the target.
//
// The source is read inside one SQLite read transaction, so the copy is one
// consistent snapshot. In WAL mode that transaction does not block a
// running service, but what the service commits after the snapshot is not
// copied.
//
// The target's schema is created or upgraded first. The rows then go in
// multi-row INSERT batches, all inside one transaction that first locks the
// store's tables and checks that they are empty. An interrupted or failed
// migration therefore commits nothing, and running it again starts over.
#ifndef PAYMENTO_BRIDGE_SRC_STORE_STORE_MIGRATION_H_
#define PAYMENTO_BRIDGE_SRC_STORE_STORE_MIGRATION_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace paymento::bridge {

// Rows of each kind in the source, which are also the rows copied.
struct MigrationCounts {
  int64_t events = 0;
  // Rows of event_ids, tombstones included.
  int64_t event_ids = 0;
  // Event ids whose events retention deleted.
  int64_t tombstones = 0;
  int64_t subscriptions = 0;
  int64_t deliveries = 0;
  // Delivery rows in the dead-lettered state.
  int64_t dead_letters = 0;
  // Sum of the subscriptions' counts of events deleted unacknowledged.
  int64_t expired_events = 0;
  int64_t quarantined = 0;
  // The source's sequence counter, which the target's counter is set to.
  int64_t last_sequence = 0;
};

// Rows of one table copied so far.
struct MigrationProgress {
  std::string table;
  int64_t copied = 0;
  int64_t total = 0;
};

struct MigrationOptions {
  // Maximum rows in one INSERT statement. A batch also ends once its values
  // reach 16 MiB, since events and quarantined requests carry whole bodies.
  int batch_size = 1000;
  // Called after every batch, from the calling thread.
  std::function<void(const MigrationProgress&)> on_progress;
  // Called once the source is counted, before anything is written.
  std::function<void(const MigrationCounts&)> on_source_counted;
};

// Copies the SQLite store at `sqlite_path` into the PostgreSQL database
// `postgres_url` names (a store URL; its store parameters are ignored).
// Errors:
//   - NOT_FOUND: there is no file at `sqlite_path`.
//   - FAILED_PRECONDITION: the source is not a store of this binary's
//     schema version, or the target already has data (the message lists
//     what it found).
//   - INVALID_ARGUMENT: a source value cannot be stored as PostgreSQL text.
//   - UNAVAILABLE: either database cannot be read or reached.
// No message contains the URL's password.
absl::StatusOr<MigrationCounts> MigrateSqliteToPostgres(
    const std::string& sqlite_path, absl::string_view postgres_url,
    const MigrationOptions& options = {});

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_STORE_STORE_MIGRATION_H_
