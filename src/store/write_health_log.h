// WriteHealthLog: logs a store's commits failing and recovering once per
// change of state, not once per failed commit.
#ifndef PAYMENTO_BRIDGE_SRC_STORE_WRITE_HEALTH_LOG_H_
#define PAYMENTO_BRIDGE_SRC_STORE_WRITE_HEALTH_LOG_H_

#include <atomic>
#include <string>
#include <utility>

#include "absl/status/status.h"

namespace paymento::bridge {

class WriteHealthLog {
 public:
  // `store` names the store in each line: "sqlite" or "postgres".
  explicit WriteHealthLog(std::string store) : store_(std::move(store)) {}

  // Logs an error for the first failed commit after a success, and a
  // recovery for the first success after a failure.
  void Report(const absl::Status& status);

 private:
  const std::string store_;
  std::atomic<bool> healthy_{true};
};

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_STORE_WRITE_HEALTH_LOG_H_
