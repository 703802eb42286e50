// ConnectionStream: the httplib::Stream over one accepted ingress connection,
// with limits that cpp-httplib 0.11.4 does not enforce itself.
//
// cpp-httplib bounds each wait for bytes by its read timeout, but not a whole
// request. A client that sends one byte every few seconds keeps a pool thread
// busy for as long as it likes. Its line reader also grows a request line or
// a header line without bound before it checks the length. So this stream
// enforces, per request:
//   - a deadline for the whole request (request line, headers and body), and
//     a limit on each wait for the next bytes.
//   - at most max_line_bytes per request line or header line, terminator
//     included, and max_header_bytes for the request line and headers.
//   - at most max_body_wire_bytes of body as sent, chunk framing included.
// When a limit is hit, read() fails and limit() names the limit, so that the
// caller responds with 408, 413, 414 or 431 itself. A limit hit while reading
// headers also disables write(), because cpp-httplib then writes its own
// plain 400, which the caller replaces.
//
// Bytes are read from the socket in blocks and kept in a buffer that lives
// as long as the connection, so a pipelined request that arrives with the
// previous one is served from the buffer. The request line and headers are
// also kept as received (raw_head()), because cpp-httplib 0.11.4
// percent-decodes header values, and a signature covers the values as sent.
//
// write() buffers small writes until Flush(), the next read, or more
// than kCoalesceBytes, so that a response's headers and body leave in one
// send instead of two.
//
// Over HTTPS the stream owns the connection's OpenSSL session: the socket is
// made non-blocking, and every wait for OpenSSL, the handshake included, is
// bounded by the same timeouts. Bytes already decrypted count as readable.
//
// Not thread-safe: one pool thread serves the connection.
#ifndef PAYMENTO_BRIDGE_SRC_INGRESS_CONNECTION_STREAM_H_
#define PAYMENTO_BRIDGE_SRC_INGRESS_CONNECTION_STREAM_H_

#include <httplib.h>
#include <openssl/ssl.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace paymento::bridge {

enum class StreamLimit {
  kNone,
  // The request deadline passed, or no byte came for a whole read timeout.
  kTimeout,
  kRequestLineTooLong,
  kHeadersTooLarge,
  kBodyTooLarge,
};

struct StreamLimits {
  // Maximum wait for the next bytes of a request.
  absl::Duration read_timeout = absl::Seconds(5);
  // Maximum time from the first byte of a request to the last byte of its
  // body.
  absl::Duration request_timeout = absl::Seconds(10);
  // Maximum wait for the socket to accept more bytes of a response.
  absl::Duration write_timeout = absl::Seconds(5);
  // cpp-httplib's own CPPHTTPLIB_REQUEST_URI_MAX_LENGTH and
  // CPPHTTPLIB_HEADER_MAX_LENGTH are both 8192, so lines it would accept
  // pass this limit too.
  size_t max_line_bytes = 8192;
  size_t max_header_bytes = 64 * 1024;
  size_t max_body_wire_bytes = 2 * 262144 + 64 * 1024;
};

class ConnectionStream : public httplib::Stream {
 public:
  // With `tls`, the connection speaks TLS and Handshake() must succeed
  // before anything else.
  ConnectionStream(int socket, StreamLimits limits, SSL_CTX* tls = nullptr);

  ConnectionStream(const ConnectionStream&) = delete;
  ConnectionStream& operator=(const ConnectionStream&) = delete;

  // Runs the server side of the TLS handshake, for at most the request
  // timeout. Returns true at once without TLS. On failure, sets `error` to the
  // reason.
  bool Handshake(std::string* error);

  // Waits up to `idle_timeout` for the first byte of the next request,
  // checking `stopping` every 100 ms. Returns false when no byte came, the
  // peer closed, or `stopping` returned true.
  bool WaitForRequest(absl::Duration idle_timeout,
                      const std::function<bool()>& stopping);

  // Starts the next request: the deadline runs from now, and bytes count
  // against the header limits until BeginBody().
  void BeginRequest();
  // Switches to the body limit, once the headers are parsed.
  void BeginBody();

  // The limit that made read() fail, or kNone.
  StreamLimit limit() const { return limit_; }
  // True when the peer closed its side while a request was being read.
  bool peer_closed() const { return peer_closed_; }
  // The request line and headers of the current request as received, up to
  // where reading stopped.
  const std::string& raw_head() const;

  // Writes all of `data` after any output that write() buffered, even
  // after a header limit disabled write().
  bool WriteAll(absl::string_view data);
  // Sends the output that write() buffered. Returns false when sending
  // failed.
  bool Flush();

