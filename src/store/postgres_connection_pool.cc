#include "src/store/postgres_connection_pool.h"

#include <algorithm>

namespace paymento::bridge {

PostgresConnectionPool::PostgresConnectionPool(PostgresConnector* connector,
                                               int size)
    : connector_(connector) {
  absl::MutexLock lock(&mu_);
  free_.resize(static_cast<size_t>(std::max(1, size)));
}

absl::StatusOr<PostgresConnectionPool::Slot> PostgresConnectionPool::Borrow() {
  Slot slot;
  {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](std::vector<std::unique_ptr<PostgresConnection>>* free) {
          return !free->empty();
        },
        &free_));
    // Connected slots first, so a pool that is partly connected does not
    // open connections it does not need.
    auto connected =
        std::find_if(free_.begin(), free_.end(),
                     [](const std::unique_ptr<PostgresConnection>& connection) {
                       return connection != nullptr;
                     });
    if (connected != free_.end()) std::iter_swap(connected, free_.end() - 1);
    slot.connection = std::move(free_.back());
    free_.pop_back();
  }
  slot.was_idle = slot.connection != nullptr;
  if (slot.connection == nullptr || slot.connection->broken()) {
    slot.was_idle = false;
    absl::StatusOr<std::unique_ptr<PostgresConnection>> connection =
        connector_->Connect();
    if (!connection.ok()) {
      absl::MutexLock lock(&mu_);
      free_.push_back(nullptr);
      return connection.status();
    }
    slot.connection = std::move(*connection);
  }
  return slot;
}

void PostgresConnectionPool::Return(Slot slot, bool lost,
                                    const absl::Status& status) {
  if (lost) {
    connector_->ReportLost(*slot.connection, status);
    slot.connection.reset();
  }
  absl::MutexLock lock(&mu_);
  free_.push_back(std::move(slot.connection));
}

}  // namespace paymento::bridge
