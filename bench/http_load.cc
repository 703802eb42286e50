#include "bench/http_load.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "bench/bench_process.h"

namespace paymento::bridge::bench {
namespace {

constexpr char kAcceptedBody[] = R"({"received":true})";
// How long a finished run waits for responses still in flight.
constexpr int64_t kDrainNanos = 10'000'000'000;

// Connects to 127.0.0.1:`port` and returns a non-blocking socket with
// TCP_NODELAY, or -1.
int ConnectLoopback(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) !=
      0) {
    close(fd);
    return -1;
  }
  int enabled = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &enabled, sizeof(enabled));
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

struct Response {
  int status = 0;
  bool close = false;
  absl::string_view body;
};

// Returns true and fills `response` when `in` contains a complete response.
// Sets `*invalid` when the bytes cannot be a response.
bool ParseResponse(const std::string& in, Response* response, bool* invalid) {
  size_t header_end = in.find("\r\n\r\n");
  if (header_end == std::string::npos) return false;
  absl::string_view head(in.data(), header_end);
  if (!absl::StartsWith(head, "HTTP/1.1 ") || head.size() < 12 ||
      !absl::SimpleAtoi(head.substr(9, 3), &response->status)) {
    *invalid = true;
    return false;
  }
  std::string lower = absl::AsciiStrToLower(head);
  size_t length = 0;
  size_t field = lower.find("\r\ncontent-length:");
  if (field != std::string::npos) {
    size_t start = field + 17;
    size_t end = lower.find("\r\n", start);
    absl::string_view value = absl::StripAsciiWhitespace(
        absl::string_view(lower).substr(start, end - start));
    if (!absl::SimpleAtoi(value, &length)) {
      *invalid = true;
      return false;
    }
  }
  if (in.size() < header_end + 4 + length) return false;
  response->close = absl::StrContains(lower, "\r\nconnection: close");
  response->body = absl::string_view(in).substr(header_end + 4, length);
  return true;
}

// Sends `request` on the non-blocking socket `fd` and waits up to 10 s for
// a 200 response that keeps the connection open.
absl::Status ExchangeOnce(int fd, const std::string& request) {
  const int64_t deadline = MonotonicNanos() + 10'000'000'000;
  size_t written = 0;
  std::string in;
  char buffer[16384];
  for (;;) {
    int64_t left_ms = (deadline - MonotonicNanos()) / 1'000'000;
    if (left_ms <= 0) {
      return absl::DeadlineExceededError(
          "no response to a connection's opening request within 10 s");
    }
    pollfd watched{fd, static_cast<short>(written < request.size()
                                              ? POLLIN | POLLOUT
                                              : POLLIN),
                   0};
    if (poll(&watched, 1, static_cast<int>(left_ms)) < 0 && errno != EINTR) {
      return absl::InternalError(
          absl::StrCat("poll failed: ", std::strerror(errno)));
    }
    if (written < request.size() && (watched.revents & POLLOUT)) {
      ssize_t sent = send(fd, request.data() + written,
                          request.size() - written, MSG_NOSIGNAL);
      if (sent < 0 && errno != EAGAIN && errno != EINTR) {
        return absl::UnavailableError(absl::StrCat(
            "sending a connection's opening request failed: ",
            std::strerror(errno)));
      }
      if (sent > 0) written += static_cast<size_t>(sent);
    }
    if (!(watched.revents & (POLLIN | POLLHUP | POLLERR))) continue;
    ssize_t received = recv(fd, buffer, sizeof(buffer), 0);
    if (received == 0 || (received < 0 && errno != EAGAIN && errno != EINTR)) {
      return absl::UnavailableError(
          "the server closed a connection before responding to its opening "
          "request");
    }
    if (received > 0) in.append(buffer, static_cast<size_t>(received));
    Response response;
    bool invalid = false;
    if (ParseResponse(in, &response, &invalid)) {
      if (response.status != 200 || response.close) {
        return absl::InternalError(absl::StrCat(
            "a connection's opening request got status ", response.status,
            " ", response.body));
      }
      return absl::OkStatus();
    }
    if (invalid) {
      return absl::InternalError(
          "invalid HTTP response to a connection's opening request");
    }
  }
}

// A finished request: with a response, or lost with its connection.
struct Completion {
  int connection = 0;
  bool responded = false;
  int status = 0;
  bool accepted = false;
  int64_t started_ns = 0;
  int64_t finished_ns = 0;
  std::string problem;
};

