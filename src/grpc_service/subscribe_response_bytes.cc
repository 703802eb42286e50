#include "src/grpc_service/subscribe_response_bytes.h"

#include <cstdint>
#include <utility>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>
#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/support/slice.h>

#include "src/grpc_service/message_bytes.h"

namespace paymento::bridge {
namespace {

using ::google::protobuf::internal::WireFormatLite;
using ::google::protobuf::io::CodedOutputStream;

// A varint of up to 64 bits takes at most 10 bytes.
constexpr int kMaxVarintBytes = 10;
// Field numbers from event_service.proto.
constexpr int kResponseDeliveriesField = 1;
constexpr int kDeliveryEventField = 1;
constexpr int kDeliveryAttemptField = 2;

void AppendVarint(uint32_t value, std::string& out) {
  uint8_t buffer[kMaxVarintBytes];
  uint8_t* end = CodedOutputStream::WriteVarint32ToArray(value, buffer);
  out.append(reinterpret_cast<const char*>(buffer), end - buffer);
}

void AppendTag(int field, WireFormatLite::WireType type, std::string& out) {
  AppendVarint(WireFormatLite::MakeTag(field, type), out);
}

void DeleteString(void* string) { delete static_cast<std::string*>(string); }

}  // namespace

void SubscribeResponseBytes::AddDelivery(absl::string_view event_bytes,
                                         int attempt) {
  const uint32_t event_size = static_cast<uint32_t>(event_bytes.size());
  // Fields in number order, and a zero attempt left out, as the generated
  // serializer writes them.
  size_t delivery_size =
      1 + CodedOutputStream::VarintSize32(event_size) + event_size;
  if (attempt != 0) {
    delivery_size += 1 + CodedOutputStream::VarintSize32SignExtended(attempt);
  }

  AppendTag(kResponseDeliveriesField, WireFormatLite::WIRETYPE_LENGTH_DELIMITED,
            bytes_);
  AppendVarint(static_cast<uint32_t>(delivery_size), bytes_);
  AppendTag(kDeliveryEventField, WireFormatLite::WIRETYPE_LENGTH_DELIMITED,
            bytes_);
  AppendVarint(event_size, bytes_);
  bytes_.append(event_bytes.data(), event_bytes.size());
  if (attempt != 0) {
    AppendTag(kDeliveryAttemptField, WireFormatLite::WIRETYPE_VARINT, bytes_);
    uint8_t buffer[kMaxVarintBytes];
    uint8_t* end =
        CodedOutputStream::WriteVarint32SignExtendedToArray(attempt, buffer);
    bytes_.append(reinterpret_cast<const char*>(buffer), end - buffer);
  }
  ++deliveries_;
}

grpc::ByteBuffer SubscribeResponseBytes::Release() {
  // The slice takes ownership of the string, so gRPC sends the bytes where
  // they are. A default-constructed ByteBuffer has no buffer, which gRPC
  // cannot send, so even an empty message gets one (empty) slice.
  auto* owned = new std::string(std::move(bytes_));
  grpc::Slice slice(owned->data(), owned->size(), &DeleteString, owned);
  bytes_.clear();
  deliveries_ = 0;
  return grpc::ByteBuffer(&slice, 1);
}

grpc::ByteBuffer SerializeResponse(const v1::SubscribeResponse& response) {
  grpc::ByteBuffer buffer;
  // Fails only for a message over 2 GiB. gRPC's typed write path asserts
  // that the same call succeeds.
  SerializeMessage(response, &buffer).IgnoreError();
  return buffer;
}

}  // namespace paymento::bridge
