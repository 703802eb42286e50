// Durable subscriptions against the real binary: leases, acknowledgements,
// redelivery, ordering, dead letters, replay, status and crash safety.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "src/streaming/subscription.h"
#include "tests/testing/bridge_client.h"
#include "tests/testing/bridge_process.h"

namespace paymento::bridge {
namespace {

using test_support::BridgeProcess;
using test_support::NextIsHeartbeat;
using test_support::OpenStream;
using test_support::PostEvent;
using test_support::ReadDeliveries;

v1::SubscribeRequest Durable(const std::string& name) {
  v1::SubscribeRequest request;
  request.set_subscription(name);
  request.set_position(v1::START_POSITION_EARLIEST);
  request.mutable_heartbeat_interval()->set_seconds(1);
  return request;
}

class DurableSubscriptionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    bridge_ =
        std::make_unique<BridgeProcess>(test_support::OptionsWithSecret());
    ASSERT_TRUE(bridge_->Start().ok()) << bridge_->Output();
    stub_ = test_support::NewStub(*bridge_);
  }

  // Stops the bridge with SIGTERM and starts a new one on its store.
  void Restart() {
    bridge_->Stop(SIGTERM);
    test_support::BridgeOptions options = test_support::OptionsWithSecret();
    options.data_directory =
        bridge_->store_path().substr(0, bridge_->store_path().rfind('/'));
    bridge_ = std::make_unique<BridgeProcess>(options);
    ASSERT_TRUE(bridge_->Start().ok()) << bridge_->Output();
    stub_ = test_support::NewStub(*bridge_);
  }

  void PostEvents(int count, const std::string& prefix) {
    for (int i = 0; i < count; ++i) {
      httplib::Result result =
          PostEvent(*bridge_, "payment_link.paid", absl::StrCat(prefix, i));
      ASSERT_TRUE(result);
      ASSERT_EQ(result->status, 200);
    }
  }

