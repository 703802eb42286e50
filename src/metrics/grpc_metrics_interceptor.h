// GrpcMetricsInterceptorFactory: a gRPC server interceptor that counts
// EventService streams and deliveries from the messages on the wire, so the
// stream and subscription code needs no metrics calls for them.
//
// Per call it records:
// - Subscribe: the stream as open (kind tail, or durable when the request
//   names a subscription) from its request until the call is destroyed, and
//   for durable streams every delivery sent, with attempt > 1 also counted
//   as a redelivery.
// - Acknowledge: the `acknowledged` count of each response, under the
//   request's subscription.
//
// Usage, before BuildAndStart:
//   std::vector<std::unique_ptr<
//       grpc::experimental::ServerInterceptorFactoryInterface>> factories;
//   factories.push_back(
//       std::make_unique<GrpcMetricsInterceptorFactory>(&metrics));
//   builder.experimental().SetInterceptorCreators(std::move(factories));
#ifndef PAYMENTO_BRIDGE_SRC_METRICS_GRPC_METRICS_INTERCEPTOR_H_
#define PAYMENTO_BRIDGE_SRC_METRICS_GRPC_METRICS_INTERCEPTOR_H_

#include <grpcpp/support/server_interceptor.h>

#include "src/metrics/metrics.h"

namespace paymento::bridge {

class GrpcMetricsInterceptorFactory
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  // `metrics` must outlive the server.
  explicit GrpcMetricsInterceptorFactory(Metrics* metrics)
      : metrics_(metrics) {}

  // Returns an interceptor for Subscribe and Acknowledge calls, and nullptr
  // for every other method, which gRPC then runs without one.
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  Metrics* const metrics_;
};

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_METRICS_GRPC_METRICS_INTERCEPTOR_H_
