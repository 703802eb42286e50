// libFuzzer target for NormalizeWebhook: the input is a webhook body.
//
// Besides not crashing or throwing, the target checks that an accepted body
// yields an event with an id, a type and the exact body bytes. It also checks
// that the event survives a protobuf round trip, which fails on invalid UTF-8
// in a string field, and that reading every body as a JSON document gives
// the same result, since NormalizeWebhook reads most bodies in one pass
// without one.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/string_view.h"
#include "google/protobuf/util/message_differencer.h"
#include "src/normalization/webhook_normalizer.h"

namespace {

void Check(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view body(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<paymento::bridge::v1::Event> event =
      paymento::bridge::NormalizeWebhook(body);
  absl::StatusOr<paymento::bridge::v1::Event> document =
      paymento::bridge::NormalizeWebhookAsDocument(body);
  Check(event.status() == document.status());
  Check(!event.ok() ||
        google::protobuf::util::MessageDifferencer::Equals(*event, *document));
  if (!event.ok()) {
    Check(event.status().code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }

  Check(!event->id().empty());
  Check(!event->type().empty());
  Check(event->raw_body() == body);
  Check(event->source() ==
        paymento::bridge::v1::EVENT_SOURCE_PAYMENT_LINK_WEBHOOK);

  paymento::bridge::v1::Event copy;
  Check(copy.ParseFromString(event->SerializeAsString()));
  Check(copy.id() == event->id());
  return 0;
}