// Keep-alive connections served by one epoll loop. Not thread-safe: one
// load thread owns each loop.
class ConnectionLoop {
 public:
  // Opens `count` connections, the first numbered `first_number` for
  // `opening_request`.
  static absl::StatusOr<std::unique_ptr<ConnectionLoop>> Open(
      int port, int count, int first_number,
      const OpeningRequestBuilder& opening_request) {
    std::unique_ptr<ConnectionLoop> loop(new ConnectionLoop(port));
    loop->epoll_ = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epoll_ < 0) {
      return absl::InternalError(
          absl::StrCat("epoll_create1 failed: ", std::strerror(errno)));
    }
    loop->connections_.resize(count);
    for (int i = 0; i < count; ++i) {
      if (!loop->Reopen(i)) {
        return absl::UnavailableError(absl::StrCat(
            "cannot connect to 127.0.0.1:", port, ": ", std::strerror(errno)));
      }
      if (!opening_request) continue;
      absl::Status opened = ExchangeOnce(loop->connections_[i].fd,
                                         opening_request(first_number + i));
      if (!opened.ok()) return opened;
    }
    return loop;
  }

  ~ConnectionLoop() {
    for (Connection& connection : connections_) {
      if (connection.fd >= 0) close(connection.fd);
    }
    if (epoll_ >= 0) close(epoll_);
  }

  int size() const { return static_cast<int>(connections_.size()); }
  bool usable(int index) const { return connections_[index].fd >= 0; }
  int busy_count() const {
    int count = 0;
    for (const Connection& connection : connections_) {
      if (connection.busy) ++count;
    }
    return count;
  }

  // Watches `fd` for input too; Poll reports it through `*extra_ready`.
  void AddExtraFd(int fd) {
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = kExtraTag;
    epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &event);
  }

  // Sends `request` on idle connection `index`, timed from `started_ns`.
  // A connection that fails is reported by the next Poll.
  void Send(int index, std::string request, int64_t started_ns) {
    Connection& connection = connections_[index];
    connection.out = std::move(request);
    connection.written = 0;
    connection.in.clear();
    connection.busy = true;
    connection.started_ns = started_ns;
    if (!Flush(index)) {
      Fail(index, absl::StrCat("write failed: ", std::strerror(errno)));
    }
  }

  // Waits up to `timeout_ms` for socket events and appends the requests that
  // finished to `done`.
  void Poll(int timeout_ms, std::vector<Completion>* done,
            bool* extra_ready = nullptr) {
    for (Completion& failure : failures_) done->push_back(std::move(failure));
    failures_.clear();
    epoll_event events[64];
    int count = epoll_wait(epoll_, events, 64, done->empty() ? timeout_ms : 0);
    for (int i = 0; i < count; ++i) {
      if (events[i].data.u64 == kExtraTag) {
        if (extra_ready != nullptr) *extra_ready = true;
        continue;
      }
      int index = static_cast<int>(events[i].data.u64);
      if (events[i].events & EPOLLOUT) {
        if (!Flush(index)) {
          Fail(index, absl::StrCat("write failed: ", std::strerror(errno)));
          continue;
        }
      }
      if (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        Read(index);
      }
    }
    for (Completion& completion : finished_) {
      done->push_back(std::move(completion));
    }
    finished_.clear();
    for (Completion& failure : failures_) done->push_back(std::move(failure));
    failures_.clear();
  }

 private:
  // Tags the extra fd in epoll events; connection events carry their index.
  static constexpr uint64_t kExtraTag = ~uint64_t{0};

  struct Connection {
    int fd = -1;
    std::string out;
    size_t written = 0;
    std::string in;
    bool busy = false;
    bool watching_writes = false;
    int64_t started_ns = 0;
  };

  explicit ConnectionLoop(int port) : port_(port) {}

  bool Reopen(int index) {
    Connection& connection = connections_[index];
    if (connection.fd >= 0) close(connection.fd);
    connection = Connection{};
    connection.fd = ConnectLoopback(port_);
    if (connection.fd < 0) return false;
    epoll_event event{};
    event.events = EPOLLIN | EPOLLRDHUP;
    event.data.u64 = static_cast<uint64_t>(index);
    epoll_ctl(epoll_, EPOLL_CTL_ADD, connection.fd, &event);
    return true;
  }

  void WatchWrites(int index, bool watch) {
    Connection& connection = connections_[index];
    if (connection.watching_writes == watch) return;
    connection.watching_writes = watch;
    epoll_event event{};
    event.events = EPOLLIN | EPOLLRDHUP | (watch ? EPOLLOUT : 0u);
    event.data.u64 = static_cast<uint64_t>(index);
    epoll_ctl(epoll_, EPOLL_CTL_MOD, connection.fd, &event);
  }

  // Writes what the socket takes; returns false on an error.
  bool Flush(int index) {
    Connection& connection = connections_[index];
    while (connection.written < connection.out.size()) {
      ssize_t sent = send(connection.fd, connection.out.data() + connection.written,
                          connection.out.size() - connection.written,
                          MSG_NOSIGNAL);
      if (sent < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          WatchWrites(index, true);
          return true;
        }
        if (errno == EINTR) continue;
        return false;
      }
      connection.written += static_cast<size_t>(sent);
    }
    WatchWrites(index, false);
    return true;
  }

  void Read(int index) {
    Connection& connection = connections_[index];
    char buffer[16384];
    bool closed = false;
    for (;;) {
      ssize_t received = recv(connection.fd, buffer, sizeof(buffer), 0);
      if (received > 0) {
        connection.in.append(buffer, static_cast<size_t>(received));
        continue;
      }
      if (received == 0) {
        closed = true;
      } else if (errno == EINTR) {
        continue;
      } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
        closed = true;
      }
      break;
    }
    if (connection.busy) {
      Response response;
      bool invalid = false;
      if (ParseResponse(connection.in, &response, &invalid)) {
        Completion completion;
        completion.connection = index;
        completion.responded = true;
        completion.status = response.status;
        completion.accepted =
            response.status == 200 && response.body == kAcceptedBody;
        completion.started_ns = connection.started_ns;
        completion.finished_ns = MonotonicNanos();
        if (!completion.accepted) {
          completion.problem = absl::StrCat("status ", response.status, ": ",
                                            response.body);
        }
        finished_.push_back(std::move(completion));
        connection.busy = false;
        connection.in.clear();
        if (response.close || closed) Reopen(index);
        return;
      }
      if (invalid) {
        Fail(index, "invalid HTTP response");
        return;
      }
      if (closed) Fail(index, "connection closed before the response ended");
      return;
    }
    // An idle connection that the server closed, for example after its
    // keep-alive timeout, is replaced quietly.
    if (closed) Reopen(index);
  }

  void Fail(int index, std::string problem) {
    Completion completion;
    completion.connection = index;
    completion.started_ns = connections_[index].started_ns;
    completion.finished_ns = MonotonicNanos();
    completion.problem = std::move(problem);
    failures_.push_back(std::move(completion));
    Reopen(index);
  }

  const int port_;
  int epoll_ = -1;
  std::vector<Connection> connections_;
  std::vector<Completion> finished_;
  std::vector<Completion> failures_;
};

