#include "src/grpc_service/event_service.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "src/grpc_service/durable_stream.h"
#include "src/grpc_service/grpc_status.h"
#include "src/grpc_service/message_bytes.h"
#include "src/grpc_service/page_token.h"
#include "src/grpc_service/subscribe_response_bytes.h"
#include "src/logging/log.h"

namespace paymento::bridge {
namespace {

absl::Time ToAbslTime(const google::protobuf::Timestamp& timestamp) {
  return absl::FromUnixSeconds(timestamp.seconds()) +
         absl::Nanoseconds(timestamp.nanos());
}

// A stream that fails before it starts: finishes at once with `status`.
class RejectedStream : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  explicit RejectedStream(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

google::protobuf::Timestamp ToTimestamp(absl::Time time) {
  google::protobuf::Timestamp timestamp;
  int64_t micros = absl::ToUnixMicros(time);
  timestamp.set_seconds(micros / 1000000);
  timestamp.set_nanos(static_cast<int32_t>(micros % 1000000) * 1000);
  return timestamp;
}

absl::Duration ToAbslDuration(const google::protobuf::Duration& duration) {
  return absl::Seconds(duration.seconds()) +
         absl::Nanoseconds(duration.nanos());
}

google::protobuf::Duration ToDuration(absl::Duration duration) {
  google::protobuf::Duration result;
  int64_t nanos = absl::ToInt64Nanoseconds(duration);
  result.set_seconds(nanos / 1000000000);
  result.set_nanos(static_cast<int32_t>(nanos % 1000000000));
  return result;
}

v1::DeliveryState ToProtoState(DeliveryState state) {
  switch (state) {
    case DeliveryState::kPending:
      return v1::DELIVERY_STATE_PENDING;
    case DeliveryState::kLeased:
      return v1::DELIVERY_STATE_LEASED;
    case DeliveryState::kAcknowledged:
      return v1::DELIVERY_STATE_ACKNOWLEDGED;
    case DeliveryState::kDeadLettered:
      return v1::DELIVERY_STATE_DEAD_LETTERED;
  }
  return v1::DELIVERY_STATE_UNSPECIFIED;
}

absl::StatusOr<DeliveryState> FromProtoState(v1::DeliveryState state) {
  switch (state) {
    case v1::DELIVERY_STATE_PENDING:
      return DeliveryState::kPending;
    case v1::DELIVERY_STATE_LEASED:
      return DeliveryState::kLeased;
    case v1::DELIVERY_STATE_ACKNOWLEDGED:
      return DeliveryState::kAcknowledged;
    case v1::DELIVERY_STATE_DEAD_LETTERED:
      return DeliveryState::kDeadLettered;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("invalid delivery_state ", static_cast<int>(state)));
  }
}

std::vector<std::string> Patterns(
    const google::protobuf::RepeatedPtrField<std::string>& field) {
  return std::vector<std::string>(field.begin(), field.end());
}

}  // namespace

absl::StatusOr<TailOptions> EventServiceImpl::TailOptionsFor(
    const v1::SubscribeRequest& request) {
  if (request.event_types_size() > kMaxEventTypes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "too many event_types (", request.event_types_size(), "): use at most ",
        kMaxEventTypes, ", with prefixes such as subscription.*"));
  }
  absl::StatusOr<TypeFilter> filter =
      TypeFilter::Create(Patterns(request.event_types()));
  if (!filter.ok()) return filter.status();

  TailOptions options{*std::move(filter), /*cursor=*/0,
                      TailOptions::kDefaultHeartbeatInterval, /*peer=*/""};
  switch (request.start_case()) {
    case v1::SubscribeRequest::kAfterSequence:
      if (request.after_sequence() < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("invalid after_sequence ", request.after_sequence(),
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
      if (!v1::StartPosition_IsValid(request.position())) {
        return absl::InvalidArgumentError(absl::StrCat(
            "invalid position ", request.position(),
            ": use START_POSITION_LATEST or START_POSITION_EARLIEST"));
      }
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
    if (interval < absl::Seconds(1) || interval > absl::Hours(1)) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid heartbeat_interval ",
                       absl::FormatDuration(interval), ": use 1s to 1h"));
    }
    options.heartbeat_interval = interval;
  }
  return options;
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* EventServiceImpl::Subscribe(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* bytes) {
  absl::Status allowed = Authorize(*context, Role::kClient);
  if (!allowed.ok()) return new RejectedStream(ToGrpcStatus(allowed));
  absl::StatusOr<v1::SubscribeRequest> request =
      ParseMessage<v1::SubscribeRequest>(*bytes);
  if (!request.ok()) return new RejectedStream(ToGrpcStatus(request.status()));
  absl::StatusOr<TailOptions> options = TailOptionsFor(*request);
  if (!options.ok()) {
    logging::Info("subscribe rejected",
                  {{"peer", context->peer()},
                   {"error", std::string(options.status().message())}});
    return new RejectedStream(ToGrpcStatus(options.status()));
  }
  options->peer = context->peer();
  if (!request->subscription().empty()) {
    return SubscribeDurable(context, *request, *std::move(options));
  }
  logging::Info("tail stream opened",
                {{"peer", options->peer},
                 {"after_sequence", absl::StrCat(options->cursor)}});
  return TailStream::Start(environment_, *std::move(options));
}

