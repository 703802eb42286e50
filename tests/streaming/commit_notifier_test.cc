#include "src/streaming/commit_notifier.h"

#include <atomic>
#include <memory>
#include <vector>

#include "gtest/gtest.h"

namespace paymento::bridge {
namespace {

class CountingWaiter : public CommitWaiter {
 public:
  explicit CountingWaiter(std::atomic<int>* wakes) : wakes_(wakes) {}
  void Wake() override { wakes_->fetch_add(1); }

 private:
  std::atomic<int>* const wakes_;
};

TEST(CommitNotifierTest, WakesWaitersBehindThePublishedSequence) {
  CommitNotifier notifier(5);
  std::atomic<int> wakes{0};
  auto behind = std::make_shared<CountingWaiter>(&wakes);
  auto ahead = std::make_shared<CountingWaiter>(&wakes);

  EXPECT_FALSE(notifier.WaitAfter(4, behind));
  ASSERT_TRUE(notifier.WaitAfter(5, behind));
  ASSERT_TRUE(notifier.WaitAfter(7, ahead));
  notifier.Publish(6);

  EXPECT_EQ(wakes.load(), 1);
  EXPECT_EQ(notifier.entries(), 1u);
}

TEST(CommitNotifierTest, EndedWaitersDoNotAccumulateWithoutCommits) {
  CommitNotifier notifier(0);
  std::atomic<int> wakes{0};
  std::vector<std::shared_ptr<CountingWaiter>> live;
  for (int i = 0; i < 100'000; ++i) {
    auto waiter = std::make_shared<CountingWaiter>(&wakes);
    ASSERT_TRUE(notifier.WaitAfter(0, waiter));
    // Every hundredth waiter stays; the others end while waiting.
    if (i % 100 == 0) live.push_back(waiter);
  }

  EXPECT_LE(notifier.entries(), 2 * live.size() + 64);
  notifier.Publish(1);
  EXPECT_EQ(wakes.load(), static_cast<int>(live.size()));
  EXPECT_EQ(notifier.entries(), 0u);
}

TEST(CommitNotifierTest, PublishDropsEndedWaitersStillAhead) {
  CommitNotifier notifier(0);
  std::atomic<int> wakes{0};
  auto live_waiter = std::make_shared<CountingWaiter>(&wakes);
  ASSERT_TRUE(notifier.WaitAfter(10, live_waiter));
  {
    auto ended = std::make_shared<CountingWaiter>(&wakes);
    ASSERT_TRUE(notifier.WaitAfter(10, ended));
  }

  notifier.Publish(1);

  EXPECT_EQ(wakes.load(), 0);
  EXPECT_EQ(notifier.entries(), 1u);
}

}  // namespace
}  // namespace paymento::bridge
