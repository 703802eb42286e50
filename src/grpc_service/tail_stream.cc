#include "src/grpc_service/tail_stream.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "src/logging/log.h"

namespace paymento::bridge {

grpc::ServerWriteReactor<v1::SubscribeResponse>* TailStream::Start(
    const StreamEnvironment& environment, TailOptions options) {
  std::shared_ptr<TailStream> stream(
      new TailStream(environment, std::move(options)));
  stream->self_ = stream;
  if (environment.registry != nullptr) environment.registry->Add(stream);
  absl::Time first_heartbeat;
  {
    absl::MutexLock lock(&stream->mu_);
    stream->SchedulePumpLocked();
    first_heartbeat = stream->last_write_ + stream->heartbeat_interval_;
  }
  stream->ScheduleHeartbeat(first_heartbeat);
  return stream.get();
}

TailStream::TailStream(const StreamEnvironment& environment,
                       TailOptions options)
    : environment_(environment),
      filter_(std::move(options.filter)),
      heartbeat_interval_(options.heartbeat_interval),
      peer_(std::move(options.peer)),
      cursor_(options.cursor),
      last_write_(absl::Now()) {}

void TailStream::SchedulePumpLocked() {
  if (pump_scheduled_ || writing_ || finished_) return;
  pump_scheduled_ = true;
  environment_.executor->Post([self = shared_from_this()] { self->Pump(); });
}

void TailStream::Pump() {
  int64_t cursor;
  {
    absl::MutexLock lock(&mu_);
    cursor = cursor_;
  }

  absl::StatusOr<std::vector<v1::Event>> events =
      environment_.store->ReadAfter(cursor, kReadBatch);

  Action action = Action::kNone;
  {
    absl::MutexLock lock(&mu_);
    pump_scheduled_ = false;
    if (finished_ || writing_) {
      // Finished already, or a heartbeat write is in flight: OnWriteDone
      // schedules the next pump.
    } else if (cancelled_) {
      action = FinishLocked(grpc::Status::CANCELLED);
    } else if (terminate_status_) {
      action = FinishLocked(*terminate_status_);
    } else if (!events.ok()) {
      logging::Error("stream read failed",
                     {{"peer", peer_},
                      {"cursor", absl::StrCat(cursor)},
                      {"error", std::string(events.status().message())}});
      action = FinishLocked(grpc::Status(
          grpc::StatusCode::UNAVAILABLE,
          "reading the event store failed: reconnect with after_sequence"));
    } else {
      response_.Clear();
      response_.mutable_deliveries()->Reserve(static_cast<int>(events->size()));
      size_t consumed = events->size();
      for (v1::Event& event : *events) {
        cursor_ = event.sequence();
        if (!filter_.Matches(event.type())) continue;
        v1::Delivery* delivery = response_.add_deliveries();
        *delivery->mutable_event() = std::move(event);
        delivery->set_attempt(1);
      }
      if (response_.deliveries_size() > 0) {
        writing_ = true;
        last_write_ = absl::Now();
        action = Action::kWrite;
      } else if (consumed == static_cast<size_t>(kReadBatch)) {
        SchedulePumpLocked();
      } else if (!environment_.notifier->WaitAfter(cursor_, weak_from_this())) {
        SchedulePumpLocked();
      }
    }
  }
  Perform(action);
}

void TailStream::Wake() {
  absl::MutexLock lock(&mu_);
  SchedulePumpLocked();
}

void TailStream::Terminate(const grpc::Status& status) {
  Action action = Action::kNone;
  {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    terminate_status_ = status;
    // A write or pump in flight finishes the stream when it completes.
    if (!writing_ && !pump_scheduled_) action = FinishLocked(status);
  }
  Perform(action);
}

void TailStream::OnWriteDone(bool ok) {
  Action action = Action::kNone;
  {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok || cancelled_) {
      action = FinishLocked(grpc::Status::CANCELLED);
    } else if (terminate_status_) {
      action = FinishLocked(*terminate_status_);
    } else {
      SchedulePumpLocked();
    }
  }
  Perform(action);
}

void TailStream::OnCancel() {
  Action action = Action::kNone;
  {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    // A write or pump in flight finishes the stream when it completes.
    if (!writing_ && !pump_scheduled_) {
      action = FinishLocked(grpc::Status::CANCELLED);
    }
  }
  Perform(action);
}

void TailStream::OnDone() {
  logging::Debug("tail stream closed", {{"peer", peer_}});
  self_.reset();
}

void TailStream::ScheduleHeartbeat(absl::Time when) {
  std::weak_ptr<TailStream> weak = weak_from_this();
  environment_.timer->Schedule(when, [weak] {
    if (auto stream = weak.lock()) stream->OnHeartbeatTimer();
  });
}

void TailStream::OnHeartbeatTimer() {
  Action action = Action::kNone;
  absl::Time next;
  {
    absl::MutexLock lock(&mu_);
    if (finished_ || cancelled_ || terminate_status_) return;
    absl::Time now = absl::Now();
    if (!writing_ && now - last_write_ >= heartbeat_interval_) {
      response_.Clear();
      writing_ = true;
      last_write_ = now;
      action = Action::kWrite;
    }
    next = (writing_ ? now : last_write_) + heartbeat_interval_;
  }
  Perform(action);
  ScheduleHeartbeat(next);
}

TailStream::Action TailStream::FinishLocked(grpc::Status status) {
  if (finished_) return Action::kNone;
  finished_ = true;
  final_status_ = std::move(status);
  return Action::kFinish;
}

void TailStream::Perform(Action action) {
  switch (action) {
    case Action::kNone:
      return;
    case Action::kWrite:
      StartWrite(&response_);
      return;
    case Action::kFinish: {
      grpc::Status status;
      {
        absl::MutexLock lock(&mu_);
        status = final_status_;
      }
      Finish(status);
      return;
    }
  }
}

}  // namespace paymento::bridge
