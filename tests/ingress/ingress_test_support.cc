#include "tests/ingress/ingress_test_support.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "tests/testing/bridge_client.h"

namespace paymento::bridge::ingress_test {
namespace {

int PollMilliseconds(absl::Duration timeout) {
  return static_cast<int>(
      std::max<int64_t>(0, absl::ToInt64Milliseconds(timeout)));
}

}  // namespace

namespace {

// Returns the values of header `name` in `block`, in order.
std::vector<std::string> HeaderValues(absl::string_view block,
                                      absl::string_view name) {
  std::vector<std::string> values;
  for (absl::string_view line : absl::StrSplit(block, "\r\n")) {
    size_t colon = line.find(':');
    if (colon == absl::string_view::npos) continue;
    if (absl::EqualsIgnoreCase(line.substr(0, colon), name)) {
      values.emplace_back(absl::StripAsciiWhitespace(line.substr(colon + 1)));
    }
  }
  return values;
}

}  // namespace

std::string RawResponse::Header(absl::string_view name) const {
  std::vector<std::string> values = HeaderValues(headers, name);
  return values.empty() ? "" : values.front();
}

int RawResponse::HeaderCount(absl::string_view name) const {
  return static_cast<int>(HeaderValues(headers, name).size());
}

RawConnection::RawConnection(int port) {
  socket_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(socket_, reinterpret_cast<sockaddr*>(&address),
                sizeof(address)) != 0) {
    ::close(socket_);
    socket_ = -1;
  }
}

RawConnection::~RawConnection() {
  if (socket_ >= 0) ::close(socket_);
}

bool RawConnection::Send(absl::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t sent = ::send(socket_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) continue;
    if (sent <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(sent));
  }
  return true;
}

bool RawConnection::Fill(absl::Time deadline) {
  if (peer_closed_) return false;
  pollfd descriptor{socket_, POLLIN, 0};
  if (::poll(&descriptor, 1, PollMilliseconds(deadline - absl::Now())) <= 0) {
    return false;
  }
  char block[16384];
  ssize_t received = ::recv(socket_, block, sizeof(block), 0);
  if (received <= 0) {
    peer_closed_ = true;
    return false;
  }
  buffer_.append(block, static_cast<size_t>(received));
  return true;
}

RawResponse RawConnection::ReadResponse(absl::Duration timeout,
                                        absl::Duration close_wait) {
  RawResponse response;
  absl::Time start = absl::Now();
  absl::Time deadline = start + timeout;
  size_t header_end = std::string::npos;
  while ((header_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
    if (!Fill(deadline)) {
      response.elapsed = absl::Now() - start;
      response.closed = peer_closed_;
      return response;
    }
  }
  std::string head = buffer_.substr(0, header_end);
  buffer_.erase(0, header_end + 4);
  size_t line_end = head.find("\r\n");
  std::string status_line = head.substr(0, line_end);
  response.headers =
      line_end == std::string::npos ? "" : head.substr(line_end + 2);
  std::vector<std::string> parts = absl::StrSplit(status_line, ' ');
  if (parts.size() >= 2) absl::SimpleAtoi(parts[1], &response.status);

  size_t length = 0;
  bool has_length =
      absl::SimpleAtoi(response.Header("Content-Length"), &length);
  while (has_length ? buffer_.size() < length : true) {
    if (!Fill(deadline)) break;
  }
  size_t body_length =
      has_length ? std::min(length, buffer_.size()) : buffer_.size();
  response.body = buffer_.substr(0, body_length);
  buffer_.erase(0, body_length);
  response.elapsed = absl::Now() - start;

  absl::Time close_deadline = absl::Now() + close_wait;
  while (!peer_closed_ && buffer_.empty() && Fill(close_deadline)) {
  }
  response.closed = peer_closed_ && buffer_.empty();
  return response;
}

std::string RawConnection::ReadAll(absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (Fill(deadline)) {
  }
  std::string all = std::move(buffer_);
  buffer_.clear();
  return all;
}

RawResponse SendRaw(int port, absl::string_view bytes, absl::Duration timeout,
                    absl::Duration close_wait) {
  RawConnection connection(port);
  // A server that closes early may reset the rest of a long request, but
  // the response that it sent first is still read.
  connection.Send(bytes);
  return connection.ReadResponse(timeout, close_wait);
}

std::string HttpRequest(absl::string_view method, absl::string_view path,
                        const Headers& headers, absl::string_view body) {
  std::string request =
      absl::StrCat(method, " ", path, " HTTP/1.1\r\nHost: 127.0.0.1\r\n");
  bool chunked = false;
  for (const auto& [name, value] : headers) {
    if (absl::EqualsIgnoreCase(name, "Transfer-Encoding")) chunked = true;
    absl::StrAppend(&request, name, ": ", value, "\r\n");
  }
  if (!chunked)
    absl::StrAppend(&request, "Content-Length: ", body.size(), "\r\n");
  absl::StrAppend(&request, "\r\n", body);
  return request;
}

std::string Chunked(absl::string_view body, size_t chunk_size) {
  std::string encoded;
  while (!body.empty()) {
    absl::string_view chunk = body.substr(0, chunk_size);
    absl::StrAppend(&encoded, absl::StrFormat("%x", chunk.size()), "\r\n",
                    chunk, "\r\n");
    body.remove_prefix(chunk.size());
  }
  absl::StrAppend(&encoded, "0\r\n\r\n");
  return encoded;
}

std::string Rfc3339(absl::Time time) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", time, absl::UTCTimeZone());
}

