// End-to-end tests against the real paymento-bridge binary: signed webhooks
// posted over HTTP, received on real gRPC streams, and found again after a
// restart.
#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "paymento/bridge/v1/event_service.grpc.pb.h"
#include "src/cli/sample_event.h"
#include "src/verification/signature_verifier.h"
#include "tests/testing/bridge_client.h"
#include "tests/testing/bridge_process.h"

namespace paymento::bridge {
namespace {

using ::paymento::bridge::test_support::BridgeOptions;
using ::paymento::bridge::test_support::BridgeProcess;

using ::paymento::bridge::test_support::kTestSecret;
using ::paymento::bridge::test_support::PostEvent;
using ::paymento::bridge::test_support::PostSigned;

constexpr const char* kSecret = kTestSecret;

BridgeOptions DefaultOptions() { return test_support::OptionsWithSecret(); }

// Options for a bridge that opens the store `bridge` used, as a restart
// would.
BridgeOptions OptionsOnSameStore(const BridgeProcess& bridge) {
  BridgeOptions options = DefaultOptions();
  options.data_directory =
      bridge.store_path().substr(0, bridge.store_path().rfind('/'));
  return options;
}

std::unique_ptr<v1::EventService::Stub> Stub(const BridgeProcess& bridge) {
  return test_support::NewStub(bridge);
}

// Reads deliveries from a stream until `count` events arrived or the
// deadline passes; heartbeats are skipped.
std::vector<v1::Event> ReadEvents(
    grpc::ClientReader<v1::SubscribeResponse>& reader, size_t count) {
  std::vector<v1::Event> events;
  v1::SubscribeResponse response;
  while (events.size() < count && reader.Read(&response)) {
    for (const v1::Delivery& delivery : response.deliveries()) {
      events.push_back(delivery.event());
    }
  }
  return events;
}

class EndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    bridge_ = std::make_unique<BridgeProcess>(DefaultOptions());
    ASSERT_TRUE(bridge_->Start().ok()) << bridge_->Output();
  }

  std::unique_ptr<BridgeProcess> bridge_;
};

TEST_F(EndToEndTest, DeliversWebhooksFilteredByType) {
  auto stub = Stub(*bridge_);
  grpc::ClientContext links_context;
  links_context.set_deadline(std::chrono::system_clock::now() +
                             std::chrono::seconds(20));
  v1::SubscribeRequest links_request;
  links_request.add_event_types("payment_link.*");
  links_request.set_position(v1::START_POSITION_EARLIEST);
  auto links = stub->Subscribe(&links_context, links_request);

  grpc::ClientContext renewals_context;
  renewals_context.set_deadline(std::chrono::system_clock::now() +
                                std::chrono::seconds(20));
  v1::SubscribeRequest renewals_request;
  renewals_request.add_event_types("subscription.renewed");
  renewals_request.set_position(v1::START_POSITION_EARLIEST);
  auto renewals = stub->Subscribe(&renewals_context, renewals_request);

  for (const auto& [type, id] :
       std::vector<std::pair<std::string, std::string>>{
           {"payment_link.paid", "evt_e2e_paid"},
           {"subscription.renewed", "evt_e2e_renewed"},
           {"payment_link.failed", "evt_e2e_failed"},
           {"subscription.reminder_sent", "evt_e2e_reminder"}}) {
    httplib::Result result = PostEvent(*bridge_, type, id);
    ASSERT_TRUE(result) << httplib::to_string(result.error());
    EXPECT_EQ(result->status, 200) << result->body;
    EXPECT_EQ(result->body, R"({"received":true})");
  }

  std::vector<v1::Event> link_events = ReadEvents(*links, 2);
  ASSERT_EQ(link_events.size(), 2u);
  EXPECT_EQ(link_events[0].id(), "evt_e2e_paid");
  EXPECT_EQ(link_events[0].known_type(), v1::EVENT_TYPE_PAYMENT_LINK_PAID);
  EXPECT_EQ(link_events[0].payment_link().id(), "pl_test_0001");
  EXPECT_EQ(link_events[0].customer().metadata().at("order_id"), "order-1001");
  EXPECT_EQ(link_events[0].verification().scheme(), v1::SIGNATURE_SCHEME_BODY);
  EXPECT_TRUE(link_events[0].verification().body_authenticated());
  EXPECT_TRUE(link_events[0].has_received_at());
  EXPECT_EQ(link_events[1].id(), "evt_e2e_failed");
  EXPECT_LT(link_events[0].sequence(), link_events[1].sequence());

  std::vector<v1::Event> renewal_events = ReadEvents(*renewals, 1);
  ASSERT_EQ(renewal_events.size(), 1u);
  EXPECT_EQ(renewal_events[0].id(), "evt_e2e_renewed");
  EXPECT_EQ(renewal_events[0].type(), "subscription.renewed");

  links_context.TryCancel();
  renewals_context.TryCancel();
}

