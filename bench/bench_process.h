// Child processes for the benchmarks: the real paymento-bridge binary and
// the bare cpp-httplib server, started on free loopback ports, plus the
// per-process figures read from /proc.
#ifndef PAYMENTO_BRIDGE_BENCH_BENCH_PROCESS_H_
#define PAYMENTO_BRIDGE_BENCH_BENCH_PROCESS_H_

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace paymento::bridge::bench {

// Returns a TCP port on 127.0.0.1 that was free a moment ago.
int FreePort();

// A new temporary directory, deleted with its contents on destruction
// unless `keep` is set.
class TempDirectory {
 public:
  static absl::StatusOr<std::unique_ptr<TempDirectory>> Create(bool keep);
  ~TempDirectory();
  const std::string& path() const { return path_; }

 private:
  TempDirectory(std::string path, bool keep)
      : path_(std::move(path)), keep_(keep) {}

  std::string path_;
  bool keep_;
};

// User plus system CPU time of `pid` so far, in seconds, from
// /proc/PID/stat; the kernel counts it in clock ticks (10 ms on Debian).
// Returns a negative value when the process is gone.
double ProcessCpuSeconds(pid_t pid);

// CPU time and context switches of a process, summed over its threads.
struct ThreadsSample {
  double cpu_seconds = 0;
  // CPU time of the threads with the name given to SampleThreads.
  double named_cpu_seconds = 0;
  // Time those threads were ready to run but waited for a CPU, from
  // /proc/PID/task/TID/schedstat, or -1 when the kernel does not provide it.
  double named_wait_seconds = 0;
  // Voluntary and involuntary context switches.
  int64_t context_switches = 0;
};

// Reads the schedstat, status and comm files of every thread of `pid` in
// /proc/PID/task, and stat where schedstat is missing. Threads that exited
// before the call are not counted.
ThreadsSample SampleThreads(pid_t pid, absl::string_view thread_name);

// Totals of the bridge's commit metrics, from GET /metrics on its admin
// port: transactions, the events in them, and their summed duration.
struct CommitTotals {
  double commits = 0;
  double events = 0;
  double seconds = 0;
};

// Reads the commit totals from the bridge on `admin_port`. Returns an error
// when the metrics cannot be fetched or lack the totals.
absl::StatusOr<CommitTotals> ReadCommitTotals(int admin_port);

// Resident set size of `pid` in bytes, from VmRSS in /proc/PID/status.
// Returns -1 when the process is gone.
int64_t ProcessRssBytes(pid_t pid);

// CPU time used by the calling thread so far, in seconds.
double ThreadCpuSeconds();

// A child process with its output appended to a log file. The destructor
// kills it if it still runs.
class ChildProcess {
 public:
  // Starts `args` (args[0] is the binary path) with `environment` added to
  // this process's environment after removing every PAYMENTO_* variable, so
  // that only the benchmark's settings reach the child.
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Start(
      const std::vector<std::string>& args,
      const std::map<std::string, std::string>& environment,
      const std::string& log_path);
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  // Returns true while the process has not exited.
  bool Running();
  // Sends SIGTERM, waits up to `timeout` for the exit, then sends SIGKILL.
  // Returns the wait status, or -1 when the process was already reaped.
  int Stop(absl::Duration timeout = absl::Seconds(20));
  // The last `max_bytes` bytes of the log, for error messages.
  std::string LogTail(size_t max_bytes = 4000) const;

 private:
  ChildProcess(pid_t pid, std::string log_path)
      : pid_(pid), log_path_(std::move(log_path)) {}

  pid_t pid_;
  std::string log_path_;
};

// A paymento-bridge serve process on free loopback ports.
struct BridgeEndpoints {
  int http_port = 0;
  int grpc_port = 0;
  int admin_port = 0;
  std::string grpc_address() const;
};

struct BridgeLaunch {
  std::string binary;
  // The SQLite file; the bridge creates it when missing.
  std::string store_path;
  // A --store URL used instead of store_path when set.
  std::string store_url;
  std::string log_path;
  std::string webhook_secret;
  std::vector<std::string> extra_args;
};

class BridgeServer {
 public:
  // Starts the bridge and waits until GET /readyz on its admin port
  // returns 200.
  static absl::StatusOr<std::unique_ptr<BridgeServer>> Start(
      const BridgeLaunch& launch, absl::Duration timeout = absl::Seconds(60));

  pid_t pid() const { return process_->pid(); }
  const BridgeEndpoints& endpoints() const { return endpoints_; }
  ChildProcess& process() { return *process_; }
  // Stops the bridge with SIGTERM; returns an error when it does not exit
  // cleanly.
  absl::Status Stop();

 private:
  BridgeServer(std::unique_ptr<ChildProcess> process, BridgeEndpoints endpoints)
      : process_(std::move(process)), endpoints_(endpoints) {}

  std::unique_ptr<ChildProcess> process_;
  BridgeEndpoints endpoints_;
};

// Starts bare-httplib-server on a free port, with `flags` after its port
// and thread flags, and waits until it accepts connections. Returns the
// process; `*port` receives the port.
absl::StatusOr<std::unique_ptr<ChildProcess>> StartBareServer(
    const std::string& binary, int threads,
    const std::vector<std::string>& flags, const std::string& log_path,
    int* port, absl::Duration timeout = absl::Seconds(20));

}  // namespace paymento::bridge::bench

#endif  // PAYMENTO_BRIDGE_BENCH_BENCH_PROCESS_H_
