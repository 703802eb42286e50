// Retention against the real binary: old events are deleted, their ids
// stay as tombstones so replays are still duplicates, and events deleted
// before a subscription acknowledged them are counted.
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "src/cli/sample_event.h"
#include "src/verification/signature_verifier.h"
#include "tests/testing/bridge_client.h"
#include "tests/testing/bridge_process.h"

namespace paymento::bridge {
namespace {

using test_support::BridgeProcess;
using test_support::OpenStream;

// Acknowledges one delivery of subscription "keeper"; returns how many
// ack ids matched a live lease, or -1 when the call failed.
int AcknowledgeOne(v1::EventService::Stub& stub, const std::string& ack_id) {
  grpc::ClientContext context;
  v1::AcknowledgeRequest ack;
  ack.set_subscription("keeper");
  ack.add_ack_ids(ack_id);
  v1::AcknowledgeResponse acked;
  if (!stub.Acknowledge(&context, ack, &acked).ok()) return -1;
  return acked.acknowledged();
}

TEST(RetentionTest, DeletesOldEventsAndKeepsTombstones) {
  test_support::BridgeOptions options = test_support::OptionsWithSecret();
  options.extra_args = {"--retention=2s", "--dedup-window=1h",
                        "--retention-interval=1s"};
  BridgeProcess bridge(options);
  ASSERT_TRUE(bridge.Start().ok()) << bridge.Output();
  auto stub = test_support::NewStub(bridge);

  v1::SubscribeRequest request;
  request.set_subscription("keeper");
  request.mutable_heartbeat_interval()->set_seconds(1);
  OpenStream stream = test_support::Subscribe(*stub, request);
  ASSERT_TRUE(test_support::NextIsHeartbeat(stream));

  std::vector<std::string> bodies;
  for (int i = 0; i < 3; ++i) {
    bodies.push_back(SampleWebhookBody(
        "payment_link.paid", "evt_retained_" + std::to_string(i), absl::Now()));
    httplib::Result posted = test_support::PostSigned(
        bridge, bodies.back(),
        HmacSha256Hex(test_support::kTestSecret, bodies.back()));
    ASSERT_TRUE(posted);
    ASSERT_EQ(posted->status, 200);
  }
  std::vector<v1::Delivery> delivered = test_support::ReadDeliveries(stream, 3);
  ASSERT_EQ(delivered.size(), 3u);
  EXPECT_EQ(AcknowledgeOne(*stub, delivered[0].ack_id()), 1);

  bool deleted = false;
  absl::Time deadline = absl::Now() + absl::Seconds(15);
  while (!deleted && absl::Now() < deadline) {
    grpc::ClientContext context;
    v1::GetEventRequest get;
    get.set_id("evt_retained_2");
    v1::EventStatus status;
    deleted = stub->GetEvent(&context, get, &status).error_code() ==
              grpc::StatusCode::NOT_FOUND;
    if (!deleted) absl::SleepFor(absl::Milliseconds(200));
  }
  ASSERT_TRUE(deleted) << bridge.Output();

  // The two leased events leave the subscription's window too, so they
  // count in no backlog, their ack ids are stale, and no stream gets them.
  v1::ListSubscriptionsResponse subscriptions;
  deadline = absl::Now() + absl::Seconds(5);
  for (;;) {
    grpc::ClientContext list_context;
    subscriptions.Clear();
    ASSERT_TRUE(
        stub->ListSubscriptions(&list_context, {}, &subscriptions).ok());
    ASSERT_EQ(subscriptions.subscriptions_size(), 1);
    if (subscriptions.subscriptions(0).backlog_events() == 0 ||
        absl::Now() > deadline) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(subscriptions.subscriptions(0).backlog_events(), 0)
      << bridge.Output();
  EXPECT_EQ(subscriptions.subscriptions(0).expired_events(), 2);
  EXPECT_TRUE(absl::StrContains(bridge.Output(),
                                "unacknowledged events deleted by retention"));
  EXPECT_EQ(AcknowledgeOne(*stub, delivered[1].ack_id()), 0);
  stream.context->TryCancel();
  OpenStream second_stream = test_support::Subscribe(*stub, request);
  EXPECT_TRUE(test_support::NextIsHeartbeat(second_stream));

  // A captured request replayed after its event is gone is a duplicate.
  httplib::Result replayed = test_support::PostSigned(
      bridge, bodies[0], HmacSha256Hex(test_support::kTestSecret, bodies[0]));
  ASSERT_TRUE(replayed);
  EXPECT_EQ(replayed->status, 200);
  EXPECT_EQ(replayed->body, R"({"received":true,"duplicate":true})");
}

}  // namespace
}  // namespace paymento::bridge