grpc::ServerUnaryReactor* EventServiceImpl::GetEvent(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary(context, request, response, Role::kClient,
                    &EventServiceImpl::HandleGetEvent);
}

absl::Status EventServiceImpl::HandleGetEvent(
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
      return absl::InvalidArgumentError("set id or sequence");
  }
  if (!stored.ok()) return stored.status();
  if (!stored->has_value()) {
    return absl::NotFoundError(
        absl::StrCat("no event with ", key,
                     ": it was never received, or retention has deleted it"));
  }
  *response->mutable_event() = std::move((*stored)->event);
  response->set_duplicate_count((*stored)->duplicate_count);
  return AddDeliveryStatus(*response);
}

grpc::ServerUnaryReactor* EventServiceImpl::ListEvents(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary(context, request, response, Role::kClient,
                    &EventServiceImpl::HandleListEvents);
}

absl::Status EventServiceImpl::HandleListEvents(
    grpc::CallbackServerContext* context, const v1::ListEventsRequest* request,
    v1::ListEventsResponse* response) {
  if (request->page_size() < 0 || request->page_size() > kMaxPageSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid page_size ", request->page_size(), ": use 1 to ",
                     kMaxPageSize, ", or 0 for ", kDefaultPageSize));
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
  if (request->delivery_state() != v1::DELIVERY_STATE_UNSPECIFIED) {
    absl::StatusOr<DeliveryState> state =
        FromProtoState(request->delivery_state());
    if (!state.ok()) return state.status();
    if (request->subscription().empty()) {
      return absl::InvalidArgumentError(
          "delivery_state needs a subscription name");
    }
    query.subscription = request->subscription();
    query.delivery_state = *state;
  }
  query.limit =
      request->page_size() == 0 ? kDefaultPageSize : request->page_size();
  if (!request->page_token().empty()) {
    absl::StatusOr<int64_t> after =
        DecodePageToken(request->page_token(), fingerprint);
    if (!after.ok()) return after.status();
    query.after_sequence = *after;
  }

  absl::StatusOr<std::vector<v1::Event>> events =
      environment_.store->List(query);
  if (!events.ok()) return events.status();
  // A page stops early at kMaxResponseBytes, and its token then continues
  // after the last event in it.
  size_t bytes = 0;
  bool more_pages = static_cast<int>(events->size()) == query.limit;
  for (v1::Event& event : *events) {
    size_t size = event.ByteSizeLong();
    if (response->events_size() > 0 && bytes + size > kMaxResponseBytes) {
      more_pages = true;
      break;
    }
    bytes += size;
    *response->add_events() = std::move(event);
  }
  if (more_pages) {
    response->set_next_page_token(EncodePageToken(
        response->events(response->events_size() - 1).sequence(), fingerprint));
  }
  return absl::OkStatus();
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* EventServiceImpl::SubscribeDurable(
    grpc::CallbackServerContext* context, const v1::SubscribeRequest& request,
    TailOptions options) {
  int max_outstanding = request.max_outstanding() == 0
                            ? kDefaultMaxOutstanding
                            : request.max_outstanding();
  absl::Duration ack_deadline = request.has_ack_deadline()
                                    ? ToAbslDuration(request.ack_deadline())
                                    : absl::Seconds(30);
  int attempts = request.max_delivery_attempts() == 0
                     ? kDefaultMaxDeliveryAttempts
                     : request.max_delivery_attempts();
  absl::Status invalid;
  if (max_outstanding < 1 || max_outstanding > kMaxMaxOutstanding) {
    invalid = absl::InvalidArgumentError(
        absl::StrCat("invalid max_outstanding ", request.max_outstanding(),
                     ": use 1 to ", kMaxMaxOutstanding));
  } else if (ack_deadline < absl::Seconds(1) ||
             ack_deadline > absl::Minutes(10)) {
    invalid = absl::InvalidArgumentError(
        absl::StrCat("invalid ack_deadline ",
                     absl::FormatDuration(ack_deadline), ": use 1s to 10m"));
  } else if (attempts < 1 || attempts > 1000) {
    invalid = absl::InvalidArgumentError(absl::StrCat(
        "invalid max_delivery_attempts ", attempts, ": use 1 to 1000"));
  }

  absl::StatusOr<std::shared_ptr<Subscription>> subscription;
  if (invalid.ok()) {
    SubscriptionRecord record;
    record.name = request.subscription();
    record.event_types = options.filter.Patterns();
    record.created_at = absl::Now();
    record.start_sequence = options.cursor;
    record.cursor = options.cursor;
    record.ack_deadline = ack_deadline;
    record.max_delivery_attempts = attempts;
    record.ordered = request.ordered();
    subscription = subscriptions_->GetOrCreate(record);
    if (!subscription.ok()) invalid = subscription.status();
  }
  if (!invalid.ok()) {
    logging::Info("subscribe rejected",
                  {{"peer", options.peer},
                   {"subscription", request.subscription()},
                   {"error", std::string(invalid.message())}});
    return new RejectedStream(ToGrpcStatus(invalid));
  }
  logging::Info("durable stream opened",
                {{"peer", options.peer},
                 {"subscription", request.subscription()},
                 {"max_outstanding", absl::StrCat(max_outstanding)}});
  return DurableStream::Start(environment_, *std::move(subscription),
                              max_outstanding, options.heartbeat_interval,
                              options.peer);
}