// Counts `completion` into `result`, and records its latency only when it
// finished between window_start and window_end.
void Record(const Completion& completion, int64_t window_start,
            int64_t window_end, HttpLoadResult* result) {
  if (!completion.responded) {
    ++result->connection_errors;
  } else if (!completion.accepted) {
    ++result->unexpected;
  }
  if (!completion.problem.empty() && result->first_problem.empty()) {
    result->first_problem = completion.problem;
  }
  if (!completion.responded || completion.finished_ns < window_start ||
      completion.finished_ns > window_end) {
    return;
  }
  ++result->completed;
  if (completion.accepted) ++result->accepted;
  result->latencies_ns.push_back(completion.finished_ns - completion.started_ns);
}

void Merge(HttpLoadResult&& part, HttpLoadResult* total) {
  total->completed += part.completed;
  total->accepted += part.accepted;
  total->unexpected += part.unexpected;
  total->connection_errors += part.connection_errors;
  total->sent += part.sent;
  total->client_cpu_seconds += part.client_cpu_seconds;
  total->latencies_ns.insert(total->latencies_ns.end(),
                             part.latencies_ns.begin(), part.latencies_ns.end());
  if (total->first_problem.empty()) total->first_problem = part.first_problem;
}

}  // namespace

int64_t MonotonicNanos() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
}

