#include "src/ingress/http_ingress.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "src/config/listen_check.h"
#include "src/logging/log.h"

namespace paymento::bridge {
namespace {

// Content-Length values longer than this cannot be a size the ingress
// accepts, and could overflow when parsed.
constexpr size_t kMaxContentLengthDigits = 18;

std::string NewRequestId() {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  return absl::StrFormat("%016x", generator());
}

// Uses the caller's X-Request-Id when it is short and printable. An id with
// '@' could be a customer's e-mail address, which must not be logged.
std::string RequestIdFor(const httplib::Request& request) {
  std::string id = request.get_header_value("X-Request-Id");
  if (id.empty() || id.size() > 64) return NewRequestId();
  for (char c : id) {
    if (!absl::ascii_isgraph(static_cast<unsigned char>(c)) || c == '@') {
      return NewRequestId();
    }
  }
  return id;
}

std::vector<std::string> HeaderValues(const httplib::Request& request,
                                      const std::string& name) {
  std::vector<std::string> values;
  auto range = request.headers.equal_range(name);
  for (auto it = range.first; it != range.second; ++it) {
    values.push_back(it->second);
  }
  return values;
}

bool IsChunked(const httplib::Request& request) {
  std::vector<std::string> values = HeaderValues(request, "Transfer-Encoding");
  return values.size() == 1 &&
         absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(values[0]),
                                "chunked");
}

// Parses a Content-Length value: decimal digits only, as RFC 9110 section
// 8.6 defines it. strtoull, which cpp-httplib uses, would also take a sign,
// spaces, or trailing garbage.
bool ParseContentLength(const std::string& text, size_t* length) {
  if (text.empty() || text.size() > kMaxContentLengthDigits) return false;
  size_t value = 0;
  for (char c : text) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
    value = value * 10 + static_cast<size_t>(c - '0');
  }
  *length = value;
  return true;
}

// Returns "address:port" of the client, which cpp-httplib fills in only
// after a request parses.
std::string PeerOf(const ConnectionStream* stream) {
  std::string ip;
  int port = 0;
  if (stream != nullptr) stream->get_remote_ip_and_port(ip, port);
  return absl::StrCat(ip, ":", port);
}

IngressResponse Closing(IngressResponse response) {
  response.close_connection = true;
  return response;
}

// Returns the rejection for a Content-Encoding or Transfer-Encoding that the
// ingress does not decode, or nullopt.
std::optional<IngressResponse> EncodingRejection(
    const httplib::Request& request) {
  std::vector<std::string> transfer =
      HeaderValues(request, "Transfer-Encoding");
  if (!transfer.empty() && !IsChunked(request)) {
    return Closing(ErrorResponse(501, "unsupported_transfer_encoding",
                                 "only chunked transfer encoding is "
                                 "accepted"));
  }
  for (const std::string& value : HeaderValues(request, "Content-Encoding")) {
    absl::string_view coding = absl::StripAsciiWhitespace(value);
    if (!coding.empty() && !absl::EqualsIgnoreCase(coding, "identity")) {
      return Closing(ErrorResponse(415, "unsupported_encoding",
                                   "compressed bodies are not accepted"));
    }
  }
  return std::nullopt;
}

// Returns the rejection for a body whose declared size is invalid or over
// `max_body_bytes`, or nullopt.
std::optional<IngressResponse> LengthRejection(const httplib::Request& request,
                                               size_t max_body_bytes) {
  std::vector<std::string> lengths = HeaderValues(request, "Content-Length");
  if (lengths.empty()) return std::nullopt;
  size_t declared = 0;
  // Two lengths, or a length beside chunked encoding, let a proxy in front
  // and this server disagree about where the body ends.
  if (lengths.size() > 1 || IsChunked(request) ||
      !ParseContentLength(lengths[0], &declared)) {
    return Closing(
        ErrorResponse(400, "invalid_length", "invalid Content-Length"));
  }
  if (declared > max_body_bytes) {
    return Closing(ErrorResponse(413, "too_large", "request body too large"));
  }
  return std::nullopt;
}

