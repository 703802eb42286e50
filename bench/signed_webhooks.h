// Signed Paymento payment-link webhooks for the load generators: the
// sample body of `paymento-bridge send-test` with a chosen event id, signed
// with the body scheme (hex HMAC-SHA256 of the body in
// X-Paymento-Signature).
#ifndef PAYMENTO_BRIDGE_BENCH_SIGNED_WEBHOOKS_H_
#define PAYMENTO_BRIDGE_BENCH_SIGNED_WEBHOOKS_H_

#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace paymento::bridge::bench {

// The webhook secret that every benchmark bridge runs with.
inline constexpr char kBenchSecret[] = "whsec_benchmark_only";

class SignedWebhooks {
 public:
  // Bodies are payment_link.paid events created at `created_at`, which the
  // bridge accepts for as long as its dedup window (400 days by default).
  explicit SignedWebhooks(absl::Time created_at);

  // Returns the JSON body for `event_id`.
  std::string Body(absl::string_view event_id) const;

  // Returns the complete HTTP/1.1 request for `event_id`: POST /webhook on a
  // keep-alive connection, with Content-Length and the body signature.
  std::string Request(absl::string_view event_id) const;

 private:
  // The body is body_prefix_ + event id + body_suffix_.
  std::string body_prefix_;
  std::string body_suffix_;
};

}  // namespace paymento::bridge::bench

#endif  // PAYMENTO_BRIDGE_BENCH_SIGNED_WEBHOOKS_H_
