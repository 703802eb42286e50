// DurableStream: the server side of one Subscribe stream on a durable
// subscription. The Subscription leases events to it through Deliver; the
// stream writes them in order, one response in flight at a time, and sends
// heartbeats while idle. When the stream ends it detaches, which returns its
// leases to the subscription at once.
//
// Lifetime: as TailStream, the reactor keeps itself alive until OnDone, and
// the subscription holds it through a shared pointer while attached.
#ifndef PAYMENTO_BRIDGE_SRC_GRPC_SERVICE_DURABLE_STREAM_H_
#define PAYMENTO_BRIDGE_SRC_GRPC_SERVICE_DURABLE_STREAM_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "paymento/bridge/v1/event_service.pb.h"
#include "src/grpc_service/tail_stream.h"
#include "src/streaming/subscription.h"

namespace paymento::bridge {

class DurableStream : public grpc::ServerWriteReactor<grpc::ByteBuffer>,
                      public DeliverySink,
                      public TerminableStream,
                      public std::enable_shared_from_this<DurableStream> {
 public:
  // Creates the stream and attaches it to `subscription`.
  static grpc::ServerWriteReactor<grpc::ByteBuffer>* Start(
      const StreamEnvironment& environment,
      std::shared_ptr<Subscription> subscription, int max_outstanding,
      absl::Duration heartbeat_interval, std::string peer);

  void Deliver(std::vector<v1::Delivery> deliveries) override;
  void Terminate(const absl::Status& status) override;
  // Ends the stream at shutdown; the subscription gets its leases back.
  void Terminate(const grpc::Status& status) override;

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  DurableStream(const StreamEnvironment& environment,
                std::shared_ptr<Subscription> subscription,
                absl::Duration heartbeat_interval, std::string peer);

  // Starts the next write if none is in flight; returns whether it did.
  bool PrepareWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Serializes response_ and starts writing it. Called without mu_, after
  // PrepareWriteLocked or a heartbeat has set writing_.
  void WriteResponse();
  // Finishes the call once no write is in flight.
  bool PrepareFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void StartWriteSoon();
  void ScheduleHeartbeat(absl::Time when);
  void OnHeartbeatTimer();
  void DetachOnce();

  const StreamEnvironment environment_;
  const std::shared_ptr<Subscription> subscription_;
  const absl::Duration heartbeat_interval_;
  const std::string peer_;
  const absl::Time opened_;

  absl::Mutex mu_;
  // Deliveries in the writes that completed.
  int64_t events_sent_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<v1::Delivery> outbox_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool write_scheduled_ ABSL_GUARDED_BY(mu_) = false;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool detached_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status final_status_ ABSL_GUARDED_BY(mu_);
  absl::Time last_write_ ABSL_GUARDED_BY(mu_);
  // The response being written and its serialized form. response_ is
  // filled under mu_ while writing_ is false. Once writing_ is set,
  // WriteResponse and then gRPC alone use both until OnWriteDone.
  v1::SubscribeResponse response_;
  grpc::ByteBuffer write_buffer_;
  std::shared_ptr<DurableStream> self_;
};

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_GRPC_SERVICE_DURABLE_STREAM_H_