std::string WebhookBody(absl::string_view id, absl::string_view type,
                        absl::Time created_at) {
  nlohmann::ordered_json body;
  body["event"] = {{"id", std::string(id)},
                   {"type", std::string(type)},
                   {"createdAt", Rfc3339(created_at)},
                   {"apiVersion", "v1"}};
  body["paymentLink"] = {{"id", "pl_ingress_1"}, {"status", "paid"}};
  body["customer"] = {{"email", "buyer@example.com"}, {"name", "Buyer"}};
  body["merchant"] = {{"id", "mrc_ingress_1"}, {"name", "Shop"}};
  return body.dump();
}

std::string GatewayBody(int64_t payment_id, int64_t order_status,
                        absl::string_view token) {
  return absl::StrCat(R"({"Token":")", token, R"(","PaymentId":)", payment_id,
                      R"(,"OrderId":"order-)", payment_id,
                      R"(","OrderStatus":)", order_status,
                      R"(,"AdditionalData":[]})");
}

std::string EffectName(StoreEffect effect) {
  switch (effect) {
    case StoreEffect::kNothing:
      return "nothing";
    case StoreEffect::kStored:
      return "stored";
    case StoreEffect::kQuarantined:
      return "quarantined";
    case StoreEffect::kDuplicate:
      return "duplicate";
  }
  return "?";
}

StoreProbe::StoreProbe(const test_support::BridgeProcess& bridge)
    : stub_(test_support::NewStub(bridge)) {}

std::vector<v1::Event> StoreProbe::AllEvents() {
  std::vector<v1::Event> events;
  v1::ListEventsRequest request;
  request.set_page_size(1000);
  for (;;) {
    grpc::ClientContext context;
    v1::ListEventsResponse response;
    grpc::Status status = stub_->ListEvents(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    if (!status.ok()) break;
    events.insert(events.end(), response.events().begin(),
                  response.events().end());
    if (response.next_page_token().empty()) break;
    request.set_page_token(response.next_page_token());
  }
  return events;
}

std::vector<v1::QuarantinedRequest> StoreProbe::AllQuarantined() {
  std::vector<v1::QuarantinedRequest> records;
  v1::ListQuarantinedRequest request;
  request.set_page_size(1000);
  for (;;) {
    grpc::ClientContext context;
    v1::ListQuarantinedResponse response;
    grpc::Status status = stub_->ListQuarantined(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    if (!status.ok()) break;
    records.insert(records.end(), response.requests().begin(),
                   response.requests().end());
    if (response.next_page_token().empty()) break;
    request.set_page_token(response.next_page_token());
  }
  // ListQuarantined is newest first.
  std::reverse(records.begin(), records.end());
  return records;
}

std::optional<v1::EventStatus> StoreProbe::GetEvent(absl::string_view id) {
  grpc::ClientContext context;
  v1::GetEventRequest request;
  request.set_id(std::string(id));
  v1::EventStatus status;
  if (!stub_->GetEvent(&context, request, &status).ok()) return std::nullopt;
  return status;
}

void StoreProbe::Mark(absl::string_view event_id) {
  std::vector<v1::Event> events = AllEvents();
  last_sequence_ = events.empty() ? 0 : events.back().sequence();
  std::vector<v1::QuarantinedRequest> records = AllQuarantined();
  last_quarantine_id_ = records.empty() ? 0 : records.back().id();
  marked_id_ = std::string(event_id);
  duplicates_ = 0;
  if (!marked_id_.empty()) {
    std::optional<v1::EventStatus> stored = GetEvent(marked_id_);
    if (stored) duplicates_ = stored->duplicate_count();
  }
}

std::vector<v1::Event> StoreProbe::NewEvents() {
  std::vector<v1::Event> added;
  for (v1::Event& event : AllEvents()) {
    if (event.sequence() > last_sequence_) added.push_back(std::move(event));
  }
  return added;
}

std::vector<v1::QuarantinedRequest> StoreProbe::NewQuarantined() {
  std::vector<v1::QuarantinedRequest> added;
  for (v1::QuarantinedRequest& record : AllQuarantined()) {
    if (record.id() > last_quarantine_id_) added.push_back(std::move(record));
  }
  return added;
}

StoreEffect StoreProbe::SinceMark() {
  bool stored = !NewEvents().empty();
  bool quarantined = !NewQuarantined().empty();
  EXPECT_FALSE(stored && quarantined)
      << "a request was both stored and quarantined";
  if (stored) return StoreEffect::kStored;
  if (quarantined) return StoreEffect::kQuarantined;
  if (!marked_id_.empty()) {
    std::optional<v1::EventStatus> event = GetEvent(marked_id_);
    if (event && event->duplicate_count() > duplicates_) {
      return StoreEffect::kDuplicate;
    }
  }
  return StoreEffect::kNothing;
}

int Readiness(const test_support::BridgeProcess& bridge) {
  httplib::Client admin(bridge.admin_base());
  admin.set_connection_timeout(2);
  httplib::Result ready = admin.Get("/readyz");
  return ready ? ready->status : 0;
}

bool WriteFile(const std::string& path, absl::string_view contents) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << contents;
  file.close();
  return static_cast<bool>(file);
}

}  // namespace paymento::bridge::ingress_test
