#include "src/ingress/connection_stream.h"

#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <utility>

#include "absl/time/clock.h"

namespace paymento::bridge {
namespace {

// Bytes requested from recv() at once. cpp-httplib's line reader reads
// headers one byte at a time, so they are served from this block.
constexpr size_t kReadBlockBytes = 16 * 1024;

// Largest output that write() buffers; a response of the ingress is a
// few hundred bytes.
constexpr size_t kCoalesceBytes = 16 * 1024;

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

// The reason of the oldest OpenSSL error of this thread, which is then
// cleared.
std::string TlsErrorReason(int ssl_error) {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code != 0) {
    const char* reason = ERR_reason_error_string(code);
    if (reason != nullptr) return reason;
  }
  if (ssl_error == SSL_ERROR_SYSCALL || ssl_error == SSL_ERROR_ZERO_RETURN) {
    return "the client closed the connection";
  }
  return "unknown error";
}

}  // namespace

ConnectionStream::ConnectionStream(int socket, StreamLimits limits,
                                   SSL_CTX* tls)
    : socket_(socket), limits_(limits) {
  if (tls == nullptr) return;
  ssl_.reset(SSL_new(tls));
  if (ssl_ != nullptr && SSL_set_fd(ssl_.get(), socket_) != 1) ssl_.reset();
  int flags = ::fcntl(socket_, F_GETFL);
  if (flags >= 0) ::fcntl(socket_, F_SETFL, flags | O_NONBLOCK);
  handshake_required_ = true;
}

bool ConnectionStream::Handshake(std::string* error) {
  if (!handshake_required_) return true;
  if (ssl_ == nullptr) {
    *error = TlsErrorReason(SSL_ERROR_SSL);
    return false;
  }
  absl::Time give_up = absl::Now() + limits_.request_timeout;
  for (;;) {
    ERR_clear_error();
    int result = SSL_accept(ssl_.get());
    if (result == 1) return true;
    int ssl_error = SSL_get_error(ssl_.get(), result);
    if (ssl_error == SSL_ERROR_WANT_READ || ssl_error == SSL_ERROR_WANT_WRITE) {
      absl::Time wait_end =
          std::min(give_up, absl::Now() + limits_.read_timeout);
      if (WaitForTls(ssl_error, wait_end)) continue;
      tls_failed_ = true;
      *error = "timed out";
      return false;
    }
    tls_failed_ = true;
    *error = TlsErrorReason(ssl_error);
    return false;
  }
}

bool ConnectionStream::WaitForRequest(absl::Duration idle_timeout,
                                      const std::function<bool()>& stopping) {
  if (buffer_offset_ < buffer_size_ || HasDecryptedBytes()) return true;
  if (!Flush()) return false;
  absl::Time give_up = absl::Now() + idle_timeout;
  for (;;) {
    if (stopping()) return false;
    absl::Duration left = give_up - absl::Now();
    if (left <= absl::ZeroDuration()) return false;
    if (ssl_ == nullptr && left >= kStopCheckInterval && SetReceiveTimeout()) {
      switch (ReceiveForOneInterval()) {
        case Arrival::kBytes:
          return true;
        case Arrival::kClosed:
          return false;
        case Arrival::kNothing:
          continue;
      }
    }
    if (Poll(POLLIN, std::min(left, kStopCheckInterval))) return true;
  }
}

bool ConnectionStream::SetReceiveTimeout() {
  if (receive_timeout_ == ReceiveTimeout::kUnset) {
    timeval interval = absl::ToTimeval(kStopCheckInterval);
    receive_timeout_ = ::setsockopt(socket_, SOL_SOCKET, SO_RCVTIMEO, &interval,
                                    sizeof(interval)) == 0
                           ? ReceiveTimeout::kSet
                           : ReceiveTimeout::kFailed;
  }
  return receive_timeout_ == ReceiveTimeout::kSet;
}

