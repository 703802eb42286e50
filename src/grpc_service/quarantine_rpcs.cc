// The quarantine administration RPCs of EventServiceImpl: ListQuarantined,
// GetQuarantined and ReleaseQuarantined. All three require the admin role.
//
// ReleaseQuarantined stores the request as an event (see
// quarantine_release.h for how it is normalized and verified again), then
// deletes it from the quarantine. When its event id is already stored with
// the same body, the response is that stored event with duplicate set. When
// the id is stored with another body, or the body is not an event, the
// response is FAILED_PRECONDITION and the request stays in quarantine.
#include <chrono>
#include <future>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "src/grpc_service/event_service.h"
#include "src/grpc_service/grpc_status.h"
#include "src/grpc_service/page_token.h"
#include "src/ingress/ingress_request.h"
#include "src/ingress/quarantine_release.h"
#include "src/logging/log.h"

namespace paymento::bridge {
namespace {

// How long a release waits for its event to be committed.
constexpr absl::Duration kReleaseCommitTimeout = absl::Seconds(10);

// Page tokens of ListQuarantined carry this fingerprint, so that a token of
// another list is rejected.
uint64_t QuarantinePageFingerprint() {
  return QueryFingerprint("ListQuarantined");
}

void ToProto(const QuarantineRecord& record, v1::QuarantinedRequest* proto) {
  proto->set_id(record.id);
  int64_t micros = absl::ToUnixMicros(record.received_at);
  proto->mutable_received_at()->set_seconds(micros / 1000000);
  proto->mutable_received_at()->set_nanos(
      static_cast<int32_t>(micros % 1000000) * 1000);
  proto->set_reason(record.reason);
  proto->set_route(record.route);
  proto->set_event_id(record.event_id);
  proto->set_headers(record.headers);
  proto->set_body(record.body);
  proto->set_body_size(record.body.empty()
                           ? record.body_size
                           : static_cast<int64_t>(record.body.size()));
}

absl::Status InvalidId(int64_t id) {
  return absl::InvalidArgumentError(
      absl::StrCat("invalid quarantine id ", id,
                   ": use an id from ListQuarantined, which starts at 1"));
}

absl::StatusOr<QuarantineRecord> FindQuarantined(EventStore& store,
                                                 int64_t id) {
  if (id <= 0) return InvalidId(id);
  absl::StatusOr<std::optional<QuarantineRecord>> record =
      store.GetQuarantined(id);
  if (!record.ok()) return record.status();
  if (!record->has_value()) {
    return absl::NotFoundError(absl::StrCat(
        "no quarantined request with id ", id,
        ": it was released, evicted by the quarantine cap, or never existed"));
  }
  return **std::move(record);
}

// Appends the released event and waits for its commit. Returns the event as
// stored and whether it was a duplicate.
absl::StatusOr<std::pair<v1::Event, bool>> StoreReleased(
    EventStore& store, v1::Event event, const QuarantineRecord& record) {
  AppendFuture pending = store.Append(event, record.body_sha256);
  if (pending.wait_for(absl::ToChronoMilliseconds(kReleaseCommitTimeout)) !=
      std::future_status::ready) {
    return absl::UnavailableError(
        "store commit timed out: retry ReleaseQuarantined");
  }
  absl::StatusOr<AppendResult> result = pending.get();
  if (!result.ok()) return result.status();

  switch (result->outcome) {
    case AppendOutcome::kStored:
      event.set_sequence(result->sequence);
      return std::make_pair(std::move(event), false);
    case AppendOutcome::kDuplicate: {
      absl::StatusOr<std::optional<StoredEvent>> stored =
          store.GetById(event.id());
      if (!stored.ok()) return stored.status();
      // Retention may have deleted the first copy, leaving its id only.
      if (stored->has_value()) event = std::move((*stored)->event);
      return std::make_pair(std::move(event), true);
    }
    case AppendOutcome::kConflict:
      break;
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "event id \"", event.id(),
      "\" is already stored with a different body: the stored event stays, "
      "and quarantined request ",
      record.id, " stays in quarantine"));
}

}  // namespace

