// IngressServer's listen backlog: connections beyond cpp-httplib's built-in
// backlog of 5 complete their handshake while nothing accepts them.
#include "src/ingress/ingress_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace paymento::bridge {
namespace {

constexpr int kConnections = 64;

IngressServer UnusedServer() {
  return IngressServer(
      IngressServerOptions(), [](httplib::Request&) {},
      [](ConnectionStream&, StreamLimit) {});
}

// Starts kConnections non-blocking connects to `port` at once and returns
// how many complete their handshake within a second. Nothing accepts them,
// so the listen backlog alone decides.
int ConnectionsCompleted(int port) {
  std::vector<int> sockets;
  for (int i = 0; i < kConnections; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc = connect(fd, reinterpret_cast<sockaddr*>(&address),
                     sizeof(address));
    if (rc == 0 || errno == EINPROGRESS) sockets.push_back(fd);
  }
  std::vector<pollfd> polls;
  for (int fd : sockets) polls.push_back(pollfd{fd, POLLOUT, 0});
  poll(polls.data(), polls.size(), /*timeout=*/1000);
  int completed = 0;
  for (const pollfd& entry : polls) {
    int error = 0;
    socklen_t length = sizeof(error);
    getsockopt(entry.fd, SOL_SOCKET, SO_ERROR, &error, &length);
    if ((entry.revents & POLLOUT) != 0 && error == 0) ++completed;
    close(entry.fd);
  }
  return completed;
}

TEST(IngressServerTest, DefaultBacklogQueuesFewConnections) {
  IngressServer server = UnusedServer();
  int port = server.bind_to_any_port("127.0.0.1");
  ASSERT_GT(port, 0);
  EXPECT_LT(ConnectionsCompleted(port), kConnections);
}

TEST(IngressServerTest, RaisedBacklogQueuesEveryConnection) {
  IngressServer server = UnusedServer();
  int port = server.bind_to_any_port("127.0.0.1");
  ASSERT_GT(port, 0);
  ASSERT_TRUE(server.SetListenBacklog(1024));
  EXPECT_EQ(ConnectionsCompleted(port), kConnections);
}

}  // namespace
}  // namespace paymento::bridge
