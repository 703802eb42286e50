#include "src/store/write_health_log.h"

#include "src/logging/log.h"

namespace paymento::bridge {

void WriteHealthLog::Report(const absl::Status& status) {
  bool healthy = status.ok();
  if (healthy_.exchange(healthy) == healthy) return;
  if (healthy) {
    logging::Info("store writes recovered", {{"store", store_}});
    return;
  }
  logging::Error("store writes failing",
                 {{"store", store_}, {"error", std::string(status.message())}});
}

}  // namespace paymento::bridge
