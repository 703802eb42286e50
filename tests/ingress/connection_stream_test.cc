// ConnectionStream over a socket pair: the per-request limits that
// cpp-httplib does not enforce, and the buffer that keeps pipelined bytes.
#include "src/ingress/connection_stream.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>

#include "absl/strings/string_view.h"
#include "absl/time/clock.h"

namespace paymento::bridge {
namespace {

class ConnectionStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sockets_), 0);
  }
  void TearDown() override {
    ::close(sockets_[0]);
    if (sockets_[1] >= 0) ::close(sockets_[1]);
  }

  // Writes `bytes` as the client.
  void Send(absl::string_view bytes) {
    ASSERT_EQ(::write(sockets_[1], bytes.data(), bytes.size()),
              static_cast<ssize_t>(bytes.size()));
  }
  void CloseClient() {
    ::close(sockets_[1]);
    sockets_[1] = -1;
  }

  // Reads from `stream` one byte at a time, as cpp-httplib's line reader
  // does, until read() stops returning bytes. Returns what was read.
  static std::string ReadBytewise(ConnectionStream& stream) {
    std::string read;
    char byte;
    while (stream.read(&byte, 1) == 1) read.push_back(byte);
    return read;
  }

  // Reads exactly `count` bytes from `stream`, one at a time.
  static std::string ReadBytes(ConnectionStream& stream, size_t count) {
    std::string read;
    char byte;
    while (read.size() < count && stream.read(&byte, 1) == 1) {
      read.push_back(byte);
    }
    return read;
  }

  int sockets_[2] = {-1, -1};
};

// Returns limits small enough to reach in a test, with room for
// `max_header_bytes` of request head.
StreamLimits SmallLimits(size_t max_header_bytes = 100) {
  StreamLimits limits;
  limits.read_timeout = absl::Milliseconds(200);
  limits.request_timeout = absl::Seconds(5);
  limits.max_line_bytes = 32;
  limits.max_header_bytes = max_header_bytes;
  limits.max_body_wire_bytes = 50;
  return limits;
}

TEST_F(ConnectionStreamTest, RequestLineOverLimit) {
  ConnectionStream stream(sockets_[0], SmallLimits());
  stream.BeginRequest();
  Send(std::string(40, 'a'));
  std::string read = ReadBytewise(stream);
  EXPECT_EQ(read.size(), 32u);
  EXPECT_EQ(stream.limit(), StreamLimit::kRequestLineTooLong);
  EXPECT_FALSE(stream.is_writable());
}

TEST_F(ConnectionStreamTest, HeaderLineOverLimit) {
  ConnectionStream stream(sockets_[0], SmallLimits());
  stream.BeginRequest();
  Send("POST / HTTP/1.1\r\n");
  Send(std::string(40, 'h'));
  ReadBytewise(stream);
  EXPECT_EQ(stream.limit(), StreamLimit::kHeadersTooLarge);
}

TEST_F(ConnectionStreamTest, HeadersOverTotalLimit) {
  ConnectionStream stream(sockets_[0], SmallLimits());
  stream.BeginRequest();
  Send("POST / HTTP/1.1\r\n");
  for (int i = 0; i < 20; ++i) Send("X-A: b\r\n");
  std::string read = ReadBytewise(stream);
  EXPECT_EQ(read.size(), 100u);
  EXPECT_EQ(stream.limit(), StreamLimit::kHeadersTooLarge);
}

TEST_F(ConnectionStreamTest, BodyOverWireLimit) {
  ConnectionStream stream(sockets_[0], SmallLimits());
  stream.BeginRequest();
  stream.BeginBody();
  Send(std::string(60, 'b'));
  char buffer[64];
  EXPECT_EQ(stream.read(buffer, sizeof(buffer)), -1);
  EXPECT_EQ(stream.limit(), StreamLimit::kBodyTooLarge);
  // A body limit leaves writes to the ingress, which sends its own response.
  EXPECT_TRUE(stream.is_writable());
}

TEST_F(ConnectionStreamTest, StalledClientTimesOut) {
  ConnectionStream stream(sockets_[0], SmallLimits());
  stream.BeginRequest();
  Send("POST");
  absl::Time start = absl::Now();
  EXPECT_EQ(ReadBytewise(stream), "POST");
  absl::Duration waited = absl::Now() - start;
  EXPECT_EQ(stream.limit(), StreamLimit::kTimeout);
  EXPECT_GE(waited, absl::Milliseconds(190));
  EXPECT_LT(waited, absl::Seconds(2));
}

