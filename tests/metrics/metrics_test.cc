#include "src/metrics/metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace paymento::bridge {
namespace {

// Returns the value of the sample whose name and labels are exactly
// `series`, as in `paymento_bridge_ready` or `x_total{reason="stale"}`.
std::optional<double> Sample(const std::string& page,
                             const std::string& series) {
  for (absl::string_view line : absl::StrSplit(page, '\n')) {
    if (!absl::StartsWith(line, series + " ")) continue;
    double value = 0;
    if (absl::SimpleAtod(line.substr(series.size() + 1), &value)) {
      return value;
    }
  }
  return std::nullopt;
}

TEST(MetricsTest, RendersEveryFamilyWithItsType) {
  Metrics metrics("1.2.3");
  // Families whose labels come from traffic appear with their first sample.
  metrics.CountRequest("webhook", 200, "accepted", "payment_link.paid");
  metrics.CountVerification("body", "0a1b2c3d");
  metrics.CountDeliveries("billing", 1);
  metrics.CountAcknowledgements("billing", 1);
  metrics.CountRedeliveries("billing", 1);
  metrics.CountDeadLetters("billing", 1);
  metrics.SetBacklogSource([] {
    return std::vector<SubscriptionBacklog>{{"billing", 1, absl::Seconds(1)}};
  });
  std::string page = metrics.Render();
  for (const char* family : {
           "# TYPE paymento_bridge_http_requests_total counter",
           "# TYPE paymento_bridge_webhooks_accepted_total counter",
           "# TYPE paymento_bridge_rejections_total counter",
           "# TYPE paymento_bridge_verifications_total counter",
           "# TYPE paymento_bridge_duplicates_total counter",
           "# TYPE paymento_bridge_events_stored_total counter",
           "# TYPE paymento_bridge_store_commit_seconds histogram",
           "# TYPE paymento_bridge_store_commit_batch_events histogram",
           "# TYPE paymento_bridge_quarantined_requests_total counter",
           "# TYPE paymento_bridge_open_streams gauge",
           "# TYPE paymento_bridge_deliveries_total counter",
           "# TYPE paymento_bridge_acks_total counter",
           "# TYPE paymento_bridge_redeliveries_total counter",
           "# TYPE paymento_bridge_dead_letters_total counter",
           "# TYPE paymento_bridge_subscription_backlog_events gauge",
           "# TYPE paymento_bridge_subscription_backlog_seconds gauge",
           "# TYPE paymento_bridge_ready gauge",
           "# TYPE paymento_bridge_start_time_seconds gauge",
           "# TYPE paymento_bridge_build_info gauge",
           "# TYPE process_resident_memory_bytes gauge",
           "# TYPE process_virtual_memory_bytes gauge",
           "# TYPE process_cpu_seconds_total counter",
           "# TYPE process_open_fds gauge",
           "# TYPE process_max_fds gauge",
           "# TYPE process_start_time_seconds gauge",
       }) {
    EXPECT_TRUE(absl::StrContains(page, family)) << family;
  }
}

TEST(MetricsTest, BuildInfoAndStartTime) {
  Metrics metrics("1.2.3", absl::FromUnixSeconds(1700000000));
  std::string page = metrics.Render();
  EXPECT_EQ(Sample(page, R"(paymento_bridge_build_info{version="1.2.3"})"), 1);
  EXPECT_EQ(Sample(page, "paymento_bridge_start_time_seconds"), 1700000000);
  EXPECT_EQ(Sample(page, "process_start_time_seconds"), 1700000000);
  EXPECT_EQ(Sample(page, "paymento_bridge_ready"), 0);
  metrics.SetReady(true);
  EXPECT_EQ(Sample(metrics.Render(), "paymento_bridge_ready"), 1);
}

TEST(MetricsTest, ProcessMetricsDescribeThisProcess) {
  Metrics metrics("1.2.3");
  std::string before = metrics.Render();
  int pipe_ends[2];
  ASSERT_EQ(pipe(pipe_ends), 0);
  // Some CPU time, so that the counter has something to add.
  volatile double sum = 0;
  for (int i = 0; i < 20'000'000; ++i) sum = sum + i;
  std::string after = metrics.Render();
  close(pipe_ends[0]);
  close(pipe_ends[1]);

  EXPECT_GT(Sample(after, "process_resident_memory_bytes").value_or(0),
            1 << 20);
  EXPECT_GE(Sample(after, "process_virtual_memory_bytes").value_or(0),
            Sample(after, "process_resident_memory_bytes").value_or(0));
  EXPECT_GT(Sample(after, "process_cpu_seconds_total").value_or(0),
            Sample(before, "process_cpu_seconds_total").value_or(0));
  EXPECT_EQ(Sample(after, "process_open_fds").value_or(0) -
                Sample(before, "process_open_fds").value_or(0),
            2);
  rlimit limit{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  EXPECT_EQ(Sample(after, "process_max_fds"),
            static_cast<double>(limit.rlim_cur));
}

TEST(MetricsTest, AcceptedRequestCountsStoredEventByType) {
  Metrics metrics("test");
  metrics.CountRequest("webhook", 200, "accepted", "payment_link.paid");
  metrics.CountRequest("ipn", 200, "accepted", "payment.approved");
  std::string page = metrics.Render();
  EXPECT_EQ(Sample(page, "paymento_bridge_webhooks_accepted_total"), 2);
  EXPECT_EQ(
      Sample(
          page,
          R"(paymento_bridge_http_requests_total{route="webhook",status="200"})"),
      1);
  EXPECT_EQ(
      Sample(
          page,
          R"(paymento_bridge_http_requests_total{route="ipn",status="200"})"),
      1);
  EXPECT_EQ(
      Sample(
          page,
          R"(paymento_bridge_events_stored_total{type="payment_link.paid"})"),
      1);
  EXPECT_EQ(
      Sample(page,
             R"(paymento_bridge_events_stored_total{type="payment.approved"})"),
      1);
}

TEST(MetricsTest, UnknownEventTypesCountAsOther) {
  Metrics metrics("test");
  metrics.CountRequest("webhook", 200, "accepted", "made.up.one");
  metrics.CountRequest("webhook", 200, "accepted", "made.up.two");
  metrics.CountStoredEvent("");
  std::string page = metrics.Render();
  EXPECT_EQ(
      Sample(page, R"(paymento_bridge_events_stored_total{type="other"})"), 3);
  EXPECT_FALSE(absl::StrContains(page, "made.up"));
}

TEST(MetricsTest, DuplicateIsNotARejection) {
  Metrics metrics("test");
  metrics.CountRequest("webhook", 200, "duplicate", "payment_link.paid");
  std::string page = metrics.Render();
  EXPECT_EQ(Sample(page, "paymento_bridge_duplicates_total"), 1);
  EXPECT_EQ(Sample(page, "paymento_bridge_webhooks_accepted_total"), 0);
  for (absl::string_view line : absl::StrSplit(page, '\n')) {
    if (absl::StartsWith(line, "paymento_bridge_rejections_total{")) {
      EXPECT_TRUE(absl::EndsWith(line, " 0")) << line;
    }
  }
}

TEST(MetricsTest, RejectionSeriesExistFromStart) {
  Metrics metrics("test");
  std::string page = metrics.Render();
  EXPECT_EQ(
      Sample(page,
             R"(paymento_bridge_rejections_total{reason="invalid_signature"})"),
      0);
  EXPECT_EQ(Sample(page, R"(paymento_bridge_rejections_total{reason="other"})"),
            0);
  EXPECT_EQ(
      Sample(
          page,
          R"(paymento_bridge_quarantined_requests_total{reason_kind="stale"})"),
      0);
}

TEST(MetricsTest, RejectionReasonsAreCapped) {
  Metrics metrics("test");
  metrics.CountRequest("webhook", 401, "invalid_signature", "");
  metrics.CountRequest("webhook", 413, "too_large", "");
  metrics.CountRequest("other", 404, "not_found", "");
  metrics.CountRequest("webhook", 400, "something_new", "");
  std::string page = metrics.Render();
  EXPECT_EQ(
      Sample(page,
             R"(paymento_bridge_rejections_total{reason="invalid_signature"})"),
      1);
  EXPECT_EQ(
      Sample(page, R"(paymento_bridge_rejections_total{reason="too_large"})"),
      1);
  EXPECT_EQ(
      Sample(page, R"(paymento_bridge_rejections_total{reason="not_found"})"),
      1);
  EXPECT_EQ(Sample(page, R"(paymento_bridge_rejections_total{reason="other"})"),
            1);
  EXPECT_FALSE(absl::StrContains(page, "something_new"));
}

TEST(MetricsTest, QuarantinedRejectionsAreCounted) {
  Metrics metrics("test");
  metrics.CountRequest("webhook", 400, "malformed", "");
  metrics.CountRequest("webhook", 401, "stale", "");
  metrics.CountRequest("webhook", 409, "conflict", "payment_link.paid");
  metrics.CountRequest("webhook", 401, "invalid_signature", "");
  metrics.CountRequest("webhook", 503, "unavailable", "");
  std::string page = metrics.Render();
  EXPECT_EQ(
      Sample(
          page,
          R"(paymento_bridge_quarantined_requests_total{reason_kind="malformed"})"),
      1);
  EXPECT_EQ(
      Sample(
          page,
          R"(paymento_bridge_quarantined_requests_total{reason_kind="stale"})"),
      1);
  EXPECT_EQ(
      Sample(
          page,
          R"(paymento_bridge_quarantined_requests_total{reason_kind="conflict"})"),
      1);
  EXPECT_FALSE(absl::StrContains(
      page, R"(quarantined_requests_total{reason_kind="invalid_signature"})"));
  EXPECT_FALSE(absl::StrContains(
      page, R"(quarantined_requests_total{reason_kind="unavailable"})"));
}

TEST(MetricsTest, VerificationsBySchemeAndSecret) {
  Metrics metrics("test");
  metrics.CountVerification("body", "0a1b2c3d");
  metrics.CountVerification("body", "0a1b2c3d");
  metrics.CountVerification("header", "99887766");
  std::string page = metrics.Render();
  EXPECT_EQ(
      Sample(
          page,
          R"(paymento_bridge_verifications_total{scheme="body",secret="0a1b2c3d"})"),
      2);
  EXPECT_EQ(
      Sample(
          page,
          R"(paymento_bridge_verifications_total{scheme="header",secret="99887766"})"),
      1);
}

TEST(MetricsTest, CommitHistograms) {
  Metrics metrics("test");
  metrics.ObserveCommit(absl::Milliseconds(3), 5);
  metrics.ObserveCommit(absl::Milliseconds(30), 1);
  std::string page = metrics.Render();
  EXPECT_EQ(Sample(page, "paymento_bridge_store_commit_seconds_count"), 2);
  EXPECT_NEAR(*Sample(page, "paymento_bridge_store_commit_seconds_sum"), 0.033,
              1e-9);
  EXPECT_EQ(
      Sample(page,
             R"(paymento_bridge_store_commit_seconds_bucket{le="0.005"})"),
      1);
  EXPECT_EQ(
      Sample(page, R"(paymento_bridge_store_commit_seconds_bucket{le="0.05"})"),
      2);
  EXPECT_EQ(Sample(page, "paymento_bridge_store_commit_batch_events_sum"), 6);
  EXPECT_EQ(
      Sample(page,
             R"(paymento_bridge_store_commit_batch_events_bucket{le="4"})"),
      1);
}

TEST(MetricsTest, OpenStreamsByKind) {
  Metrics metrics("test");
  metrics.StreamOpened(StreamKind::kTail);
  metrics.StreamOpened(StreamKind::kTail);
  metrics.StreamOpened(StreamKind::kDurable);
  metrics.StreamClosed(StreamKind::kTail);
  std::string page = metrics.Render();
  EXPECT_EQ(Sample(page, R"(paymento_bridge_open_streams{kind="tail"})"), 1);
  EXPECT_EQ(Sample(page, R"(paymento_bridge_open_streams{kind="durable"})"), 1);
}

TEST(MetricsTest, SubscriptionCounters) {
  Metrics metrics("test");
  metrics.CountDeliveries("billing", 3);
  metrics.CountRedeliveries("billing", 1);
  metrics.CountAcknowledgements("billing", 2);
  metrics.CountDeadLetters("billing", 1);
  std::string page = metrics.Render();
  EXPECT_EQ(
      Sample(page,
             R"(paymento_bridge_deliveries_total{subscription="billing"})"),
      3);
  EXPECT_EQ(
      Sample(page,
             R"(paymento_bridge_redeliveries_total{subscription="billing"})"),
      1);
  EXPECT_EQ(
      Sample(page, R"(paymento_bridge_acks_total{subscription="billing"})"), 2);
  EXPECT_EQ(
      Sample(page,
             R"(paymento_bridge_dead_letters_total{subscription="billing"})"),
      1);
}

TEST(MetricsTest, BacklogOfDeletedSubscriptionDisappears) {
  Metrics metrics("test");
  std::vector<SubscriptionBacklog> backlogs = {
      {"billing", 7, absl::Seconds(90)}, {"audit", 0, absl::ZeroDuration()}};
  metrics.SetBacklogSource([&backlogs] { return backlogs; });
  std::string page = metrics.Render();
  EXPECT_EQ(
      Sample(
          page,
          R"(paymento_bridge_subscription_backlog_events{subscription="billing"})"),
      7);
  EXPECT_EQ(
      Sample(
          page,
          R"(paymento_bridge_subscription_backlog_seconds{subscription="billing"})"),
      90);
  EXPECT_EQ(
      Sample(
          page,
          R"(paymento_bridge_subscription_backlog_events{subscription="audit"})"),
      0);

  backlogs.pop_back();
  page = metrics.Render();
  EXPECT_EQ(
      Sample(
          page,
          R"(paymento_bridge_subscription_backlog_events{subscription="billing"})"),
      7);
  EXPECT_FALSE(absl::StrContains(page, R"(subscription="audit")"));
}

}  // namespace
}  // namespace paymento::bridge