TEST_F(EndToEndTest, LatestStreamGetsOnlyNewEvents) {
  ASSERT_EQ(PostEvent(*bridge_, "payment_link.paid", "evt_before")->status,
            200);
  auto stub = Stub(*bridge_);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(20));
  v1::SubscribeRequest request;
  request.mutable_heartbeat_interval()->set_seconds(1);
  auto stream = stub->Subscribe(&context, request);
  // The first heartbeat proves the stream is open, so "latest" is fixed.
  v1::SubscribeResponse heartbeat;
  ASSERT_TRUE(stream->Read(&heartbeat));
  EXPECT_EQ(heartbeat.deliveries_size(), 0);

  ASSERT_EQ(PostEvent(*bridge_, "payment_link.expired", "evt_after")->status,
            200);
  std::vector<v1::Event> events = ReadEvents(*stream, 1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].id(), "evt_after");
  context.TryCancel();
}

// Tail streams send the stored bytes of each event. A client must decode
// them to the same event that the typed GetEvent returns, in deliveries
// with attempt 1 and no ack id.
TEST_F(EndToEndTest, StreamedEventsEqualGetEvent) {
  auto stub = Stub(*bridge_);
  v1::SubscribeRequest request;
  request.add_event_types("payment_link.*");
  request.set_position(v1::START_POSITION_EARLIEST);
  test_support::OpenStream stream = test_support::Subscribe(*stub, request);

  for (const auto& [type, id] :
       std::vector<std::pair<std::string, std::string>>{
           {"payment_link.paid", "evt_bytes_paid"},
           {"subscription.renewed", "evt_bytes_renewed"},
           {"payment_link.failed", "evt_bytes_failed"}}) {
    httplib::Result result = PostEvent(*bridge_, type, id);
    ASSERT_TRUE(result) << httplib::to_string(result.error());
    ASSERT_EQ(result->status, 200) << result->body;
  }

  std::vector<v1::Delivery> deliveries =
      test_support::ReadDeliveries(stream, 2);
  ASSERT_EQ(deliveries.size(), 2u);
  EXPECT_EQ(deliveries[0].event().id(), "evt_bytes_paid");
  EXPECT_EQ(deliveries[1].event().id(), "evt_bytes_failed");
  for (const v1::Delivery& delivery : deliveries) {
    EXPECT_EQ(delivery.attempt(), 1);
    EXPECT_TRUE(delivery.ack_id().empty());
    grpc::ClientContext context;
    v1::GetEventRequest get;
    get.set_sequence(delivery.event().sequence());
    v1::EventStatus found;
    ASSERT_TRUE(stub->GetEvent(&context, get, &found).ok());
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(
        delivery.event(), found.event()))
        << "streamed: " << delivery.event().ShortDebugString()
        << "\nstored: " << found.event().ShortDebugString();
  }
}

