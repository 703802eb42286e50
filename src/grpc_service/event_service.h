// EventServiceImpl: the paymento.bridge.v1.EventService gRPC service, on
// gRPC's callback API so that an open stream ties up no thread.
//
// Every method is registered as a raw method: requests arrive and responses
// leave as serialized bytes (grpc::ByteBuffer), in the wire format of the
// typed messages in event_service.proto. Streams send stored events without
// parsing and serializing them again, and a request that does not parse gets
// INVALID_ARGUMENT, where gRPC 1.51's typed callback handlers return
// UNIMPLEMENTED.
#ifndef PAYMENTO_BRIDGE_SRC_GRPC_SERVICE_EVENT_SERVICE_H_
#define PAYMENTO_BRIDGE_SRC_GRPC_SERVICE_EVENT_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "paymento/bridge/v1/event_service.grpc.pb.h"
#include "src/grpc_service/auth.h"
#include "src/grpc_service/grpc_status.h"
#include "src/grpc_service/message_bytes.h"
#include "src/grpc_service/tail_stream.h"
#include "src/streaming/subscription_manager.h"

namespace paymento::bridge {

// The service with every method raw, one wrapper per method.
// clang-format off
using EventServiceBase =
    v1::EventService::WithRawCallbackMethod_Subscribe<
    v1::EventService::WithRawCallbackMethod_GetEvent<
    v1::EventService::WithRawCallbackMethod_ListEvents<
    v1::EventService::WithRawCallbackMethod_Acknowledge<
    v1::EventService::WithRawCallbackMethod_ModifyAckDeadline<
    v1::EventService::WithRawCallbackMethod_Seek<
    v1::EventService::WithRawCallbackMethod_ListSubscriptions<
    v1::EventService::WithRawCallbackMethod_DeleteSubscription<
    v1::EventService::WithRawCallbackMethod_RedriveDeadLetters<
    v1::EventService::WithRawCallbackMethod_ListQuarantined<
    v1::EventService::WithRawCallbackMethod_GetQuarantined<
    v1::EventService::WithRawCallbackMethod_ReleaseQuarantined<
    v1::EventService::Service>>>>>>>>>>>>;
// clang-format on

class EventServiceImpl final : public EventServiceBase {
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
  // Unary methods: `request` is the serialized request message and
  // `response` receives the serialized response.
  grpc::ServerUnaryReactor* GetEvent(grpc::CallbackServerContext* context,
                                     const grpc::ByteBuffer* request,
                                     grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ListEvents(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* Acknowledge(grpc::CallbackServerContext* context,
                                        const grpc::ByteBuffer* request,
                                        grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ModifyAckDeadline(
      grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
      grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* Seek(grpc::CallbackServerContext* context,
                                 const grpc::ByteBuffer* request,
                                 grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ListSubscriptions(
      grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
      grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* DeleteSubscription(
      grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
      grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* RedriveDeadLetters(
      grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
      grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ListQuarantined(
      grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
      grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetQuarantined(grpc::CallbackServerContext* context,
                                           const grpc::ByteBuffer* request,
                                           grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ReleaseQuarantined(
      grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
      grpc::ByteBuffer* response) override;

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
  // Checks the caller's token for `role`, parses the request, runs
  // `handler`, and finishes the call with the serialized response or the
  // first error.
  template <typename Request, typename Response>
  grpc::ServerUnaryReactor* ServeUnary(
      grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
      grpc::ByteBuffer* response, Role role,
      absl::Status (EventServiceImpl::*handler)(grpc::CallbackServerContext*,
                                                const Request*, Response*)) {
    absl::Status status = Authorize(*context, role);
    absl::StatusOr<Request> parsed;
    if (status.ok()) {
      parsed = ParseMessage<Request>(*request);
      status = parsed.status();
    }
    Response message;
    if (status.ok()) status = (this->*handler)(context, &*parsed, &message);
    if (status.ok()) status = SerializeMessage(message, response);
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(ToGrpcStatus(status));
    return reactor;
  }

  absl::Status HandleGetEvent(grpc::CallbackServerContext* context,
                              const v1::GetEventRequest* request,
                              v1::EventStatus* response);
  absl::Status HandleListEvents(grpc::CallbackServerContext* context,
                                const v1::ListEventsRequest* request,
                                v1::ListEventsResponse* response);
  absl::Status HandleAcknowledge(grpc::CallbackServerContext* context,
                                 const v1::AcknowledgeRequest* request,
                                 v1::AcknowledgeResponse* response);
  absl::Status HandleModifyAckDeadline(
      grpc::CallbackServerContext* context,
      const v1::ModifyAckDeadlineRequest* request,
      v1::ModifyAckDeadlineResponse* response);
  absl::Status HandleSeek(grpc::CallbackServerContext* context,
                          const v1::SeekRequest* request,
                          v1::SeekResponse* response);
  absl::Status HandleListSubscriptions(
      grpc::CallbackServerContext* context,
      const v1::ListSubscriptionsRequest* request,
      v1::ListSubscriptionsResponse* response);
  absl::Status HandleDeleteSubscription(
      grpc::CallbackServerContext* context,
      const v1::DeleteSubscriptionRequest* request,
      v1::DeleteSubscriptionResponse* response);
  absl::Status HandleRedriveDeadLetters(
      grpc::CallbackServerContext* context,
      const v1::RedriveDeadLettersRequest* request,
      v1::RedriveDeadLettersResponse* response);
  // Quarantine administration, in quarantine_rpcs.cc.
  absl::Status HandleListQuarantined(grpc::CallbackServerContext* context,
                                     const v1::ListQuarantinedRequest* request,
                                     v1::ListQuarantinedResponse* response);
  absl::Status HandleGetQuarantined(grpc::CallbackServerContext* context,
                                    const v1::GetQuarantinedRequest* request,
                                    v1::QuarantinedRequest* response);
  absl::Status HandleReleaseQuarantined(
      grpc::CallbackServerContext* context,
      const v1::ReleaseQuarantinedRequest* request,
      v1::ReleaseQuarantinedResponse* response);

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
