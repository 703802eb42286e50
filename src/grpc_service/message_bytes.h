// Conversion between protobuf messages and the serialized form that raw
// gRPC methods receive and send (grpc::ByteBuffer), with the errors a
// client sees when its request does not parse.
#ifndef PAYMENTO_BRIDGE_SRC_GRPC_SERVICE_MESSAGE_BYTES_H_
#define PAYMENTO_BRIDGE_SRC_GRPC_SERVICE_MESSAGE_BYTES_H_

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace paymento::bridge {

// Parses `bytes` into `message` and returns whether they parse. Deserialize
// consumes its buffer, and the bytes belong to gRPC, so this parses a copy,
// which shares the slices.
template <typename Message>
bool ParseCopy(const grpc::ByteBuffer& bytes, Message* message) {
  grpc::ByteBuffer copy(bytes);
  return grpc::SerializationTraits<Message>::Deserialize(&copy, message).ok();
}

// Parses `bytes` as a `Message`. A request that does not parse gets
// INVALID_ARGUMENT naming the message the method expects.
template <typename Message>
absl::StatusOr<Message> ParseMessage(const grpc::ByteBuffer& bytes) {
  Message message;
  if (!ParseCopy(bytes, &message)) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid ", Message::descriptor()->name(),
                     ": the message does not parse; send a ",
                     Message::descriptor()->full_name()));
  }
  return message;
}

// Serializes `message` into `bytes`. Fails only for a message over 2 GiB.
template <typename Message>
absl::Status SerializeMessage(const Message& message, grpc::ByteBuffer* bytes) {
  bool own_buffer = false;
  grpc::Status serialized = grpc::SerializationTraits<Message>::Serialize(
      message, bytes, &own_buffer);
  if (!serialized.ok()) {
    return absl::InternalError(
        absl::StrCat("cannot serialize the ", Message::descriptor()->name(),
                     " response: ", serialized.error_message()));
  }
  return absl::OkStatus();
}

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_GRPC_SERVICE_MESSAGE_BYTES_H_
