#include "src/grpc_service/event_service.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "src/grpc_service/grpc_status.h"
#include "src/grpc_service/page_token.h"
#include "src/logging/log.h"

namespace paymento::bridge {
namespace {

absl::Time ToAbslTime(const google::protobuf::Timestamp& timestamp) {
  return absl::FromUnixSeconds(timestamp.seconds()) +
         absl::Nanoseconds(timestamp.nanos());
}

// A stream that fails before it starts: finishes at once with `status`.
class RejectedStream : public grpc::ServerWriteReactor<v1::SubscribeResponse> {
 public:
  explicit RejectedStream(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

grpc::ServerUnaryReactor* FinishUnary(grpc::CallbackServerContext* context,
                                      const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

std::vector<std::string> Patterns(
    const google::protobuf::RepeatedPtrField<std::string>& field) {
  return std::vector<std::string>(field.begin(), field.end());
}

}  // namespace

absl::StatusOr<TailOptions> EventServiceImpl::TailOptionsFor(
    const v1::SubscribeRequest& request) {
  absl::StatusOr<TypeFilter> filter =
      TypeFilter::Create(Patterns(request.event_types()));
  if (!filter.ok()) return filter.status();

  TailOptions options{*std::move(filter)};
  switch (request.start_case()) {
    case v1::SubscribeRequest::kAfterSequence:
      if (request.after_sequence() < 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "invalid after_sequence ", request.after_sequence(),
            ": use 0 or a sequence number"));
      }
      options.cursor = request.after_sequence();
      break;
    case v1::SubscribeRequest::kSinceReceivedAt: {
      absl::StatusOr<int64_t> before = environment_.store->SequenceBefore(
          ToAbslTime(request.since_received_at()));
      if (!before.ok()) return before.status();
      options.cursor = *before;
      break;
    }
    case v1::SubscribeRequest::kPosition:
      options.cursor = request.position() == v1::START_POSITION_EARLIEST
                           ? 0
                           : environment_.store->LastSequence();
      break;
    case v1::SubscribeRequest::START_NOT_SET:
      options.cursor = environment_.store->LastSequence();
      break;
  }

  if (request.has_heartbeat_interval()) {
    absl::Duration interval =
        absl::Seconds(request.heartbeat_interval().seconds()) +
        absl::Nanoseconds(request.heartbeat_interval().nanos());
    if (interval < absl::Seconds(1)) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid heartbeat_interval ",
                       absl::FormatDuration(interval), ": use at least 1s"));
    }
    options.heartbeat_interval = interval;
  }
  return options;
}

grpc::ServerWriteReactor<v1::SubscribeResponse>* EventServiceImpl::Subscribe(
    grpc::CallbackServerContext* context,
    const v1::SubscribeRequest* request) {
  absl::StatusOr<TailOptions> options = TailOptionsFor(*request);
  if (!options.ok()) {
    logging::Info("subscribe rejected",
                  {{"peer", context->peer()},
                   {"error", std::string(options.status().message())}});
    return new RejectedStream(ToGrpcStatus(options.status()));
  }
  options->peer = context->peer();
  logging::Info("tail stream opened",
                {{"peer", options->peer},
                 {"after_sequence", absl::StrCat(options->cursor)}});
  return TailStream::Start(environment_, *std::move(options));
}

grpc::ServerUnaryReactor* EventServiceImpl::GetEvent(
    grpc::CallbackServerContext* context, const v1::GetEventRequest* request,
    v1::EventStatus* response) {
  absl::StatusOr<std::optional<StoredEvent>> stored;
  std::string key;
  switch (request->key_case()) {
    case v1::GetEventRequest::kId:
      key = absl::StrCat("id \"", request->id(), "\"");
      stored = environment_.store->GetById(request->id());
      break;
    case v1::GetEventRequest::kSequence:
      key = absl::StrCat("sequence ", request->sequence());
      stored = environment_.store->GetBySequence(request->sequence());
      break;
    case v1::GetEventRequest::KEY_NOT_SET:
      return FinishUnary(context, absl::InvalidArgumentError(
                                      "set id or sequence"));
  }
  if (!stored.ok()) return FinishUnary(context, stored.status());
  if (!stored->has_value()) {
    return FinishUnary(
        context,
        absl::NotFoundError(absl::StrCat(
            "no event with ", key,
            ": it was never received, or retention has deleted it")));
  }
  *response->mutable_event() = std::move((*stored)->event);
  response->set_duplicate_count((*stored)->duplicate_count);
  return FinishUnary(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* EventServiceImpl::ListEvents(
    grpc::CallbackServerContext* context,
    const v1::ListEventsRequest* request,
    v1::ListEventsResponse* response) {
  if (request->page_size() < 0 || request->page_size() > kMaxPageSize) {
    return FinishUnary(context, absl::InvalidArgumentError(absl::StrCat(
                                    "invalid page_size ", request->page_size(),
                                    ": use 1 to ", kMaxPageSize,
                                    ", or 0 for ", kDefaultPageSize)));
  }
  v1::ListEventsRequest shape = *request;
  shape.clear_page_token();
  shape.clear_page_size();
  uint64_t fingerprint = QueryFingerprint(shape.SerializeAsString());

  EventQuery query;
  query.type_patterns = Patterns(request->event_types());
  if (request->has_received_after()) {
    query.received_after = ToAbslTime(request->received_after());
  }
  if (request->has_received_before()) {
    query.received_before = ToAbslTime(request->received_before());
  }
  query.customer_email = request->customer_email();
  query.payment_link_id = request->payment_link_id();
  query.limit =
      request->page_size() == 0 ? kDefaultPageSize : request->page_size();
  if (!request->page_token().empty()) {
    absl::StatusOr<int64_t> after =
        DecodePageToken(request->page_token(), fingerprint);
    if (!after.ok()) return FinishUnary(context, after.status());
    query.after_sequence = *after;
  }

  absl::StatusOr<std::vector<v1::Event>> events =
      environment_.store->List(query);
  if (!events.ok()) return FinishUnary(context, events.status());
  for (v1::Event& event : *events) {
    *response->add_events() = std::move(event);
  }
  if (static_cast<int>(events->size()) == query.limit) {
    response->set_next_page_token(EncodePageToken(
        response->events(response->events_size() - 1).sequence(),
        fingerprint));
  }
  return FinishUnary(context, absl::OkStatus());
}

}  // namespace paymento::bridge