  int Acknowledge(const std::string& subscription,
                  const std::vector<v1::Delivery>& deliveries) {
    grpc::ClientContext context;
    v1::AcknowledgeRequest request;
    request.set_subscription(subscription);
    for (const v1::Delivery& delivery : deliveries) {
      request.add_ack_ids(delivery.ack_id());
    }
    v1::AcknowledgeResponse response;
    grpc::Status status = stub_->Acknowledge(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.acknowledged();
  }

  int ModifyDeadline(const std::string& subscription,
                     const std::vector<v1::Delivery>& deliveries, int seconds) {
    grpc::ClientContext context;
    v1::ModifyAckDeadlineRequest request;
    request.set_subscription(subscription);
    for (const v1::Delivery& delivery : deliveries) {
      request.add_ack_ids(delivery.ack_id());
    }
    request.mutable_ack_deadline()->set_seconds(seconds);
    v1::ModifyAckDeadlineResponse response;
    EXPECT_TRUE(stub_->ModifyAckDeadline(&context, request, &response).ok());
    return response.modified();
  }

  v1::EventStatus GetStatus(const std::string& id) {
    grpc::ClientContext context;
    v1::GetEventRequest request;
    request.set_id(id);
    v1::EventStatus status;
    EXPECT_TRUE(stub_->GetEvent(&context, request, &status).ok());
    return status;
  }

  std::unique_ptr<BridgeProcess> bridge_;
  std::unique_ptr<v1::EventService::Stub> stub_;
};

std::vector<std::string> Ids(const std::vector<v1::Delivery>& deliveries) {
  std::vector<std::string> ids;
  for (const v1::Delivery& delivery : deliveries) {
    ids.push_back(delivery.event().id());
  }
  return ids;
}

TEST_F(DurableSubscriptionTest, ClosedStreamReturnsLeasesAtOnce) {
  PostEvents(3, "evt_close_");
  std::vector<v1::Delivery> first;
  {
    OpenStream stream = test_support::Subscribe(*stub_, Durable("close"));
    first = ReadDeliveries(stream, 3);
  }
  ASSERT_EQ(first.size(), 3u);
  EXPECT_EQ(first[0].attempt(), 1);

  absl::Time reopened = absl::Now();
  OpenStream again = test_support::Subscribe(*stub_, Durable("close"));
  std::vector<v1::Delivery> second = ReadDeliveries(again, 3);
  ASSERT_EQ(second.size(), 3u);
  EXPECT_LT(absl::Now() - reopened, absl::Seconds(5));
  EXPECT_EQ(Ids(second), Ids(first));
  for (const v1::Delivery& delivery : second) {
    EXPECT_EQ(delivery.attempt(), 1) << delivery.event().id();
  }
}

TEST_F(DurableSubscriptionTest, ClosedStreamLogsWhatItSent) {
  PostEvents(2, "evt_logged_");
  {
    OpenStream stream = test_support::Subscribe(*stub_, Durable("logged"));
    ASSERT_EQ(ReadDeliveries(stream, 2).size(), 2u);
    // A heartbeat follows only once the deliveries' writes have completed.
    ASSERT_TRUE(NextIsHeartbeat(stream));
  }
  std::string line =
      test_support::WaitForLogLine(*bridge_, "durable stream closed");
  ASSERT_FALSE(line.empty()) << bridge_->Output();
  EXPECT_TRUE(absl::StrContains(line, " subscription=logged ")) << line;
  EXPECT_TRUE(absl::StrContains(line, " status=CANCELLED ")) << line;
  EXPECT_TRUE(absl::StrContains(line, " events_sent=2 ")) << line;
}

TEST_F(DurableSubscriptionTest, AcknowledgedEventsAreNotRedelivered) {
  PostEvents(4, "evt_ack_");
  {
    OpenStream stream = test_support::Subscribe(*stub_, Durable("acks"));
    std::vector<v1::Delivery> deliveries = ReadDeliveries(stream, 4);
    ASSERT_EQ(deliveries.size(), 4u);
    EXPECT_EQ(Acknowledge("acks", deliveries), 4);
    // Acknowledging again is ignored without error.
    EXPECT_EQ(Acknowledge("acks", deliveries), 0);
  }
  OpenStream again = test_support::Subscribe(*stub_, Durable("acks"));
  EXPECT_TRUE(NextIsHeartbeat(again));

  PostEvents(1, "evt_ack_late_");
  std::vector<v1::Delivery> late = ReadDeliveries(again, 1);
  ASSERT_EQ(late.size(), 1u);
  EXPECT_EQ(late[0].event().id(), "evt_ack_late_0");
}

TEST_F(DurableSubscriptionTest, ProgressSurvivesRestart) {
  PostEvents(5, "evt_restart_");
  {
    OpenStream stream = test_support::Subscribe(*stub_, Durable("restart"));
    std::vector<v1::Delivery> deliveries = ReadDeliveries(stream, 5);
    ASSERT_EQ(deliveries.size(), 5u);
    std::vector<v1::Delivery> first_three(deliveries.begin(),
                                          deliveries.begin() + 3);
    EXPECT_EQ(Acknowledge("restart", first_three), 3);
  }
  ASSERT_NO_FATAL_FAILURE(Restart());

  OpenStream again = test_support::Subscribe(*stub_, Durable("restart"));
  std::vector<v1::Delivery> rest = ReadDeliveries(again, 2);
  EXPECT_EQ(Ids(rest),
            (std::vector<std::string>{"evt_restart_3", "evt_restart_4"}));
  EXPECT_TRUE(NextIsHeartbeat(again));
}

TEST_F(DurableSubscriptionTest, AckIdFromBeforeRestartIsIgnored) {
  PostEvents(2, "evt_old_ack_");
  std::vector<v1::Delivery> before;
  {
    OpenStream stream = test_support::Subscribe(*stub_, Durable("old_acks"));
    before = ReadDeliveries(stream, 2);
    ASSERT_EQ(before.size(), 2u);
  }
  ASSERT_NO_FATAL_FAILURE(Restart());

  OpenStream again = test_support::Subscribe(*stub_, Durable("old_acks"));
  std::vector<v1::Delivery> after = ReadDeliveries(again, 2);
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(Ids(after), Ids(before));
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_NE(after[i].ack_id(), before[i].ack_id());
  }
  // The leases of the earlier process ended with it.
  EXPECT_EQ(Acknowledge("old_acks", before), 0);
  EXPECT_EQ(Acknowledge("old_acks", after), 2);
}

