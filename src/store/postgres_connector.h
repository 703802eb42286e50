// PostgresConnector: opens the PostgreSQL store's connections, spaces
// attempts while the database is unreachable, and tracks whether it is
// reachable.
//
// Every connection of a store (the writer, the read pool and the commit
// listener) connects through one connector, so they share one view of the
// database: after a failed attempt the next ones fail at once with the last
// error until a delay has passed, and the delay doubles with each failure
// up to a maximum. The first success resets it. A change between reachable
// and unreachable is logged once, whichever connection saw it.
#ifndef PAYMENTO_BRIDGE_SRC_STORE_POSTGRES_CONNECTOR_H_
#define PAYMENTO_BRIDGE_SRC_STORE_POSTGRES_CONNECTOR_H_

#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "src/store/postgres_connection.h"

namespace paymento::bridge {

class PostgresConnector {
 public:
  PostgresConnector(PostgresConnectionConfig config, absl::Duration min_delay,
                    absl::Duration max_delay);

  // Opens a connection. While the delay after a failed attempt runs, fails
  // at once with UNAVAILABLE and the last error instead of trying.
  absl::StatusOr<std::unique_ptr<PostgresConnection>> Connect();
  // Records that `connection` was lost, with the error that showed it, so
  // that the database counts as unreachable until a connection succeeds
  // again. A connection opened before the database last became reachable
  // again is stale, lost in an outage that is already over, and changes
  // nothing: after a restart every idle connection fails once.
  void ReportLost(const PostgresConnection& connection,
                  const absl::Status& error);

  // OK while the database is reachable; UNAVAILABLE with the last error
  // otherwise.
  absl::Status status() const;

 private:
  // Records a successful connection opened at `connected_at`.
  void MarkReachable(absl::Time connected_at);
  void MarkUnreachable(const absl::Status& error)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const PostgresConnectionConfig config_;
  const absl::Duration min_delay_;
  const absl::Duration max_delay_;

  mutable absl::Mutex mu_;
  bool reachable_ ABSL_GUARDED_BY(mu_) = true;
  absl::Status last_error_ ABSL_GUARDED_BY(mu_);
  absl::Duration delay_ ABSL_GUARDED_BY(mu_);
  // Attempts before this time fail at once.
  absl::Time next_attempt_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  // When the database last became reachable after being unreachable.
  absl::Time reachable_since_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_STORE_POSTGRES_CONNECTOR_H_
