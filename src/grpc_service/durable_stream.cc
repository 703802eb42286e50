#include "src/grpc_service/durable_stream.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "src/grpc_service/grpc_status.h"
#include "src/grpc_service/subscribe_response_bytes.h"
#include "src/logging/log.h"

namespace paymento::bridge {
namespace {

// Deliveries per response.
constexpr int kMaxDeliveriesPerResponse = 128;

}  // namespace

grpc::ServerWriteReactor<grpc::ByteBuffer>* DurableStream::Start(
    const StreamEnvironment& environment,
    std::shared_ptr<Subscription> subscription, int max_outstanding,
    absl::Duration heartbeat_interval, std::string peer) {
  std::shared_ptr<DurableStream> stream(new DurableStream(
      environment, subscription, heartbeat_interval, std::move(peer)));
  stream->self_ = stream;
  if (environment.registry != nullptr) environment.registry->Add(stream);
  stream->ScheduleHeartbeat(absl::Now() + heartbeat_interval);
  subscription->Attach(stream, max_outstanding);
  return stream.get();
}

DurableStream::DurableStream(const StreamEnvironment& environment,
                             std::shared_ptr<Subscription> subscription,
                             absl::Duration heartbeat_interval,
                             std::string peer)
    : environment_(environment),
      subscription_(std::move(subscription)),
      heartbeat_interval_(heartbeat_interval),
      peer_(std::move(peer)),
      opened_(absl::Now()),
      last_write_(opened_) {}

void DurableStream::Deliver(std::vector<v1::Delivery> deliveries) {
  absl::MutexLock lock(&mu_);
  if (finishing_) return;
  for (v1::Delivery& delivery : deliveries) {
    outbox_.push_back(std::move(delivery));
  }
  if (!writing_ && !write_scheduled_) {
    write_scheduled_ = true;
    // Deliver runs under the subscription's lock, and gRPC may run
    // reactions inline, so the write starts on the executor.
    environment_.executor->Post(
        [self = shared_from_this()] { self->StartWriteSoon(); });
  }
}

void DurableStream::StartWriteSoon() {
  bool write = false;
  bool finish = false;
  {
    absl::MutexLock lock(&mu_);
    write_scheduled_ = false;
    write = PrepareWriteLocked();
    if (!write) finish = PrepareFinishLocked();
  }
  if (write) WriteResponse();
  if (finish) Finish(final_status_);
}

bool DurableStream::PrepareWriteLocked() {
  if (writing_ || finishing_ || outbox_.empty()) return false;
  response_.Clear();
  size_t bytes = 0;
  while (!outbox_.empty() &&
         response_.deliveries_size() < kMaxDeliveriesPerResponse) {
    size_t next = outbox_.front().ByteSizeLong();
    if (response_.deliveries_size() > 0 && bytes + next > kMaxResponseBytes) {
      break;
    }
    bytes += next;
    *response_.add_deliveries() = std::move(outbox_.front());
    outbox_.pop_front();
  }
  writing_ = true;
  last_write_ = absl::Now();
  return true;
}

void DurableStream::WriteResponse() {
  // Serialized outside mu_, where gRPC serialized typed responses, so that
  // Deliver, which runs under the subscription's lock, does not wait for it.
  // While writing_ is set, no other method touches response_ or
  // write_buffer_.
  write_buffer_ = SerializeResponse(response_);
  StartWrite(&write_buffer_);
}

bool DurableStream::PrepareFinishLocked() {
  if (!finishing_ || finished_ || writing_) return false;
  finished_ = true;
  return true;
}

void DurableStream::Terminate(const absl::Status& status) {
  absl::MutexLock lock(&mu_);
  if (finishing_) return;
  finishing_ = true;
  // The subscription dropped this stream already.
  detached_ = true;
  final_status_ = ToGrpcStatus(status);
  outbox_.clear();
  if (!writing_ && !write_scheduled_) {
    write_scheduled_ = true;
    environment_.executor->Post(
        [self = shared_from_this()] { self->StartWriteSoon(); });
  }
}

void DurableStream::Terminate(const grpc::Status& status) {
  {
    absl::MutexLock lock(&mu_);
    if (finishing_) return;
    finishing_ = true;
    final_status_ = status;
    outbox_.clear();
    if (!writing_ && !write_scheduled_) {
      write_scheduled_ = true;
      environment_.executor->Post(
          [self = shared_from_this()] { self->StartWriteSoon(); });
    }
  }
  DetachOnce();
}

void DurableStream::OnWriteDone(bool ok) {
  bool write = false;
  bool finish = false;
  {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    write_buffer_.Clear();
    if (ok) events_sent_ += response_.deliveries_size();
    if (!ok && !finishing_) {
      finishing_ = true;
      final_status_ = grpc::Status::CANCELLED;
    }
    write = PrepareWriteLocked();
    if (!write) finish = PrepareFinishLocked();
  }
  if (!ok) DetachOnce();
  if (write) WriteResponse();
  if (finish) Finish(final_status_);
}

void DurableStream::OnCancel() {
  bool finish = false;
  {
    absl::MutexLock lock(&mu_);
    if (!finishing_) {
      finishing_ = true;
      final_status_ = grpc::Status::CANCELLED;
    }
    finish = PrepareFinishLocked();
  }
  DetachOnce();
  if (finish) Finish(final_status_);
}

void DurableStream::OnDone() {
  DetachOnce();
  logging::Fields fields;
  {
    absl::MutexLock lock(&mu_);
    fields = {
        {"subscription", subscription_->record().name},
        {"peer", peer_},
        {"status", StatusCodeName(final_status_.error_code())},
        {"events_sent", absl::StrCat(events_sent_)},
        {"elapsed_ms",
         absl::StrCat(absl::ToInt64Milliseconds(absl::Now() - opened_))},
    };
  }
  logging::Info("durable stream closed", fields);
  self_.reset();
}

void DurableStream::DetachOnce() {
  {
    absl::MutexLock lock(&mu_);
    if (detached_) return;
    detached_ = true;
  }
  subscription_->Detach(this);
}

void DurableStream::ScheduleHeartbeat(absl::Time when) {
  std::weak_ptr<DurableStream> weak = weak_from_this();
  environment_.timer->Schedule(when, [weak] {
    if (auto stream = weak.lock()) stream->OnHeartbeatTimer();
  });
}

void DurableStream::OnHeartbeatTimer() {
  bool write = false;
  absl::Time next;
  {
    absl::MutexLock lock(&mu_);
    if (finishing_) return;
    absl::Time now = absl::Now();
    if (!writing_ && !write_scheduled_ && outbox_.empty() &&
        now - last_write_ >= heartbeat_interval_) {
      response_.Clear();
      writing_ = true;
      last_write_ = now;
      write = true;
    }
    next = (writing_ ? now : last_write_) + heartbeat_interval_;
  }
  if (write) WriteResponse();
  ScheduleHeartbeat(next);
}

}  // namespace paymento::bridge
