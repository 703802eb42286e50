#include "src/metrics/grpc_metrics_interceptor.h"

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "paymento/bridge/v1/event_service.pb.h"

namespace paymento::bridge {
namespace {

using grpc::experimental::InterceptionHookPoints;
using grpc::experimental::InterceptorBatchMethods;

constexpr absl::string_view kSubscribeMethod =
    "/paymento.bridge.v1.EventService/Subscribe";
constexpr absl::string_view kAcknowledgeMethod =
    "/paymento.bridge.v1.EventService/Acknowledge";

// One per Subscribe call. gRPC runs the hooks of one call one at a time and
// destroys the interceptor after the call ends, so no lock is needed.
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
  void OnRequest(const void* message) {
    if (message == nullptr || kind_.has_value()) return;
    const auto& request = *static_cast<const v1::SubscribeRequest*>(message);
    subscription_ = request.subscription();
    kind_ = subscription_.empty() ? StreamKind::kTail : StreamKind::kDurable;
    metrics_->StreamOpened(*kind_);
  }

  void OnResponse(const void* message) {
    if (message == nullptr || subscription_.empty()) return;
    const auto& response = *static_cast<const v1::SubscribeResponse*>(message);
    int64_t redeliveries = 0;
    for (const v1::Delivery& delivery : response.deliveries()) {
      if (delivery.attempt() > 1) ++redeliveries;
    }
    if (response.deliveries_size() > 0) {
      metrics_->CountDeliveries(subscription_, response.deliveries_size());
    }
    if (redeliveries > 0) {
      metrics_->CountRedeliveries(subscription_, redeliveries);
    }
  }

  Metrics* const metrics_;
  std::optional<StreamKind> kind_;
  std::string subscription_;
};

// One per Acknowledge call. The request names the subscription, and the
// response contains the number of ack ids that matched a live lease.
class AcknowledgeInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit AcknowledgeInterceptor(Metrics* metrics) : metrics_(metrics) {}

  void Intercept(InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_MESSAGE) &&
        methods->GetRecvMessage() != nullptr) {
      subscription_ =
          static_cast<const v1::AcknowledgeRequest*>(methods->GetRecvMessage())
              ->subscription();
    }
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_MESSAGE) &&
        methods->GetSendMessage() != nullptr) {
      int acknowledged =
          static_cast<const v1::AcknowledgeResponse*>(methods->GetSendMessage())
              ->acknowledged();
      if (acknowledged > 0) {
        metrics_->CountAcknowledgements(subscription_, acknowledged);
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