TEST_F(ConnectionStreamTest, TricklingClientHitsRequestDeadline) {
  StreamLimits limits = SmallLimits();
  limits.request_timeout = absl::Milliseconds(500);
  limits.max_line_bytes = 1000;
  limits.max_header_bytes = 1000;
  ConnectionStream stream(sockets_[0], limits);
  stream.BeginRequest();
  absl::Time start = absl::Now();
  std::atomic<bool> done{false};
  std::thread client([this, &done] {
    // One byte every 100 ms, well inside the read timeout.
    for (int i = 0; i < 20 && !done.load(); ++i) {
      if (::send(sockets_[1], "x", 1, MSG_NOSIGNAL) != 1) return;
      absl::SleepFor(absl::Milliseconds(100));
    }
  });
  ReadBytewise(stream);
  absl::Duration waited = absl::Now() - start;
  done.store(true);
  client.join();
  EXPECT_EQ(stream.limit(), StreamLimit::kTimeout);
  EXPECT_GE(waited, absl::Milliseconds(490));
  EXPECT_LT(waited, absl::Seconds(2));
}

TEST_F(ConnectionStreamTest, ClosedClientReadsAsEnd) {
  ConnectionStream stream(sockets_[0], SmallLimits());
  stream.BeginRequest();
  Send("GET");
  CloseClient();
  EXPECT_EQ(ReadBytewise(stream), "GET");
  EXPECT_TRUE(stream.peer_closed());
  EXPECT_EQ(stream.limit(), StreamLimit::kNone);
}

TEST_F(ConnectionStreamTest, PipelinedBytesStayBuffered) {
  StreamLimits limits = SmallLimits();
  limits.max_header_bytes = 1000;
  ConnectionStream stream(sockets_[0], limits);
  Send("first\nsecond\n");
  stream.BeginRequest();
  char buffer[6];
  ASSERT_EQ(stream.read(buffer, 6), 6);
  EXPECT_EQ(std::string(buffer, 6), "first\n");

  // The rest of the block is served without waiting on the socket.
  EXPECT_TRUE(
      stream.WaitForRequest(absl::ZeroDuration(), [] { return false; }));
  stream.BeginRequest();
  EXPECT_EQ(stream.read(buffer, 6), 6);
  EXPECT_EQ(std::string(buffer, 6), "second");
}

// A head that arrives in two sends is read across two fills of the
// buffer, and raw_head() contains all of it as sent.
TEST_F(ConnectionStreamTest, RawHeadSpansBufferFills) {
  ConnectionStream stream(sockets_[0], SmallLimits(1000));
  const std::string first = "POST /w HTTP/1.1\r\nA: %41\r\n";
  const std::string second = "B: 2\r\n\r\nbody";
  Send(first);
  stream.BeginRequest();
  EXPECT_EQ(ReadBytes(stream, first.size()), first);

  Send(second);
  EXPECT_EQ(ReadBytes(stream, 6), "B: 2\r\n");
  EXPECT_EQ(ReadBytes(stream, 2), "\r\n");
  stream.BeginBody();
  char body[4];
  ASSERT_EQ(stream.read(body, sizeof(body)), 4);
  EXPECT_EQ(std::string(body, 4), "body");
  EXPECT_EQ(stream.raw_head(), first + "B: 2\r\n\r\n");
}

// Two requests that arrive in one send each get only their own head.
TEST_F(ConnectionStreamTest, PipelinedRequestsKeepTheirOwnHeads) {
  ConnectionStream stream(sockets_[0], SmallLimits(1000));
  const std::string first = "POST /a HTTP/1.1\r\nX: 1\r\n\r\n";
  const std::string second = "GET /b HTTP/1.1\r\nY: 2\r\n\r\n";
  Send(first + "body" + second);
  stream.BeginRequest();
  EXPECT_EQ(ReadBytes(stream, first.size()), first);
  stream.BeginBody();
  EXPECT_EQ(stream.raw_head(), first);
  char body[4];
  ASSERT_EQ(stream.read(body, sizeof(body)), 4);

  EXPECT_TRUE(
      stream.WaitForRequest(absl::ZeroDuration(), [] { return false; }));
  stream.BeginRequest();
  EXPECT_EQ(ReadBytes(stream, 7), "GET /b ");
  EXPECT_EQ(stream.raw_head(), "GET /b ");
  EXPECT_EQ(ReadBytes(stream, second.size() - 7), second.substr(7));
  EXPECT_EQ(stream.raw_head(), second);
}

