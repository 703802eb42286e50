#include "src/grpc_service/tail_stream.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "src/grpc_service/grpc_status.h"
#include "src/logging/log.h"

namespace paymento::bridge {

grpc::ServerWriteReactor<grpc::ByteBuffer>* TailStream::Start(
    const StreamEnvironment& environment, TailOptions options) {
  std::shared_ptr<TailStream> stream(
      new TailStream(environment, std::move(options)));
  stream->self_ = stream;
  if (environment.registry != nullptr) environment.registry->Add(stream);
  absl::Time first_heartbeat;
  {
    absl::MutexLock lock(&stream->mu_);
    // A stream that starts before the events the store keeps in memory
    // reads the database, which may block, so the first read runs on the
    // executor.
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
      opened_(absl::Now()),
      cursor_(options.cursor),
      sent_through_(options.cursor),
      last_write_(opened_) {}

void TailStream::SchedulePumpLocked() {
  advance_scheduled_ = true;
  environment_.executor->Post([self = shared_from_this()] { self->Pump(); });
}

TailStream::Action TailStream::AdvanceLocked(bool may_block) {
  if (finished_) return Action::kNone;
  if (cancelled_) return FinishLocked(grpc::Status::CANCELLED);
  if (terminate_status_) return FinishLocked(*terminate_status_);
  for (;;) {
    std::optional<std::vector<SerializedEventPtr>> events =
        environment_.store->ReadRecentSerialized(cursor_, kReadBatch);
    if (!events.has_value()) {
      if (!may_block) {
        SchedulePumpLocked();
        return Action::kNone;
      }
      advance_scheduled_ = true;
      return Action::kRead;
    }
    ConsumeLocked(*events);
    Action write = WriteIfAnyLocked();
    if (write != Action::kNone) return write;
    if (events->size() == static_cast<size_t>(kReadBatch)) continue;
    if (WaitLocked()) return Action::kNone;
    // Events committed since the read: read again.
  }
}

bool TailStream::WaitLocked() {
  if (waiting_) return true;
  if (!environment_.notifier->WaitAfter(cursor_, weak_from_this())) {
    return false;
  }
  waiting_ = true;
  return true;
}

void TailStream::ConsumeLocked(const std::vector<SerializedEventPtr>& events) {
  for (const SerializedEventPtr& event : events) {
    // The cursor stays before the events left out, so the next read
    // returns them.
    if (response_.deliveries() > 0 &&
        response_.size() + event->bytes.size() > kMaxResponseBytes) {
      return;
    }
    cursor_ = event->sequence;
    if (!filter_.Matches(event->type)) continue;
    // NOTE: the stored bytes are sent unparsed, so a stored event that no
    // longer parses fails on the client rather than ending the stream here.
    response_.AddDelivery(event->bytes, /*attempt=*/1);
  }
}

TailStream::Action TailStream::WriteIfAnyLocked() {
  if (response_.deliveries() == 0) return Action::kNone;
  BeginWriteLocked();
  return Action::kWrite;
}

void TailStream::BeginWriteLocked() {
  writing_deliveries_ = response_.deliveries();
  write_buffer_ = response_.Release();
  writing_ = true;
  last_write_ = absl::Now();
}

void TailStream::Continue() {
  Action action = Action::kNone;
  {
    absl::MutexLock lock(&mu_);
    advance_scheduled_ = false;
    // Continue runs on an executor thread, so it reads the database itself
    // when memory does not cover the cursor.
    if (!writing_) action = AdvanceLocked(/*may_block=*/true);
  }
  Perform(action);
}

void TailStream::Pump() {
  int64_t cursor;
  {
    absl::MutexLock lock(&mu_);
    cursor = cursor_;
  }

  absl::StatusOr<std::vector<SerializedEventPtr>> events =
      environment_.store->ReadSerializedAfter(cursor, kReadBatch);

  Action action = Action::kNone;
  {
    absl::MutexLock lock(&mu_);
    advance_scheduled_ = false;
    if (finished_ || writing_) {
      // Finished already, or a heartbeat write is in flight: OnWriteDone
      // reads these events again.
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
      ConsumeLocked(*events);
      action = WriteIfAnyLocked();
      if (action != Action::kNone) {
        // Writing what was read.
      } else if (events->size() == static_cast<size_t>(kReadBatch)) {
        SchedulePumpLocked();
      } else if (!WaitLocked()) {
        action = AdvanceLocked(/*may_block=*/false);
      }
    }
  }
  Perform(action);
}

void TailStream::Wake() {
  absl::MutexLock lock(&mu_);
  waiting_ = false;
  if (advance_scheduled_ || writing_ || finished_) return;
  advance_scheduled_ = true;
  auto self = shared_from_this();
  if (environment_.wakeups == nullptr) {
    environment_.executor->Post([self] { self->Continue(); });
  } else {
    environment_.wakeups->Post([self] { self->Continue(); });
  }
}

void TailStream::Terminate(const grpc::Status& status) {
  Action action = Action::kNone;
  {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    terminate_status_ = status;
    // A write or read in flight finishes the stream when it completes.
    if (!writing_ && !advance_scheduled_) action = FinishLocked(status);
  }
  Perform(action);
}

void TailStream::OnWriteDone(bool ok) {
  Action action = Action::kNone;
  {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    // Drops this stream's reference to the bytes written.
    write_buffer_.Clear();
    if (ok) {
      // Nothing moves the cursor while a write is in flight.
      sent_through_ = cursor_;
      events_sent_ += writing_deliveries_;
    }
    if (!ok || cancelled_) {
      action = FinishLocked(grpc::Status::CANCELLED);
    } else if (terminate_status_) {
      action = FinishLocked(*terminate_status_);
    } else if (!advance_scheduled_) {
      action = AdvanceLocked(/*may_block=*/false);
    }
  }
  Perform(action);
}

void TailStream::OnCancel() {
  Action action = Action::kNone;
  {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    // A write or read in flight finishes the stream when it completes.
    if (!writing_ && !advance_scheduled_) {
      action = FinishLocked(grpc::Status::CANCELLED);
    }
  }
  Perform(action);
}

void TailStream::OnDone() {
  logging::Fields fields;
  {
    absl::MutexLock lock(&mu_);
    fields = {
        {"peer", peer_},
        {"status", StatusCodeName(final_status_.error_code())},
        {"events_sent", absl::StrCat(events_sent_)},
        {"sent_through_sequence", absl::StrCat(sent_through_)},
        {"elapsed_ms",
         absl::StrCat(absl::ToInt64Milliseconds(absl::Now() - opened_))},
    };
  }
  logging::Info("tail stream closed", fields);
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
      // An empty response, because response_ contains deliveries only
      // inside the locked sections that consume events and write them.
      BeginWriteLocked();
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
    case Action::kRead:
      Pump();
      return;
    case Action::kWrite:
      StartWrite(&write_buffer_);
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
