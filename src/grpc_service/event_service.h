// EventServiceImpl: the paymento.bridge.v1.EventService gRPC service, on
// gRPC's callback API so that an open stream holds no thread.
#ifndef PAYMENTO_BRIDGE_SRC_GRPC_SERVICE_EVENT_SERVICE_H_
#define PAYMENTO_BRIDGE_SRC_GRPC_SERVICE_EVENT_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include "paymento/bridge/v1/event_service.grpc.pb.h"
#include "src/grpc_service/tail_stream.h"

namespace paymento::bridge {

class EventServiceImpl final : public v1::EventService::CallbackService {
 public:
  explicit EventServiceImpl(const StreamEnvironment& environment)
      : environment_(environment) {}

  grpc::ServerWriteReactor<v1::SubscribeResponse>* Subscribe(
      grpc::CallbackServerContext* context,
      const v1::SubscribeRequest* request) override;
  grpc::ServerUnaryReactor* GetEvent(grpc::CallbackServerContext* context,
                                     const v1::GetEventRequest* request,
                                     v1::EventStatus* response) override;
  grpc::ServerUnaryReactor* ListEvents(
      grpc::CallbackServerContext* context,
      const v1::ListEventsRequest* request,
      v1::ListEventsResponse* response) override;

  static constexpr int kDefaultPageSize = 100;
  static constexpr int kMaxPageSize = 1000;

 private:
  absl::StatusOr<TailOptions> TailOptionsFor(
      const v1::SubscribeRequest& request);

  const StreamEnvironment environment_;
};

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_GRPC_SERVICE_EVENT_SERVICE_H_
