// MemoryTrimmer: returns memory that the process has freed to the system.
// glibc's allocator keeps freed memory for reuse, so without trims a bridge
// whose 10,000 streams have closed stays at about the size it had with them
// open.
// A thread compares, at a fixed interval, the resident size with the bytes
// the allocator has handed out, and calls malloc_trim when the allocator
// keeps much more memory free than after the previous trim.
//
// A check reads /proc/self/statm and calls mallinfo2, which walks the
// allocator's free lists. A trim locks each arena while it returns its free
// pages, so threads that allocate meanwhile wait for it.
#ifndef PAYMENTO_BRIDGE_SRC_ADMIN_MEMORY_TRIMMER_H_
#define PAYMENTO_BRIDGE_SRC_ADMIN_MEMORY_TRIMMER_H_

#include <cstdint>
#include <optional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace paymento::bridge {

// The process's memory as the system and the allocator see it.
struct MemoryUsage {
  int64_t resident_bytes = 0;
  // Bytes handed out by malloc and not freed yet.
  int64_t allocated_bytes = 0;

  // Resident bytes beyond what is allocated: code, stacks, and memory that
  // the allocator keeps free.
  int64_t unallocated_bytes() const { return resident_bytes - allocated_bytes; }
};

// Reads the usage of this process; nullopt when /proc/self/statm is missing
// or unreadable.
std::optional<MemoryUsage> ReadMemoryUsage();

class MemoryTrimmer {
 public:
  struct Options {
    absl::Duration interval = absl::Seconds(5);
    // How many more unallocated resident bytes than after the previous trim
    // (or at Start) make a trim worth its pause.
    int64_t threshold_bytes = int64_t{64} << 20;
  };

  explicit MemoryTrimmer(Options options);
  ~MemoryTrimmer();

  // Records the current usage as the baseline and starts the thread.
  void Start();
  // Stops the thread and waits for it. Safe to call more than once.
  void Stop();

  // Checks the usage once on the calling thread and trims when it is over
  // the threshold. Returns the resident bytes the trim released, or 0 when
  // it did not trim.
  int64_t TrimIfWorthwhile();

 private:
  void Loop();

  const Options options_;

  absl::Mutex mu_;
  // Unallocated resident bytes after the last trim, or the lowest seen
  // since: what a trim is not expected to release.
  int64_t floor_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_ADMIN_MEMORY_TRIMMER_H_
