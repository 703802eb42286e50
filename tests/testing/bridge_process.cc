#include "tests/testing/bridge_process.h"

#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

namespace paymento::bridge::test_support {
namespace {

// Starts `args` with `environment` added to this process's environment,
// its output appended to `log_path`. Returns the child's pid.
pid_t Spawn(const std::vector<std::string>& args,
            const std::map<std::string, std::string>& environment,
            const std::string& log_path) {
  pid_t pid = fork();
  if (pid != 0) return pid;
  int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  dup2(log, STDOUT_FILENO);
  dup2(log, STDERR_FILENO);
  // Only the test's own settings reach the binary.
  std::vector<std::string> inherited;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    std::string variable = *entry;
    if (variable.rfind("PAYMENTO_", 0) == 0) {
      inherited.push_back(variable.substr(0, variable.find('=')));
    }
  }
  for (const std::string& name : inherited) unsetenv(name.c_str());
  for (const auto& [name, value] : environment) {
    setenv(name.c_str(), value.c_str(), 1);
  }
  std::vector<char*> argv;
  for (const std::string& arg : args)
    argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  execv(argv[0], argv.data());
  _exit(127);
}

// Waits up to `timeout` for `pid` to exit; returns its status, or -1.
int WaitForExit(pid_t pid, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    int status = 0;
    pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) return status;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return -1;
}

std::string ReadFile(const std::string& path) {
  std::ifstream file(path);
  std::stringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

}  // namespace

std::string BridgeBinary() { return PAYMENTO_BRIDGE_BINARY; }

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
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

namespace {

bool KeepTemp() {
  const char* keep_value = getenv("PAYMENTO_BRIDGE_TEST_KEEP_TEMP");
  absl::string_view keep = keep_value != nullptr ? keep_value : "";
  return !keep.empty() && keep != "0";
}

// The directories that MakeTempDirectory created. The list is created on
// the first call, so it is destroyed after every static object created
// later, such as a bridge that a test suite shares.
class TempDirectoryList {
 public:
  ~TempDirectoryList() {
    if (KeepTemp()) return;
    absl::MutexLock lock(&mu_);
    for (const std::string& path : paths_) {
      std::error_code ignored;
      std::filesystem::remove_all(path, ignored);
    }
  }

