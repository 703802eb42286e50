#include "src/admin/memory_trimmer.h"

#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace paymento::bridge {
namespace {

constexpr int64_t kMiB = int64_t{1} << 20;

int64_t ResidentBytes() {
  std::optional<MemoryUsage> usage = ReadMemoryUsage();
  return usage ? usage->resident_bytes : -1;
}

// Allocates `bytes` in 1 KiB blocks, writes to all of them, then frees them
// behind one block that stays allocated, so that the freed memory cannot
// shrink the heap's top and stays resident until a trim.
class FreedButResident {
 public:
  explicit FreedButResident(int64_t bytes) {
    std::vector<void*> blocks;
    for (int64_t done = 0; done < bytes; done += kBlock) {
      void* block = std::malloc(kBlock);
      std::memset(block, 0x5a, kBlock);
      blocks.push_back(block);
    }
    fence_ = std::malloc(kBlock);
    std::memset(fence_, 0x5a, kBlock);
    peak_resident_bytes_ = ResidentBytes();
    for (void* block : blocks) std::free(block);
  }
  ~FreedButResident() { std::free(fence_); }

  // The resident size with every block still allocated.
  int64_t peak_resident_bytes() const { return peak_resident_bytes_; }

 private:
  static constexpr int64_t kBlock = 1024;
  void* fence_ = nullptr;
  int64_t peak_resident_bytes_ = 0;
};

TEST(MemoryUsageTest, ReadsResidentAndAllocatedBytes) {
  std::optional<MemoryUsage> before = ReadMemoryUsage();
  ASSERT_TRUE(before.has_value());
  EXPECT_GT(before->resident_bytes, 0);
  EXPECT_GT(before->allocated_bytes, 0);

  // Large enough for malloc to map it on its own.
  auto block = std::make_unique<char[]>(64 * kMiB);
  std::memset(block.get(), 1, 64 * kMiB);
  std::optional<MemoryUsage> after = ReadMemoryUsage();
  ASSERT_TRUE(after.has_value());
  EXPECT_GE(after->allocated_bytes - before->allocated_bytes, 64 * kMiB);
  EXPECT_GE(after->resident_bytes - before->resident_bytes, 60 * kMiB);
}

TEST(MemoryTrimmerTest, ReleasesFreedMemory) {
  MemoryTrimmer trimmer({absl::Hours(1), 32 * kMiB});
  trimmer.Start();
  FreedButResident freed(160 * kMiB);
  int64_t resident = ResidentBytes();

  int64_t released = trimmer.TrimIfWorthwhile();

  EXPECT_GE(released, 120 * kMiB);
  EXPECT_LE(ResidentBytes(), resident - 120 * kMiB);
}

TEST(MemoryTrimmerTest, SkipsTrimBelowThreshold) {
  MemoryTrimmer trimmer({absl::Hours(1), 256 * kMiB});
  trimmer.Start();
  FreedButResident freed(160 * kMiB);
  int64_t resident = ResidentBytes();

  EXPECT_EQ(trimmer.TrimIfWorthwhile(), 0);
  EXPECT_GE(ResidentBytes(), resident - 16 * kMiB);
}

TEST(MemoryTrimmerTest, TrimsAgainOnlyAfterMoreIsFreed) {
  MemoryTrimmer trimmer({absl::Hours(1), 32 * kMiB});
  trimmer.Start();
  FreedButResident first(160 * kMiB);
  ASSERT_GE(trimmer.TrimIfWorthwhile(), 120 * kMiB);

  EXPECT_EQ(trimmer.TrimIfWorthwhile(), 0);

  FreedButResident second(160 * kMiB);
  EXPECT_GE(trimmer.TrimIfWorthwhile(), 120 * kMiB);
}

TEST(MemoryTrimmerTest, StartAfterStopDoesNothing) {
  MemoryTrimmer trimmer({absl::Milliseconds(10), 32 * kMiB});
  trimmer.Stop();
  trimmer.Start();
  trimmer.Start();
  FreedButResident freed(160 * kMiB);
  absl::SleepFor(absl::Milliseconds(200));

  EXPECT_GE(ResidentBytes(), freed.peak_resident_bytes() - 16 * kMiB);
}

TEST(MemoryTrimmerTest, ThreadTrimsAtItsInterval) {
  MemoryTrimmer trimmer({absl::Milliseconds(50), 32 * kMiB});
  trimmer.Start();
  // The thread may trim while the blocks are still being freed.
  FreedButResident freed(160 * kMiB);
  const int64_t target = freed.peak_resident_bytes() - 120 * kMiB;

  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (ResidentBytes() > target && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }

  EXPECT_LE(ResidentBytes(), target);
  trimmer.Stop();
}

}  // namespace
}  // namespace paymento::bridge
