// IngressServer: a cpp-httplib 0.11.4 server whose connections are served
// by this project's own loop, over a ConnectionStream.
//
// cpp-httplib's own loop has three flaws for a public listener, each seen
// with a raw-socket client against Debian's build:
//   - a response with "Connection: close" does not close the connection, so
//     the unread body of a rejected request is parsed as the next request.
//   - bytes of a pipelined request that arrived with the previous one are
//     dropped, because it waits on the socket and not on its buffer.
//   - a request has no overall deadline and no limit on header bytes (see
//     connection_stream.h).
// The loop here overrides Server::process_and_close_socket, as cpp-httplib's
// own SSLServer does, reuses its parsing and routing through the protected
// Server::process_request, and closes the connection when the response
// requires it.
//
// Each connection is served on one pool thread for its whole life, one
// request at a time, so the state of the current request is kept per thread
// (CurrentRequest()) for the routing handlers and the logger.
#ifndef PAYMENTO_BRIDGE_SRC_INGRESS_INGRESS_SERVER_H_
#define PAYMENTO_BRIDGE_SRC_INGRESS_INGRESS_SERVER_H_

#include <httplib.h>

#include <cstddef>
#include <functional>
#include <string>

#include "absl/time/time.h"
#include "src/ingress/connection_stream.h"

namespace paymento::bridge {

// The request that this thread serves, filled in by the ingress handlers.
struct RequestState {
  absl::Time start;
  std::string request_id;
  // webhook, ipn or other.
  std::string route;
  // The access log's outcome word, empty until a response is chosen.
  std::string outcome;
  std::string event_id;
  std::string event_type;
  // Set by a handler whose response closes the connection.
  bool close_connection = false;
  // Set when the ingress chose the response, rather than cpp-httplib's own
  // error handling.
  bool answered = false;
  // The stream the request arrives on, or null outside a request.
  ConnectionStream* stream = nullptr;
};

// Returns the state of the request that the calling thread serves.
RequestState& CurrentRequest();

struct IngressServerOptions {
  StreamLimits limits;
  // Maximum wait for the next request on an open connection.
  absl::Duration keep_alive_timeout = absl::Seconds(2);
  size_t keep_alive_max_count = 100000;
  // After rejecting a request whose body was not read, the time and bytes
  // spent discarding what the client still sends before the socket closes.
  absl::Duration drain_time = absl::Seconds(1);
  size_t drain_bytes = 256 * 1024;
  // Serves HTTPS with this context when set; owned by the caller and
  // outliving the server.
  SSL_CTX* tls = nullptr;
};

class IngressServer : public httplib::Server {
 public:
  // Called on the connection's thread once the request line and headers
  // are parsed, before routing. It may change the request's headers.
  using HeadersHandler = std::function<void(httplib::Request&)>;
  // Called on the connection's thread for a request whose request line or
  // headers broke a limit. It writes the whole response with
  // ConnectionStream::WriteAll and logs it. The connection then closes.
  using LimitHandler = std::function<void(ConnectionStream&, StreamLimit)>;
  // Called on the connection's thread when a TLS handshake fails, with the
  // reason. The connection then closes without a response.
  using HandshakeFailureHandler =
      std::function<void(ConnectionStream&, const std::string&)>;

  IngressServer(IngressServerOptions options, HeadersHandler on_headers,
                LimitHandler on_limit,
                HandshakeFailureHandler on_handshake_failure = nullptr);

  // Sets the listen backlog of the bound socket; call after bind_to_port.
  // cpp-httplib 0.11.4 as Debian builds it listens with a backlog of 5, so
  // a burst of new connections overflows the queue and waits for TCP
  // retransmissions. Returns false with errno set when listen(2) fails.
  bool SetListenBacklog(int backlog);

 private:
  enum class AfterRequest { kKeepAlive, kClose, kCloseAndDrain };

  bool process_and_close_socket(socket_t socket) override;

  // Serves one request from `stream`, and returns what happens to the
  // connection next. With `last`, cpp-httplib's response carries
  // "Connection: close".
  AfterRequest ServeRequest(ConnectionStream& stream, bool last);
  bool Stopping() const;

  const IngressServerOptions options_;
  const HeadersHandler on_headers_;
  const LimitHandler on_limit_;
  const HandshakeFailureHandler on_handshake_failure_;
};

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_INGRESS_INGRESS_SERVER_H_
