#include "src/admin/health_monitor.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "src/logging/log.h"

namespace paymento::bridge {

HealthMonitor::HealthMonitor(std::string name, absl::Duration interval,
                             Check check, ChangeListener on_change)
    : name_(std::move(name)),
      interval_(interval),
      check_(std::move(check)),
      on_change_(std::move(on_change)) {}

HealthMonitor::~HealthMonitor() { Stop(); }

void HealthMonitor::Start() {
  RunCheck();
  thread_ = std::thread([this] { Loop(); });
}

void HealthMonitor::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

absl::Status HealthMonitor::status() const {
  absl::MutexLock lock(&mu_);
  return status_;
}

void HealthMonitor::Loop() {
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_;
      };
      mu_.AwaitWithTimeout(absl::Condition(&stopping), interval_);
      if (stopping_) return;
    }
    RunCheck();
  }
}

void HealthMonitor::RunCheck() {
  absl::Status result = check_();
  bool first = false;
  bool changed = false;
  {
    absl::MutexLock lock(&mu_);
    first = !checked_;
    changed = first || result.ok() != status_.ok();
    checked_ = true;
    status_ = result;
  }
  if (!changed) return;
  // A healthy first check is the normal start and not worth a line.
  if (result.ok() && !first) {
    logging::Info(absl::StrCat(name_, " recovered"), {});
  } else if (!result.ok()) {
    logging::Error(absl::StrCat(name_, " failing"),
                   {{"error", std::string(result.message())}});
  }
  if (on_change_) on_change_(result);
}

absl::Status ProbeDirectoryWritable(const std::string& directory) {
  std::string path = absl::StrCat(directory, "/.paymento-bridge-write-probe");
  auto failure = [&](const char* step) {
    return absl::UnavailableError(absl::StrCat("cannot ", step,
                                               " in data directory ", directory,
                                               ": ", std::strerror(errno)));
  };
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return failure("create a file");
  // A full disk may take part of a write and fail the next one with ENOSPC,
  // so the write continues until the whole block is in.
  std::vector<char> block(4096, '\0');
  size_t done = 0;
  bool written = true;
  while (written && done < block.size()) {
    ssize_t count = write(fd, block.data() + done, block.size() - done);
    if (count < 0 && errno == EINTR) continue;
    written = count > 0;
    if (written) done += static_cast<size_t>(count);
  }
  if (written) written = fsync(fd) == 0;
  absl::Status status = written ? absl::OkStatus() : failure("write");
  close(fd);
  unlink(path.c_str());
  return status;
}

}  // namespace paymento::bridge
