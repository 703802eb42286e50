// HttpIngress: the public HTTP or HTTPS listener (cpp-httplib) for
// Paymento's webhooks and gateway callbacks.
//
// Cheap rejections happen before any body byte is read: unknown paths (404)
// and methods (405), a Content-Length that is invalid (400) or over the
// limit (413), and a Transfer-Encoding other than chunked (501). So does any
// Content-Encoding but identity (415), which cpp-httplib would otherwise
// decompress. Each of them closes the connection, so the unread body is
// never parsed as another request. A chunked body is read through a callback
// that stops at the limit (413).
//
// Each connection is served on one pool thread for its whole life (see
// ingress_server.h), so the pool is sized for the expected connections and
// idle keep-alive connections close after keep_alive_timeout. A slow client
// keeps its thread for at most read_timeout per wait and request_timeout per
// request, then gets 408. tests/ingress/hostile_http_test.cc measured, on a
// two-core VM with the defaults: 408 after 10.0 s for a client sending one
// byte per second, and after 5.0 s for one that stops in the middle of its
// body. Request lines and header lines over 8192 bytes get 414 and 431, as
// do headers over 64 KiB in total.
//
// NOTE: with more open connections than threads, a new connection waits in
// cpp-httplib's queue until an idle one reaches keep_alive_timeout (0.8 to
// 1.8 s with 200 idle connections and 128 threads, measured as above).
//
// Every response is a short JSON object, and every request is logged as one
// line with its request id, peer, route, status, latency and outcome.
#ifndef PAYMENTO_BRIDGE_SRC_INGRESS_HTTP_INGRESS_H_
#define PAYMENTO_BRIDGE_SRC_INGRESS_HTTP_INGRESS_H_

#include <httplib.h>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "src/ingress/connection_stream.h"
#include "src/ingress/ingress_server.h"
#include "src/ingress/tls_server_context.h"
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
  // Connections the kernel queues before the listener accepts them; Linux
  // caps it at net.core.somaxconn.
  int listen_backlog = 1024;
  absl::Duration keep_alive_timeout = absl::Seconds(2);
  // Maximum wait for the next bytes of a request. A client that stalls
  // longer gets 408 and the connection closes.
  absl::Duration read_timeout = absl::Seconds(5);
  // Maximum time to receive one request, from its first byte to the last
  // byte of its body. A client that takes longer gets 408.
  absl::Duration request_timeout = absl::Seconds(10);
  // Counts every request with a response by outcome when set; must outlive the
  // ingress.
  Metrics* metrics = nullptr;
  // Serves HTTPS instead of HTTP when set (see tls_server_context.h).
  SslContextPtr tls;
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

  // While draining, every request gets 503 with Retry-After.
  void SetDraining(bool draining) { draining_.store(draining); }

 private:
  // Records the request id and route once the headers are parsed.
  void BeginRequest(httplib::Request& request);
  // Returns the response for a request rejected before its body is read, or
  // nullopt when its body may be read.
  std::optional<IngressResponse> Rejection(
      const httplib::Request& request) const;
  httplib::Server::HandlerResponse PreRoute(const httplib::Request& request,
                                            httplib::Response& response);
  // Returns the status for "Expect: 100-continue": 100, or the rejection
  // status, so that a rejected client never sends its body.
  int ExpectContinue(const httplib::Request& request,
                     httplib::Response& response);
  void Route(const httplib::Request& request, httplib::Response& response,
             const httplib::ContentReader& reader, bool gateway);
  // Reads the body into `body`. Returns the rejection when the body is too
  // large, too slow or incomplete.
  std::optional<IngressResponse> ReadBody(const httplib::Request& request,
                                          const httplib::ContentReader& reader,
                                          std::string* body) const;
  // Gives cpp-httplib's own error responses a JSON body and closes their
  // connection, and drops Keep-Alive from responses that close.
  void FinishResponse(const httplib::Request& request,
                      httplib::Response& response);
  // Writes and logs the response for a request line or headers that broke a
  // limit of `stream`.
  void RespondToLimit(ConnectionStream& stream, StreamLimit limit);
  // Logs and counts a connection whose TLS handshake failed.
  void HandshakeFailed(ConnectionStream& stream, const std::string& reason);
  void LogRequest(const httplib::Request& request,
                  const httplib::Response& response);
  void LogAccess(const std::string& method, const std::string& peer,
                 int status);

  const HttpIngressOptions options_;
  WebhookHandler* const handler_;
  IngressServer server_;
  std::thread thread_;
  std::atomic<bool> draining_{false};
  int port_ = 0;
};

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_INGRESS_HTTP_INGRESS_H_