// Events of about 400 KB each, the body and the description it carries.
// Counting events alone made responses of them larger than the 4 MiB that
// gRPC clients accept by default, on every retry. Responses now stop at
// about 1 MiB, so default clients receive every event from a tail stream,
// a durable stream and ListEvents pages.
TEST_F(EndToEndTest, LargeEventsReachDefaultClients) {
  constexpr size_t kEvents = 12;
  for (size_t i = 0; i < kEvents; ++i) {
    httplib::Result result = test_support::PostLargeEvent(
        *bridge_, absl::StrCat("evt_large_", i), 200 * 1024);
    ASSERT_TRUE(result) << httplib::to_string(result.error());
    ASSERT_EQ(result->status, 200) << result->body;
  }
  auto stub = Stub(*bridge_);

  v1::SubscribeRequest tail_request;
  tail_request.set_position(v1::START_POSITION_EARLIEST);
  test_support::OpenStream tail = test_support::Subscribe(*stub, tail_request);
  EXPECT_EQ(test_support::ReadDeliveries(tail, kEvents).size(), kEvents);

  v1::SubscribeRequest durable_request = tail_request;
  durable_request.set_subscription("large_events");
  test_support::OpenStream durable =
      test_support::Subscribe(*stub, durable_request);
  EXPECT_EQ(test_support::ReadDeliveries(durable, kEvents).size(), kEvents);

  size_t listed = 0;
  std::string token;
  do {
    grpc::ClientContext context;
    v1::ListEventsRequest request;
    request.set_page_size(100);
    request.set_page_token(token);
    v1::ListEventsResponse response;
    grpc::Status status = stub->ListEvents(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    listed += static_cast<size_t>(response.events_size());
    token = response.next_page_token();
  } while (!token.empty());
  EXPECT_EQ(listed, kEvents);
}

// Each invalid request field ends the stream at once with
// INVALID_ARGUMENT, instead of a stream that never delivers.
TEST_F(EndToEndTest, InvalidSubscribeRequestsAreRejected) {
  auto stub = Stub(*bridge_);
  std::vector<std::pair<std::string, v1::SubscribeRequest>> cases;
  v1::SubscribeRequest request;
  request.set_after_sequence(-1);
  cases.emplace_back("negative after_sequence", request);
  request.Clear();
  request.set_position(static_cast<v1::StartPosition>(99));
  cases.emplace_back("undefined position", request);
  request.Clear();
  request.mutable_heartbeat_interval()->set_nanos(500000000);
  cases.emplace_back("heartbeat under 1s", request);
  request.Clear();
  request.mutable_heartbeat_interval()->set_seconds(2 * 3600);
  cases.emplace_back("heartbeat over 1h", request);
  request.Clear();
  for (int i = 0; i < 101; ++i) {
    request.add_event_types(absl::StrCat("type_", i));
  }
  cases.emplace_back("101 event types", request);
  request.Clear();
  request.add_event_types("a*");
  cases.emplace_back("invalid pattern", request);

  for (const auto& [name, invalid] : cases) {
    test_support::OpenStream stream = test_support::Subscribe(*stub, invalid);
    v1::SubscribeResponse response;
    EXPECT_FALSE(stream.reader->Read(&response)) << name;
    grpc::Status status = stream.reader->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << name << ": " << status.error_message();
  }
}

// After a restart no event is in memory, so a stream that starts behind
// reads the database, then goes on with events committed after it opened.
// The filter and the exclusive after_sequence cursor hold on both paths.
TEST_F(EndToEndTest, CursorAndFilterHoldAfterRestart) {
  const std::vector<std::pair<std::string, std::string>> before = {
      {"payment_link.paid", "evt_cursor_1"},
      {"payment_link.paid", "evt_cursor_2"},
      {"subscription.renewed", "evt_cursor_3"},
      {"payment_link.expired", "evt_cursor_4"},
      {"subscription.renewed", "evt_cursor_5"}};
  for (const auto& [type, id] : before) {
    ASSERT_EQ(PostEvent(*bridge_, type, id)->status, 200);
  }
  ASSERT_EQ(bridge_->Stop(SIGTERM), 0) << bridge_->Output();
  BridgeProcess restarted(OptionsOnSameStore(*bridge_));
  ASSERT_TRUE(restarted.Start().ok()) << restarted.Output();

  auto stub = Stub(restarted);
  v1::SubscribeRequest request;
  request.add_event_types("payment_link.*");
  request.set_after_sequence(1);
  test_support::OpenStream stream = test_support::Subscribe(*stub, request);
  std::vector<v1::Delivery> stored = test_support::ReadDeliveries(stream, 2);
  ASSERT_EQ(stored.size(), 2u);
  EXPECT_EQ(stored[0].event().id(), "evt_cursor_2");
  EXPECT_EQ(stored[0].event().sequence(), 2);
  EXPECT_EQ(stored[1].event().id(), "evt_cursor_4");
  EXPECT_EQ(stored[1].event().sequence(), 4);

  ASSERT_EQ(
      PostEvent(restarted, "subscription.renewed", "evt_cursor_6")->status,
      200);
  ASSERT_EQ(PostEvent(restarted, "payment_link.paid", "evt_cursor_7")->status,
            200);
  std::vector<v1::Delivery> live = test_support::ReadDeliveries(stream, 1);
  ASSERT_EQ(live.size(), 1u);
  EXPECT_EQ(live[0].event().id(), "evt_cursor_7");
  EXPECT_EQ(live[0].event().sequence(), 7);
}

// A closed tail stream logs how it ended, what it sent, and the last
// sequence it wrote.
TEST_F(EndToEndTest, ClosedTailStreamLogsWhatItSent) {
  ASSERT_EQ(PostEvent(*bridge_, "payment_link.paid", "evt_logged")->status,
            200);
  ASSERT_EQ(PostEvent(*bridge_, "payment_link.expired", "evt_skipped")->status,
            200);
  auto stub = Stub(*bridge_);
  v1::SubscribeRequest request;
  request.add_event_types("payment_link.paid");
  request.set_position(v1::START_POSITION_EARLIEST);
  request.mutable_heartbeat_interval()->set_seconds(1);
  {
    test_support::OpenStream stream = test_support::Subscribe(*stub, request);
    ASSERT_EQ(test_support::ReadDeliveries(stream, 1).size(), 1u);
    // A heartbeat follows only once the delivery's write has completed.
    ASSERT_TRUE(test_support::NextIsHeartbeat(stream));
  }
  std::string line =
      test_support::WaitForLogLine(*bridge_, "tail stream closed");
  ASSERT_FALSE(line.empty()) << bridge_->Output();
  EXPECT_TRUE(absl::StrContains(line, " status=CANCELLED ")) << line;
  EXPECT_TRUE(absl::StrContains(line, " events_sent=1 ")) << line;
  EXPECT_TRUE(absl::StrContains(line, " sent_through_sequence=2 ")) << line;
  EXPECT_TRUE(absl::StrContains(line, " elapsed_ms=")) << line;
}

// Every unary method rejects a request that does not parse with
// INVALID_ARGUMENT naming the message it expects.
TEST_F(EndToEndTest, UnparsableRequestsAreInvalidArguments) {
  const std::vector<std::pair<std::string, std::string>> methods = {
      {"GetEvent", "GetEventRequest"},
      {"ListEvents", "ListEventsRequest"},
      {"Acknowledge", "AcknowledgeRequest"},
      {"ModifyAckDeadline", "ModifyAckDeadlineRequest"},
      {"Seek", "SeekRequest"},
      {"ListSubscriptions", "ListSubscriptionsRequest"},
      {"DeleteSubscription", "DeleteSubscriptionRequest"},
      {"RedriveDeadLetters", "RedriveDeadLettersRequest"},
      {"ListQuarantined", "ListQuarantinedRequest"},
      {"GetQuarantined", "GetQuarantinedRequest"},
      {"ReleaseQuarantined", "ReleaseQuarantinedRequest"},
  };
  grpc::GenericStub stub(grpc::CreateChannel(
      bridge_->grpc_address(), grpc::InsecureChannelCredentials()));
  // Field 1, length-delimited, declares 5 bytes but contains 1.
  const std::string truncated("\x0a\x05\x01", 3);
  for (const auto& [method, message] : methods) {
    grpc::Slice slice(truncated);
    grpc::ByteBuffer request(&slice, 1);
    grpc::ByteBuffer response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(10));
    std::promise<grpc::Status> done;
    stub.UnaryCall(&context,
                   absl::StrCat("/paymento.bridge.v1.EventService/", method),
                   grpc::StubOptions(), &request, &response,
                   [&done](grpc::Status status) { done.set_value(status); });
    grpc::Status status = done.get_future().get();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << method;
    EXPECT_EQ(status.error_message(),
              absl::StrCat("invalid ", message,
                           ": the message does not parse; send a "
                           "paymento.bridge.v1.",
                           message))
        << method;
  }
}

