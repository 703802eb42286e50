#include "bench/scenario_support.h"

#include <grpcpp/grpcpp.h>

#include <httplib.h>

#include "absl/strings/str_cat.h"
#include "src/verification/signature_verifier.h"

namespace paymento::bridge::bench {

absl::StatusOr<std::unique_ptr<BridgeServer>> StartBridgeIn(
    const BenchConfig& config, const std::string& directory) {
  BridgeLaunch launch;
  launch.binary = config.bridge_binary;
  launch.store_path = directory + "/events.db";
  launch.log_path = directory + "/bridge.log";
  launch.webhook_secret = kBenchSecret;
  return BridgeServer::Start(launch);
}

std::unique_ptr<v1::EventService::Stub> NewEventStub(
    const std::string& address) {
  grpc::ChannelArguments arguments;
  arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  // The default 4 MB would do; replay responses stay far below it.
  arguments.SetMaxReceiveMessageSize(64 << 20);
  return v1::EventService::NewStub(grpc::CreateCustomChannel(
      address, grpc::InsecureChannelCredentials(), arguments));
}

std::string GrpcCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    default:
      return absl::StrCat("status code ", static_cast<int>(code));
  }
}

absl::Status PostWebhook(int http_port, const SignedWebhooks& webhooks,
                         const std::string& event_id) {
  httplib::Client client("127.0.0.1", http_port);
  client.set_read_timeout(10);
  std::string body = webhooks.Body(event_id);
  httplib::Headers headers = {
      {"X-Paymento-Signature", HmacSha256Hex(kBenchSecret, body)}};
  httplib::Result result =
      client.Post("/webhook", headers, body, "application/json");
  if (!result) {
    return absl::UnavailableError(absl::StrCat(
        "posting webhook ", event_id, " failed: ",
        httplib::to_string(result.error())));
  }
  if (result->status != 200) {
    return absl::InternalError(absl::StrCat("webhook ", event_id,
                                            " got status ", result->status, " ",
                                            result->body));
  }
  return absl::OkStatus();
}

}  // namespace paymento::bridge::bench
