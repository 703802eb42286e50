// fsync latency of the temporary directory's file system. SQLite in WAL mode
// with synchronous=FULL syncs the WAL once per commit, so one sync is the
// least that any acknowledged webhook waits, and its reciprocal bounds the
// commits per second.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/bench_process.h"
#include "bench/bench_stats.h"
#include "bench/http_load.h"
#include "bench/scenarios.h"

namespace paymento::bridge::bench {
namespace {

struct SyncLatency {
  int64_t p50_ns = 0;
  int64_t p99_ns = 0;
};

// Writes `writes` pages of 4 KiB from page `first_page` on, each followed by
// fdatasync, and returns the latency of write plus sync.
absl::StatusOr<SyncLatency> TimeSyncedWrites(int fd, const std::string& path,
                                             int first_page, int writes) {
  std::string page(4096, 'x');
  std::vector<int64_t> latencies;
  for (int i = 0; i < writes; ++i) {
    int64_t start = MonotonicNanos();
    off_t offset = static_cast<off_t>(first_page + i) * 4096;
    if (pwrite(fd, page.data(), page.size(), offset) != 4096 ||
        fdatasync(fd) != 0) {
      return absl::UnavailableError(absl::StrCat(
          "write or fdatasync on ", path, " failed: ", std::strerror(errno)));
    }
    latencies.push_back(MonotonicNanos() - start);
  }
  SyncLatency result;
  result.p50_ns = Percentile(latencies, 0.50);
  result.p99_ns = Percentile(latencies, 0.99);
  return result;
}

std::string Describe(const SyncLatency& latency) {
  return absl::StrCat(FormatMilliseconds(latency.p50_ns), " / ",
                      FormatMilliseconds(latency.p99_ns));
}

}  // namespace

absl::Status RunDiskScenario(const BenchConfig& config) {
  absl::StatusOr<std::unique_ptr<TempDirectory>> directory =
      TempDirectory::Create(config.keep_temp);
  if (!directory.ok()) return directory.status();
  std::string path = (*directory)->path() + "/fsync.bin";
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot create ", path, ": ", std::strerror(errno)));
  }

  // Overwrites inside the file are like commits to a WAL that a checkpoint
  // has reset. Appends that grow the file are like commits to a new WAL, and
  // also commit the new file size to the file system's journal.
  const int writes = config.smoke ? 100 : 1000;
  std::string filler(static_cast<size_t>(writes) * 4096, 'x');
  if (pwrite(fd, filler.data(), filler.size(), 0) !=
          static_cast<ssize_t>(filler.size()) ||
      fsync(fd) != 0) {
    std::string error = std::strerror(errno);
    close(fd);
    return absl::UnavailableError(
        absl::StrCat("cannot fill ", path, ": ", error));
  }
  absl::StatusOr<SyncLatency> overwrite = TimeSyncedWrites(fd, path, 0, writes);
  if (!overwrite.ok()) {
    close(fd);
    return overwrite.status();
  }
  absl::StatusOr<SyncLatency> append =
      TimeSyncedWrites(fd, path, writes, writes);
  close(fd);
  if (!append.ok()) return append.status();

  PrintRow({"disk", "4 KiB overwrite + fdatasync p50 / p99",
            Describe(*overwrite), "-"});
  PrintRow({"disk", "4 KiB append + fdatasync p50 / p99", Describe(*append),
            "-"});
  return absl::OkStatus();
}

}  // namespace paymento::bridge::bench
