// Helpers for the ingress tests that run the real binary: a raw TCP client
// for hand-written (and hostile) HTTP requests, request signing, and checks
// of what a request left behind: a stored event, a quarantined request, or
// nothing.
#ifndef PAYMENTO_BRIDGE_TESTS_INGRESS_INGRESS_TEST_SUPPORT_H_
#define PAYMENTO_BRIDGE_TESTS_INGRESS_INGRESS_TEST_SUPPORT_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "paymento/bridge/v1/event_service.grpc.pb.h"
#include "tests/testing/bridge_process.h"

namespace paymento::bridge::ingress_test {

using Headers = std::vector<std::pair<std::string, std::string>>;

// One HTTP response as read from the socket.
struct RawResponse {
  // 0 when no status line arrived.
  int status = 0;
  // The header block, without the status line.
  std::string headers;
  std::string body;
  // True when the server closed the connection after the response.
  bool closed = false;
  // From the end of sending to the end of the response.
  absl::Duration elapsed;

  // Returns the first value of header `name`, compared without regard to
  // case, or "".
  std::string Header(absl::string_view name) const;
  // Returns how many times header `name` appears, compared without regard
  // to case.
  int HeaderCount(absl::string_view name) const;
};

// A client TCP connection to 127.0.0.1.
class RawConnection {
 public:
  explicit RawConnection(int port);
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return socket_ >= 0; }
  // True once a read saw the server close or reset the connection.
  bool peer_closed() const { return peer_closed_; }
  // Sends all of `bytes`. False when the server has closed or reset.
  bool Send(absl::string_view bytes);
  // Reads one response, with a Content-Length body or up to the close, within
  // `timeout`. Then waits up to `close_wait` to see whether the server
  // closes the connection.
  RawResponse ReadResponse(absl::Duration timeout,
                           absl::Duration close_wait = absl::Milliseconds(500));
  // Reads every byte until the server closes or `timeout` passes.
  std::string ReadAll(absl::Duration timeout);

 private:
  // Reads more bytes into buffer_. Returns false on close, reset or timeout.
  bool Fill(absl::Time deadline);

  int socket_ = -1;
  std::string buffer_;
  bool peer_closed_ = false;
};

// Sends `bytes` on a new connection and reads one response. `close_wait` is
// as for RawConnection::ReadResponse; by default RawResponse::closed is not
// checked.
RawResponse SendRaw(int port, absl::string_view bytes,
                    absl::Duration timeout = absl::Seconds(5),
                    absl::Duration close_wait = absl::ZeroDuration());

// Builds a request with the given headers and body, and a Content-Length
// header unless `headers` contains a Transfer-Encoding header.
std::string HttpRequest(absl::string_view method, absl::string_view path,
                        const Headers& headers, absl::string_view body);

// Returns the body as chunked transfer coding, in chunks of `chunk_size`.
std::string Chunked(absl::string_view body, size_t chunk_size);

// Returns a webhook body with the given id, type and createdAt.
std::string WebhookBody(absl::string_view id, absl::string_view type,
                        absl::Time created_at);
// Returns an RFC 3339 time in UTC, as Paymento writes createdAt.
std::string Rfc3339(absl::Time time);

// Returns a gateway callback body.
std::string GatewayBody(
    int64_t payment_id, int64_t order_status,
    absl::string_view token = "0123456789abcdef0123456789abcdef");

// What a request left behind.
enum class StoreEffect { kNothing, kStored, kQuarantined, kDuplicate };
std::string EffectName(StoreEffect effect);

// The store as seen over gRPC, before and after a request.
class StoreProbe {
 public:
  explicit StoreProbe(const test_support::BridgeProcess& bridge);

  // Remembers the current last event and quarantine record, and the
  // duplicate count of `event_id` when it is stored.
  void Mark(absl::string_view event_id = "");
  // Classifies what was added since Mark(): a new event, a new quarantine
  // record, a repeat of the marked event id (its duplicate count grew), or
  // nothing. Fails the calling test when both an event and a record
  // appeared.
  StoreEffect SinceMark();

  // The events added since Mark().
  std::vector<v1::Event> NewEvents();
  // The quarantine records added since Mark(), oldest first.
  std::vector<v1::QuarantinedRequest> NewQuarantined();

  std::optional<v1::EventStatus> GetEvent(absl::string_view id);
  std::vector<v1::QuarantinedRequest> AllQuarantined();

  v1::EventService::Stub& stub() { return *stub_; }

 private:
  std::vector<v1::Event> AllEvents();

  std::unique_ptr<v1::EventService::Stub> stub_;
  int64_t last_sequence_ = 0;
  int64_t last_quarantine_id_ = 0;
  int64_t duplicates_ = 0;
  std::string marked_id_;
};

// Returns the HTTP status of GET /readyz on the admin port, or 0.
int Readiness(const test_support::BridgeProcess& bridge);

// Writes `contents` to `path`, replacing the file. Returns false on
// failure.
bool WriteFile(const std::string& path, absl::string_view contents);

}  // namespace paymento::bridge::ingress_test

#endif  // PAYMENTO_BRIDGE_TESTS_INGRESS_INGRESS_TEST_SUPPORT_H_
