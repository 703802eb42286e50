#include "bench/bench_process.h"

#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

extern char** environ;

namespace paymento::bridge::bench {
namespace {

std::string ReadWholeFile(const std::string& path) {
  std::ifstream file(path);
  std::stringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

// Builds "NAME=value" entries: this process's environment without PAYMENTO_*
// variables, then `environment`.
std::vector<std::string> ChildEnvironment(
    const std::map<std::string, std::string>& environment) {
  std::vector<std::string> entries;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    if (absl::StartsWith(*entry, "PAYMENTO_")) continue;
    entries.emplace_back(*entry);
  }
  for (const auto& [name, value] : environment) {
    entries.push_back(absl::StrCat(name, "=", value));
  }
  return entries;
}

// Returns true once a TCP connection to 127.0.0.1:`port` succeeds.
bool Accepts(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  bool connected =
      connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  close(fd);
  return connected;
}

}  // namespace

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  int port = ntohs(address.sin_port);
  close(fd);
  return port;
}

absl::StatusOr<std::unique_ptr<TempDirectory>> TempDirectory::Create(
    bool keep) {
  const char* base = getenv("TMPDIR");
  std::string pattern =
      absl::StrCat(base != nullptr && *base != '\0' ? base : "/tmp",
                   "/paymento-bench-XXXXXX");
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (mkdtemp(buffer.data()) == nullptr) {
    return absl::UnavailableError(absl::StrCat(
        "cannot create a temporary directory from ", pattern, ": ",
        std::strerror(errno), "; set TMPDIR to a writable directory"));
  }
  return std::unique_ptr<TempDirectory>(
      new TempDirectory(std::string(buffer.data()), keep));
}