IngressResponse LimitResponse(StreamLimit limit) {
  switch (limit) {
    case StreamLimit::kTimeout:
      return ErrorResponse(408, "timeout", "request timed out");
    case StreamLimit::kRequestLineTooLong:
      return ErrorResponse(414, "uri_too_long", "request line too long");
    case StreamLimit::kHeadersTooLarge:
      return ErrorResponse(431, "headers_too_large",
                           "request headers too large");
    case StreamLimit::kBodyTooLarge:
    case StreamLimit::kNone:
      break;
  }
  return ErrorResponse(413, "too_large", "request body too large");
}

const char* ReasonPhrase(int status) {
  switch (status) {
    case 408:
      return "Request Timeout";
    case 413:
      return "Payload Too Large";
    case 414:
      return "URI Too Long";
    case 431:
      return "Request Header Fields Too Large";
    default:
      return "Bad Request";
  }
}

void Answer(httplib::Response& response, const IngressResponse& answer) {
  RequestState& state = CurrentRequest();
  response.status = answer.status;
  response.set_content(answer.body, "application/json");
  if (answer.retry_after_seconds > 0) {
    response.set_header("Retry-After",
                        absl::StrCat(answer.retry_after_seconds));
  }
  if (answer.close_connection) {
    response.set_header("Connection", "close");
    state.close_connection = true;
  }
  state.answered = true;
  state.outcome = answer.outcome;
  if (!answer.event_id.empty()) state.event_id = answer.event_id;
  if (!answer.event_type.empty()) state.event_type = answer.event_type;
}

// Returns the headers of the request as the client sent them, from the
// stream's copy of the request head. cpp-httplib's own copy has its values
// percent-decoded and a hidden Content-Type removed (see BeginRequest).
std::vector<std::pair<std::string, std::string>> ReceivedHeaders(
    const httplib::Request& request, const ConnectionStream* stream) {
  if (stream != nullptr) return ParseHeaderBlock(stream->raw_head());
  std::vector<std::pair<std::string, std::string>> headers;
  for (const auto& [name, value] : request.headers) {
    // cpp-httplib adds these itself; they are not part of the request.
    if (name == "REMOTE_ADDR" || name == "REMOTE_PORT" ||
        name == "LOCAL_ADDR" || name == "LOCAL_PORT") {
      continue;
    }
    headers.emplace_back(name, value);
  }
  return headers;
}

// Returns `path` as a regular expression that matches only itself, because
// cpp-httplib 0.11.4 reads route patterns as std::regex.
std::string RegexLiteral(absl::string_view path) {
  std::string pattern;
  for (char c : path) {
    if (absl::StrContains("\\^$.|?*+()[]{}", c)) pattern.push_back('\\');
    pattern.push_back(c);
  }
  return pattern;
}

// Replaces a header of `response` rather than adding a second one.
void ReplaceHeader(httplib::Response& response, const std::string& name,
                   const std::string& value) {
  response.headers.erase(name);
  response.set_header(name, value);
}

}  // namespace

