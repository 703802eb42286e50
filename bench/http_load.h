// HTTP/1.1 load generators over raw keep-alive sockets on 127.0.0.1.
//
// Each load thread drives its share of the connections from one epoll loop,
// so the client spends a few microseconds of CPU per request and does not
// compete with the server for more cores than it must. Requests are
// prepared by a RequestBuilder; responses are parsed only for the status
// line, Content-Length and Connection: close.
#ifndef PAYMENTO_BRIDGE_BENCH_HTTP_LOAD_H_
#define PAYMENTO_BRIDGE_BENCH_HTTP_LOAD_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace paymento::bridge::bench {

// CLOCK_MONOTONIC in nanoseconds, the clock of every timestamp here.
int64_t MonotonicNanos();

// Returns the bytes of request number `index` (0, 1, 2, ... across all
// threads). `scheduled_ns` is when a paced request was due, and 0 in the
// closed loop.
using RequestBuilder =
    std::function<std::string(int64_t index, int64_t scheduled_ns)>;

// Returns the request that opens connection number `connection`. The
// connections open one at a time, each after the response on the one
// before, because cpp-httplib 0.11.4 as Debian builds it listens with a
// backlog of 5. A burst of connects overflows that backlog, so some
// connections wait for TCP retransmissions, and the server's keep-alive
// timeout closes them before their first request arrives.
using OpeningRequestBuilder = std::function<std::string(int connection)>;

struct HttpLoadResult {
  // Responses completed inside the measured window, and of those the ones
  // with status 200 and the bridge's accepted body {"received":true}.
  int64_t completed = 0;
  int64_t accepted = 0;
  // Responses other than 200 {"received":true} over the whole run.
  int64_t unexpected = 0;
  // Requests lost to a closed or failed connection over the whole run.
  int64_t connection_errors = 0;
  // Request start to last response byte, for responses in the window. In
  // the paced loop a request starts at its scheduled time, so time spent
  // waiting for a free connection counts.
  std::vector<int64_t> latencies_ns;
  double window_seconds = 0;
  // Requests sent and their total over the whole run, and the CPU time of
  // the load threads.
  int64_t sent = 0;
  double client_cpu_seconds = 0;
  // The first unexpected response or connection error, for the report.
  std::string first_problem;
};

struct ClosedLoopOptions {
  int port = 0;
  OpeningRequestBuilder opening_request;
  int connections = 32;
  int threads = 1;
  // Requests before the window are not counted.
  absl::Duration warmup = absl::Seconds(1);
  absl::Duration window = absl::Seconds(5);
  // Upper bound on requests over the whole run.
  int64_t max_requests = 50'000'000;
};

// Runs the closed loop: every connection sends its next request as soon as
// the response to the previous one arrived. `at_window_start` and
// `at_window_end` run on the calling thread at the window's edges, for
// readings such as the server's CPU time.
absl::StatusOr<HttpLoadResult> RunClosedLoop(
    const ClosedLoopOptions& options, const RequestBuilder& build,
    const std::function<void()>& at_window_start,
    const std::function<void()>& at_window_end);

struct PacedOptions {
  int port = 0;
  OpeningRequestBuilder opening_request;
  // Connections kept open; a due request waits when all of them are busy.
  int connections = 32;
  double requests_per_second = 2000;
  int64_t requests = 20000;
};

// Runs an open loop on one thread: request i is due at start + i / rate and
// is sent at that time whether or not earlier requests got responses. Every
// request counts: the window is the whole run.
absl::StatusOr<HttpLoadResult> RunPaced(const PacedOptions& options,
                                        const RequestBuilder& build);

}  // namespace paymento::bridge::bench

#endif  // PAYMENTO_BRIDGE_BENCH_HTTP_LOAD_H_
