// bare-httplib-server: responds to every POST with 200 {"received":true}
// and does nothing else. It is configured like the bridge's ingress
// (src/ingress/http_ingress.cc): a thread pool of the same size, TCP_NODELAY,
// and the same keep-alive, read and write timeouts. The ingress benchmark
// runs the same load client against it to measure the ceiling that the load
// client, cpp-httplib and the loopback network reach on their own.
//
// Usage: bare-httplib-server --port=N [--threads=128]
// It listens on 127.0.0.1 until SIGTERM or SIGINT.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include <httplib.h>

namespace {

constexpr char kAccepted[] = R"({"received":true})";

// Returns the value of `--name=value` in `arg`, or nullptr.
const char* FlagValue(const char* arg, const char* name) {
  size_t length = std::strlen(name);
  if (std::strncmp(arg, name, length) != 0 || arg[length] != '=') {
    return nullptr;
  }
  return arg + length + 1;
}

}  // namespace

int main(int argc, char** argv) {
  int port = 0;
  // The ingress's default --http-threads.
  int threads = 128;
  for (int i = 1; i < argc; ++i) {
    if (const char* value = FlagValue(argv[i], "--port")) {
      port = std::atoi(value);
    } else if (const char* value = FlagValue(argv[i], "--threads")) {
      threads = std::atoi(value);
    } else {
      std::fprintf(stderr,
                   "bare-httplib-server: unknown argument \"%s\"\n"
                   "usage: bare-httplib-server --port=N [--threads=128]\n",
                   argv[i]);
      return 2;
    }
  }
  if (port <= 0 || port > 65535 || threads < 1) {
    std::fprintf(stderr,
                 "bare-httplib-server: invalid --port or --threads: use a "
                 "port from 1 to 65535 and at least 1 thread\n");
    return 2;
  }

  // Only the signal thread below receives SIGTERM and SIGINT.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  httplib::Server server;
  server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  // The same settings as HttpIngress with its default options.
  server.set_tcp_nodelay(true);
  server.set_keep_alive_max_count(100000);
  server.set_keep_alive_timeout(2);
  server.set_read_timeout(std::chrono::seconds(5));
  server.set_write_timeout(std::chrono::seconds(5));
  server.Post(".*", [](const httplib::Request&, httplib::Response& response) {
    response.status = 200;
    response.set_content(kAccepted, "application/json");
  });
  if (!server.bind_to_port("127.0.0.1", port)) {
    std::fprintf(stderr,
                 "bare-httplib-server: cannot listen on 127.0.0.1:%d: the "
                 "port is in use\n",
                 port);
    return 1;
  }

  std::thread stopper([&server, signals] {
    int received = 0;
    sigwait(&signals, &received);
    server.stop();
  });
  server.listen_after_bind();
  // Ends the signal thread when listening stopped for another reason.
  kill(getpid(), SIGTERM);
  stopper.join();
  return 0;
}