grpc::ServerUnaryReactor* EventServiceImpl::ListQuarantined(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary(context, request, response, Role::kAdmin,
                    &EventServiceImpl::HandleListQuarantined);
}

absl::Status EventServiceImpl::HandleListQuarantined(
    grpc::CallbackServerContext* context,
    const v1::ListQuarantinedRequest* request,
    v1::ListQuarantinedResponse* response) {
  if (request->page_size() < 0 || request->page_size() > kMaxPageSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid page_size ", request->page_size(), ": use 1 to ",
                     kMaxPageSize, ", or 0 for ", kDefaultPageSize));
  }
  int limit =
      request->page_size() == 0 ? kDefaultPageSize : request->page_size();
  int64_t after_id = 0;
  if (!request->page_token().empty()) {
    absl::StatusOr<int64_t> decoded =
        DecodePageToken(request->page_token(), QuarantinePageFingerprint());
    if (!decoded.ok()) return decoded.status();
    after_id = *decoded;
  }

  absl::StatusOr<std::vector<QuarantineRecord>> records =
      environment_.store->ListQuarantined(after_id, limit);
  if (!records.ok()) return records.status();
  for (const QuarantineRecord& record : *records) {
    ToProto(record, response->add_requests());
  }
  if (static_cast<int>(records->size()) == limit) {
    response->set_next_page_token(
        EncodePageToken(records->back().id, QuarantinePageFingerprint()));
  }
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* EventServiceImpl::GetQuarantined(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary(context, request, response, Role::kAdmin,
                    &EventServiceImpl::HandleGetQuarantined);
}

absl::Status EventServiceImpl::HandleGetQuarantined(
    grpc::CallbackServerContext* context,
    const v1::GetQuarantinedRequest* request,
    v1::QuarantinedRequest* response) {
  absl::StatusOr<QuarantineRecord> record =
      FindQuarantined(*environment_.store, request->id());
  if (!record.ok()) return record.status();
  ToProto(*record, response);
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* EventServiceImpl::ReleaseQuarantined(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  return ServeUnary(context, request, response, Role::kAdmin,
                    &EventServiceImpl::HandleReleaseQuarantined);
}

absl::Status EventServiceImpl::HandleReleaseQuarantined(
    grpc::CallbackServerContext* context,
    const v1::ReleaseQuarantinedRequest* request,
    v1::ReleaseQuarantinedResponse* response) {
  EventStore& store = *environment_.store;
  absl::StatusOr<QuarantineRecord> record =
      FindQuarantined(store, request->id());
  if (!record.ok()) return record.status();

  absl::StatusOr<v1::Event> event =
      EventFromQuarantine(*record, ReleaseSecrets::FromEnvironment());
  if (!event.ok()) return event.status();
  absl::StatusOr<std::pair<v1::Event, bool>> stored =
      StoreReleased(store, *std::move(event), *record);
  if (!stored.ok()) return stored.status();

  // A concurrent release of the same request may have deleted it already,
  // and the event is stored either way.
  absl::Status deleted = store.DeleteQuarantined(record->id);
  if (!deleted.ok() && !absl::IsNotFound(deleted)) {
    return deleted;
  }
  const v1::Event& released = stored->first;
  logging::Info(
      "quarantined request released",
      {{"peer", context->peer()},
       {"quarantine_id", absl::StrCat(record->id)},
       {"event_id", LoggableValue(released.id())},
       {"sequence", absl::StrCat(released.sequence())},
       {"duplicate", stored->second ? "true" : "false"},
       {"scheme", v1::SignatureScheme_Name(released.verification().scheme())}});
  *response->mutable_event() = released;
  response->set_duplicate(stored->second);
  return absl::OkStatus();
}

}  // namespace paymento::bridge