TEST_F(EndToEndTest, WrongSignatureIsRejectedAndNeverDelivered) {
  std::string forged =
      SampleWebhookBody("payment_link.paid", "evt_forged", absl::Now());
  httplib::Result rejected =
      PostSigned(*bridge_, forged, HmacSha256Hex("wrong secret", forged));
  ASSERT_TRUE(rejected);
  EXPECT_EQ(rejected->status, 401);
  EXPECT_EQ(rejected->body, R"({"error":"invalid signature"})");

  httplib::Client client(bridge_->http_base());
  httplib::Result unsigned_result =
      client.Post("/webhook", forged, "application/json");
  ASSERT_TRUE(unsigned_result);
  EXPECT_EQ(unsigned_result->status, 401);

  ASSERT_EQ(PostEvent(*bridge_, "payment_link.paid", "evt_genuine")->status,
            200);

  auto stub = Stub(*bridge_);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(20));
  v1::SubscribeRequest request;
  request.set_position(v1::START_POSITION_EARLIEST);
  auto stream = stub->Subscribe(&context, request);
  std::vector<v1::Event> events = ReadEvents(*stream, 1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].id(), "evt_genuine");
  context.TryCancel();

  grpc::ClientContext get_context;
  v1::GetEventRequest get;
  get.set_id("evt_forged");
  v1::EventStatus status;
  EXPECT_EQ(stub->GetEvent(&get_context, get, &status).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(EndToEndTest, LongIdGetsNotFoundWithShortMessage) {
  auto stub = Stub(*bridge_);
  grpc::ClientContext context;
  v1::GetEventRequest get;
  get.set_id(std::string(20000, 'x'));
  v1::EventStatus status;
  grpc::Status result = stub->GetEvent(&context, get, &status);
  // The whole id in the message would exceed the client's metadata limit.
  EXPECT_EQ(result.error_code(), grpc::StatusCode::NOT_FOUND)
      << result.error_message().substr(0, 200);
  EXPECT_LE(result.error_message().size(), 1100u);
}

TEST_F(EndToEndTest, RepeatedEventIsStoredOnce) {
  std::string body =
      SampleWebhookBody("payment_link.paid", "evt_repeated", absl::Now());
  std::string signature = HmacSha256Hex(kSecret, body);
  httplib::Result first = PostSigned(*bridge_, body, signature);
  httplib::Result second = PostSigned(*bridge_, body, signature);
  ASSERT_TRUE(first);
  ASSERT_TRUE(second);
  EXPECT_EQ(first->status, 200);
  EXPECT_EQ(second->status, 200);
  EXPECT_EQ(second->body, R"({"received":true,"duplicate":true})");

  auto stub = Stub(*bridge_);
  grpc::ClientContext context;
  v1::GetEventRequest request;
  request.set_id("evt_repeated");
  v1::EventStatus status;
  ASSERT_TRUE(stub->GetEvent(&context, request, &status).ok());
  EXPECT_EQ(status.duplicate_count(), 1);
  EXPECT_EQ(status.event().raw_body(), body);

  grpc::ClientContext list_context;
  v1::ListEventsRequest list;
  v1::ListEventsResponse listed;
  ASSERT_TRUE(stub->ListEvents(&list_context, list, &listed).ok());
  EXPECT_EQ(listed.events_size(), 1);
}

TEST_F(EndToEndTest, EventsSurviveRestart) {
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i) {
    ids.push_back(absl::StrCat("evt_restart_", i));
    httplib::Result result =
        PostEvent(*bridge_, "payment_link.paid", ids.back());
    ASSERT_TRUE(result);
    ASSERT_EQ(result->status, 200);
  }
  int status = bridge_->Stop(SIGTERM);
  EXPECT_TRUE(WIFEXITED(status)) << bridge_->Output();
  EXPECT_EQ(WEXITSTATUS(status), 0);

  BridgeProcess restarted(OptionsOnSameStore(*bridge_));
  ASSERT_TRUE(restarted.Start().ok()) << restarted.Output();
  auto stub = Stub(restarted);
  for (size_t i = 0; i < ids.size(); ++i) {
    grpc::ClientContext context;
    v1::GetEventRequest request;
    request.set_id(ids[i]);
    v1::EventStatus found;
    ASSERT_TRUE(stub->GetEvent(&context, request, &found).ok()) << ids[i];
    EXPECT_EQ(found.event().sequence(), static_cast<int64_t>(i + 1));
  }
  ASSERT_EQ(
      PostEvent(restarted, "payment_link.paid", "evt_after_restart")->status,
      200);
  grpc::ClientContext context;
  v1::GetEventRequest request;
  request.set_sequence(21);
  v1::EventStatus found;
  ASSERT_TRUE(stub->GetEvent(&context, request, &found).ok());
  EXPECT_EQ(found.event().id(), "evt_after_restart");
}

