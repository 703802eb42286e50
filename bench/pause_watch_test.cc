#include "bench/pause_watch.h"

#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace paymento::bridge::bench {
namespace {

using Intervals = LateIntervals;

TEST(IntersectAllTest, KeepsTheOverlapOfTwoCpus) {
  Intervals first = {{0, 10}, {20, 30}, {40, 50}};
  Intervals second = {{5, 25}, {45, 60}};

  EXPECT_EQ(IntersectAll({first, second}),
            (Intervals{{5, 10}, {20, 25}, {45, 50}}));
}

TEST(IntersectAllTest, NeedsEveryCpuLate) {
  Intervals first = {{0, 10}, {20, 30}};
  Intervals second = {{0, 10}, {20, 30}};
  Intervals third = {{22, 28}};

  EXPECT_EQ(IntersectAll({first, second, third}), (Intervals{{22, 28}}));
}

TEST(IntersectAllTest, OneCpuNeverLateMeansNoPause) {
  Intervals first = {{0, 10}, {20, 30}};

  EXPECT_TRUE(IntersectAll({first, Intervals{}}).empty());
}

TEST(IntersectAllTest, TouchingIntervalsDoNotOverlap) {
  Intervals first = {{0, 10}};
  Intervals second = {{10, 20}};

  EXPECT_TRUE(IntersectAll({first, second}).empty());
}

TEST(IntersectAllTest, OneCpuKeepsItsOwnIntervals) {
  Intervals only = {{0, 10}, {20, 30}};

  EXPECT_EQ(IntersectAll({only}), only);
  EXPECT_TRUE(IntersectAll({}).empty());
}

TEST(PauseWatchTest, WithoutWatchersReadsOnlyTheStealTime) {
  PauseWatch watch(/*watch=*/false);
  absl::SleepFor(absl::Milliseconds(50));

  PauseSummary summary = watch.Stop();

  EXPECT_FALSE(summary.watched);
  EXPECT_GE(summary.steal_share, 0);
  EXPECT_LE(summary.steal_share, 1);
  EXPECT_EQ(FormatPauses({summary}), "not watched");
}

TEST(PauseWatchTest, FormatsTheMedianStealWithItsRange) {
  std::vector<PauseSummary> runs(3);
  runs[0].steal_share = 0.05;
  runs[1].steal_share = 0.01;
  runs[2].steal_share = 0.02;

  EXPECT_EQ(FormatSteal(runs), "2.0% (runs 1.0% to 5.0%)");
  runs[1].steal_share = -1;
  EXPECT_EQ(FormatSteal(runs), "unknown");
}

TEST(PauseWatchTest, StopReturnsTheSameSummaryTwice) {
  PauseWatch watch(/*watch=*/true);
  absl::SleepFor(absl::Milliseconds(50));

  PauseSummary first = watch.Stop();
  PauseSummary second = watch.Stop();

  EXPECT_TRUE(first.watched);
  EXPECT_GE(first.watched_ns, 50'000'000);
  EXPECT_EQ(second.watched_ns, first.watched_ns);
  EXPECT_EQ(second.pauses, first.pauses);
  EXPECT_EQ(second.error, first.error);
}

}  // namespace
}  // namespace paymento::bridge::bench
