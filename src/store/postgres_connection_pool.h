// PostgresConnectionPool: a fixed number of PostgreSQL connections for
// reads and for the writes that do not go through the group commit,
// borrowed one at a time and connected on first use.
//
// A connection found lost is dropped and its slot connects again on the
// next borrow, through the store's PostgresConnector, which spaces the
// attempts while the database is unreachable. Work that fails because an
// idle connection had been lost meanwhile (after a database restart every
// pooled connection is) runs once more on a new connection, so a restart
// costs no caller an error.
#ifndef PAYMENTO_BRIDGE_SRC_STORE_POSTGRES_CONNECTION_POOL_H_
#define PAYMENTO_BRIDGE_SRC_STORE_POSTGRES_CONNECTION_POOL_H_

#include <memory>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "src/store/postgres_connection.h"
#include "src/store/postgres_connector.h"

namespace paymento::bridge {

class PostgresConnectionPool {
 public:
  // `connector` must outlive the pool.
  PostgresConnectionPool(PostgresConnector* connector, int size);

  // Runs `work(PostgresConnection&)` on a borrowed connection and returns
  // its result, an absl::Status or absl::StatusOr. Blocks while every
  // connection is borrowed. `work` must leave the connection outside a
  // transaction, rolling back on its own errors; it may run twice, so it
  // must be safe to repeat after a connection loss.
  template <typename Work>
  auto Run(Work work) -> decltype(work(std::declval<PostgresConnection&>())) {
    for (int attempt = 0;; ++attempt) {
      absl::StatusOr<Slot> slot = Borrow();
      if (!slot.ok()) return slot.status();
      auto result = work(*slot->connection);
      absl::Status status = StatusOf(result);
      bool lost = !status.ok() && slot->connection->broken();
      bool was_idle = slot->was_idle;
      Return(std::move(*slot), lost, status);
      if (!lost || !was_idle || attempt > 0) return result;
    }
  }

 private:
  struct Slot {
    std::unique_ptr<PostgresConnection> connection;
    // Whether the connection existed before this borrow, so it may have
    // been lost while idle.
    bool was_idle = false;
  };

  static absl::Status StatusOf(const absl::Status& status) { return status; }
  template <typename T>
  static absl::Status StatusOf(const absl::StatusOr<T>& result) {
    return result.status();
  }

  absl::StatusOr<Slot> Borrow();
  // Puts the slot back; a lost connection is dropped and reported.
  void Return(Slot slot, bool lost, const absl::Status& status);

  PostgresConnector* const connector_;
  absl::Mutex mu_;
  // Free slots; a null connection is one not connected yet.
  std::vector<std::unique_ptr<PostgresConnection>> free_ ABSL_GUARDED_BY(mu_);
};

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_STORE_POSTGRES_CONNECTION_POOL_H_
