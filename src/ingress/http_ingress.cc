#include "src/ingress/http_ingress.h"

#include <random>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "src/logging/log.h"

namespace paymento::bridge {
namespace {

// Per-request facts for the access line. cpp-httplib runs the pre-routing
// handler, the route handler and the logger of one request on the same
// thread, one request at a time, so thread-local state is per request.
struct AccessState {
  absl::Time start;
  std::string request_id;
  std::string route;
  std::string outcome;
  std::string event_id;
  std::string event_type;
};
thread_local AccessState access_state;

std::string NewRequestId() {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  return absl::StrFormat("%016x", generator());
}

// Uses the caller's X-Request-Id when it is short and printable.
std::string RequestIdFor(const httplib::Request& request) {
  std::string id = request.get_header_value("X-Request-Id");
  if (id.empty() || id.size() > 64) return NewRequestId();
  for (char c : id) {
    if (!absl::ascii_isgraph(static_cast<unsigned char>(c))) {
      return NewRequestId();
    }
  }
  return id;
}

void Answer(httplib::Response& response, const IngressResponse& answer) {
  response.status = answer.status;
  response.set_content(answer.body, "application/json");
  if (answer.retry_after_seconds > 0) {
    response.set_header("Retry-After", absl::StrCat(answer.retry_after_seconds));
  }
  if (answer.close_connection) response.set_header("Connection", "close");
  access_state.outcome = answer.outcome;
  if (!answer.event_id.empty()) access_state.event_id = answer.event_id;
  if (!answer.event_type.empty()) access_state.event_type = answer.event_type;
}

}  // namespace

HttpIngress::HttpIngress(HttpIngressOptions options, WebhookHandler* handler)
    : options_(std::move(options)), handler_(handler) {
  server_.new_task_queue = [threads = options_.threads] {
    return new httplib::ThreadPool(threads);
  };
  // Without TCP_NODELAY each answer waits for the client's delayed ACK.
  server_.set_tcp_nodelay(true);
  server_.set_keep_alive_max_count(100000);
  server_.set_keep_alive_timeout(
      absl::ToInt64Seconds(options_.keep_alive_timeout));
  server_.set_read_timeout(absl::ToChronoMicroseconds(options_.read_timeout));
  server_.set_write_timeout(std::chrono::seconds(5));
  // A backstop only: PreRoute and Route enforce the real limit first.
  server_.set_payload_max_length(options_.max_body_bytes + 1);

  server_.set_pre_routing_handler(
      [this](const httplib::Request& request, httplib::Response& response) {
        return PreRoute(request, response);
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
  server_.Post(options_.webhook_path, webhook);
  server_.Post(options_.ipn_path, gateway);
  server_.Put(options_.ipn_path, gateway);
  server_.set_logger(
      [this](const httplib::Request& request,
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
  if (port_ <= 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen for HTTP on ", options_.host, ":", options_.port,
        ": the address is invalid or the port is in use"));
  }
  thread_ = std::thread([this] { server_.listen_after_bind(); });
  return absl::OkStatus();
}

void HttpIngress::Stop() {
  server_.stop();
  if (thread_.joinable()) thread_.join();
}

httplib::Server::HandlerResponse HttpIngress::PreRoute(
    const httplib::Request& request, httplib::Response& response) {
  access_state = AccessState{};
  access_state.start = absl::Now();
  access_state.request_id = RequestIdFor(request);
  response.set_header("X-Request-Id", access_state.request_id);

  bool webhook = request.path == options_.webhook_path;
  bool gateway = request.path == options_.ipn_path &&
                 handler_->gateway_callbacks_enabled();
  access_state.route = webhook ? "webhook" : gateway ? "ipn" : "other";
  if (!webhook && !gateway) {
    Answer(response, ErrorResponse(404, "not_found", "not found"));
    response.set_header("Connection", "close");
    return httplib::Server::HandlerResponse::Handled;
  }
  bool allowed = request.method == "POST" ||
                 (gateway && request.method == "PUT");
  if (!allowed) {
    Answer(response,
           ErrorResponse(405, "method_not_allowed", "method not allowed"));
    response.set_header("Allow", gateway ? "POST, PUT" : "POST");
    response.set_header("Connection", "close");
    return httplib::Server::HandlerResponse::Handled;
  }

  // Refused before reading: the unread body stays on the socket, so the
  // connection must close after the answer.
  std::string length = request.get_header_value("Content-Length");
  size_t declared = 0;
  if (!length.empty() && (!absl::SimpleAtoi(length, &declared) ||
                          declared > options_.max_body_bytes)) {
    IngressResponse answer =
        ErrorResponse(413, "too_large", "request body too large");
    answer.close_connection = true;
    Answer(response, answer);
    return httplib::Server::HandlerResponse::Handled;
  }
  std::string encoding = request.get_header_value("Content-Encoding");
  if (!encoding.empty() && !absl::EqualsIgnoreCase(encoding, "identity")) {
    IngressResponse answer = ErrorResponse(
        415, "unsupported_encoding", "compressed bodies are not accepted");
    answer.close_connection = true;
    Answer(response, answer);
    return httplib::Server::HandlerResponse::Handled;
  }
  if (draining_.load()) {
    IngressResponse answer =
        ErrorResponse(503, "shutting_down", "shutting down, retry later");
    answer.retry_after_seconds = 5;
    answer.close_connection = true;
    Answer(response, answer);
    return httplib::Server::HandlerResponse::Handled;
  }
  return httplib::Server::HandlerResponse::Unhandled;
}

void HttpIngress::Route(const httplib::Request& request,
                        httplib::Response& response,
                        const httplib::ContentReader& reader, bool gateway) {
  IngressRequest ingress;
  ingress.route = gateway ? "ipn" : "webhook";
  ingress.method = request.method;
  ingress.peer = absl::StrCat(request.remote_addr, ":", request.remote_port);
  ingress.request_id = access_state.request_id;
  ingress.received_at = access_state.start;
  for (const auto& [name, value] : request.headers) {
    // cpp-httplib adds these itself; they are not part of the request.
    if (name == "REMOTE_ADDR" || name == "REMOTE_PORT" ||
        name == "LOCAL_ADDR" || name == "LOCAL_PORT") {
      continue;
    }
    ingress.headers.emplace_back(name, value);
  }

  bool too_large = false;
  bool complete = reader([&](const char* data, size_t length) {
    if (ingress.body.size() + length > options_.max_body_bytes) {
      too_large = true;
      return false;
    }
    ingress.body.append(data, length);
    return true;
  });
  if (too_large) {
    IngressResponse answer =
        ErrorResponse(413, "too_large", "request body too large");
    answer.close_connection = true;
    Answer(response, answer);
    return;
  }
  if (!complete) {
    IngressResponse answer =
        ErrorResponse(400, "incomplete_body", "request body incomplete");
    answer.close_connection = true;
    Answer(response, answer);
    return;
  }

  Answer(response, gateway ? handler_->HandleGatewayCallback(ingress)
                           : handler_->HandleWebhook(ingress));
}

void HttpIngress::LogRequest(const httplib::Request& request,
                             const httplib::Response& response) {
  absl::Duration latency = absl::Now() - access_state.start;
  logging::Fields fields = {
      {"request_id", access_state.request_id},
      {"peer", absl::StrCat(request.remote_addr, ":", request.remote_port)},
      {"method", request.method},
      {"route", access_state.route},
      {"status", absl::StrCat(response.status)},
      {"latency_ms",
       absl::StrFormat("%.3f", absl::ToDoubleMilliseconds(latency))},
      {"outcome", access_state.outcome},
  };
  if (!access_state.event_id.empty()) {
    fields.emplace_back("event_id", access_state.event_id);
  }
  if (!access_state.event_type.empty()) {
    fields.emplace_back("event_type", access_state.event_type);
  }
  logging::Info("request", fields);
  if (options_.metrics != nullptr) {
    options_.metrics->CountRequest(access_state.route, response.status,
                                   access_state.outcome,
                                   access_state.event_type);
  }
}

}  // namespace paymento::bridge
