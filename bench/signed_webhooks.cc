#include "bench/signed_webhooks.h"

#include <cstdlib>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "src/cli/sample_event.h"
#include "src/verification/signature_verifier.h"

namespace paymento::bridge::bench {
namespace {

// Stands for the event id in the sample body; JSON encoding leaves it as is.
constexpr char kIdPlaceholder[] = "@@EVENT_ID@@";

}  // namespace

SignedWebhooks::SignedWebhooks(absl::Time created_at) {
  std::string body =
      SampleWebhookBody("payment_link.paid", kIdPlaceholder, created_at);
  size_t at = body.find(kIdPlaceholder);
  if (at == std::string::npos ||
      body.find(kIdPlaceholder, at + 1) != std::string::npos) {
    std::cerr << "paymento-bench: the sample webhook body does not contain "
                 "the event id exactly once; update SignedWebhooks\n";
    std::abort();
  }
  body_prefix_ = body.substr(0, at);
  body_suffix_ = body.substr(at + sizeof(kIdPlaceholder) - 1);
}

std::string SignedWebhooks::Body(absl::string_view event_id) const {
  return absl::StrCat(body_prefix_, event_id, body_suffix_);
}

std::string SignedWebhooks::Request(absl::string_view event_id) const {
  std::string body = Body(event_id);
  return absl::StrCat(
      "POST /webhook HTTP/1.1\r\n"
      "Host: 127.0.0.1\r\n"
      "Content-Type: application/json\r\n"
      "X-Paymento-Signature: ",
      HmacSha256Hex(kBenchSecret, body), "\r\nContent-Length: ", body.size(),
      "\r\n\r\n", body);
}

}  // namespace paymento::bridge::bench
