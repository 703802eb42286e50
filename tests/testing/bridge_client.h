// Client helpers for tests of the real binary: signed webhook posts over
// HTTP and gRPC stubs and streams.
#ifndef PAYMENTO_BRIDGE_TESTS_TESTING_BRIDGE_CLIENT_H_
#define PAYMENTO_BRIDGE_TESTS_TESTING_BRIDGE_CLIENT_H_

#include <grpcpp/grpcpp.h>
#include <httplib.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "paymento/bridge/v1/event_service.grpc.pb.h"
#include "tests/testing/bridge_process.h"

namespace paymento::bridge::test_support {

// The webhook secret the test bridges run with.
inline constexpr char kTestSecret[] = "whsec_integration_test";

// Options that start a bridge with kTestSecret.
BridgeOptions OptionsWithSecret();

httplib::Result PostSigned(const BridgeProcess& bridge, const std::string& body,
                           const std::string& signature);

// Posts a sample event of `type` with `id`, signed with kTestSecret. A
// non-empty `payment_link_id` replaces the sample's link id.
httplib::Result PostEvent(const BridgeProcess& bridge, const std::string& type,
                          const std::string& id,
                          const std::string& payment_link_id = "");

// Posts a sample payment_link.paid event with `id` whose payment link
// description has `description_bytes` bytes, signed with kTestSecret.
httplib::Result PostLargeEvent(const BridgeProcess& bridge,
                               const std::string& id, size_t description_bytes);

std::unique_ptr<v1::EventService::Stub> NewStub(const BridgeProcess& bridge);

// A client stream with its own context, cancelled on destruction.
struct OpenStream {
  std::unique_ptr<grpc::ClientContext> context;
  std::unique_ptr<grpc::ClientReader<v1::SubscribeResponse>> reader;
  OpenStream() = default;
  OpenStream(OpenStream&&) = default;
  ~OpenStream();
};

OpenStream Subscribe(v1::EventService::Stub& stub,
                     const v1::SubscribeRequest& request,
                     absl::Duration deadline = absl::Seconds(30));

// Reads responses until `count` deliveries arrived or the stream ends.
std::vector<v1::Delivery> ReadDeliveries(OpenStream& stream, size_t count);

// Reads one response and returns whether it was a heartbeat, i.e. whether
// nothing was delivered before the next heartbeat.
bool NextIsHeartbeat(OpenStream& stream);

// Waits up to `timeout` for a line of the bridge's text log with the
// message `message` and returns it, or returns an empty string.
std::string WaitForLogLine(const BridgeProcess& bridge,
                           absl::string_view message,
                           absl::Duration timeout = absl::Seconds(5));

}  // namespace paymento::bridge::test_support

#endif  // PAYMENTO_BRIDGE_TESTS_TESTING_BRIDGE_CLIENT_H_
