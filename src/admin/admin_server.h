// AdminServer: the operator's HTTP port, apart from the public ingress:
// GET /healthz (the process is alive), GET /readyz (the service can take
// traffic, as a readiness function reports) and GET /metrics (Prometheus
// text format, as a render function returns it).
#ifndef PAYMENTO_BRIDGE_SRC_ADMIN_ADMIN_SERVER_H_
#define PAYMENTO_BRIDGE_SRC_ADMIN_ADMIN_SERVER_H_

#include <httplib.h>

#include <functional>
#include <string>
#include <thread>

#include "absl/status/status.h"

namespace paymento::bridge {

class AdminServer {
 public:
  // Returns OK when ready, or the reason it is not.
  using ReadinessCheck = std::function<absl::Status()>;
  // Returns the metrics page in the Prometheus text exposition format.
  using MetricsRenderer = std::function<std::string()>;

  AdminServer(std::string host, int port, ReadinessCheck readiness,
              MetricsRenderer metrics);
  ~AdminServer();

  absl::Status Start();
  void Stop();
  int port() const { return port_; }

 private:
  const std::string host_;
  const int requested_port_;
  ReadinessCheck readiness_;
  MetricsRenderer metrics_;
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_ADMIN_ADMIN_SERVER_H_
