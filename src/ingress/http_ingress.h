// HttpIngress: the public HTTP listener (cpp-httplib) for Paymento's
// webhooks and gateway callbacks.
//
// Cheap refusals happen before any body byte is read: unknown paths and
// methods, a Content-Length over the limit (answered with Connection:
// close), and any Content-Encoding but identity, which cpp-httplib would
// otherwise decompress. Chunked bodies are read through a callback that
// stops at the limit. cpp-httplib serves each connection on one pool thread
// for its whole life, so the pool is sized for the expected connections and
// idle keep-alive connections are closed after a short timeout.
#ifndef PAYMENTO_BRIDGE_SRC_INGRESS_HTTP_INGRESS_H_
#define PAYMENTO_BRIDGE_SRC_INGRESS_HTTP_INGRESS_H_

#include <httplib.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "src/ingress/webhook_handler.h"
#include "src/metrics/metrics.h"

namespace paymento::bridge {

struct HttpIngressOptions {
  std::string host = "0.0.0.0";
  int port = 8080;
  std::string webhook_path = "/webhook";
  std::string ipn_path = "/ipn";
  size_t max_body_bytes = 262144;
  // Threads serving connections; one per open connection.
  int threads = 128;
  absl::Duration keep_alive_timeout = absl::Seconds(2);
  // Longest wait for the next bytes of a request before the connection is
  // closed.
  absl::Duration read_timeout = absl::Seconds(5);
  // Counts every answered request by outcome when set; must outlive the
  // ingress.
  Metrics* metrics = nullptr;
};

class HttpIngress {
 public:
  HttpIngress(HttpIngressOptions options, WebhookHandler* handler);
  ~HttpIngress();

  // Binds the port and starts serving on a background thread. Fails with a
  // message naming the address when it cannot bind.
  absl::Status Start();
  // Stops accepting and closes connections; requests in flight finish.
  void Stop();

  // The bound port, useful when options.port was 0.
  int port() const { return port_; }

  // While draining, every request is answered 503 with Retry-After.
  void SetDraining(bool draining) { draining_.store(draining); }

 private:
  void Route(const httplib::Request& request, httplib::Response& response,
             const httplib::ContentReader& reader, bool gateway);
  httplib::Server::HandlerResponse PreRoute(const httplib::Request& request,
                                            httplib::Response& response);
  void LogRequest(const httplib::Request& request,
                  const httplib::Response& response);

  const HttpIngressOptions options_;
  WebhookHandler* const handler_;
  httplib::Server server_;
  std::thread thread_;
  std::atomic<bool> draining_{false};
  int port_ = 0;
};

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_INGRESS_HTTP_INGRESS_H_
