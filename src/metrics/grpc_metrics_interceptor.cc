#include "src/metrics/grpc_metrics_interceptor.h"

#include <optional>
#include <string>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>
#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/proto_buffer_reader.h>

#include "absl/strings/string_view.h"
#include "paymento/bridge/v1/event_service.pb.h"
#include "src/grpc_service/message_bytes.h"

namespace paymento::bridge {
namespace {

using ::google::protobuf::internal::WireFormatLite;
using grpc::experimental::InterceptionHookPoints;
using grpc::experimental::InterceptorBatchMethods;

// Deliveries in one serialized SubscribeResponse, and those among them with
// attempt > 1.
struct DeliveryCounts {
  int64_t deliveries = 0;
  int64_t redeliveries = 0;
};

// Reads the attempt of one serialized Delivery, skipping its event.
bool ReadAttempt(google::protobuf::io::CodedInputStream& input,
                 int32_t& attempt) {
  constexpr uint32_t kAttemptTag =
      WireFormatLite::MakeTag(2, WireFormatLite::WIRETYPE_VARINT);
  attempt = 0;
  while (uint32_t tag = input.ReadTag()) {
    if (tag == kAttemptTag) {
      uint32_t value = 0;
      if (!input.ReadVarint32(&value)) return false;
      attempt = static_cast<int32_t>(value);
    } else if (!WireFormatLite::SkipField(&input, tag)) {
      return false;
    }
  }
  return input.ConsumedEntireMessage();
}

// Counts the deliveries of a serialized SubscribeResponse from its field
// records alone, without parsing the events they contain.
DeliveryCounts CountDeliveries(const grpc::ByteBuffer& response) {
  constexpr uint32_t kDeliveryTag =
      WireFormatLite::MakeTag(1, WireFormatLite::WIRETYPE_LENGTH_DELIMITED);
  DeliveryCounts counts;
  // The reader needs a mutable buffer, and the copy shares the slices.
  grpc::ByteBuffer copy(response);
  grpc::ProtoBufferReader reader(&copy);
  google::protobuf::io::CodedInputStream input(&reader);
  while (uint32_t tag = input.ReadTag()) {
    if (tag != kDeliveryTag) {
      if (!WireFormatLite::SkipField(&input, tag)) break;
      continue;
    }
    uint32_t length = 0;
    if (!input.ReadVarint32(&length)) break;
    auto limit = input.PushLimit(static_cast<int>(length));
    int32_t attempt = 0;
    if (!ReadAttempt(input, attempt)) break;
    input.PopLimit(limit);
    ++counts.deliveries;
    if (attempt > 1) ++counts.redeliveries;
  }
  return counts;
}

constexpr absl::string_view kSubscribeMethod =
    "/paymento.bridge.v1.EventService/Subscribe";
constexpr absl::string_view kAcknowledgeMethod =
    "/paymento.bridge.v1.EventService/Acknowledge";

// One per Subscribe call. gRPC runs the hooks of one call one at a time and
// destroys the interceptor after the call ends, so no lock is needed.
// Subscribe is a raw method (see EventServiceImpl), so its request and
// responses are serialized grpc::ByteBuffer messages here.
class SubscribeInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit SubscribeInterceptor(Metrics* metrics) : metrics_(metrics) {}
  ~SubscribeInterceptor() override {
    if (kind_.has_value()) metrics_->StreamClosed(*kind_);
  }

  void Intercept(InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_MESSAGE)) {
      OnRequest(methods->GetRecvMessage());
    }
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_MESSAGE)) {
      OnResponse(methods->GetSendMessage());
    }
    methods->Proceed();
  }

 private:
  void OnRequest(void* message) {
    if (message == nullptr || kind_.has_value()) return;
    v1::SubscribeRequest request;
    // A request that does not parse counts as a tail stream, and the
    // service rejects it.
    ParseCopy(*static_cast<const grpc::ByteBuffer*>(message), &request);
    subscription_ = request.subscription();
    kind_ = subscription_.empty() ? StreamKind::kTail : StreamKind::kDurable;
    metrics_->StreamOpened(*kind_);
  }

  void OnResponse(const void* message) {
    if (message == nullptr || subscription_.empty()) return;
    DeliveryCounts counts =
        CountDeliveries(*static_cast<const grpc::ByteBuffer*>(message));
    if (counts.deliveries > 0) {
      metrics_->CountDeliveries(subscription_, counts.deliveries);
    }
    if (counts.redeliveries > 0) {
      metrics_->CountRedeliveries(subscription_, counts.redeliveries);
    }
  }

  Metrics* const metrics_;
  std::optional<StreamKind> kind_;
  std::string subscription_;
};

// Reads the subscription, field 1, of a serialized AcknowledgeRequest,
// skipping its ack ids. Returns false when the request does not parse.
bool ReadSubscription(const grpc::ByteBuffer& request,
                      std::string* subscription) {
  constexpr uint32_t kSubscriptionTag =
      WireFormatLite::MakeTag(1, WireFormatLite::WIRETYPE_LENGTH_DELIMITED);
  // The reader needs a mutable buffer, and the copy shares the slices.
  grpc::ByteBuffer copy(request);
  grpc::ProtoBufferReader reader(&copy);
  google::protobuf::io::CodedInputStream input(&reader);
  while (uint32_t tag = input.ReadTag()) {
    if (tag == kSubscriptionTag) {
      // A field given twice takes its last value, as a parser does.
      if (!WireFormatLite::ReadString(&input, subscription)) return false;
    } else if (!WireFormatLite::SkipField(&input, tag)) {
      return false;
    }
  }
  return input.ConsumedEntireMessage();
}

// One per Acknowledge call, a raw method like every method of the service.
// The request names the subscription, and the response contains the number
// of ack ids that matched a live lease.
class AcknowledgeInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit AcknowledgeInterceptor(Metrics* metrics) : metrics_(metrics) {}

  void Intercept(InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_MESSAGE) &&
        methods->GetRecvMessage() != nullptr) {
      // A request that does not parse is rejected, and counts nothing.
      if (!ReadSubscription(
              *static_cast<const grpc::ByteBuffer*>(methods->GetRecvMessage()),
              &subscription_)) {
        subscription_.clear();
      }
    }
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_MESSAGE) &&
        methods->GetSendMessage() != nullptr) {
      v1::AcknowledgeResponse response;
      if (ParseCopy(*static_cast<const grpc::ByteBuffer*>(
                        methods->GetSendMessage()),
                    &response) &&
          response.acknowledged() > 0) {
        metrics_->CountAcknowledgements(subscription_, response.acknowledged());
      }
    }
    methods->Proceed();
  }

 private:
  Metrics* const metrics_;
  std::string subscription_;
};

}  // namespace

grpc::experimental::Interceptor*
GrpcMetricsInterceptorFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  absl::string_view method = info->method();
  if (method == kSubscribeMethod) return new SubscribeInterceptor(metrics_);
  if (method == kAcknowledgeMethod) {
    return new AcknowledgeInterceptor(metrics_);
  }
  return nullptr;
}

}  // namespace paymento::bridge