TEST_F(EndToEndTest, RefusedRequestsGetTheirStatus) {
  httplib::Client client(bridge_->http_base());
  httplib::Result unknown = client.Post("/other", "{}", "application/json");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);

  httplib::Result get = client.Get("/webhook");
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 405);

  std::string body =
      SampleWebhookBody("payment_link.paid", "evt_gzip", absl::Now());
  httplib::Headers gzip = {
      {"Content-Encoding", "gzip"},
      {"X-Paymento-Signature", HmacSha256Hex(kSecret, body)}};
  httplib::Result encoded =
      client.Post("/webhook", gzip, body, "application/json");
  ASSERT_TRUE(encoded);
  EXPECT_EQ(encoded->status, 415);

  httplib::Client large(bridge_->http_base());
  std::string huge(300 * 1024, 'x');
  httplib::Result too_large = large.Post("/webhook", huge, "application/json");
  ASSERT_TRUE(too_large);
  EXPECT_EQ(too_large->status, 413);

  std::string not_json = "this is not json";
  httplib::Result malformed =
      PostSigned(*bridge_, not_json, HmacSha256Hex(kSecret, not_json));
  ASSERT_TRUE(malformed);
  EXPECT_EQ(malformed->status, 400);

  // The service still serves after all of the above.
  httplib::Result accepted =
      PostEvent(*bridge_, "payment_link.paid", "evt_after_refusals");
  ASSERT_TRUE(accepted);
  EXPECT_EQ(accepted->status, 200);
}