absl::StatusOr<HttpLoadResult> RunClosedLoop(
    const ClosedLoopOptions& options, const RequestBuilder& build,
    const std::function<void()>& at_window_start,
    const std::function<void()>& at_window_end) {
  int threads = std::max(1, std::min(options.threads, options.connections));
  std::vector<std::unique_ptr<ConnectionLoop>> loops;
  int opened = 0;
  for (int t = 0; t < threads; ++t) {
    int count = options.connections / threads +
                (t < options.connections % threads ? 1 : 0);
    absl::StatusOr<std::unique_ptr<ConnectionLoop>> loop = ConnectionLoop::Open(
        options.port, count, opened, options.opening_request);
    if (!loop.ok()) return loop.status();
    loops.push_back(*std::move(loop));
    opened += count;
  }

  const int64_t begin = MonotonicNanos();
  const int64_t window_start = begin + absl::ToInt64Nanoseconds(options.warmup);
  const int64_t window_end =
      window_start + absl::ToInt64Nanoseconds(options.window);
  std::atomic<int64_t> next_index{0};
  std::mutex result_mu;
  HttpLoadResult total;

  auto drive = [&](ConnectionLoop& loop) {
    double cpu_start = ThreadCpuSeconds();
    HttpLoadResult part;
    auto send_next = [&](int connection) {
      if (MonotonicNanos() >= window_end || !loop.usable(connection)) return;
      int64_t index = next_index.fetch_add(1);
      if (index >= options.max_requests) return;
      loop.Send(connection, build(index, 0), MonotonicNanos());
      ++part.sent;
    };
    for (int c = 0; c < loop.size(); ++c) send_next(c);
    std::vector<Completion> done;
    for (;;) {
      int64_t now = MonotonicNanos();
      if (loop.busy_count() == 0 &&
          (now >= window_end || next_index.load() >= options.max_requests)) {
        break;
      }
      if (now >= window_end + kDrainNanos) {
        part.connection_errors += loop.busy_count();
        if (part.first_problem.empty()) {
          part.first_problem = "no response within 10 s after the run ended";
        }
        break;
      }
      done.clear();
      loop.Poll(20, &done);
      for (const Completion& completion : done) {
        Record(completion, window_start, window_end, &part);
        send_next(completion.connection);
      }
    }
    part.client_cpu_seconds = ThreadCpuSeconds() - cpu_start;
    std::lock_guard<std::mutex> lock(result_mu);
    Merge(std::move(part), &total);
  };

  std::vector<std::thread> workers;
  for (auto& loop : loops) {
    workers.emplace_back([&drive, raw = loop.get()] { drive(*raw); });
  }
  absl::SleepFor(absl::Nanoseconds(window_start - MonotonicNanos()));
  if (at_window_start) at_window_start();
  absl::SleepFor(absl::Nanoseconds(window_end - MonotonicNanos()));
  if (at_window_end) at_window_end();
  for (std::thread& worker : workers) worker.join();
  total.window_seconds = static_cast<double>(window_end - window_start) / 1e9;
  return total;
}

absl::StatusOr<HttpLoadResult> RunPaced(const PacedOptions& options,
                                        const RequestBuilder& build) {
  absl::StatusOr<std::unique_ptr<ConnectionLoop>> opened = ConnectionLoop::Open(
      options.port, options.connections, 0, options.opening_request);
  if (!opened.ok()) return opened.status();
  ConnectionLoop& loop = **opened;
  int timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (timer < 0) {
    return absl::InternalError(
        absl::StrCat("timerfd_create failed: ", std::strerror(errno)));
  }
  loop.AddExtraFd(timer);

  double cpu_start = ThreadCpuSeconds();
  const double period_ns = 1e9 / options.requests_per_second;
  const int64_t start = MonotonicNanos() + 20'000'000;
  auto due = [&](int64_t index) {
    return start + static_cast<int64_t>(static_cast<double>(index) * period_ns);
  };
  const int64_t last_due = due(options.requests - 1);

  HttpLoadResult result;
  // Idle connections are used in turn, so none sits idle long enough for
  // the server's keep-alive timeout to close it.
  std::deque<int> idle;
  for (int c = 0; c < loop.size(); ++c) idle.push_back(c);
  std::deque<int64_t> waiting;
  int64_t next = 0;
  int64_t armed_for = -1;
  std::vector<Completion> done;
  for (;;) {
    int64_t now = MonotonicNanos();
    while (next < options.requests && due(next) <= now) waiting.push_back(next++);
    while (!waiting.empty() && !idle.empty()) {
      int connection = idle.front();
      idle.pop_front();
      if (!loop.usable(connection)) continue;
      int64_t index = waiting.front();
      waiting.pop_front();
      loop.Send(connection, build(index, due(index)), due(index));
      ++result.sent;
    }
    if (next >= options.requests && waiting.empty() && loop.busy_count() == 0) {
      break;
    }
    if (now > last_due + kDrainNanos) {
      result.connection_errors += loop.busy_count() +
                                  static_cast<int64_t>(waiting.size());
      if (result.first_problem.empty()) {
        result.first_problem =
            "no response within 10 s after the last request";
      }
      break;
    }
    if (next < options.requests && armed_for != next) {
      int64_t when = due(next);
      itimerspec spec{};
      spec.it_value.tv_sec = when / 1'000'000'000;
      spec.it_value.tv_nsec = when % 1'000'000'000;
      timerfd_settime(timer, TFD_TIMER_ABSTIME, &spec, nullptr);
      armed_for = next;
    }
    done.clear();
    bool timer_fired = false;
    loop.Poll(50, &done, &timer_fired);
    if (timer_fired) {
      uint64_t expirations = 0;
      ssize_t ignored = read(timer, &expirations, sizeof(expirations));
      (void)ignored;
    }
    for (const Completion& completion : done) {
      Record(completion, start, INT64_MAX, &result);
      idle.push_back(completion.connection);
    }
  }
  close(timer);
  result.client_cpu_seconds = ThreadCpuSeconds() - cpu_start;
  result.window_seconds = static_cast<double>(MonotonicNanos() - start) / 1e9;
  return result;
}

}  // namespace paymento::bridge::bench
