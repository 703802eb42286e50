// Tests that responses built from stored event bytes are the bytes that
// serializing the typed SubscribeResponse gives.
#include "src/grpc_service/subscribe_response_bytes.h"

#include <string>
#include <vector>

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"

namespace paymento::bridge {
namespace {

std::string Flatten(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  EXPECT_TRUE(buffer.Dump(&slices).ok());
  std::string bytes;
  for (const grpc::Slice& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return bytes;
}

// No map field, so that serializing a copy gives the same bytes.
v1::Event MakeEvent(int64_t sequence, size_t body_size) {
  v1::Event event;
  event.set_sequence(sequence);
  event.set_id(absl::StrCat("evt_", sequence));
  event.set_type("payment_link.paid");
  event.set_raw_body(std::string(body_size, 'x'));
  return event;
}

TEST(SubscribeResponseBytesTest, MatchesTypedSerialization) {
  // Body sizes that give one-, two- and three-byte length prefixes, and
  // attempts that are left out, small and large.
  struct Case {
    size_t body_size;
    int attempt;
  };
  const std::vector<Case> cases = {{0, 1},   {10, 0},    {100, 1},
                                   {300, 7}, {20000, 1}, {70000, 200}};
  SubscribeResponseBytes built;
  v1::SubscribeResponse typed;
  for (size_t i = 0; i < cases.size(); ++i) {
    v1::Event event =
        MakeEvent(static_cast<int64_t>(i + 1), cases[i].body_size);
    built.AddDelivery(event.SerializeAsString(), cases[i].attempt);
    v1::Delivery* delivery = typed.add_deliveries();
    *delivery->mutable_event() = event;
    delivery->set_attempt(cases[i].attempt);
  }
  EXPECT_EQ(built.deliveries(), static_cast<int>(cases.size()));

  std::string bytes = Flatten(built.Release());
  EXPECT_EQ(bytes, typed.SerializeAsString());
  EXPECT_EQ(built.deliveries(), 0);
  EXPECT_EQ(built.size(), 0u);
}

TEST(SubscribeResponseBytesTest, DecodesEventWithMetadata) {
  v1::Event event = MakeEvent(42, 583);
  (*event.mutable_customer()->mutable_metadata())["order_id"] = "order-1001";
  (*event.mutable_customer()->mutable_metadata())["plan"] = "pro";
  SubscribeResponseBytes built;
  built.AddDelivery(event.SerializeAsString(), 1);

  v1::SubscribeResponse decoded;
  ASSERT_TRUE(decoded.ParseFromString(Flatten(built.Release())));
  ASSERT_EQ(decoded.deliveries_size(), 1);
  EXPECT_EQ(decoded.deliveries(0).attempt(), 1);
  EXPECT_TRUE(decoded.deliveries(0).ack_id().empty());
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(
      decoded.deliveries(0).event(), event));
}

TEST(SubscribeResponseBytesTest, EmptyResponseIsHeartbeat) {
  SubscribeResponseBytes built;
  grpc::ByteBuffer heartbeat = built.Release();
  EXPECT_TRUE(heartbeat.Valid());
  EXPECT_EQ(heartbeat.Length(), 0u);
  v1::SubscribeResponse decoded;
  ASSERT_TRUE(decoded.ParseFromString(Flatten(heartbeat)));
  EXPECT_EQ(decoded.deliveries_size(), 0);
}

TEST(SubscribeResponseBytesTest, SerializeResponseRoundTrips) {
  v1::SubscribeResponse typed;
  v1::Delivery* delivery = typed.add_deliveries();
  *delivery->mutable_event() = MakeEvent(5, 2000);
  delivery->set_attempt(3);
  delivery->set_ack_id("ack-5");
  grpc::ByteBuffer serialized = SerializeResponse(typed);
  EXPECT_EQ(Flatten(serialized), typed.SerializeAsString());

  grpc::ByteBuffer heartbeat = SerializeResponse(v1::SubscribeResponse());
  EXPECT_TRUE(heartbeat.Valid());
  EXPECT_EQ(heartbeat.Length(), 0u);
}

}  // namespace
}  // namespace paymento::bridge
