// The transport-independent form of an ingress request and its response, so
// that the webhook logic is tested without an HTTP server.
#ifndef PAYMENTO_BRIDGE_SRC_INGRESS_INGRESS_REQUEST_H_
#define PAYMENTO_BRIDGE_SRC_INGRESS_INGRESS_REQUEST_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace paymento::bridge {

struct IngressRequest {
  std::string route;  // "webhook" or "ipn"
  std::string method;
  std::string peer;
  std::string request_id;
  // Every header as received, in order; repeated headers appear repeatedly.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  absl::Time received_at;

  // Returns every value of the header `name`, compared without regard to
  // case.
  std::vector<std::string> HeaderValues(absl::string_view name) const;
  // Returns the first value of `name`, or false when it is absent.
  bool FirstHeader(absl::string_view name, std::string* value) const;
};

struct IngressResponse {
  int status = 200;
  // A short JSON object such as {"received":true}.
  std::string body;
  // One word for the access log and metrics: accepted, duplicate,
  // invalid_signature, malformed, stale, conflict, unavailable, ...
  std::string outcome;
  std::string event_id;
  std::string event_type;
  // Sent as Retry-After when positive.
  int retry_after_seconds = 0;
  // Asks the server to close the connection after the response.
  bool close_connection = false;
};

// Builds a JSON error response {"error":"<message>"}.
IngressResponse ErrorResponse(int status, absl::string_view outcome,
                              absl::string_view message);

// Parses the header lines of a request head as received: the request line,
// then "Name: value" lines ending in CRLF, up to an empty line. Values keep
// their bytes, without the spaces and tabs around them. Lines without CRLF
// or without a colon are skipped, as cpp-httplib skips them.
std::vector<std::pair<std::string, std::string>> ParseHeaderBlock(
    absl::string_view head);

// Maximum size, in bytes, of a value that LoggableValue keeps whole.
inline constexpr size_t kMaxLoggedValueBytes = 256;

// Returns a value taken from a request, such as an event id, for a log line:
// masked with logging::MaskEmail when it contains '@', because it could be a
// customer's e-mail address, and cut after kMaxLoggedValueBytes, with its
// length noted, so that a signed body cannot make a line of any size.
std::string LoggableValue(absl::string_view value);

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_INGRESS_INGRESS_REQUEST_H_