TEST_F(DurableSubscriptionTest, CompetingStreamsShareEvents) {
  v1::SubscribeRequest request = Durable("shared");
  request.set_max_outstanding(3);
  OpenStream a = test_support::Subscribe(*stub_, request);
  OpenStream b = test_support::Subscribe(*stub_, request);
  absl::SleepFor(absl::Milliseconds(200));
  PostEvents(30, "evt_shared_");

  absl::Mutex mu;
  std::map<std::string, int> seen;
  std::set<std::string> held;
  bool overlap = false;
  auto consume = [&](OpenStream& stream, int* received) {
    v1::SubscribeResponse response;
    for (;;) {
      {
        absl::MutexLock lock(&mu);
        if (seen.size() >= 30) return;
      }
      if (!stream.reader->Read(&response)) return;
      std::vector<v1::Delivery> batch(response.deliveries().begin(),
                                      response.deliveries().end());
      {
        absl::MutexLock lock(&mu);
        for (const v1::Delivery& delivery : batch) {
          if (!held.insert(delivery.event().id()).second) overlap = true;
          seen[delivery.event().id()] += 1;
          *received += 1;
        }
      }
      absl::SleepFor(absl::Milliseconds(5));
      {
        absl::MutexLock lock(&mu);
        for (const v1::Delivery& delivery : batch) {
          held.erase(delivery.event().id());
        }
      }
      Acknowledge("shared", batch);
    }
  };
  int from_a = 0;
  int from_b = 0;
  std::thread reader_a([&] { consume(a, &from_a); });
  std::thread reader_b([&] { consume(b, &from_b); });
  reader_a.join();
  a.context->TryCancel();
  b.context->TryCancel();
  reader_b.join();

  EXPECT_EQ(seen.size(), 30u);
  EXPECT_FALSE(overlap);
  EXPECT_GT(from_a, 0);
  EXPECT_GT(from_b, 0);
  for (const auto& [id, count] : seen) EXPECT_EQ(count, 1) << id;
}

TEST_F(DurableSubscriptionTest, ExpiredLeaseIsDeliveredAgain) {
  v1::SubscribeRequest request = Durable("expiry");
  request.mutable_ack_deadline()->set_seconds(1);
  OpenStream stream = test_support::Subscribe(*stub_, request);
  PostEvents(1, "evt_expiry_");
  std::vector<v1::Delivery> first = ReadDeliveries(stream, 1);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].attempt(), 1);

  std::vector<v1::Delivery> second = ReadDeliveries(stream, 1);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].event().id(), "evt_expiry_0");
  EXPECT_EQ(second[0].attempt(), 2);
  EXPECT_NE(second[0].ack_id(), first[0].ack_id());

  // The expired lease's ack id no longer counts; the live one does.
  EXPECT_EQ(Acknowledge("expiry", first), 0);
  EXPECT_EQ(Acknowledge("expiry", second), 1);
  EXPECT_EQ(GetStatus("evt_expiry_0").deliveries(0).state(),
            v1::DELIVERY_STATE_ACKNOWLEDGED);
}

TEST_F(DurableSubscriptionTest, ZeroDeadlineReturnsDeliveryAtOnce) {
  OpenStream stream = test_support::Subscribe(*stub_, Durable("nack"));
  PostEvents(1, "evt_nack_");
  std::vector<v1::Delivery> first = ReadDeliveries(stream, 1);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(ModifyDeadline("nack", first, 0), 1);
  std::vector<v1::Delivery> second = ReadDeliveries(stream, 1);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].attempt(), 2);
  EXPECT_EQ(ModifyDeadline("nack", second, 60), 1);
  EXPECT_TRUE(NextIsHeartbeat(stream));
}

