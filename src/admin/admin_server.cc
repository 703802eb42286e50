#include "src/admin/admin_server.h"

#include <sys/socket.h>

#include <utility>

#include "nlohmann/json.hpp"
#include "src/config/listen_check.h"

namespace paymento::bridge {
namespace {

// cpp-httplib sets SO_REUSEPORT by default, which lets a second process bind
// the same port without an error. SO_REUSEADDR alone still allows a quick
// restart, and makes "port in use" fail at start-up as it should.
void ReuseAddressOnly(socket_t socket) {
  int yes = 1;
  setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
}

}  // namespace

AdminServer::AdminServer(std::string host, int port, ReadinessCheck readiness,
                         MetricsRenderer metrics)
    : host_(std::move(host)),
      requested_port_(port),
      readiness_(std::move(readiness)),
      metrics_(std::move(metrics)) {
  server_.new_task_queue = [] { return new httplib::ThreadPool(4); };
  server_.set_socket_options(ReuseAddressOnly);
  server_.set_tcp_nodelay(true);
  server_.set_keep_alive_timeout(2);
  server_.set_payload_max_length(4096);
  // Every path here is read-only: other methods get 405 before any body is
  // read, and unknown paths a JSON 404.
  server_.set_pre_routing_handler(
      [](const httplib::Request& req, httplib::Response& res) {
        bool known = req.path == "/healthz" || req.path == "/readyz" ||
                     req.path == "/metrics";
        if (!known) {
          res.status = 404;
          res.set_content(R"({"error":"not found"})", "application/json");
          return httplib::Server::HandlerResponse::Handled;
        }
        if (req.method != "GET" && req.method != "HEAD") {
          res.status = 405;
          res.set_header("Allow", "GET, HEAD");
          res.set_content(
              R"({"error":"method not allowed: use GET or HEAD"})",
              "application/json");
          return httplib::Server::HandlerResponse::Handled;
        }
        return httplib::Server::HandlerResponse::Unhandled;
      });
  server_.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"status":"ok"})", "application/json");
  });
  server_.Get("/readyz", [this](const httplib::Request&,
                                httplib::Response& res) {
    absl::Status ready = readiness_();
    if (ready.ok()) {
      res.set_content(R"({"status":"ready"})", "application/json");
      return;
    }
    res.status = 503;
    res.set_content(nlohmann::json{{"status", "not ready"},
                                   {"reason", std::string(ready.message())}}
                        .dump(),
                    "application/json");
  });
  server_.Get("/metrics", [this](const httplib::Request&,
                                 httplib::Response& res) {
    res.set_content(metrics_(), "text/plain; version=0.0.4; charset=utf-8");
  });
}

AdminServer::~AdminServer() { Stop(); }

absl::Status AdminServer::Start() {
  if (requested_port_ == 0) {
    port_ = server_.bind_to_any_port(host_);
  } else if (server_.bind_to_port(host_, requested_port_)) {
    port_ = requested_port_;
  }
  if (port_ <= 0) return ListenFailure("admin HTTP", {host_, requested_port_});
  thread_ = StartListenLoop(server_);
  return absl::OkStatus();
}

void AdminServer::Stop() {
  server_.stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace paymento::bridge
