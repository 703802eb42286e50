#include <chrono>
#include <future>
#include <thread>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "src/store/event_store.h"

namespace paymento::bridge {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

AppendResult Stored(int64_t sequence) {
  return AppendResult{AppendOutcome::kStored, sequence};
}

TEST(AppendFutureTest, ReadyAtOnceWhenSetBeforeTheWait) {
  AppendPromise promise;
  AppendFuture future = promise.get_future();
  promise.set_value(Stored(7));

  EXPECT_EQ(future.wait_for(milliseconds(0)), std::future_status::ready);
  absl::StatusOr<AppendResult> result = future.get();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->sequence, 7);
}

TEST(AppendFutureTest, WaitForTimesOutWithoutAValue) {
  AppendPromise promise;
  AppendFuture future = promise.get_future();

  steady_clock::time_point started = steady_clock::now();
  EXPECT_EQ(future.wait_for(milliseconds(50)), std::future_status::timeout);
  EXPECT_GE(steady_clock::now() - started, milliseconds(50));

  promise.set_value(Stored(1));
  EXPECT_EQ(future.wait_for(milliseconds(0)), std::future_status::ready);
}

TEST(AppendFutureTest, WakesAThreadThatWaits) {
  AppendPromise promise;
  AppendFuture future = promise.get_future();
  std::thread setter([&promise] {
    std::this_thread::sleep_for(milliseconds(50));
    promise.set_value(absl::UnavailableError("disk full"));
  });

  // Without a wake-up the wait would end only at its deadline.
  steady_clock::time_point started = steady_clock::now();
  EXPECT_EQ(future.wait_for(std::chrono::seconds(20)),
            std::future_status::ready);
  EXPECT_LT(steady_clock::now() - started, std::chrono::seconds(10));
  EXPECT_EQ(future.get().status(), absl::UnavailableError("disk full"));
  setter.join();
}

TEST(AppendFutureTest, DroppedPromiseGivesUnavailable) {
  AppendFuture future;
  EXPECT_FALSE(future.valid());
  {
    AppendPromise promise;
    future = promise.get_future();
  }
  ASSERT_TRUE(future.valid());
  EXPECT_EQ(future.get().status().code(), absl::StatusCode::kUnavailable);
}

TEST(AppendFutureTest, MovedPromisesSetTheirOwnFutures) {
  AppendPromise first;
  AppendFuture first_future = first.get_future();
  AppendPromise second;
  AppendFuture second_future = second.get_future();

  AppendPromise moved(std::move(first));
  // Assigning over `second` drops its pending value.
  second = std::move(moved);
  EXPECT_EQ(second_future.get().status().code(),
            absl::StatusCode::kUnavailable);

  second.set_value(Stored(3));
  absl::StatusOr<AppendResult> result = first_future.get();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->sequence, 3);
}

// Many threads wait while one thread sets their values in batches, as a
// store's writer does. A lost wake-up would leave a waiter asleep until its
// deadline.
TEST(AppendFutureTest, EveryWaiterWakesUnderLoad) {
  constexpr int kWaiters = 16;
  constexpr int kRounds = 2000;
  std::vector<std::vector<AppendPromise>> promises(kRounds);
  std::vector<std::vector<AppendFuture>> futures(kRounds);
  for (int round = 0; round < kRounds; ++round) {
    for (int i = 0; i < kWaiters; ++i) {
      futures[round].push_back(promises[round].emplace_back().get_future());
    }
  }

  std::thread setter([&promises] {
    for (int round = 0; round < kRounds; ++round) {
      // A pause now and then lets the waiters go to sleep first.
      if (round % 4 == 0)
        std::this_thread::sleep_for(std::chrono::microseconds(50));
      for (int i = 0; i < kWaiters; ++i) {
        promises[round][i].set_value(Stored(round * kWaiters + i));
      }
    }
  });

  std::vector<std::thread> waiters;
  std::vector<int> wrong(kWaiters, 0);
  for (int i = 0; i < kWaiters; ++i) {
    waiters.emplace_back([&futures, &wrong, i] {
      for (int round = 0; round < kRounds; ++round) {
        AppendFuture& future = futures[round][i];
        steady_clock::time_point started = steady_clock::now();
        if (future.wait_for(std::chrono::seconds(5)) !=
                std::future_status::ready ||
            steady_clock::now() - started > std::chrono::seconds(2) ||
            future.get()->sequence != round * kWaiters + i) {
          ++wrong[i];
          return;
        }
      }
    });
  }

  setter.join();
  for (std::thread& waiter : waiters) waiter.join();
  for (int i = 0; i < kWaiters; ++i) EXPECT_EQ(wrong[i], 0) << "waiter " << i;
}

}  // namespace
}  // namespace paymento::bridge
