// TailStream: the server side of one Subscribe stream without a durable
// subscription. It reads the store after its cursor, writes the matching
// events oldest first, and when it has caught up waits on the
// CommitNotifier. A slow client only delays its own stream: nothing here
// holds a lock or a thread while a write is in flight.
//
// Events are sent in the serialized form the store keeps, with no parse and
// no per-stream serialization (see subscribe_response_bytes.h). Reads that
// the store serves from memory run on the thread that needs them: the
// wake-up task after a commit, or gRPC's thread that reports the previous
// write done. Only reads that may block on the database go to the
// executor.
//
// Lifetime: the reactor owns a reference to itself from Start until gRPC
// calls OnDone; tasks on the executor and the timer hold their own
// references, so the object outlives every callback that can reach it.
#ifndef PAYMENTO_BRIDGE_SRC_GRPC_SERVICE_TAIL_STREAM_H_
#define PAYMENTO_BRIDGE_SRC_GRPC_SERVICE_TAIL_STREAM_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "paymento/bridge/v1/event_service.pb.h"
#include "src/grpc_service/stream_registry.h"
#include "src/grpc_service/subscribe_response_bytes.h"
#include "src/store/event_store.h"
#include "src/store/type_filter.h"
#include "src/streaming/commit_notifier.h"
#include "src/streaming/executor.h"
#include "src/streaming/task_batcher.h"
#include "src/streaming/timer.h"

namespace paymento::bridge {

// Shared services every stream uses; owned by the server, outliving streams.
struct StreamEnvironment {
  EventStore* store = nullptr;
  CommitNotifier* notifier = nullptr;
  Executor* executor = nullptr;
  // Runs the streams that a commit wakes, in batches on the executor.
  TaskBatcher* wakeups = nullptr;
  Timer* timer = nullptr;
  // Where streams register so that shutdown can end them; may be null.
  StreamRegistry* registry = nullptr;
};

struct TailOptions {
  static constexpr absl::Duration kDefaultHeartbeatInterval = absl::Seconds(15);

  TypeFilter filter;
  // Events with a greater sequence are delivered.
  int64_t cursor = 0;
  absl::Duration heartbeat_interval = kDefaultHeartbeatInterval;
  std::string peer;
};

class TailStream : public grpc::ServerWriteReactor<grpc::ByteBuffer>,
                   public CommitWaiter,
                   public TerminableStream,
                   public std::enable_shared_from_this<TailStream> {
 public:
  // Creates and starts a stream; gRPC takes the returned reactor.
  static grpc::ServerWriteReactor<grpc::ByteBuffer>* Start(
      const StreamEnvironment& environment, TailOptions options);

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;
  void Wake() override;
  void Terminate(const grpc::Status& status) override;

  // Events read from the store per pump, and so at most the deliveries of
  // one response: every event read is consumed, none is read twice.
  static constexpr int kReadBatch = 256;

 private:
  TailStream(const StreamEnvironment& environment, TailOptions options);

  // What to do with the call once mu_ is released: gRPC may run reactions
  // inline, so StartWrite and Finish are never called with mu_ held. kRead
  // runs Pump on the calling thread, and only threads that may block get it.
  enum class Action { kNone, kWrite, kFinish, kRead };

  // Moves the stream on after a wake-up, on an executor thread.
  void Continue();
  // Reads the store on the executor, for reads that may block.
  void Pump();
  // Moves the stream on while no write and no read is in flight. It writes
  // the events after the cursor that the store keeps in memory, registers
  // with the notifier once caught up, or needs a database read: kRead when
  // `may_block`, and a Pump on the executor otherwise.
  Action AdvanceLocked(bool may_block) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Adds the events that match the filter to response_ and moves the cursor
  // past all of them.
  void ConsumeLocked(const std::vector<SerializedEventPtr>& events)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Registers with the notifier unless registered already. Returns false
  // when events after the cursor have committed since it was read.
  bool WaitLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Starts writing response_ if it contains a delivery.
  Action WriteIfAnyLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Moves response_, with or without deliveries, into the write in flight.
  void BeginWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SchedulePumpLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ScheduleHeartbeat(absl::Time when);
  void OnHeartbeatTimer();
  // Marks the stream finished; returns kFinish the first time only.
  Action FinishLocked(grpc::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Perform(Action action);

  const StreamEnvironment environment_;
  const TypeFilter filter_;
  const absl::Duration heartbeat_interval_;
  const std::string peer_;
  const absl::Time opened_;

  absl::Mutex mu_;
  int64_t cursor_ ABSL_GUARDED_BY(mu_);
  // Deliveries in the write in flight, and the cursor and deliveries of
  // the writes that completed, for the closing log line. A completed write
  // is in gRPC's buffers, not necessarily read by the client.
  int writing_deliveries_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t sent_through_ ABSL_GUARDED_BY(mu_);
  int64_t events_sent_ ABSL_GUARDED_BY(mu_) = 0;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  // A Continue or Pump is queued or running, and nothing else may move the
  // cursor until it has run.
  bool advance_scheduled_ ABSL_GUARDED_BY(mu_) = false;
  // Registered with the notifier and not yet woken, so not registered again.
  bool waiting_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  // Set by Terminate: the status to finish with once no write is in flight.
  std::optional<grpc::Status> terminate_status_ ABSL_GUARDED_BY(mu_);
  absl::Time last_write_ ABSL_GUARDED_BY(mu_);
  // The response being built, then written: gRPC reads write_buffer_ until
  // OnWriteDone. Both are changed only while writing_ is false.
  SubscribeResponseBytes response_;
  grpc::ByteBuffer write_buffer_;
  grpc::Status final_status_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<TailStream> self_;
};

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_GRPC_SERVICE_TAIL_STREAM_H_
