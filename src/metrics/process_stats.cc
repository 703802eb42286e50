#include "src/metrics/process_stats.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>

namespace paymento::bridge {

std::optional<ProcessMemory> ReadProcessMemory() {
  std::FILE* statm = std::fopen("/proc/self/statm", "r");
  if (statm == nullptr) return std::nullopt;
  long long size_pages = 0;
  long long resident_pages = 0;
  int read = std::fscanf(statm, "%lld %lld", &size_pages, &resident_pages);
  std::fclose(statm);
  if (read != 2) return std::nullopt;
  const int64_t page_bytes = sysconf(_SC_PAGESIZE);
  ProcessMemory memory;
  memory.resident_bytes = resident_pages * page_bytes;
  memory.virtual_bytes = size_pages * page_bytes;
  return memory;
}

double ProcessCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& time) {
    return static_cast<double>(time.tv_sec) +
           static_cast<double>(time.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

std::optional<int64_t> CountOpenFds() {
  DIR* directory = opendir("/proc/self/fd");
  if (directory == nullptr) return std::nullopt;
  int64_t count = 0;
  while (dirent* entry = readdir(directory)) {
    if (entry->d_name[0] != '.') ++count;
  }
  // The count leaves out the descriptor that opendir itself opened.
  closedir(directory);
  return count - 1;
}

std::optional<int64_t> MaxFds() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 ||
      limit.rlim_cur == RLIM_INFINITY) {
    return std::nullopt;
  }
  return static_cast<int64_t>(limit.rlim_cur);
}

}  // namespace paymento::bridge
