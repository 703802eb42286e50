#include "src/ingress/connection_stream.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/time/clock.h"

namespace paymento::bridge {
namespace {

// Bytes requested from recv() at once. cpp-httplib's line reader reads
// headers one byte at a time, so they are served from this block.
constexpr size_t kReadBlockBytes = 16 * 1024;

// How often WaitForRequest checks whether the server is stopping.
constexpr absl::Duration kStopCheckInterval = absl::Milliseconds(100);

int ToPollMilliseconds(absl::Duration timeout) {
  if (timeout <= absl::ZeroDuration()) return 0;
  // Rounds up, so that a wait never ends just before a deadline.
  return static_cast<int>(
      std::min<int64_t>(absl::ToInt64Milliseconds(timeout) + 1, 1 << 30));
}

void AddressOf(const sockaddr_storage& address, socklen_t length,
               std::string& ip, int& port) {
  char host[NI_MAXHOST];
  char service[NI_MAXSERV];
  if (getnameinfo(reinterpret_cast<const sockaddr*>(&address), length, host,
                  sizeof(host), service, sizeof(service),
                  NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    return;
  }
  ip = host;
  port = std::atoi(service);
}

}  // namespace

ConnectionStream::ConnectionStream(int socket, StreamLimits limits)
    : socket_(socket), limits_(limits) {}

bool ConnectionStream::WaitForRequest(absl::Duration idle_timeout,
                                      const std::function<bool()>& stopping) {
  if (buffer_offset_ < buffer_.size()) return true;
  absl::Time give_up = absl::Now() + idle_timeout;
  for (;;) {
    if (stopping()) return false;
    absl::Duration left = give_up - absl::Now();
    if (left <= absl::ZeroDuration()) return false;
    if (Poll(POLLIN, std::min(left, kStopCheckInterval))) return true;
  }
}

void ConnectionStream::BeginRequest() {
  phase_ = Phase::kHeaders;
  deadline_ = absl::Now() + limits_.request_timeout;
  raw_head_.clear();
  header_bytes_ = 0;
  line_bytes_ = 0;
  in_request_line_ = true;
  body_bytes_ = 0;
}

void ConnectionStream::BeginBody() { phase_ = Phase::kBody; }

bool ConnectionStream::Poll(short events, absl::Duration timeout) const {
  pollfd descriptor{socket_, events, 0};
  int ready = 0;
  do {
    ready = ::poll(&descriptor, 1, ToPollMilliseconds(timeout));
  } while (ready < 0 && errno == EINTR);
  return ready > 0;
}

bool ConnectionStream::FillBuffer() {
  absl::Duration left = deadline_ - absl::Now();
  if (left <= absl::ZeroDuration()) {
    HitLimit(StreamLimit::kTimeout);
    return false;
  }
  buffer_.resize(kReadBlockBytes);
  buffer_offset_ = 0;
  // The bytes have usually arrived already, so recv is tried before poll:
  // one system call per read instead of two.
  ssize_t received = 0;
  for (;;) {
    received = ::recv(socket_, buffer_.data(), buffer_.size(), MSG_DONTWAIT);
    if (received >= 0) break;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) break;
    if (!Poll(POLLIN, std::min(left, limits_.read_timeout))) {
      buffer_.clear();
      HitLimit(StreamLimit::kTimeout);
      return false;
    }
  }
  if (received <= 0) {
    buffer_.clear();
    peer_closed_ = true;
    return false;
  }
  buffer_.resize(static_cast<size_t>(received));
  return true;
}

void ConnectionStream::HitLimit(StreamLimit limit) {
  limit_ = limit;
  // cpp-httplib responds to a header read failure with its own plain 400,
  // and the caller sends the response for the limit instead.
  if (phase_ == Phase::kHeaders) writes_disabled_ = true;
}

bool ConnectionStream::Account(const char* data, size_t size) {
  if (phase_ == Phase::kBody) {
    body_bytes_ += size;
    if (body_bytes_ > limits_.max_body_wire_bytes) {
      HitLimit(StreamLimit::kBodyTooLarge);
      return false;
    }
    return true;
  }
  for (size_t i = 0; i < size; ++i) {
    ++header_bytes_;
    ++line_bytes_;
    if (line_bytes_ > limits_.max_line_bytes) {
      HitLimit(in_request_line_ ? StreamLimit::kRequestLineTooLong
                                : StreamLimit::kHeadersTooLarge);
      return false;
    }
    if (header_bytes_ > limits_.max_header_bytes) {
      HitLimit(StreamLimit::kHeadersTooLarge);
      return false;
    }
    if (data[i] == '\n') {
      line_bytes_ = 0;
      in_request_line_ = false;
    }
  }
  raw_head_.append(data, size);
  return true;
}

ssize_t ConnectionStream::read(char* ptr, size_t size) {
  if (limit_ != StreamLimit::kNone) return -1;
  if (size == 0) return 0;
  if (buffer_offset_ >= buffer_.size() && !FillBuffer()) {
    return peer_closed_ ? 0 : -1;
  }
  size_t count = std::min(size, buffer_.size() - buffer_offset_);
  const char* data = buffer_.data() + buffer_offset_;
  if (!Account(data, count)) return -1;
  std::memcpy(ptr, data, count);
  buffer_offset_ += count;
  return static_cast<ssize_t>(count);
}

bool ConnectionStream::is_readable() const {
  return buffer_offset_ < buffer_.size() || Poll(POLLIN, limits_.read_timeout);
}

bool ConnectionStream::is_writable() const {
  return !writes_disabled_ && Poll(POLLOUT, limits_.write_timeout);
}

ssize_t ConnectionStream::write(const char* ptr, size_t size) {
  if (writes_disabled_) return -1;
  return WriteAll(absl::string_view(ptr, size)) ? static_cast<ssize_t>(size)
                                                : -1;
}

bool ConnectionStream::WriteAll(absl::string_view data) {
  while (!data.empty()) {
    // MSG_NOSIGNAL: a peer that has gone must not raise SIGPIPE. The socket
    // buffer usually has room, so send is tried before poll.
    ssize_t sent = ::send(socket_, data.data(), data.size(),
                          MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!Poll(POLLOUT, limits_.write_timeout)) return false;
      continue;
    }
    if (sent <= 0) return false;
    data.remove_prefix(static_cast<size_t>(sent));
  }
  return true;
}

void ConnectionStream::ShutdownAndDrain(absl::Duration time, size_t max_bytes) {
  ::shutdown(socket_, SHUT_WR);
  absl::Time give_up = absl::Now() + time;
  size_t discarded = buffer_.size() - buffer_offset_;
  buffer_.clear();
  buffer_offset_ = 0;
  char scratch[kReadBlockBytes];
  while (discarded < max_bytes) {
    absl::Duration left = give_up - absl::Now();
    if (left <= absl::ZeroDuration() || !Poll(POLLIN, left)) return;
    ssize_t received = ::recv(socket_, scratch, sizeof(scratch), 0);
    if (received < 0 && errno == EINTR) continue;
    if (received <= 0) return;
    discarded += static_cast<size_t>(received);
  }
}

void ConnectionStream::get_remote_ip_and_port(std::string& ip,
                                              int& port) const {
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  if (::getpeername(socket_, reinterpret_cast<sockaddr*>(&address), &length) ==
      0) {
    AddressOf(address, length, ip, port);
  }
}

void ConnectionStream::get_local_ip_and_port(std::string& ip, int& port) const {
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  if (::getsockname(socket_, reinterpret_cast<sockaddr*>(&address), &length) ==
      0) {
    AddressOf(address, length, ip, port);
  }
}

}  // namespace paymento::bridge