absl::Status EventServiceImpl::AddDeliveryStatus(v1::EventStatus& status) {
  const v1::Event& event = status.event();
  absl::StatusOr<std::vector<DeliveryRecord>> rows =
      environment_.store->DeliveriesOf(event.sequence());
  if (!rows.ok()) return rows.status();
  for (const std::shared_ptr<Subscription>& subscription :
       subscriptions_->All()) {
    const SubscriptionRecord& record = subscription->record();
    if (event.sequence() <= record.start_sequence ||
        !subscription->filter().Matches(event.type())) {
      continue;
    }
    v1::DeliveryStatus* delivery = status.add_deliveries();
    delivery->set_subscription(record.name);
    const DeliveryRecord* row = nullptr;
    for (const DeliveryRecord& candidate : *rows) {
      if (candidate.subscription == record.name) row = &candidate;
    }
    if (row == nullptr) {
      delivery->set_state(event.sequence() <= subscription->Cursor()
                              ? v1::DELIVERY_STATE_ACKNOWLEDGED
                              : v1::DELIVERY_STATE_PENDING);
      continue;
    }
    delivery->set_state(ToProtoState(row->state));
    delivery->set_attempts(row->attempts);
    if (row->last_delivered_at > absl::UnixEpoch()) {
      *delivery->mutable_last_delivered_at() =
          ToTimestamp(row->last_delivered_at);
    }
    if (row->acknowledged_at > absl::UnixEpoch()) {
      *delivery->mutable_acknowledged_at() = ToTimestamp(row->acknowledged_at);
    }
  }
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* EventServiceImpl::Acknowledge(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary(context, request, response, Role::kClient,
                    &EventServiceImpl::HandleAcknowledge);
}

absl::Status EventServiceImpl::HandleAcknowledge(
    grpc::CallbackServerContext* context, const v1::AcknowledgeRequest* request,
    v1::AcknowledgeResponse* response) {
  absl::StatusOr<std::shared_ptr<Subscription>> subscription =
      subscriptions_->Find(request->subscription());
  if (!subscription.ok()) return subscription.status();
  std::vector<std::string> ids(request->ack_ids().begin(),
                               request->ack_ids().end());
  int acknowledged = 0;
  // Waits for the group commit that makes the acknowledgements durable, a
  // few milliseconds, on this callback thread.
  absl::Status saved = (*subscription)->Acknowledge(ids, &acknowledged).get();
  response->set_acknowledged(acknowledged);
  return saved;
}

grpc::ServerUnaryReactor* EventServiceImpl::ModifyAckDeadline(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary(context, request, response, Role::kClient,
                    &EventServiceImpl::HandleModifyAckDeadline);
}

absl::Status EventServiceImpl::HandleModifyAckDeadline(
    grpc::CallbackServerContext* context,
    const v1::ModifyAckDeadlineRequest* request,
    v1::ModifyAckDeadlineResponse* response) {
  absl::Duration deadline = ToAbslDuration(request->ack_deadline());
  if (deadline < absl::ZeroDuration() || deadline > absl::Minutes(10)) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid ack_deadline ", absl::FormatDuration(deadline),
                     ": use 0 to return the deliveries, or up to 10m"));
  }
  absl::StatusOr<std::shared_ptr<Subscription>> subscription =
      subscriptions_->Find(request->subscription());
  if (!subscription.ok()) return subscription.status();
  std::vector<std::string> ids(request->ack_ids().begin(),
                               request->ack_ids().end());
  absl::StatusOr<int> modified =
      (*subscription)->ModifyAckDeadline(ids, deadline);
  if (!modified.ok()) return modified.status();
  response->set_modified(*modified);
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* EventServiceImpl::Seek(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary(context, request, response, Role::kAdmin,
                    &EventServiceImpl::HandleSeek);
}

