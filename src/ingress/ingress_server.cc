#include "src/ingress/ingress_server.h"

#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <utility>

#include "absl/time/clock.h"

namespace paymento::bridge {
namespace {

thread_local RequestState current_request;

// Names the calling pool thread once, for top -H and perf. cpp-httplib
// creates the pool's threads itself.
void NameConnectionThread() {
  thread_local bool named = false;
  if (named) return;
  named = true;
  pthread_setname_np(pthread_self(), "http-ingress");
}

}  // namespace

RequestState& CurrentRequest() { return current_request; }

IngressServer::IngressServer(IngressServerOptions options,
                             HeadersHandler on_headers, LimitHandler on_limit,
                             HandshakeFailureHandler on_handshake_failure)
    : options_(std::move(options)),
      on_headers_(std::move(on_headers)),
      on_limit_(std::move(on_limit)),
      on_handshake_failure_(std::move(on_handshake_failure)) {}

bool IngressServer::SetListenBacklog(int backlog) {
  // Calling listen(2) again on a listening socket changes only its backlog.
  return ::listen(svr_sock_, backlog) == 0;
}

bool IngressServer::Stopping() const { return svr_sock_ == INVALID_SOCKET; }

bool IngressServer::process_and_close_socket(socket_t socket) {
  NameConnectionThread();
  ConnectionStream stream(socket, options_.limits, options_.tls);
  std::string tls_error;
  if (!stream.Handshake(&tls_error)) {
    if (on_handshake_failure_) on_handshake_failure_(stream, tls_error);
    ::shutdown(socket, SHUT_RDWR);
    ::close(socket);
    return true;
  }
  AfterRequest after = AfterRequest::kClose;
  for (size_t count = 1; count <= options_.keep_alive_max_count; ++count) {
    bool waiting = stream.WaitForRequest(options_.keep_alive_timeout,
                                         [this] { return Stopping(); });
    if (!waiting) break;
    after = ServeRequest(stream, count == options_.keep_alive_max_count);
    if (after != AfterRequest::kKeepAlive) break;
  }
  CurrentRequest() = RequestState{};

  if (after == AfterRequest::kCloseAndDrain) {
    stream.ShutdownAndDrain(options_.drain_time, options_.drain_bytes);
  } else {
    stream.SendCloseNotify();
    ::shutdown(socket, SHUT_RDWR);
  }
  ::close(socket);
  return true;
}

IngressServer::AfterRequest IngressServer::ServeRequest(
    ConnectionStream& stream, bool last) {
  RequestState& state = CurrentRequest();
  state = RequestState{};
  state.start = absl::Now();
  state.stream = &stream;
  stream.BeginRequest();

  bool connection_closed = false;
  bool written = process_request(stream, last, connection_closed,
                                 [&](httplib::Request& request) {
                                   stream.BeginBody();
                                   on_headers_(request);
                                 });
  // The response leaves now, not when the next request is awaited.
  stream.Flush();

  StreamLimit limit = stream.limit();
  if (limit != StreamLimit::kNone && !state.answered) {
    on_limit_(stream, limit);
  }
  if (limit == StreamLimit::kTimeout || stream.peer_closed()) {
    // A slow or departed client gets no extra time to drain.
    return AfterRequest::kClose;
  }
  if (limit != StreamLimit::kNone || state.close_connection) {
    return AfterRequest::kCloseAndDrain;
  }
  if (!written || connection_closed || last) return AfterRequest::kClose;
  return AfterRequest::kKeepAlive;
}

}  // namespace paymento::bridge
