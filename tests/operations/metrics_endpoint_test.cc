// GET /metrics on the admin port of the real binary: exact deltas after a
// known sequence of webhooks, and stream and subscription series from real
// gRPC streams.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "src/cli/sample_event.h"
#include "src/verification/signature_verifier.h"
#include "tests/operations/operations_support.h"

namespace paymento::bridge::test_support {
namespace {

// Polls the scrape until `series` has `expected`, for gauges that follow
// a stream's end asynchronously.
bool WaitForSample(const BridgeProcess& bridge, const std::string& series,
                   double expected) {
  absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (absl::Now() < deadline) {
    if (SampleValue(ScrapeMetrics(bridge), series) == expected) return true;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return false;
}

TEST(MetricsEndpointTest, ServesPrometheusText) {
  BridgeProcess bridge(OperationsOptions());
  ASSERT_TRUE(bridge.Start().ok()) << bridge.Output();
  httplib::Client client(bridge.admin_base());
  httplib::Result page = client.Get("/metrics");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_TRUE(absl::StartsWith(page->get_header_value("Content-Type"),
                               "text/plain; version=0.0.4"));
  MetricSamples samples = ScrapeMetrics(bridge);
  EXPECT_EQ(SampleValue(samples, "paymento_bridge_ready"), 1);
  EXPECT_EQ(
      SampleValue(samples, R"(paymento_bridge_build_info{version="0.1.0"})"),
      1);
  double started = SampleValue(samples, "paymento_bridge_start_time_seconds");
  EXPECT_LE(started, absl::ToUnixSeconds(absl::Now()) + 1);
  EXPECT_GT(started, absl::ToUnixSeconds(absl::Now()) - 60);
}

TEST(MetricsEndpointTest, ReportsTheBridgeProcess) {
  BridgeProcess bridge(OperationsOptions());
  ASSERT_TRUE(bridge.Start().ok()) << bridge.Output();
  MetricSamples samples = ScrapeMetrics(bridge);

  // The bridge's own /proc entries, read right after the scrape.
  const std::string proc = "/proc/" + std::to_string(bridge.pid());
  double rss_kib = 0;
  std::ifstream status(proc + "/status");
  for (std::string line; std::getline(status, line);) {
    if (absl::StartsWith(line, "VmRSS:")) {
      rss_kib = std::stod(line.substr(std::strlen("VmRSS:")));
    }
  }
  int fds = 0;
  for ([[maybe_unused]] const auto& entry :
       std::filesystem::directory_iterator(proc + "/fd")) {
    ++fds;
  }

  double resident = SampleValue(samples, "process_resident_memory_bytes");
  EXPECT_GT(resident, 0.75 * rss_kib * 1024);
  EXPECT_LT(resident, 1.25 * rss_kib * 1024);
  EXPECT_GE(SampleValue(samples, "process_virtual_memory_bytes"), resident);
  EXPECT_GT(SampleValue(samples, "process_cpu_seconds_total"), 0);
  // The scrape's own connection may have closed since.
  EXPECT_NEAR(SampleValue(samples, "process_open_fds"), fds, 2);
  EXPECT_GE(SampleValue(samples, "process_max_fds"), fds);
}

TEST(MetricsEndpointTest, CountsKnownRequestSequenceExactly) {
  BridgeProcess bridge(OperationsOptions());
  ASSERT_TRUE(bridge.Start().ok()) << bridge.Output();
  MetricSamples before = ScrapeMetrics(bridge);
  ASSERT_FALSE(before.empty());

  std::string paid =
      SampleWebhookBody("payment_link.paid", "evt_metrics_1", absl::Now());
  httplib::Result first = PostSigned(bridge, paid);
  httplib::Result second =
      PostEvent(bridge, "subscription.renewed", "evt_metrics_2");
  httplib::Result duplicate = PostSigned(bridge, paid);
  httplib::Client client(bridge.http_base());
  httplib::Result forged = client.Post(
      "/webhook",
      {{"X-Paymento-Signature", HmacSha256Hex("not the secret", paid)}}, paid,
      "application/json");
  httplib::Result too_large =
      client.Post("/webhook", std::string(300 * 1024, 'x'), "application/json");
  ASSERT_TRUE(first);
  ASSERT_TRUE(second);
  ASSERT_TRUE(duplicate);
  ASSERT_TRUE(forged);
  ASSERT_TRUE(too_large);
  ASSERT_EQ(first->status, 200);
  ASSERT_EQ(second->status, 200);
  ASSERT_EQ(duplicate->status, 200);
  ASSERT_EQ(forged->status, 401);
  ASSERT_EQ(too_large->status, 413);

  MetricSamples after = ScrapeMetrics(bridge);
  auto delta = [&](const std::string& series) {
    return SampleValue(after, series) - SampleValue(before, series);
  };
  EXPECT_EQ(
      delta(
          R"(paymento_bridge_http_requests_total{route="webhook",status="200"})"),
      3);
  EXPECT_EQ(
      delta(
          R"(paymento_bridge_http_requests_total{route="webhook",status="401"})"),
      1);
  EXPECT_EQ(
      delta(
          R"(paymento_bridge_http_requests_total{route="webhook",status="413"})"),
      1);
  EXPECT_EQ(delta("paymento_bridge_webhooks_accepted_total"), 2);
  EXPECT_EQ(delta("paymento_bridge_duplicates_total"), 1);
  // Three requests verified with the body scheme: two new, one duplicate.
  EXPECT_EQ(SumValues(after, "paymento_bridge_verifications_total") -
                SumValues(before, "paymento_bridge_verifications_total"),
            3);
  // Two new events and one duplicate each pass through a group commit.
  EXPECT_EQ(delta("paymento_bridge_store_commit_batch_events_sum"), 3);
  EXPECT_GE(delta("paymento_bridge_store_commit_seconds_count"), 1);
  EXPECT_EQ(
      delta(R"(paymento_bridge_rejections_total{reason="invalid_signature"})"),
      1);
  EXPECT_EQ(delta(R"(paymento_bridge_rejections_total{reason="too_large"})"),
            1);
  EXPECT_EQ(
      delta(R"(paymento_bridge_events_stored_total{type="payment_link.paid"})"),
      1);
  EXPECT_EQ(
      delta(
          R"(paymento_bridge_events_stored_total{type="subscription.renewed"})"),
      1);
  EXPECT_EQ(
      delta(
          R"(paymento_bridge_quarantined_requests_total{reason_kind="malformed"})"),
      0);
}

TEST(MetricsEndpointTest, CountsStreamsDeliveriesAndAcks) {
  BridgeProcess bridge(OperationsOptions());
  ASSERT_TRUE(bridge.Start().ok()) << bridge.Output();
  auto stub = EventStub(PlaintextChannel(bridge));

  grpc::ClientContext tail_context;
  v1::SubscribeRequest tail_request;
  tail_request.mutable_heartbeat_interval()->set_seconds(1);
  auto tail = stub->Subscribe(&tail_context, tail_request);
  grpc::ClientContext durable_context;
  v1::SubscribeRequest durable_request;
  durable_request.set_subscription("billing");
  durable_request.set_position(v1::START_POSITION_EARLIEST);
  durable_request.mutable_heartbeat_interval()->set_seconds(1);
  auto durable = stub->Subscribe(&durable_context, durable_request);
  v1::SubscribeResponse heartbeat;
  ASSERT_TRUE(tail->Read(&heartbeat));
  EXPECT_TRUE(
      WaitForSample(bridge, R"(paymento_bridge_open_streams{kind="tail"})", 1));
  EXPECT_TRUE(WaitForSample(
      bridge, R"(paymento_bridge_open_streams{kind="durable"})", 1));

  ASSERT_EQ(PostEvent(bridge, "payment_link.paid", "evt_stream_1")->status,
            200);
  ASSERT_EQ(PostEvent(bridge, "payment_link.paid", "evt_stream_2")->status,
            200);
  std::vector<std::string> ack_ids;
  v1::SubscribeResponse response;
  while (ack_ids.size() < 2 && durable->Read(&response)) {
    for (const v1::Delivery& delivery : response.deliveries()) {
      ack_ids.push_back(delivery.ack_id());
    }
  }
  ASSERT_EQ(ack_ids.size(), 2u);
  grpc::ClientContext ack_context;
  v1::AcknowledgeRequest ack;
  ack.set_subscription("billing");
  for (const std::string& id : ack_ids) ack.add_ack_ids(id);
  v1::AcknowledgeResponse acknowledged;
  ASSERT_TRUE(stub->Acknowledge(&ack_context, ack, &acknowledged).ok());
  ASSERT_EQ(acknowledged.acknowledged(), 2);

  MetricSamples samples = ScrapeMetrics(bridge);
  EXPECT_EQ(SampleValue(
                samples,
                R"(paymento_bridge_deliveries_total{subscription="billing"})"),
            2);
  EXPECT_EQ(
      SampleValue(samples,
                  R"(paymento_bridge_acks_total{subscription="billing"})"),
      2);
  EXPECT_EQ(
      SampleValue(
          samples,
          R"(paymento_bridge_redeliveries_total{subscription="billing"})"),
      0);

  tail_context.TryCancel();
  durable_context.TryCancel();
  tail->Finish().IgnoreError();
  durable->Finish().IgnoreError();
  EXPECT_TRUE(
      WaitForSample(bridge, R"(paymento_bridge_open_streams{kind="tail"})", 0));
  EXPECT_TRUE(WaitForSample(
      bridge, R"(paymento_bridge_open_streams{kind="durable"})", 0));
}

}  // namespace
}  // namespace paymento::bridge::test_support