TEST_F(DurableSubscriptionTest, DeadLettersAndRedrive) {
  v1::SubscribeRequest request = Durable("dead");
  request.set_max_delivery_attempts(2);
  OpenStream stream = test_support::Subscribe(*stub_, request);
  PostEvents(1, "evt_dead_");
  for (int attempt = 1; attempt <= 2; ++attempt) {
    std::vector<v1::Delivery> delivery = ReadDeliveries(stream, 1);
    ASSERT_EQ(delivery.size(), 1u);
    EXPECT_EQ(delivery[0].attempt(), attempt);
    ModifyDeadline("dead", delivery, 0);
  }
  EXPECT_TRUE(NextIsHeartbeat(stream));
  absl::SleepFor(absl::Milliseconds(100));
  v1::EventStatus status = GetStatus("evt_dead_0");
  ASSERT_EQ(status.deliveries_size(), 1);
  EXPECT_EQ(status.deliveries(0).state(), v1::DELIVERY_STATE_DEAD_LETTERED);
  EXPECT_EQ(status.deliveries(0).attempts(), 2);

  grpc::ClientContext list_context;
  v1::ListEventsRequest list;
  list.set_subscription("dead");
  list.set_delivery_state(v1::DELIVERY_STATE_DEAD_LETTERED);
  v1::ListEventsResponse listed;
  ASSERT_TRUE(stub_->ListEvents(&list_context, list, &listed).ok());
  ASSERT_EQ(listed.events_size(), 1);
  EXPECT_EQ(listed.events(0).id(), "evt_dead_0");

  grpc::ClientContext redrive_context;
  v1::RedriveDeadLettersRequest redrive;
  redrive.set_subscription("dead");
  v1::RedriveDeadLettersResponse redriven;
  ASSERT_TRUE(
      stub_->RedriveDeadLetters(&redrive_context, redrive, &redriven).ok());
  EXPECT_EQ(redriven.redriven(), 1);
  std::vector<v1::Delivery> again = ReadDeliveries(stream, 1);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].event().id(), "evt_dead_0");
  EXPECT_EQ(again[0].attempt(), 1);
}

TEST_F(DurableSubscriptionTest, OrderedDeliveryWaitsPerKey) {
  v1::SubscribeRequest request = Durable("ordered");
  request.set_ordered(true);
  request.set_max_outstanding(10);
  OpenStream stream = test_support::Subscribe(*stub_, request);
  ASSERT_EQ(PostEvent(*bridge_, "payment_link.paid", "evt_a1", "pl_a")->status,
            200);
  ASSERT_EQ(PostEvent(*bridge_, "payment_link.paid", "evt_a2", "pl_a")->status,
            200);
  ASSERT_EQ(PostEvent(*bridge_, "payment_link.paid", "evt_b1", "pl_b")->status,
            200);

  std::vector<v1::Delivery> first = ReadDeliveries(stream, 2);
  EXPECT_EQ(Ids(first), (std::vector<std::string>{"evt_a1", "evt_b1"}));
  EXPECT_TRUE(NextIsHeartbeat(stream));
  Acknowledge("ordered", {first[0]});
  std::vector<v1::Delivery> next = ReadDeliveries(stream, 1);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].event().id(), "evt_a2");
}

TEST_F(DurableSubscriptionTest, SeekBackAndForward) {
  PostEvents(5, "evt_seek_");
  OpenStream stream = test_support::Subscribe(*stub_, Durable("seek"));
  std::vector<v1::Delivery> all = ReadDeliveries(stream, 5);
  ASSERT_EQ(all.size(), 5u);
  EXPECT_EQ(Acknowledge("seek", all), 5);

  grpc::ClientContext back_context;
  v1::SeekRequest back;
  back.set_subscription("seek");
  back.set_sequence(all[1].event().sequence());
  v1::SeekResponse moved;
  ASSERT_TRUE(stub_->Seek(&back_context, back, &moved).ok());
  EXPECT_EQ(moved.cursor(), all[1].event().sequence());
  std::vector<v1::Delivery> replayed = ReadDeliveries(stream, 3);
  EXPECT_EQ(Ids(replayed), (std::vector<std::string>{"evt_seek_2", "evt_seek_3",
                                                     "evt_seek_4"}));

  grpc::ClientContext forward_context;
  v1::SeekRequest forward;
  forward.set_subscription("seek");
  forward.set_sequence(all[4].event().sequence());
  ASSERT_TRUE(stub_->Seek(&forward_context, forward, &moved).ok());
  // The replayed leases were dropped by the seek: their ack ids are void.
  EXPECT_EQ(Acknowledge("seek", replayed), 0);
  EXPECT_TRUE(NextIsHeartbeat(stream));
  EXPECT_EQ(GetStatus("evt_seek_3").deliveries(0).state(),
            v1::DELIVERY_STATE_ACKNOWLEDGED);
}

