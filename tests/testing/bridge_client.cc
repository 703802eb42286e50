#include "tests/testing/bridge_client.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "src/cli/sample_event.h"
#include "src/verification/signature_verifier.h"

namespace paymento::bridge::test_support {

BridgeOptions OptionsWithSecret() {
  BridgeOptions options;
  options.environment["PAYMENTO_WEBHOOK_SECRET"] = kTestSecret;
  return options;
}

httplib::Result PostSigned(const BridgeProcess& bridge, const std::string& body,
                           const std::string& signature) {
  httplib::Client client(bridge.http_base());
  client.set_read_timeout(10);
  httplib::Headers headers = {{"X-Paymento-Signature", signature}};
  return client.Post("/webhook", headers, body, "application/json");
}

httplib::Result PostEvent(const BridgeProcess& bridge, const std::string& type,
                          const std::string& id,
                          const std::string& payment_link_id) {
  std::string body = SampleWebhookBody(type, id, absl::Now());
  if (!payment_link_id.empty()) {
    body = absl::StrReplaceAll(
        body, {{"\"pl_test_0001\"", "\"" + payment_link_id + "\""}});
  }
  return PostSigned(bridge, body, HmacSha256Hex(kTestSecret, body));
}

httplib::Result PostLargeEvent(const BridgeProcess& bridge,
                               const std::string& id,
                               size_t description_bytes) {
  nlohmann::json body = nlohmann::json::parse(
      SampleWebhookBody("payment_link.paid", id, absl::Now()));
  body["paymentLink"]["description"] = std::string(description_bytes, 'x');
  std::string text = body.dump();
  return PostSigned(bridge, text, HmacSha256Hex(kTestSecret, text));
}

std::unique_ptr<v1::EventService::Stub> NewStub(const BridgeProcess& bridge) {
  return v1::EventService::NewStub(grpc::CreateChannel(
      bridge.grpc_address(), grpc::InsecureChannelCredentials()));
}

OpenStream::~OpenStream() {
  if (context != nullptr) context->TryCancel();
}

OpenStream Subscribe(v1::EventService::Stub& stub,
                     const v1::SubscribeRequest& request,
                     absl::Duration deadline) {
  OpenStream stream;
  stream.context = std::make_unique<grpc::ClientContext>();
  stream.context->set_deadline(absl::ToChronoTime(absl::Now() + deadline));
  stream.reader = stub.Subscribe(stream.context.get(), request);
  return stream;
}

std::vector<v1::Delivery> ReadDeliveries(OpenStream& stream, size_t count) {
  std::vector<v1::Delivery> deliveries;
  v1::SubscribeResponse response;
  while (deliveries.size() < count && stream.reader->Read(&response)) {
    for (const v1::Delivery& delivery : response.deliveries()) {
      deliveries.push_back(delivery);
    }
  }
  return deliveries;
}

bool NextIsHeartbeat(OpenStream& stream) {
  v1::SubscribeResponse response;
  if (!stream.reader->Read(&response)) return false;
  return response.deliveries_size() == 0;
}

std::string WaitForLogLine(const BridgeProcess& bridge,
                           absl::string_view message, absl::Duration timeout) {
  const std::string infix = absl::StrCat(" ", message, " ");
  const std::string suffix = absl::StrCat(" ", message);
  absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    for (absl::string_view line :
         absl::StrSplit(bridge.Output(), '\n', absl::SkipEmpty())) {
      if (absl::StrContains(line, infix) || absl::EndsWith(line, suffix)) {
        return std::string(line);
      }
    }
    if (absl::Now() >= deadline) return "";
    absl::SleepFor(absl::Milliseconds(20));
  }
}

}  // namespace paymento::bridge::test_support