TEST_F(EndToEndTest, ShutdownEndsStreamsWithUnavailable) {
  auto stub = Stub(*bridge_);
  v1::SubscribeRequest tail_request;
  tail_request.mutable_heartbeat_interval()->set_seconds(1);
  test_support::OpenStream tail = test_support::Subscribe(*stub, tail_request);
  v1::SubscribeRequest durable_request = tail_request;
  durable_request.set_subscription("shutdown");
  test_support::OpenStream durable =
      test_support::Subscribe(*stub, durable_request);
  ASSERT_TRUE(test_support::NextIsHeartbeat(tail));
  ASSERT_TRUE(test_support::NextIsHeartbeat(durable));

  std::thread stop([&] { bridge_->Stop(SIGTERM); });
  v1::SubscribeResponse response;
  while (tail.reader->Read(&response)) {
  }
  while (durable.reader->Read(&response)) {
  }
  EXPECT_EQ(tail.reader->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(durable.reader->Finish().error_code(),
            grpc::StatusCode::UNAVAILABLE);
  stop.join();
}

TEST(ServeCommandTest, RefusesToStartWithoutSecret) {
  std::string output;
  int code = test_support::RunBridgeCommand(
      {"serve", "--http-listen=127.0.0.1:0", "--grpc-listen=127.0.0.1:0",
       "--admin-listen=127.0.0.1:0",
       absl::StrCat("--store=sqlite://", test_support::MakeTempDirectory(),
                    "/events.db")},
      {}, &output);
  EXPECT_EQ(code, 2);
  EXPECT_TRUE(absl::StrContains(output, "PAYMENTO_WEBHOOK_SECRET")) << output;
}

TEST(CommandLineTest, SendTestReachesTail) {
  BridgeProcess bridge(DefaultOptions());
  ASSERT_TRUE(bridge.Start().ok()) << bridge.Output();

  std::string tail_output;
  std::atomic<int> tail_code{-2};
  std::thread tail([&] {
    tail_code = test_support::RunBridgeCommand(
        {"tail", "--types", "payment_link.*", "--from", "earliest",
         "--grpc-address", bridge.grpc_address()},
        {}, &tail_output, absl::Seconds(3));
  });

  std::string send_output;
  int send_code = test_support::RunBridgeCommand(
      {"send-test", "--type", "payment_link.paid", "--url",
       bridge.webhook_url(), "--id", "evt_cli_test"},
      {{"PAYMENTO_WEBHOOK_SECRET", kSecret}}, &send_output);
  EXPECT_EQ(send_code, 0) << send_output;
  EXPECT_TRUE(absl::StrContains(send_output, "200")) << send_output;
  tail.join();
  EXPECT_TRUE(absl::StrContains(tail_output, "\"id\":\"evt_cli_test\""))
      << tail_output;
  EXPECT_TRUE(absl::StrContains(tail_output, "\"type\":\"payment_link.paid\""))
      << tail_output;

  std::string get_output;
  int get_code = test_support::RunBridgeCommand(
      {"get", "evt_cli_test", "--grpc-address", bridge.grpc_address()}, {},
      &get_output);
  EXPECT_EQ(get_code, 0) << get_output;
  EXPECT_TRUE(absl::StrContains(get_output, "evt_cli_test")) << get_output;

  std::string empty_type_output;
  int empty_type_code = test_support::RunBridgeCommand(
      {"send-test", "--type=", "--url", bridge.webhook_url()},
      {{"PAYMENTO_WEBHOOK_SECRET", kSecret}}, &empty_type_output);
  EXPECT_EQ(empty_type_code, 2) << empty_type_output;
  EXPECT_TRUE(absl::StrContains(empty_type_output, "invalid --type"))
      << empty_type_output;
}

}  // namespace
}  // namespace paymento::bridge