ConnectionStream::Arrival ConnectionStream::ReceiveForOneInterval() {
  if (buffer_ == nullptr) buffer_.reset(new char[kReadBlockBytes]);
  KeepHeadBytes();
  ssize_t received = ::recv(socket_, buffer_.get(), kReadBlockBytes, 0);
  if (received > 0) {
    buffer_size_ = static_cast<size_t>(received);
    buffer_offset_ = 0;
    head_mark_ = 0;
    return Arrival::kBytes;
  }
  if (received < 0 &&
      (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
    return Arrival::kNothing;
  }
  return Arrival::kClosed;
}

void ConnectionStream::BeginRequest() {
  phase_ = Phase::kHeaders;
  deadline_ = absl::Now() + limits_.request_timeout;
  raw_head_.clear();
  head_mark_ = buffer_offset_;
  header_bytes_ = 0;
  line_bytes_ = 0;
  in_request_line_ = true;
  body_bytes_ = 0;
}

void ConnectionStream::BeginBody() {
  KeepHeadBytes();
  phase_ = Phase::kBody;
}

const std::string& ConnectionStream::raw_head() const {
  KeepHeadBytes();
  return raw_head_;
}

void ConnectionStream::KeepHeadBytes() const {
  if (phase_ == Phase::kHeaders && buffer_offset_ > head_mark_) {
    raw_head_.append(buffer_.get() + head_mark_, buffer_offset_ - head_mark_);
  }
  head_mark_ = buffer_offset_;
}

bool ConnectionStream::Poll(short events, absl::Duration timeout) const {
  pollfd descriptor{socket_, events, 0};
  int ready = 0;
  do {
    ready = ::poll(&descriptor, 1, ToPollMilliseconds(timeout));
  } while (ready < 0 && errno == EINTR);
  return ready > 0;
}

bool ConnectionStream::HasDecryptedBytes() const {
  return ssl_ != nullptr && SSL_pending(ssl_.get()) > 0;
}

bool ConnectionStream::WaitForTls(int ssl_error, absl::Time give_up) const {
  short events = 0;
  if (ssl_error == SSL_ERROR_WANT_READ) events = POLLIN;
  if (ssl_error == SSL_ERROR_WANT_WRITE) events = POLLOUT;
  if (events == 0) return false;
  absl::Duration left = give_up - absl::Now();
  return left > absl::ZeroDuration() && Poll(events, left);
}

ssize_t ConnectionStream::Receive(char* data, size_t size, absl::Time give_up) {
  if (ssl_ == nullptr) {
    // The bytes have usually arrived already, so recv is tried before poll:
    // one system call per read instead of two.
    for (;;) {
      ssize_t received = ::recv(socket_, data, size, MSG_DONTWAIT);
      if (received >= 0) return received;
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return 0;
      if (!Poll(POLLIN, give_up - absl::Now())) return -1;
    }
  }
  int chunk = static_cast<int>(std::min<size_t>(size, INT_MAX));
  for (;;) {
    ERR_clear_error();
    int received = SSL_read(ssl_.get(), data, chunk);
    if (received > 0) return received;
    int ssl_error = SSL_get_error(ssl_.get(), received);
    if (ssl_error != SSL_ERROR_WANT_READ && ssl_error != SSL_ERROR_WANT_WRITE) {
      // A close_notify from the client ends the session cleanly; anything
      // else leaves it unusable.
      if (ssl_error != SSL_ERROR_ZERO_RETURN) tls_failed_ = true;
      ERR_clear_error();
      return 0;
    }
    if (!WaitForTls(ssl_error, give_up)) return -1;
  }
}

bool ConnectionStream::FillBuffer() {
  // The client may wait for buffered output, such as 100 Continue, before
  // it sends more. A failed send shows in the read below.
  Flush();
  absl::Duration left = deadline_ - absl::Now();
  if (left <= absl::ZeroDuration()) {
    HitLimit(StreamLimit::kTimeout);
    return false;
  }
  // Allocated once per connection and never zero-filled, because recv
  // overwrites what it returns.
  if (buffer_ == nullptr) buffer_.reset(new char[kReadBlockBytes]);
  KeepHeadBytes();
  buffer_size_ = 0;
  buffer_offset_ = 0;
  head_mark_ = 0;
  ssize_t received =
      Receive(buffer_.get(), kReadBlockBytes,
              absl::Now() + std::min(left, limits_.read_timeout));
  if (received <= 0) {
    if (received < 0) {
      HitLimit(StreamLimit::kTimeout);
    } else {
      peer_closed_ = true;
    }
    return false;
  }
  buffer_size_ = static_cast<size_t>(received);
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
  return true;
}

ssize_t ConnectionStream::read(char* ptr, size_t size) {
  if (limit_ != StreamLimit::kNone) return -1;
  if (size == 0) return 0;
  if (buffer_offset_ >= buffer_size_ && !FillBuffer()) {
    return peer_closed_ ? 0 : -1;
  }
  size_t count = std::min(size, buffer_size_ - buffer_offset_);
  const char* data = buffer_.get() + buffer_offset_;
  if (!Account(data, count)) return -1;
  if (count == 1) {
    *ptr = *data;
  } else {
    std::memcpy(ptr, data, count);
  }
  buffer_offset_ += count;
  return static_cast<ssize_t>(count);
}

bool ConnectionStream::is_readable() const {
  return buffer_offset_ < buffer_size_ || HasDecryptedBytes() ||
         Poll(POLLIN, limits_.read_timeout);
}

bool ConnectionStream::is_writable() const {
  return !writes_disabled_ && Poll(POLLOUT, limits_.write_timeout);
}

ssize_t ConnectionStream::write(const char* ptr, size_t size) {
  if (writes_disabled_) return -1;
  if (pending_output_.size() + size <= kCoalesceBytes) {
    pending_output_.append(ptr, size);
    return static_cast<ssize_t>(size);
  }
  return WriteAll(absl::string_view(ptr, size)) ? static_cast<ssize_t>(size)
                                                : -1;
}

bool ConnectionStream::Flush() {
  if (pending_output_.empty()) return true;
  bool sent = SendAll(pending_output_);
  pending_output_.clear();
  return sent;
}

bool ConnectionStream::WriteAll(absl::string_view data) {
  if (pending_output_.empty()) return SendAll(data);
  pending_output_.append(data.data(), data.size());
  return Flush();
}

bool ConnectionStream::SendAll(absl::string_view data) {
  if (ssl_ != nullptr) return WriteTls(data);
  while (!data.empty()) {
    // MSG_NOSIGNAL: a peer that has gone must not raise SIGPIPE. The socket
    // buffer usually has room, so send is tried before poll.
    ssize_t sent =
        ::send(socket_, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
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

bool ConnectionStream::WriteTls(absl::string_view data) {
  while (!data.empty()) {
    ERR_clear_error();
    int chunk = static_cast<int>(std::min<size_t>(data.size(), INT_MAX));
    int sent = SSL_write(ssl_.get(), data.data(), chunk);
    if (sent > 0) {
      data.remove_prefix(static_cast<size_t>(sent));
      continue;
    }
    int ssl_error = SSL_get_error(ssl_.get(), sent);
    if (!WaitForTls(ssl_error, absl::Now() + limits_.write_timeout)) {
      tls_failed_ = true;
      ERR_clear_error();
      return false;
    }
  }
  return true;
}

void ConnectionStream::SendCloseNotify() {
  Flush();
  if (ssl_ == nullptr || close_notify_sent_ || tls_failed_) return;
  close_notify_sent_ = true;
  // Non-blocking: sends the alert if the socket takes it, and does not wait
  // for the client's.
  ERR_clear_error();
  SSL_shutdown(ssl_.get());
  ERR_clear_error();
}

void ConnectionStream::ShutdownAndDrain(absl::Duration time, size_t max_bytes) {
  SendCloseNotify();
  ::shutdown(socket_, SHUT_WR);
  absl::Time give_up = absl::Now() + time;
  KeepHeadBytes();
  size_t discarded = buffer_size_ - buffer_offset_;
  buffer_size_ = 0;
  buffer_offset_ = 0;
  head_mark_ = 0;
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

void ConnectionStream::LoadAddresses() const {
  if (addresses_loaded_) return;
  addresses_loaded_ = true;
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  if (::getpeername(socket_, reinterpret_cast<sockaddr*>(&address), &length) ==
      0) {
    AddressOf(address, length, remote_ip_, remote_port_);
  }
  address = {};
  length = sizeof(address);
  if (::getsockname(socket_, reinterpret_cast<sockaddr*>(&address), &length) ==
      0) {
    AddressOf(address, length, local_ip_, local_port_);
  }
}

void ConnectionStream::get_remote_ip_and_port(std::string& ip,
                                              int& port) const {
  LoadAddresses();
  ip = remote_ip_;
  port = remote_port_;
}

void ConnectionStream::get_local_ip_and_port(std::string& ip, int& port) const {
  LoadAddresses();
  ip = local_ip_;
  port = local_port_;
}

}  // namespace paymento::bridge
