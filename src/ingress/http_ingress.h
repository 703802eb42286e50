// HttpIngress: the public HTTP listener (cpp-httplib) for Paymento's
// webhooks and gateway callbacks.
//
// Cheap refusals happen before any body byte is read: unknown paths (404)
// and methods (405), a Content-Length that is invalid (400) or over the
// limit (413), a Transfer-Encoding other than chunked (501), and any
// Content-Encoding but identity (415), which cpp-httplib would otherwise
// decompress. Each of them closes the connection, so the unread body is
// never parsed as another request. A chunked body is read through a callback
// that stops at the limit (413).
//
// Each connection is served on one pool thread for its whole life (see
// ingress_server.h), so the pool is sized for the expected connections and
// idle keep-alive connections close after keep_alive_timeout. A slow client
// holds its thread for at most read_timeout per wait and request_timeout per
// request, then gets 408. Request lines and header lines over 8192 bytes get
// 414 and 431, as do headers over 64 KiB in total.
//
// Every answer is a short JSON object, and every request is logged as one
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
  // Longest wait for the next bytes of a request; a client that stalls
  // longer gets 408 and the connection closes.
  absl::Duration read_timeout = absl::Seconds(5);
  // Longest time to receive one request, from its first byte to the last
  // byte of its body; a client that takes longer gets 408.
  absl::Duration request_timeout = absl::Seconds(10);
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
  // Records the request id and route once the headers are parsed.
  void BeginRequest(httplib::Request& request);
  // Returns the answer for a request refused before its body is read, or
  // nullopt when its body may be read.
  std::optional<IngressResponse> Refusal(
      const httplib::Request& request) const;
  httplib::Server::HandlerResponse PreRoute(const httplib::Request& request,
                                            httplib::Response& response);
  // Answers "Expect: 100-continue": 100, or the refusal status, so that a
  // refused client never sends its body.
  int ExpectContinue(const httplib::Request& request,
                     httplib::Response& response);
  void Route(const httplib::Request& request, httplib::Response& response,
             const httplib::ContentReader& reader, bool gateway);
  // Reads the body into `body`. Returns the refusal when the body is too
  // large, too slow or incomplete.
  std::optional<IngressResponse> ReadBody(
      const httplib::Request& request, const httplib::ContentReader& reader,
      std::string* body) const;
  // Gives cpp-httplib's own error answers a JSON body and closes their
  // connection, and drops Keep-Alive from answers that close.
  void FinishResponse(const httplib::Request& request,
                      httplib::Response& response);
  // Writes and logs the answer for a request line or headers that broke a
  // limit of `stream`.
  void AnswerLimit(ConnectionStream& stream, StreamLimit limit);
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
