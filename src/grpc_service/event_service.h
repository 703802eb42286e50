// EventServiceImpl: the paymento.bridge.v1.EventService gRPC service, on
// gRPC's callback API so that an open stream ties up no thread.
//
// Subscribe is registered as a raw method: its request arrives and its
// responses leave as serialized bytes (grpc::ByteBuffer), so that streams
// send stored events without parsing and serializing them again. The wire
// format is that of the typed messages in event_service.proto.
#ifndef PAYMENTO_BRIDGE_SRC_GRPC_SERVICE_EVENT_SERVICE_H_
#define PAYMENTO_BRIDGE_SRC_GRPC_SERVICE_EVENT_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include "paymento/bridge/v1/event_service.grpc.pb.h"
#include "src/grpc_service/auth.h"
#include "src/grpc_service/tail_stream.h"
#include "src/streaming/subscription_manager.h"

namespace paymento::bridge {

class EventServiceImpl final
    : public v1::EventService::WithRawCallbackMethod_Subscribe<
          v1::EventService::CallbackService> {
 public:
  // `authorizer` checks the bearer token of every call; null allows all.
  EventServiceImpl(const StreamEnvironment& environment,
                   SubscriptionManager* subscriptions,
                   const TokenAuthorizer* authorizer = nullptr)
      : environment_(environment),
        subscriptions_(subscriptions),
        authorizer_(authorizer) {
    environment_.registry = &streams_;
  }

  // `request` is a serialized v1::SubscribeRequest; each response written
  // is a serialized v1::SubscribeResponse.
  grpc::ServerWriteReactor<grpc::ByteBuffer>* Subscribe(
      grpc::CallbackServerContext* context,
      const grpc::ByteBuffer* request) override;
  grpc::ServerUnaryReactor* GetEvent(grpc::CallbackServerContext* context,
                                     const v1::GetEventRequest* request,
                                     v1::EventStatus* response) override;
  grpc::ServerUnaryReactor* ListEvents(
      grpc::CallbackServerContext* context,
      const v1::ListEventsRequest* request,
      v1::ListEventsResponse* response) override;

  grpc::ServerUnaryReactor* Acknowledge(
      grpc::CallbackServerContext* context,
      const v1::AcknowledgeRequest* request,
      v1::AcknowledgeResponse* response) override;
  grpc::ServerUnaryReactor* ModifyAckDeadline(
      grpc::CallbackServerContext* context,
      const v1::ModifyAckDeadlineRequest* request,
      v1::ModifyAckDeadlineResponse* response) override;
  grpc::ServerUnaryReactor* Seek(grpc::CallbackServerContext* context,
                                 const v1::SeekRequest* request,
                                 v1::SeekResponse* response) override;
  grpc::ServerUnaryReactor* ListSubscriptions(
      grpc::CallbackServerContext* context,
      const v1::ListSubscriptionsRequest* request,
      v1::ListSubscriptionsResponse* response) override;
  grpc::ServerUnaryReactor* DeleteSubscription(
      grpc::CallbackServerContext* context,
      const v1::DeleteSubscriptionRequest* request,
      v1::DeleteSubscriptionResponse* response) override;
  grpc::ServerUnaryReactor* RedriveDeadLetters(
      grpc::CallbackServerContext* context,
      const v1::RedriveDeadLettersRequest* request,
      v1::RedriveDeadLettersResponse* response) override;

  // Quarantine administration, in quarantine_rpcs.cc.
  grpc::ServerUnaryReactor* ListQuarantined(
      grpc::CallbackServerContext* context,
      const v1::ListQuarantinedRequest* request,
      v1::ListQuarantinedResponse* response) override;
  grpc::ServerUnaryReactor* GetQuarantined(
      grpc::CallbackServerContext* context,
      const v1::GetQuarantinedRequest* request,
      v1::QuarantinedRequest* response) override;
  grpc::ServerUnaryReactor* ReleaseQuarantined(
      grpc::CallbackServerContext* context,
      const v1::ReleaseQuarantinedRequest* request,
      v1::ReleaseQuarantinedResponse* response) override;

  // Ends every open Subscribe stream with `status`, for shutdown.
  void TerminateStreams(const grpc::Status& status) {
    streams_.TerminateAll(status);
  }

  static constexpr int kDefaultPageSize = 100;
  static constexpr int kDefaultMaxOutstanding = 100;
  static constexpr int kMaxMaxOutstanding = 10000;
  static constexpr int kDefaultMaxDeliveryAttempts = 10;
  static constexpr int kMaxPageSize = 1000;
  // Patterns in one SubscribeRequest; prefixes such as subscription.*
  // cover families of types.
  static constexpr int kMaxEventTypes = 100;

 private:
  absl::StatusOr<TailOptions> TailOptionsFor(
      const v1::SubscribeRequest& request);
  grpc::ServerWriteReactor<grpc::ByteBuffer>* SubscribeDurable(
      grpc::CallbackServerContext* context, const v1::SubscribeRequest& request,
      TailOptions options);
  absl::Status AddDeliveryStatus(v1::EventStatus& status);

  StreamRegistry streams_;
  StreamEnvironment environment_;
  SubscriptionManager* const subscriptions_;

  absl::Status Authorize(const grpc::CallbackServerContext& context,
                         Role role) const {
    if (authorizer_ == nullptr) return absl::OkStatus();
    return authorizer_->Authorize(context, role);
  }
  const TokenAuthorizer* const authorizer_;
};

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_GRPC_SERVICE_EVENT_SERVICE_H_
