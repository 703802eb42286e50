// Tests of TaskBatcher on a real Executor.
#include "src/streaming/task_batcher.h"

#include <atomic>
#include <vector>

#include <gtest/gtest.h>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "src/streaming/executor.h"

namespace paymento::bridge {
namespace {

TEST(TaskBatcherTest, RunsEveryTaskOnce) {
  Executor executor(2);
  TaskBatcher batcher(&executor, 4);
  constexpr int kTasks = 1000;
  std::vector<std::atomic<int>> runs(kTasks);
  std::atomic<int> done{0};
  absl::Notification all_done;
  for (int i = 0; i < kTasks; ++i) {
    batcher.Post([&, i] {
      runs[i].fetch_add(1);
      if (done.fetch_add(1) + 1 == kTasks) all_done.Notify();
    });
  }
  ASSERT_TRUE(all_done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  executor.Shutdown();
  for (int i = 0; i < kTasks; ++i) EXPECT_EQ(runs[i].load(), 1) << i;
}

TEST(TaskBatcherTest, BatchRunsInPostOrder) {
  Executor executor(1);
  TaskBatcher batcher(&executor, 100);
  absl::Mutex mu;
  std::vector<int> order;
  absl::Notification release;
  // Holds the only executor thread, so that the tasks below queue up and
  // run as one batch.
  executor.Post([&] { release.WaitForNotification(); });
  for (int i = 0; i < 10; ++i) {
    batcher.Post([&, i] {
      absl::MutexLock lock(&mu);
      order.push_back(i);
    });
  }
  release.Notify();
  executor.Shutdown();
  ASSERT_EQ(order.size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(order[i], i);
}

TEST(TaskBatcherTest, LargeWakeUpSpreadsOverThreads) {
  Executor executor(2);
  TaskBatcher batcher(&executor, 2);
  absl::Notification release;
  std::atomic<int> started{0};
  // Each task waits until two have started, which needs two batches
  // running at once on the two executor threads.
  for (int i = 0; i < 4; ++i) {
    batcher.Post([&] {
      if (started.fetch_add(1) + 1 == 2) release.Notify();
      release.WaitForNotificationWithTimeout(absl::Seconds(30));
    });
  }
  EXPECT_TRUE(release.WaitForNotificationWithTimeout(absl::Seconds(30)));
  executor.Shutdown();
  EXPECT_EQ(started.load(), 4);
}

}  // namespace
}  // namespace paymento::bridge