TEST_F(DurableSubscriptionTest, DifferentFilterIsRejected) {
  v1::SubscribeRequest request = Durable("filtered");
  request.add_event_types("payment_link.*");
  {
    OpenStream stream = test_support::Subscribe(*stub_, request);
    ASSERT_TRUE(NextIsHeartbeat(stream));
  }

  v1::SubscribeRequest other = Durable("filtered");
  other.add_event_types("subscription.*");
  OpenStream stream = test_support::Subscribe(*stub_, other);
  v1::SubscribeResponse response;
  EXPECT_FALSE(stream.reader->Read(&response));
  grpc::Status status = stream.reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(status.error_message().find("DeleteSubscription"),
            std::string::npos)
      << status.error_message();

  // The same set of patterns in another order is the same filter.
  v1::SubscribeRequest same = Durable("filtered");
  same.add_event_types("payment_link.*");
  same.add_event_types("payment_link.*");
  OpenStream accepted = test_support::Subscribe(*stub_, same);
  EXPECT_TRUE(NextIsHeartbeat(accepted));
}

TEST_F(DurableSubscriptionTest, StatusFollowsDelivery) {
  v1::SubscribeRequest request = Durable("status");
  OpenStream stream = test_support::Subscribe(*stub_, request);
  ASSERT_TRUE(NextIsHeartbeat(stream));
  PostEvents(1, "evt_status_");
  std::vector<v1::Delivery> delivered = ReadDeliveries(stream, 1);
  ASSERT_EQ(delivered.size(), 1u);
  absl::SleepFor(absl::Milliseconds(100));

  v1::EventStatus leased = GetStatus("evt_status_0");
  ASSERT_EQ(leased.deliveries_size(), 1);
  EXPECT_EQ(leased.deliveries(0).subscription(), "status");
  EXPECT_EQ(leased.deliveries(0).state(), v1::DELIVERY_STATE_LEASED);
  EXPECT_EQ(leased.deliveries(0).attempts(), 1);
  EXPECT_TRUE(leased.deliveries(0).has_last_delivered_at());
  EXPECT_FALSE(leased.deliveries(0).has_acknowledged_at());

  Acknowledge("status", delivered);
  v1::EventStatus acknowledged = GetStatus("evt_status_0");
  ASSERT_EQ(acknowledged.deliveries_size(), 1);
  EXPECT_EQ(acknowledged.deliveries(0).state(),
            v1::DELIVERY_STATE_ACKNOWLEDGED);
  EXPECT_TRUE(acknowledged.deliveries(0).has_acknowledged_at());

  grpc::ClientContext context;
  v1::ListSubscriptionsRequest list;
  v1::ListSubscriptionsResponse subscriptions;
  ASSERT_TRUE(stub_->ListSubscriptions(&context, list, &subscriptions).ok());
  ASSERT_EQ(subscriptions.subscriptions_size(), 1);
  EXPECT_EQ(subscriptions.subscriptions(0).name(), "status");
  EXPECT_EQ(subscriptions.subscriptions(0).backlog_events(), 0);
  EXPECT_EQ(subscriptions.subscriptions(0).open_streams(), 1);
}

TEST_F(DurableSubscriptionTest, EventsBeforeCreationHaveNoState) {
  PostEvents(1, "evt_before_");
  v1::SubscribeRequest request = Durable("late");
  request.set_position(v1::START_POSITION_LATEST);
  OpenStream stream = test_support::Subscribe(*stub_, request);
  ASSERT_TRUE(NextIsHeartbeat(stream));
  EXPECT_EQ(GetStatus("evt_before_0").deliveries_size(), 0);
}

// Reads deliveries without acknowledging them until nothing more comes:
// two heartbeats in a row mean a second without deliveries.
std::vector<v1::Delivery> ReadUntilQuiet(OpenStream& stream) {
  std::vector<v1::Delivery> delivered;
  v1::SubscribeResponse response;
  int quiet = 0;
  while (quiet < 2 && stream.reader->Read(&response)) {
    quiet =
        response.deliveries_size() == 0 && !delivered.empty() ? quiet + 1 : 0;
    for (const v1::Delivery& delivery : response.deliveries()) {
      delivered.push_back(delivery);
    }
  }
  return delivered;
}