HttpIngress::HttpIngress(HttpIngressOptions options, WebhookHandler* handler)
    : options_(std::move(options)),
      handler_(handler),
      server_(
          [this] {
            IngressServerOptions server;
            server.limits.read_timeout = options_.read_timeout;
            server.limits.request_timeout = options_.request_timeout;
            // Chunk framing adds a few bytes per chunk, so twice the body
            // limit leaves room for chunks down to a few bytes each.
            server.limits.max_body_wire_bytes =
                2 * options_.max_body_bytes + 64 * 1024;
            server.keep_alive_timeout = options_.keep_alive_timeout;
            server.tls = options_.tls.get();
            return server;
          }(),
          [this](httplib::Request& request) { BeginRequest(request); },
          [this](ConnectionStream& stream, StreamLimit limit) {
            RespondToLimit(stream, limit);
          },
          [this](ConnectionStream& stream, const std::string& reason) {
            HandshakeFailed(stream, reason);
          }) {
  server_.new_task_queue = [threads = options_.threads] {
    return new httplib::ThreadPool(threads);
  };
  // Only advertised in the Keep-Alive header, because IngressServer
  // enforces both.
  server_.set_keep_alive_timeout(
      absl::ToInt64Seconds(options_.keep_alive_timeout));
  server_.set_keep_alive_max_count(IngressServerOptions().keep_alive_max_count);
  // cpp-httplib's default socket options add SO_REUSEPORT, which lets a
  // second process bind the same port and take part of its connections.
  server_.set_socket_options([](socket_t socket) {
    int yes = 1;
    setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  // Without TCP_NODELAY each response waits for the client's delayed ACK.
  server_.set_tcp_nodelay(true);
  // A backstop only, because Rejection and ReadBody enforce the real limit
  // first.
  server_.set_payload_max_length(options_.max_body_bytes + 1);

  server_.set_pre_routing_handler(
      [this](const httplib::Request& request, httplib::Response& response) {
        return PreRoute(request, response);
      });
  server_.set_expect_100_continue_handler(
      [this](const httplib::Request& request, httplib::Response& response) {
        return ExpectContinue(request, response);
      });
  auto webhook = [this](const httplib::Request& request,
                        httplib::Response& response,
                        const httplib::ContentReader& reader) {
    Route(request, response, reader, /*gateway=*/false);
  };
  auto gateway = [this](const httplib::Request& request,
                        httplib::Response& response,
                        const httplib::ContentReader& reader) {
    Route(request, response, reader, /*gateway=*/true);
  };
  server_.Post(RegexLiteral(options_.webhook_path), webhook);
  server_.Post(RegexLiteral(options_.ipn_path), gateway);
  server_.Put(RegexLiteral(options_.ipn_path), gateway);
  server_.set_post_routing_handler(
      [this](const httplib::Request& request, httplib::Response& response) {
        FinishResponse(request, response);
      });
  server_.set_logger([this](const httplib::Request& request,
                            const httplib::Response& response) {
    LogRequest(request, response);
  });
}

HttpIngress::~HttpIngress() { Stop(); }

absl::Status HttpIngress::Start() {
  if (options_.port == 0) {
    port_ = server_.bind_to_any_port(options_.host);
  } else if (server_.bind_to_port(options_.host, options_.port)) {
    port_ = options_.port;
  }
  if (port_ <= 0) return ListenFailure("HTTP", {options_.host, options_.port});
  if (!server_.SetListenBacklog(options_.listen_backlog)) {
    logging::Warn("cannot raise the HTTP listen backlog",
                  {{"listen_backlog", absl::StrCat(options_.listen_backlog)},
                   {"error", std::strerror(errno)}});
  }
  thread_ = StartListenLoop(server_);
  return absl::OkStatus();
}

void HttpIngress::Stop() {
  server_.stop();
  if (thread_.joinable()) thread_.join();
}

void HttpIngress::BeginRequest(httplib::Request& request) {
  RequestState& state = CurrentRequest();
  state.request_id = RequestIdFor(request);
  bool webhook = request.path == options_.webhook_path;
  bool gateway = request.path == options_.ipn_path &&
                 handler_->gateway_callbacks_enabled();
  state.route = "other";
  if (webhook) state.route = "webhook";
  if (gateway) state.route = "ipn";

  // cpp-httplib parses a multipart/form-data body itself, even through a
  // content reader. Content-Type is no reason to reject a signed body, so
  // the header is hidden from it. Route takes the headers from the stream.
  if (request.is_multipart_form_data()) request.headers.erase("Content-Type");
}

std::optional<IngressResponse> HttpIngress::Rejection(
    const httplib::Request& request) const {
  const std::string& route = CurrentRequest().route;
  if (route == "other") {
    return Closing(ErrorResponse(404, "not_found", "not found"));
  }
  bool allowed =
      request.method == "POST" || (route == "ipn" && request.method == "PUT");
  if (!allowed) {
    return Closing(
        ErrorResponse(405, "method_not_allowed", "method not allowed"));
  }

  // The size is checked first, so an oversized compressed body gets 413.
  std::optional<IngressResponse> rejection =
      LengthRejection(request, options_.max_body_bytes);
  if (!rejection) rejection = EncodingRejection(request);
  if (rejection) return rejection;

  if (draining_.load()) {
    IngressResponse answer =
        ErrorResponse(503, "shutting_down", "shutting down, retry later");
    answer.retry_after_seconds = 5;
    return Closing(answer);
  }
  return std::nullopt;
}

httplib::Server::HandlerResponse HttpIngress::PreRoute(
    const httplib::Request& request, httplib::Response& response) {
  std::optional<IngressResponse> rejection = Rejection(request);
  if (!rejection) return httplib::Server::HandlerResponse::Unhandled;
  Answer(response, *rejection);
  if (rejection->status == 405) {
    response.set_header("Allow",
                        CurrentRequest().route == "ipn" ? "POST, PUT" : "POST");
  }
  return httplib::Server::HandlerResponse::Handled;
}

int HttpIngress::ExpectContinue(const httplib::Request& request,
                                httplib::Response& response) {
  if (PreRoute(request, response) ==
      httplib::Server::HandlerResponse::Unhandled) {
    return 100;
  }
  return response.status;
}

void HttpIngress::Route(const httplib::Request& request,
                        httplib::Response& response,
                        const httplib::ContentReader& reader, bool gateway) {
  const RequestState& state = CurrentRequest();
  IngressRequest ingress;
  ingress.route = gateway ? "ipn" : "webhook";
  ingress.method = request.method;
  ingress.peer = absl::StrCat(request.remote_addr, ":", request.remote_port);
  ingress.request_id = state.request_id;
  ingress.received_at = state.start;
  ingress.headers = ReceivedHeaders(request, state.stream);

  std::optional<IngressResponse> rejection =
      ReadBody(request, reader, &ingress.body);
  if (rejection) {
    Answer(response, *rejection);
    return;
  }
  Answer(response, gateway ? handler_->HandleGatewayCallback(ingress)
                           : handler_->HandleWebhook(ingress));
}

std::optional<IngressResponse> HttpIngress::ReadBody(
    const httplib::Request& request, const httplib::ContentReader& reader,
    std::string* body) const {
  // RFC 9112 section 6.3: a request with neither header has no body.
  // cpp-httplib would instead read until the client closes.
  if (!IsChunked(request) && !request.has_header("Content-Length")) {
    return std::nullopt;
  }

  bool too_large = false;
  bool complete = reader([&](const char* data, size_t length) {
    if (body->size() + length > options_.max_body_bytes) {
      too_large = true;
      return false;
    }
    body->append(data, length);
    return true;
  });
  if (complete) return std::nullopt;

  ConnectionStream* stream = CurrentRequest().stream;
  StreamLimit limit = stream != nullptr ? stream->limit() : StreamLimit::kNone;
  if (too_large || limit == StreamLimit::kBodyTooLarge) {
    return Closing(ErrorResponse(413, "too_large", "request body too large"));
  }
  if (limit == StreamLimit::kTimeout) {
    return Closing(ErrorResponse(408, "timeout", "request timed out"));
  }
  return Closing(
      ErrorResponse(400, "incomplete_body", "request body incomplete"));
}

void HttpIngress::FinishResponse(const httplib::Request& request,
                                 httplib::Response& response) {
  RequestState& state = CurrentRequest();
  if (state.request_id.empty()) state.request_id = NewRequestId();
  if (!response.has_header("X-Request-Id")) {
    response.set_header("X-Request-Id", state.request_id);
  }
  if (!state.answered) {
    // cpp-httplib's own response to a request it could not parse, such as a
    // malformed request line or Range header. Where that request ends is
    // uncertain, so the connection closes.
    state.outcome = "invalid_request";
    state.close_connection = true;
    if (state.route.empty()) state.route = "other";
    if (response.body.empty()) {
      response.body = R"({"error":"invalid request"})";
      ReplaceHeader(response, "Content-Type", "application/json");
      ReplaceHeader(response, "Content-Length",
                    absl::StrCat(response.body.size()));
    }
    ReplaceHeader(response, "Connection", "close");
  }
  // cpp-httplib sets Content-Length only for routed responses, not for the
  // rejection of "Expect: 100-continue".
  if (!response.body.empty() && !response.has_header("Content-Length")) {
    response.set_header("Content-Length", absl::StrCat(response.body.size()));
  }
  if (response.get_header_value("Connection") == "close") {
    response.headers.erase("Keep-Alive");
    // cpp-httplib adds one more when the request has "Connection: close",
    // beside the one a rejection sets.
    if (response.headers.count("Connection") > 1) {
      ReplaceHeader(response, "Connection", "close");
    }
  }
}

void HttpIngress::RespondToLimit(ConnectionStream& stream, StreamLimit limit) {
  RequestState& state = CurrentRequest();
  IngressResponse answer = LimitResponse(limit);
  state.answered = true;
  state.close_connection = true;
  state.outcome = answer.outcome;
  if (state.request_id.empty()) state.request_id = NewRequestId();
  if (state.route.empty()) state.route = "other";

  std::string bytes = absl::StrCat(
      "HTTP/1.1 ", answer.status, " ", ReasonPhrase(answer.status),
      "\r\nConnection: close\r\nContent-Length: ", answer.body.size(),
      "\r\nContent-Type: application/json\r\nX-Request-Id: ", state.request_id,
      "\r\n\r\n", answer.body);
  // The client may have gone, and the response is logged either way.
  stream.WriteAll(bytes);

  LogAccess("", PeerOf(&stream), answer.status);
}

void HttpIngress::HandshakeFailed(ConnectionStream& stream,
                                  const std::string& reason) {
  if (options_.metrics != nullptr) options_.metrics->CountTlsHandshakeFailure();
  logging::Info("TLS handshake failed",
                {{"peer", PeerOf(&stream)}, {"reason", reason}});
}

void HttpIngress::LogRequest(const httplib::Request& request,
                             const httplib::Response& response) {
  const RequestState& state = CurrentRequest();
  // For a request line or headers over a limit, cpp-httplib's own 400 was
  // not sent, and RespondToLimit logs the response that was.
  if (state.stream != nullptr && state.stream->limit() != StreamLimit::kNone &&
      !state.answered) {
    return;
  }
  LogAccess(request.method, PeerOf(state.stream), response.status);
}

void HttpIngress::LogAccess(const std::string& method, const std::string& peer,
                            int status) {
  const RequestState& state = CurrentRequest();
  absl::Duration latency = absl::Now() - state.start;
  logging::Fields fields = {
      {"request_id", state.request_id},
      {"peer", peer},
      {"method", method},
      {"route", state.route},
      {"status", absl::StrCat(status)},
      {"latency_ms",
       absl::StrFormat("%.3f", absl::ToDoubleMilliseconds(latency))},
      {"outcome", state.outcome},
  };
  if (!state.event_id.empty()) {
    fields.emplace_back("event_id", LoggableValue(state.event_id));
  }
  if (!state.event_type.empty()) {
    fields.emplace_back("event_type", LoggableValue(state.event_type));
  }
  logging::InfoBuffered("request", fields);
  if (options_.metrics != nullptr) {
    options_.metrics->CountRequest(state.route, status, state.outcome,
                                   state.event_type);
  }
}

}  // namespace paymento::bridge