// The head of a request over the header limit stays readable after the
// connection is drained, up to the byte that broke the limit.
TEST_F(ConnectionStreamTest, RawHeadSurvivesDrain) {
  ConnectionStream stream(sockets_[0], SmallLimits(30));
  const std::string head = "POST /w HTTP/1.1\r\nA: 0123456789abcdef\r\n";
  Send(head);
  stream.BeginRequest();
  ReadBytewise(stream);
  ASSERT_EQ(stream.limit(), StreamLimit::kHeadersTooLarge);
  stream.ShutdownAndDrain(absl::ZeroDuration(), 0);
  EXPECT_EQ(stream.raw_head(), head.substr(0, 30));
}

// Waiting for the next request refills the buffer, and the finished
// request's head stays as it was read.
TEST_F(ConnectionStreamTest, RawHeadSurvivesWaitForRequest) {
  ConnectionStream stream(sockets_[0], SmallLimits(1000));
  const std::string head = "GET /x HTTP/1.1\r\n\r\n";
  Send(head);
  stream.BeginRequest();
  ASSERT_EQ(ReadBytes(stream, head.size()), head);
  Send("GET /y");
  ASSERT_TRUE(stream.WaitForRequest(absl::Seconds(1), [] { return false; }));
  EXPECT_EQ(stream.raw_head(), head);
}

TEST_F(ConnectionStreamTest, WaitForRequestStopsWhenAsked) {
  ConnectionStream stream(sockets_[0], SmallLimits());
  absl::Time start = absl::Now();
  EXPECT_FALSE(stream.WaitForRequest(absl::Seconds(10), [] { return true; }));
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
  EXPECT_FALSE(
      stream.WaitForRequest(absl::Milliseconds(150), [] { return false; }));
}

// Waits of 100 ms or more block in recv, so the bytes that end them are
// already read when WaitForRequest returns.
TEST_F(ConnectionStreamTest, WaitForRequestBuffersLateBytes) {
  ConnectionStream stream(sockets_[0], SmallLimits());
  std::thread client([this] {
    absl::SleepFor(absl::Milliseconds(250));
    Send("late\n");
  });
  absl::Time start = absl::Now();
  EXPECT_TRUE(stream.WaitForRequest(absl::Seconds(10), [] { return false; }));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  client.join();

  stream.BeginRequest();
  char buffer[5];
  ASSERT_EQ(stream.read(buffer, 5), 5);
  EXPECT_EQ(std::string(buffer, 5), "late\n");
}

TEST_F(ConnectionStreamTest, WaitForRequestEndsWhenThePeerCloses) {
  ConnectionStream stream(sockets_[0], SmallLimits());
  std::thread client([this] {
    absl::SleepFor(absl::Milliseconds(250));
    CloseClient();
  });
  absl::Time start = absl::Now();
  EXPECT_FALSE(stream.WaitForRequest(absl::Seconds(10), [] { return false; }));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  client.join();
}

TEST_F(ConnectionStreamTest, WaitForRequestNoticesAStopWhileItWaits) {
  ConnectionStream stream(sockets_[0], SmallLimits());
  std::atomic<bool> stopping{false};
  std::thread stopper([&stopping] {
    absl::SleepFor(absl::Milliseconds(250));
    stopping = true;
  });
  absl::Time start = absl::Now();
  EXPECT_FALSE(stream.WaitForRequest(absl::Seconds(10),
                                     [&stopping] { return stopping.load(); }));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  stopper.join();
}

TEST_F(ConnectionStreamTest, WaitForRequestEndsAtTheIdleTimeout) {
  ConnectionStream stream(sockets_[0], SmallLimits());
  absl::Time start = absl::Now();
  EXPECT_FALSE(
      stream.WaitForRequest(absl::Milliseconds(350), [] { return false; }));
  absl::Duration waited = absl::Now() - start;
  EXPECT_GE(waited, absl::Milliseconds(350));
  EXPECT_LT(waited, absl::Seconds(5));
}

TEST_F(ConnectionStreamTest, WriteAllAfterHeaderLimit) {
  ConnectionStream stream(sockets_[0], SmallLimits());
  stream.BeginRequest();
  Send(std::string(40, 'a'));
  ReadBytewise(stream);
  ASSERT_NE(stream.limit(), StreamLimit::kNone);
  EXPECT_EQ(stream.write("plain", 5), -1);
  EXPECT_TRUE(stream.WriteAll("answer"));
  char buffer[16];
  ASSERT_EQ(::read(sockets_[1], buffer, sizeof(buffer)), 6);
  EXPECT_EQ(std::string(buffer, 6), "answer");
}

}  // namespace
}  // namespace paymento::bridge