class LargeEventWindowTest : public DurableSubscriptionTest {
 protected:
  static constexpr size_t kEvents = 120;

  void PostLargeEvents() {
    for (size_t i = 0; i < kEvents; ++i) {
      httplib::Result result = test_support::PostLargeEvent(
          *bridge_, absl::StrCat("evt_window_", i), 200 * 1024);
      ASSERT_TRUE(result);
      ASSERT_EQ(result->status, 200) << result->body;
    }
  }

  // Checks that a stream that does not acknowledge gets no more than the
  // window's bytes of events, then acknowledges until every event arrived
  // exactly once.
  void ExpectWindowThenAll(const std::string& subscription,
                           OpenStream& stream) {
    std::vector<v1::Delivery> delivered = ReadUntilQuiet(stream);
    ASSERT_FALSE(delivered.empty());
    size_t event_bytes = delivered.front().event().ByteSizeLong();
    EXPECT_GT(event_bytes, 200u * 1024);
    EXPECT_LE(delivered.size(), Subscription::kWindowBytes / event_bytes + 1);
    EXPECT_LT(delivered.size(), kEvents);

    std::set<std::string> ids;
    for (const v1::Delivery& delivery : delivered) {
      ids.insert(delivery.event().id());
    }
    v1::SubscribeResponse response;
    for (int round = 0; round < 100 && ids.size() < kEvents; ++round) {
      EXPECT_EQ(Acknowledge(subscription, delivered),
                static_cast<int>(delivered.size()));
      delivered.clear();
      while (delivered.empty() && stream.reader->Read(&response)) {
        for (const v1::Delivery& delivery : response.deliveries()) {
          delivered.push_back(delivery);
          EXPECT_TRUE(ids.insert(delivery.event().id()).second)
              << delivery.event().id();
        }
      }
    }
    EXPECT_EQ(ids.size(), kEvents);
  }
};

TEST_F(LargeEventWindowTest, FillsTheWindowByBytes) {
  PostLargeEvents();
  v1::SubscribeRequest request = Durable("large_window");
  request.set_max_outstanding(1000);
  OpenStream stream = test_support::Subscribe(*stub_, request);
  ExpectWindowThenAll("large_window", stream);
}

TEST_F(LargeEventWindowTest, RedrivenDeadLettersWaitForRoom) {
  PostLargeEvents();
  v1::SubscribeRequest request = Durable("large_redrive");
  request.set_max_outstanding(1000);
  request.set_max_delivery_attempts(1);
  OpenStream stream = test_support::Subscribe(*stub_, request);
  // Returning each lease at once uses the only attempt, so every event is
  // dead-lettered.
  size_t returned = 0;
  v1::SubscribeResponse response;
  while (returned < kEvents && stream.reader->Read(&response)) {
    std::vector<v1::Delivery> deliveries(response.deliveries().begin(),
                                         response.deliveries().end());
    if (deliveries.empty()) continue;
    EXPECT_EQ(ModifyDeadline("large_redrive", deliveries, 0),
              static_cast<int>(deliveries.size()));
    returned += deliveries.size();
  }
  ASSERT_EQ(returned, kEvents);

  int redriven = 0;
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (redriven < static_cast<int>(kEvents) && absl::Now() < deadline) {
    grpc::ClientContext context;
    v1::RedriveDeadLettersRequest redrive;
    redrive.set_subscription("large_redrive");
    v1::RedriveDeadLettersResponse response;
    ASSERT_TRUE(stub_->RedriveDeadLetters(&context, redrive, &response).ok());
    redriven += response.redriven();
    if (redriven < static_cast<int>(kEvents)) {
      absl::SleepFor(absl::Milliseconds(100));
    }
  }
  ASSERT_EQ(redriven, static_cast<int>(kEvents));
  // Events that wait for room in the window count in the backlog.
  grpc::ClientContext context;
  v1::ListSubscriptionsResponse subscriptions;
  ASSERT_TRUE(stub_
                  ->ListSubscriptions(&context, v1::ListSubscriptionsRequest(),
                                      &subscriptions)
                  .ok());
  ASSERT_EQ(subscriptions.subscriptions_size(), 1);
  EXPECT_EQ(subscriptions.subscriptions(0).backlog_events(),
            static_cast<int64_t>(kEvents));
  ExpectWindowThenAll("large_redrive", stream);
}