absl::Status EventServiceImpl::HandleSeek(grpc::CallbackServerContext* context,
                                          const v1::SeekRequest* request,
                                          v1::SeekResponse* response) {
  absl::StatusOr<std::shared_ptr<Subscription>> subscription =
      subscriptions_->Find(request->subscription());
  if (!subscription.ok()) return subscription.status();
  int64_t cursor = 0;
  switch (request->target_case()) {
    case v1::SeekRequest::kSequence:
      if (request->sequence() < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("invalid sequence ", request->sequence(),
                         ": use 0 or a sequence number"));
      }
      cursor = request->sequence();
      break;
    case v1::SeekRequest::kReceivedAt: {
      absl::StatusOr<int64_t> before = environment_.store->SequenceBefore(
          ToAbslTime(request->received_at()));
      if (!before.ok()) return before.status();
      cursor = *before;
      break;
    }
    case v1::SeekRequest::TARGET_NOT_SET:
      return absl::InvalidArgumentError("set sequence or received_at");
  }
  absl::StatusOr<int64_t> moved = (*subscription)->Seek(cursor);
  if (!moved.ok()) return moved.status();
  response->set_cursor(*moved);
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* EventServiceImpl::ListSubscriptions(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary(context, request, response, Role::kAdmin,
                    &EventServiceImpl::HandleListSubscriptions);
}

absl::Status EventServiceImpl::HandleListSubscriptions(
    grpc::CallbackServerContext* context,
    const v1::ListSubscriptionsRequest* request,
    v1::ListSubscriptionsResponse* response) {
  for (const std::shared_ptr<Subscription>& subscription :
       subscriptions_->All()) {
    absl::StatusOr<SubscriptionStats> stats = subscription->Stats();
    if (!stats.ok()) return stats.status();
    const SubscriptionRecord& record = subscription->record();
    v1::Subscription* listed = response->add_subscriptions();
    listed->set_name(record.name);
    for (const std::string& type : record.event_types) {
      listed->add_event_types(type);
    }
    *listed->mutable_created_at() = ToTimestamp(record.created_at);
    *listed->mutable_ack_deadline() = ToDuration(record.ack_deadline);
    listed->set_max_delivery_attempts(record.max_delivery_attempts);
    listed->set_ordered(record.ordered);
    listed->set_cursor(stats->cursor);
    listed->set_backlog_events(stats->backlog_events);
    if (stats->oldest_backlog_received_at) {
      *listed->mutable_backlog_age() =
          ToDuration(absl::Now() - *stats->oldest_backlog_received_at);
    }
    listed->set_dead_lettered_events(stats->dead_lettered_events);
    listed->set_expired_events(stats->expired_events);
    listed->set_open_streams(stats->open_streams);
  }
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* EventServiceImpl::DeleteSubscription(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary(context, request, response, Role::kAdmin,
                    &EventServiceImpl::HandleDeleteSubscription);
}

absl::Status EventServiceImpl::HandleDeleteSubscription(
    grpc::CallbackServerContext* context,
    const v1::DeleteSubscriptionRequest* request,
    v1::DeleteSubscriptionResponse* response) {
  return subscriptions_->Delete(request->subscription());
}

grpc::ServerUnaryReactor* EventServiceImpl::RedriveDeadLetters(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary(context, request, response, Role::kAdmin,
                    &EventServiceImpl::HandleRedriveDeadLetters);
}

absl::Status EventServiceImpl::HandleRedriveDeadLetters(
    grpc::CallbackServerContext* context,
    const v1::RedriveDeadLettersRequest* request,
    v1::RedriveDeadLettersResponse* response) {
  absl::StatusOr<std::shared_ptr<Subscription>> subscription =
      subscriptions_->Find(request->subscription());
  if (!subscription.ok()) return subscription.status();
  absl::StatusOr<int> redriven = (*subscription)->RedriveDeadLetters();
  if (!redriven.ok()) return redriven.status();
  response->set_redriven(*redriven);
  return absl::OkStatus();
}

}  // namespace paymento::bridge