TempDirectory::~TempDirectory() {
  if (keep_) return;
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

// Returns the user plus system CPU seconds in a /proc stat file's text, or
// -1 when it cannot be parsed.
double CpuSecondsOfStat(const std::string& stat) {
  // The command name in field 2 may contain spaces, so fields are counted
  // from the closing parenthesis: utime and stime are fields 14 and 15.
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return -1;
  std::vector<std::string> fields =
      absl::StrSplit(stat.substr(close + 2), ' ', absl::SkipEmpty());
  // fields[0] is field 3 (state), so field N is fields[N - 3].
  if (fields.size() < 13) return -1;
  int64_t user_ticks = 0;
  int64_t system_ticks = 0;
  if (!absl::SimpleAtoi(fields[11], &user_ticks) ||
      !absl::SimpleAtoi(fields[12], &system_ticks)) {
    return -1;
  }
  return static_cast<double>(user_ticks + system_ticks) /
         static_cast<double>(sysconf(_SC_CLK_TCK));
}

double ProcessCpuSeconds(pid_t pid) {
  return CpuSecondsOfStat(ReadWholeFile(absl::StrCat("/proc/", pid, "/stat")));
}

// Returns field `index` of a schedstat file, in seconds, or -1. Field 0 is
// the nanoseconds the thread ran, field 1 those it spent ready to run but
// waiting for a CPU.
double SecondsOfSchedstat(const std::string& schedstat, size_t index) {
  std::vector<absl::string_view> fields =
      absl::StrSplit(schedstat, absl::ByAnyChar(" \n"), absl::SkipEmpty());
  int64_t nanos = 0;
  if (fields.size() <= index || !absl::SimpleAtoi(fields[index], &nanos)) {
    return -1;
  }
  return static_cast<double>(nanos) / 1e9;
}

// Returns the sum of the voluntary and involuntary context switches in a
// /proc status file's text.
int64_t ContextSwitchesOfStatus(const std::string& status) {
  int64_t total = 0;
  for (absl::string_view line : absl::StrSplit(status, '\n')) {
    if (!absl::StartsWith(line, "voluntary_ctxt_switches:") &&
        !absl::StartsWith(line, "nonvoluntary_ctxt_switches:")) {
      continue;
    }
    int64_t count = 0;
    std::vector<absl::string_view> parts =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (parts.size() == 2 && absl::SimpleAtoi(parts[1], &count)) {
      total += count;
    }
  }
  return total;
}

ThreadsSample SampleThreads(pid_t pid, absl::string_view thread_name) {
  ThreadsSample sample;
  std::error_code error;
  std::filesystem::directory_iterator tasks(
      absl::StrCat("/proc/", pid, "/task"), error);
  if (error) return sample;
  for (const auto& task : tasks) {
    std::string path = task.path().string();
    // schedstat counts in nanoseconds, stat in clock ticks of 10 ms, too
    // coarse for a thread over a window of less than a second.
    std::string schedstat = ReadWholeFile(path + "/schedstat");
    double cpu = SecondsOfSchedstat(schedstat, 0);
    if (cpu < 0) cpu = CpuSecondsOfStat(ReadWholeFile(path + "/stat"));
    if (cpu < 0) continue;
    sample.cpu_seconds += cpu;
    std::string name = ReadWholeFile(path + "/comm");
    if (absl::StripTrailingAsciiWhitespace(name) == thread_name) {
      sample.named_cpu_seconds += cpu;
      double wait = SecondsOfSchedstat(schedstat, 1);
      if (wait < 0 || sample.named_wait_seconds < 0) {
        sample.named_wait_seconds = -1;
      } else {
        sample.named_wait_seconds += wait;
      }
    }
    sample.context_switches +=
        ContextSwitchesOfStatus(ReadWholeFile(path + "/status"));
  }
  return sample;
}

absl::StatusOr<CommitTotals> ReadCommitTotals(int admin_port) {
  httplib::Client admin("127.0.0.1", admin_port);
  admin.set_connection_timeout(2);
  admin.set_read_timeout(2);
  httplib::Result response = admin.Get("/metrics");
  if (!response || response->status != 200) {
    return absl::UnavailableError(
        absl::StrCat("GET /metrics on admin port ", admin_port, " failed"));
  }
  CommitTotals totals;
  int found = 0;
  for (absl::string_view line : absl::StrSplit(response->body, '\n')) {
    std::pair<absl::string_view, absl::string_view> name_value =
        absl::StrSplit(line, absl::MaxSplits(' ', 1));
    double* total = nullptr;
    if (name_value.first == "paymento_bridge_store_commit_seconds_count") {
      total = &totals.commits;
    } else if (name_value.first == "paymento_bridge_store_commit_seconds_sum") {
      total = &totals.seconds;
    } else if (name_value.first ==
               "paymento_bridge_store_commit_batch_events_sum") {
      total = &totals.events;
    }
    if (total != nullptr && absl::SimpleAtod(name_value.second, total)) {
      ++found;
    }
  }
  if (found != 3) {
    return absl::InternalError(
        "the bridge's metrics lack the store commit totals");
  }
  return totals;
}

int64_t ProcessRssBytes(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (!absl::StartsWith(line, "VmRSS:")) continue;
    std::vector<std::string> parts =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    int64_t kib = 0;
    if (parts.size() >= 2 && absl::SimpleAtoi(parts[1], &kib)) {
      return kib * 1024;
    }
  }
  return -1;
}

double ThreadCpuSeconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + now.tv_nsec / 1e9;
}

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Start(
    const std::vector<std::string>& args,
    const std::map<std::string, std::string>& environment,
    const std::string& log_path) {
  // Everything the child needs is prepared before fork, because only
  // async-signal-safe calls are allowed between fork and exec in a
  // multithreaded process.
  std::vector<std::string> environment_entries = ChildEnvironment(environment);
  std::vector<char*> envp;
  for (std::string& entry : environment_entries) envp.push_back(entry.data());
  envp.push_back(nullptr);
  std::vector<std::string> argument_copies = args;
  std::vector<char*> argv;
  for (std::string& arg : argument_copies) argv.push_back(arg.data());
  argv.push_back(nullptr);
  int log =
      open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot open log file ", log_path, ": ", std::strerror(errno)));
  }

  pid_t pid = fork();
  if (pid < 0) {
    close(log);
    return absl::UnavailableError(
        absl::StrCat("fork failed: ", std::strerror(errno)));
  }
  if (pid == 0) {
    // The child dies with the benchmark, so no server outlives a crash.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    dup2(log, STDOUT_FILENO);
    dup2(log, STDERR_FILENO);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  close(log);
  return std::unique_ptr<ChildProcess>(new ChildProcess(pid, log_path));
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) Stop(absl::Seconds(5));
}

