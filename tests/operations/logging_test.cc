// Log output of the real binary: --log-format, --log-level, and no customer
// e-mail address or secret in any line.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"
#include "tests/operations/operations_support.h"

namespace paymento::bridge::test_support {
namespace {

std::vector<std::string> Lines(const std::string& output) {
  return absl::StrSplit(output, '\n', absl::SkipEmpty());
}

// Starts a bridge with `flags`, posts one webhook, stops it, and returns
// everything it logged.
std::string RunAndStop(const std::vector<std::string>& flags) {
  BridgeOptions options = OperationsOptions();
  options.extra_args.insert(options.extra_args.end(), flags.begin(),
                            flags.end());
  BridgeProcess bridge(options);
  absl::Status started = bridge.Start();
  EXPECT_TRUE(started.ok()) << bridge.Output();
  if (!started.ok()) return bridge.Output();
  httplib::Result posted =
      PostEvent(bridge, "payment_link.paid", "evt_logging");
  EXPECT_TRUE(posted);
  if (posted) EXPECT_EQ(posted->status, 200);
  bridge.Stop(SIGTERM);
  return bridge.Output();
}

TEST(LoggingTest, JsonFormatWritesOneObjectPerLine) {
  std::string output = RunAndStop({"--log-format=json"});
  std::vector<std::string> lines = Lines(output);
  ASSERT_FALSE(lines.empty());
  bool started = false;
  for (const std::string& line : lines) {
    nlohmann::json object = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(object.is_discarded()) << line;
    EXPECT_TRUE(object.contains("time")) << line;
    EXPECT_TRUE(object.contains("level")) << line;
    EXPECT_TRUE(object.contains("msg")) << line;
    if (object.value("msg", "") != "paymento-bridge started") continue;
    started = true;
    EXPECT_EQ(object.value("version", ""), "0.1.0");
    EXPECT_EQ(object.value("webhook_secrets", ""), "1");
    EXPECT_EQ(object.value("signature_schemes", ""), "body,header");
    EXPECT_EQ(object.value("grpc_tls", ""), "off");
    EXPECT_TRUE(absl::StartsWith(object.value("store", ""), "sqlite://"));
  }
  EXPECT_TRUE(started) << output;
  EXPECT_TRUE(absl::StrContains(output, R"("msg":"request")")) << output;
}

TEST(LoggingTest, ProtobufMessagesKeepTheJsonFormat) {
  BridgeOptions options = OperationsOptions();
  options.extra_args.push_back("--log-format=json");
  BridgeProcess bridge(options);
  ASSERT_TRUE(bridge.Start().ok()) << bridge.Output();
  // protobuf reports a string that is not valid UTF-8 when it parses the
  // request on the server.
  v1::SubscribeRequest request;
  request.add_event_types("payment\xff");
  auto stub = EventStub(PlaintextChannel(bridge));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  std::unique_ptr<grpc::ClientReader<v1::SubscribeResponse>> reader =
      stub->Subscribe(&context, request);
  v1::SubscribeResponse response;
  EXPECT_FALSE(reader->Read(&response));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  bridge.Stop(SIGTERM);

  std::string output = bridge.Output();
  bool reported = false;
  for (const std::string& line : Lines(output)) {
    nlohmann::json object = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(object.is_discarded()) << line;
    if (object.value("msg", "") != "protobuf error") continue;
    reported = true;
    EXPECT_EQ(object.value("level", ""), "warn") << line;
    EXPECT_TRUE(absl::StrContains(object.value("detail", ""), "UTF-8"))
        << line;
  }
  EXPECT_TRUE(reported) << output;
}

TEST(LoggingTest, TextFormatWritesKeyValueLines) {
  std::string output = RunAndStop({"--log-format=text"});
  bool started = false;
  for (const std::string& line : Lines(output)) {
    EXPECT_NE(line.front(), '{') << line;
    if (absl::StrContains(line, " info paymento-bridge started ")) {
      started = true;
      EXPECT_TRUE(absl::StrContains(line, " version=0.1.0 ")) << line;
      EXPECT_TRUE(absl::StrContains(line, " webhook_secrets=1 ")) << line;
    }
  }
  EXPECT_TRUE(started) << output;
  EXPECT_TRUE(absl::StrContains(output, " info request ")) << output;
}

TEST(LoggingTest, LevelWarnHidesInfoLines) {
  std::string output = RunAndStop({"--log-format=text", "--log-level=warn"});
  EXPECT_FALSE(absl::StrContains(output, " info ")) << output;
  EXPECT_FALSE(absl::StrContains(output, "paymento-bridge started")) << output;
}

TEST(LoggingTest, LevelDebugNeverPrintsEmailsOrSecrets) {
  BridgeOptions options = OperationsOptions();
  options.extra_args = {"--log-level=debug", "--drain-delay=0s"};
  options.environment["PAYMENTO_BRIDGE_GRPC_TOKEN"] = "client-token-secret";
  BridgeProcess bridge(options);
  ASSERT_TRUE(bridge.Start().ok()) << bridge.Output();
  // The sample event's customer is jane.doe@example.com.
  ASSERT_EQ(PostEvent(bridge, "payment_link.paid", "evt_email")->status, 200);
  auto stub = EventStub(PlaintextChannel(bridge));
  grpc::ClientContext context;
  context.AddMetadata("authorization", "Bearer client-token-secret");
  v1::ListEventsRequest request;
  request.set_customer_email("jane.doe@example.com");
  v1::ListEventsResponse response;
  ASSERT_TRUE(stub->ListEvents(&context, request, &response).ok());
  ASSERT_EQ(response.events_size(), 1);
  bridge.Stop(SIGTERM);

  std::string output = bridge.Output();
  EXPECT_TRUE(absl::StrContains(output, "evt_email")) << output;
  EXPECT_FALSE(absl::StrContains(output, "jane.doe@example.com")) << output;
  EXPECT_FALSE(absl::StrContains(output, kWebhookSecret)) << output;
  EXPECT_FALSE(absl::StrContains(output, "client-token-secret")) << output;
}

}  // namespace
}  // namespace paymento::bridge::test_support
