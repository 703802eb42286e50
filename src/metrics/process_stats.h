// Readings of this process from /proc and getrusage, for the process_*
// metrics that Prometheus client libraries export, and for the memory
// trimmer.
#ifndef PAYMENTO_BRIDGE_SRC_METRICS_PROCESS_STATS_H_
#define PAYMENTO_BRIDGE_SRC_METRICS_PROCESS_STATS_H_

#include <cstdint>
#include <optional>

namespace paymento::bridge {

struct ProcessMemory {
  int64_t resident_bytes = 0;
  int64_t virtual_bytes = 0;
};

// Reads /proc/self/statm; nullopt when it is missing or unreadable.
std::optional<ProcessMemory> ReadProcessMemory();

// Returns the user and system CPU time of the process so far, in seconds.
double ProcessCpuSeconds();

// Returns the number of open file descriptors from /proc/self/fd, or
// nullopt when that directory cannot be read.
std::optional<int64_t> CountOpenFds();

// Returns the soft limit on open file descriptors, or nullopt when it is
// unlimited.
std::optional<int64_t> MaxFds();

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_METRICS_PROCESS_STATS_H_