bool ChildProcess::Running() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

int ChildProcess::Stop(absl::Duration timeout) {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  absl::Time deadline = absl::Now() + timeout;
  int status = 0;
  for (;;) {
    pid_t done = waitpid(pid_, &status, WNOHANG);
    if (done == pid_) break;
    if (absl::Now() >= deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      break;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  pid_ = -1;
  return status;
}

std::string ChildProcess::LogTail(size_t max_bytes) const {
  std::string log = ReadWholeFile(log_path_);
  if (log.size() <= max_bytes) return log;
  return log.substr(log.size() - max_bytes);
}

std::string BridgeEndpoints::grpc_address() const {
  return absl::StrCat("127.0.0.1:", grpc_port);
}

absl::StatusOr<std::unique_ptr<BridgeServer>> BridgeServer::Start(
    const BridgeLaunch& launch, absl::Duration timeout) {
  BridgeEndpoints endpoints;
  endpoints.http_port = FreePort();
  endpoints.grpc_port = FreePort();
  endpoints.admin_port = FreePort();
  std::vector<std::string> args = {
      launch.binary,
      "serve",
      absl::StrCat("--http-listen=127.0.0.1:", endpoints.http_port),
      absl::StrCat("--grpc-listen=127.0.0.1:", endpoints.grpc_port),
      absl::StrCat("--admin-listen=127.0.0.1:", endpoints.admin_port),
      launch.store_url.empty()
          ? absl::StrCat("--store=sqlite://", launch.store_path)
          : absl::StrCat("--store=", launch.store_url),
  };
  args.insert(args.end(), launch.extra_args.begin(), launch.extra_args.end());
  absl::StatusOr<std::unique_ptr<ChildProcess>> process = ChildProcess::Start(
      args, {{"PAYMENTO_WEBHOOK_SECRET", launch.webhook_secret}},
      launch.log_path);
  if (!process.ok()) return process.status();

  httplib::Client admin("127.0.0.1", endpoints.admin_port);
  admin.set_connection_timeout(1);
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (!(*process)->Running()) {
      return absl::InternalError(
          absl::StrCat("paymento-bridge exited during start-up; its log:\n",
                       (*process)->LogTail()));
    }
    httplib::Result ready = admin.Get("/readyz");
    if (ready && ready->status == 200) {
      return std::unique_ptr<BridgeServer>(
          new BridgeServer(*std::move(process), endpoints));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::DeadlineExceededError(absl::StrCat(
      "paymento-bridge not ready after ", absl::FormatDuration(timeout),
      "; its log:\n", (*process)->LogTail()));
}

absl::Status BridgeServer::Stop() {
  // Generous, because a bridge under valgrind takes seconds to exit.
  int status = process_->Stop(absl::Seconds(120));
  if (status == -1) {
    return absl::InternalError(
        absl::StrCat("paymento-bridge exited before it was stopped; its log:\n",
                     process_->LogTail()));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrCat(
        "paymento-bridge did not exit cleanly on SIGTERM (wait status ", status,
        "); its log:\n", process_->LogTail()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ChildProcess>> StartBareServer(
    const std::string& binary, int threads,
    const std::vector<std::string>& flags, const std::string& log_path,
    int* port, absl::Duration timeout) {
  *port = FreePort();
  std::vector<std::string> argv = {binary, absl::StrCat("--port=", *port),
                                   absl::StrCat("--threads=", threads)};
  argv.insert(argv.end(), flags.begin(), flags.end());
  absl::StatusOr<std::unique_ptr<ChildProcess>> process =
      ChildProcess::Start(argv, {}, log_path);
  if (!process.ok()) return process.status();
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (!(*process)->Running()) {
      return absl::InternalError(
          absl::StrCat("bare-httplib-server exited during start-up; its log:\n",
                       (*process)->LogTail()));
    }
    if (Accepts(*port)) return process;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("bare-httplib-server not listening on port ", *port,
                   " after ", absl::FormatDuration(timeout)));
}

}  // namespace paymento::bridge::bench