  void Add(std::string path) {
    absl::MutexLock lock(&mu_);
    paths_.push_back(std::move(path));
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> paths_ ABSL_GUARDED_BY(mu_);
};

TempDirectoryList& TempDirectories() {
  static TempDirectoryList directories;
  return directories;
}

constexpr absl::string_view kTempPrefix = "paymento-bridge-test-";

std::string TempBase() {
  const char* base = getenv("TMPDIR");
  return base != nullptr ? base : "/tmp";
}

}  // namespace

void RemoveOrphanedTempDirectories(const std::string& base) {
  std::error_code error;
  std::filesystem::directory_iterator entries(base, error);
  // Incremented with an error code, because operator++ throws on an error.
  for (; !error && entries != std::filesystem::directory_iterator();
       entries.increment(error)) {
    const std::filesystem::directory_entry& entry = *entries;
    std::string name = entry.path().filename().string();
    if (!absl::StartsWith(name, kTempPrefix)) continue;
    // The name is the prefix, the creating process's id, '-' and a suffix.
    absl::string_view rest = absl::string_view(name).substr(kTempPrefix.size());
    size_t dash = rest.find('-');
    int pid = 0;
    if (dash == absl::string_view::npos ||
        !absl::SimpleAtoi(rest.substr(0, dash), &pid) || pid <= 0) {
      continue;
    }
    if (kill(pid, 0) == 0 || errno != ESRCH) continue;
    std::error_code ignored;
    if (entry.is_symlink(ignored) || !entry.is_directory(ignored)) continue;
    std::filesystem::remove_all(entry.path(), ignored);
  }
}

std::string MakeTempDirectory() {
  TempDirectoryList& directories = TempDirectories();
  static std::once_flag swept;
  std::call_once(swept, [] { RemoveOrphanedTempDirectories(TempBase()); });
  // Kept directories carry no process id, so that no later sweep removes
  // them.
  std::string pattern = absl::StrCat(
      TempBase(), "/", kTempPrefix,
      KeepTemp() ? std::string("kept") : absl::StrCat(getpid()), "-XXXXXX");
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (mkdtemp(buffer.data()) == nullptr) return "";
  std::string path(buffer.data());
  directories.Add(path);
  return path;
}

BridgeProcess::BridgeProcess(BridgeOptions options)
    : options_(std::move(options)) {
  if (options_.data_directory.empty()) {
    options_.data_directory = MakeTempDirectory();
  }
  store_path_ = absl::StrCat(options_.data_directory, "/events.db");
  log_path_ = absl::StrCat(options_.data_directory, "/bridge.log");
}

BridgeProcess::~BridgeProcess() {
  if (pid_ > 0) Stop(SIGKILL);
}

absl::Status BridgeProcess::Start(absl::Duration timeout) {
  http_port_ = FreePort();
  grpc_port_ = FreePort();
  admin_port_ = FreePort();
  std::vector<std::string> args = {
      BridgeBinary(),
      "serve",
      absl::StrCat("--http-listen=127.0.0.1:", http_port_),
      absl::StrCat("--grpc-listen=127.0.0.1:", grpc_port_),
      absl::StrCat("--admin-listen=127.0.0.1:", admin_port_),
      options_.store_url.empty()
          ? absl::StrCat("--store=sqlite://", store_path_)
          : absl::StrCat("--store=", options_.store_url),
      "--log-format=text",
  };
  args.insert(args.end(), options_.extra_args.begin(),
              options_.extra_args.end());
  pid_ = Spawn(args, options_.environment, log_path_);

  httplib::Client admin("127.0.0.1", admin_port_);
  admin.set_connection_timeout(1);
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return absl::InternalError(
          absl::StrCat("bridge exited during start-up:\n", Output()));
    }
    httplib::Result ready = admin.Get("/readyz");
    if (ready && ready->status == 200) return absl::OkStatus();
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("bridge not ready in time:\n", Output()));
}

int BridgeProcess::Stop(int signal, absl::Duration timeout) {
  if (pid_ <= 0) return -1;
  kill(pid_, signal);
  int status = WaitForExit(pid_, timeout);
  if (status == -1) {
    kill(pid_, SIGKILL);
    status = WaitForExit(pid_, absl::Seconds(5));
  }
  pid_ = -1;
  return status;
}

std::string BridgeProcess::webhook_url() const {
  return absl::StrCat(http_base(), "/webhook");
}
std::string BridgeProcess::http_base() const {
  return absl::StrCat("http://127.0.0.1:", http_port_);
}
std::string BridgeProcess::grpc_address() const {
  return absl::StrCat("127.0.0.1:", grpc_port_);
}
std::string BridgeProcess::admin_base() const {
  return absl::StrCat("http://127.0.0.1:", admin_port_);
}
std::string BridgeProcess::Output() const { return ReadFile(log_path_); }

bool BridgeProcess::WaitForOutput(absl::string_view text,
                                  absl::Duration timeout) const {
  absl::Time deadline = absl::Now() + timeout;
  while (!absl::StrContains(Output(), text)) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return true;
}

int RunBridgeCommand(const std::vector<std::string>& args,
                     const std::map<std::string, std::string>& environment,
                     std::string* output, absl::Duration timeout) {
  std::string directory = MakeTempDirectory();
  std::string log_path = absl::StrCat(directory, "/command.log");
  std::vector<std::string> full_args = {BridgeBinary()};
  full_args.insert(full_args.end(), args.begin(), args.end());
  pid_t pid = Spawn(full_args, environment, log_path);
  int status = WaitForExit(pid, timeout);
  if (status == -1) {
    kill(pid, SIGKILL);
    WaitForExit(pid, absl::Seconds(5));
  }
  *output = ReadFile(log_path);
  if (status == -1 || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

}  // namespace paymento::bridge::test_support
