// libFuzzer target for NormalizeGatewayCallback: the input is a callback
// body.
//
// Besides not crashing or throwing, the target checks that an accepted body
// yields an unconfirmed payment whose id and type follow from PaymentId and
// OrderStatus, and that the event survives a protobuf round trip.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "src/normalization/gateway_callback_normalizer.h"

namespace {

void Check(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view body(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<paymento::bridge::v1::Event> event =
      paymento::bridge::NormalizeGatewayCallback(body);
  if (!event.ok()) {
    Check(event.status().code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }

  const paymento::bridge::v1::GatewayPayment& payment =
      event->gateway_payment();
  Check(event->id() == absl::StrCat("ipn:", payment.payment_id(), ":",
                                    payment.order_status()));
  Check(absl::StartsWith(event->type(), "payment."));
  Check(!payment.confirmed());
  Check(event->raw_body() == body);

  paymento::bridge::v1::Event copy;
  Check(copy.ParseFromString(event->SerializeAsString()));
  Check(copy.id() == event->id());
  return 0;
}
