// Serialized SubscribeResponse messages for raw gRPC writes.
//
// The Subscribe method is registered as a raw callback method, so streams
// write grpc::ByteBuffer messages. Tail streams build them from the stored
// form of each event (SerializedEvent::bytes) without parsing it:
// a SubscribeResponse is the concatenation of its `deliveries` field
// records, and each record wraps the event bytes in a few bytes of framing.
// The result is byte for byte what serializing the equivalent
// v1::SubscribeResponse produces.
#ifndef PAYMENTO_BRIDGE_SRC_GRPC_SERVICE_SUBSCRIBE_RESPONSE_BYTES_H_
#define PAYMENTO_BRIDGE_SRC_GRPC_SERVICE_SUBSCRIBE_RESPONSE_BYTES_H_

#include <grpcpp/support/byte_buffer.h>

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"
#include "paymento/bridge/v1/event_service.pb.h"

namespace paymento::bridge {

// Size past which a Subscribe or ListEvents response takes no further
// event. Counting events alone let a response of large events pass gRPC's
// default 4 MiB receive limit, which every retry then hit again. A
// response always carries at least one event, so an event larger than a
// client's limit still fails on that client (see the README).
inline constexpr size_t kMaxResponseBytes = 1 << 20;

// Accumulates the deliveries of one SubscribeResponse in wire format.
class SubscribeResponseBytes {
 public:
  // Appends a Delivery of the serialized v1::Event `event_bytes` with
  // `attempt` and no ack id.
  void AddDelivery(absl::string_view event_bytes, int attempt);

  int deliveries() const { return deliveries_; }
  size_t size() const { return bytes_.size(); }

  // Returns the response built so far, without copying it, and starts an
  // empty one. With no delivery the result is a heartbeat.
  grpc::ByteBuffer Release();

 private:
  std::string bytes_;
  int deliveries_ = 0;
};

// Serializes a typed response as gRPC would for a typed method.
grpc::ByteBuffer SerializeResponse(const v1::SubscribeResponse& response);

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_GRPC_SERVICE_SUBSCRIBE_RESPONSE_BYTES_H_