TEST_F(DurableSubscriptionTest, StalledStreamDoesNotDelayOthers) {
  v1::SubscribeRequest stalled_request = Durable("stalled");
  stalled_request.set_max_outstanding(10000);
  // This stream is never read: its deliveries pile up in gRPC's buffers.
  OpenStream stalled = test_support::Subscribe(*stub_, stalled_request);
  v1::SubscribeRequest live_request = Durable("live");
  live_request.set_max_outstanding(1000);
  OpenStream live = test_support::Subscribe(*stub_, live_request);
  ASSERT_TRUE(NextIsHeartbeat(live));

  constexpr int kEvents = 300;
  std::atomic<int> received{0};
  absl::Duration worst;
  std::thread reader([&] {
    v1::SubscribeResponse response;
    while (received < kEvents && live.reader->Read(&response)) {
      absl::Time now = absl::Now();
      for (const v1::Delivery& delivery : response.deliveries()) {
        absl::Time received_at =
            absl::FromUnixSeconds(delivery.event().received_at().seconds()) +
            absl::Nanoseconds(delivery.event().received_at().nanos());
        worst = std::max(worst, now - received_at);
        ++received;
      }
    }
  });
  PostEvents(kEvents, "evt_stall_");
  reader.join();
  EXPECT_EQ(received, kEvents);
  // Generous for a loaded machine: the point is seconds, not a stall.
  EXPECT_LT(worst, absl::Seconds(3));
  std::printf("stalled-stream isolation: worst delay %s over %d events\n",
              absl::FormatDuration(worst).c_str(), kEvents);
}

TEST(DurableCrashTest, EveryAcceptedEventSurvivesSigkill) {
  auto bridge =
      std::make_unique<BridgeProcess>(test_support::OptionsWithSecret());
  ASSERT_TRUE(bridge->Start().ok()) << bridge->Output();
  {
    auto stub = test_support::NewStub(*bridge);
    OpenStream create = test_support::Subscribe(*stub, Durable("crash"));
    ASSERT_TRUE(NextIsHeartbeat(create));
  }

  absl::Mutex mu;
  std::vector<std::string> accepted;
  std::atomic<bool> stop{false};
  std::vector<std::thread> posters;
  for (int poster = 0; poster < 4; ++poster) {
    posters.emplace_back([&, poster] {
      for (int i = 0; !stop && i < 100000; ++i) {
        std::string id = absl::StrCat("evt_crash_", poster, "_", i);
        httplib::Result result = PostEvent(*bridge, "payment_link.paid", id);
        if (result && result->status == 200) {
          absl::MutexLock lock(&mu);
          accepted.push_back(id);
        }
      }
    });
  }
  absl::SleepFor(absl::Milliseconds(700));
  bridge->Stop(SIGKILL);
  stop = true;
  for (std::thread& poster : posters) poster.join();
  ASSERT_GT(accepted.size(), 10u);

  test_support::BridgeOptions options = test_support::OptionsWithSecret();
  options.data_directory =
      bridge->store_path().substr(0, bridge->store_path().rfind('/'));
  BridgeProcess restarted(options);
  ASSERT_TRUE(restarted.Start().ok()) << restarted.Output();
  auto stub = test_support::NewStub(restarted);
  v1::SubscribeRequest request = Durable("crash");
  request.set_max_outstanding(10000);
  OpenStream stream = test_support::Subscribe(*stub, request);
  std::set<std::string> delivered;
  v1::SubscribeResponse response;
  while (stream.reader->Read(&response) && response.deliveries_size() > 0) {
    for (const v1::Delivery& delivery : response.deliveries()) {
      delivered.insert(delivery.event().id());
    }
  }
  for (const std::string& id : accepted) {
    EXPECT_EQ(delivered.count(id), 1u) << id << " was answered 200 but lost";
  }
}

}  // namespace
}  // namespace paymento::bridge
