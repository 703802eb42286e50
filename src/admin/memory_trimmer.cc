#include "src/admin/memory_trimmer.h"

#include <malloc.h>
#include <pthread.h>

#include <algorithm>
#include <string>

#include "absl/strings/str_format.h"
#include "src/logging/log.h"
#include "src/metrics/process_stats.h"

namespace paymento::bridge {
namespace {

std::string Mebibytes(int64_t bytes) {
  return absl::StrFormat("%.1f", static_cast<double>(bytes) / (1 << 20));
}

}  // namespace

std::optional<MemoryUsage> ReadMemoryUsage() {
  std::optional<ProcessMemory> memory = ReadProcessMemory();
  if (!memory) return std::nullopt;
  struct mallinfo2 info = mallinfo2();
  MemoryUsage usage;
  usage.resident_bytes = memory->resident_bytes;
  // uordblks counts the chunks in use in the arenas, hblkhd those mapped on
  // their own.
  usage.allocated_bytes = static_cast<int64_t>(info.uordblks + info.hblkhd);
  return usage;
}

MemoryTrimmer::MemoryTrimmer(Options options) : options_(options) {}

MemoryTrimmer::~MemoryTrimmer() { Stop(); }

void MemoryTrimmer::Start() {
  std::optional<MemoryUsage> usage = ReadMemoryUsage();
  absl::MutexLock lock(&mu_);
  if (started_ || stopping_) return;
  started_ = true;
  if (!usage) {
    logging::Warn(
        "memory trimming disabled: cannot read /proc/self/statm, so freed "
        "memory stays with the process");
    return;
  }
  floor_bytes_ = usage->unallocated_bytes();
  thread_ = std::thread([this] { Loop(); });
}

void MemoryTrimmer::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

int64_t MemoryTrimmer::TrimIfWorthwhile() {
  absl::MutexLock lock(&mu_);
  std::optional<MemoryUsage> before = ReadMemoryUsage();
  if (!before) return 0;
  // Memory allocated again since the last trim lowers the floor, so that
  // freeing it once more counts as growth.
  floor_bytes_ = std::min(floor_bytes_, before->unallocated_bytes());
  if (before->unallocated_bytes() - floor_bytes_ < options_.threshold_bytes) {
    return 0;
  }

  malloc_trim(0);
  std::optional<MemoryUsage> after = ReadMemoryUsage();
  if (!after) return 0;
  // Memory that other threads freed while the trim ran is still resident.
  // Counting it as allocated keeps it above the floor, so the next check
  // trims it.
  floor_bytes_ = after->resident_bytes -
                 std::max(before->allocated_bytes, after->allocated_bytes);

  int64_t released = before->resident_bytes - after->resident_bytes;
  logging::Fields fields = {
      {"released_mib", Mebibytes(std::max<int64_t>(released, 0))},
      {"resident_mib", Mebibytes(after->resident_bytes)},
      {"allocated_mib", Mebibytes(after->allocated_bytes)}};
  if (released <= 0) {
    // Either the growth came from memory allocated but never written, which
    // was not resident, or other threads took as much meanwhile.
    logging::Debug("memory trim released nothing", fields);
    return 0;
  }
  logging::Info("returned freed memory to the system", fields);
  return released;
}

void MemoryTrimmer::Loop() {
  // Shown by top -H and perf.
  pthread_setname_np(pthread_self(), "memory-trimmer");
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_;
      };
      mu_.AwaitWithTimeout(absl::Condition(&stopping), options_.interval);
      if (stopping_) return;
    }
    TrimIfWorthwhile();
  }
}

}  // namespace paymento::bridge