  // Sends FIN, then reads and discards what the client still sends until it
  // closes, for at most `time` and `max_bytes`. A socket closed with unread
  // bytes sends RST, which can make the client drop the response before it
  // reads it. The discarded bytes are never parsed.
  void ShutdownAndDrain(absl::Duration time, size_t max_bytes);
  // Over TLS, sends the client close_notify, the alert that no more data
  // follows, without waiting for its reply. Does nothing without TLS.
  void SendCloseNotify();

  // httplib::Stream.
  bool is_readable() const override;
  bool is_writable() const override;
  ssize_t read(char* ptr, size_t size) override;
  ssize_t write(const char* ptr, size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  socket_t socket() const override { return socket_; }

 private:
  enum class Phase { kHeaders, kBody };
  struct SslFree {
    void operator()(SSL* ssl) const { SSL_free(ssl); }
  };

  // Reads the next block from the socket into the buffer, waiting at most
  // the read timeout and never past the deadline. Returns false and sets
  // limit_ or peer_closed_ when no byte came.
  bool FillBuffer();
  // Counts `size` buffered bytes against the limits of the current phase.
  // Returns false, and records the limit, when they break one.
  bool Account(const char* data, size_t size);
  // Appends to raw_head_ the head bytes read from the buffer since the last
  // call. Head bytes are copied in runs, not per read, because cpp-httplib
  // reads the head one byte at a time.
  void KeepHeadBytes() const;
  void HitLimit(StreamLimit limit);
  // Receives at most `size` bytes, waiting until `give_up` at the latest.
  // Returns the count, 0 when the peer closed or the connection failed,
  // and -1 when nothing came in time.
  ssize_t Receive(char* data, size_t size, absl::Time give_up);
  // Waits for what an OpenSSL call asked for, with its SSL_get_error code
  // SSL_ERROR_WANT_READ or SSL_ERROR_WANT_WRITE. Returns false on timeout,
  // error, or another code.
  bool WaitForTls(int ssl_error, absl::Time give_up) const;
  bool WriteTls(absl::string_view data);
  // Sends all of `data` now, over TLS or not.
  bool SendAll(absl::string_view data);
  // Fills the cached addresses on first use.
  void LoadAddresses() const;
  bool HasDecryptedBytes() const;
  // Sets SO_RCVTIMEO to kStopCheckInterval on first use, so that every
  // blocking recv ends by then. Other reads use MSG_DONTWAIT and are not
  // affected. Returns false if the option cannot be set, and waits then poll.
  bool SetReceiveTimeout();
  enum class Arrival { kBytes, kNothing, kClosed };
  // On a plain connection with the receive timeout set, waits for bytes
  // with one blocking recv, and keeps them in the buffer: one system call
  // where poll and then recv take two. kClosed is the end of the stream or
  // an error.
  Arrival ReceiveForOneInterval();
  // Waits for `events` on the socket. Returns false on timeout or error.
  bool Poll(short events, absl::Duration timeout) const;

  const int socket_;
  const StreamLimits limits_;
  // Null without TLS.
  std::unique_ptr<SSL, SslFree> ssl_;
  bool handshake_required_ = false;
  enum class ReceiveTimeout { kUnset, kSet, kFailed };
  ReceiveTimeout receive_timeout_ = ReceiveTimeout::kUnset;
  // Set after a fatal TLS error, when no close_notify may be sent.
  bool tls_failed_ = false;
  bool close_notify_sent_ = false;

  // Output of write() not sent yet.
  std::string pending_output_;

  // The connection's addresses, read once, because cpp-httplib reads them
  // for every request.
  mutable bool addresses_loaded_ = false;
  mutable std::string remote_ip_;
  mutable int remote_port_ = 0;
  mutable std::string local_ip_;
  mutable int local_port_ = 0;

  // 16 KiB, allocated by the first read.
  std::unique_ptr<char[]> buffer_;
  // Bytes of buffer_ received, and how many of them were read.
  size_t buffer_size_ = 0;
  size_t buffer_offset_ = 0;

  Phase phase_ = Phase::kHeaders;
  absl::Time deadline_ = absl::InfiniteFuture();
  // The head as received up to head_mark_. The buffer's bytes from
  // head_mark_ to buffer_offset_ are also part of it.
  mutable std::string raw_head_;
  mutable size_t head_mark_ = 0;
  size_t header_bytes_ = 0;
  size_t line_bytes_ = 0;
  bool in_request_line_ = true;
  size_t body_bytes_ = 0;
  StreamLimit limit_ = StreamLimit::kNone;
  bool peer_closed_ = false;
  bool writes_disabled_ = false;
};

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_INGRESS_CONNECTION_STREAM_H_
