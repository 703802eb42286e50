// The events the ingress stores for the benchmark's signed sample body, and
// a preload that fills a SQLite store with them before a bridge starts on
// it, far faster than posting them: events go through the store library
// (SqliteEventStore::Append) in large group commits, in this process.
#ifndef PAYMENTO_BRIDGE_BENCH_STORE_PRELOAD_H_
#define PAYMENTO_BRIDGE_BENCH_STORE_PRELOAD_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bench/signed_webhooks.h"
#include "paymento/bridge/v1/event.pb.h"

namespace paymento::bridge::bench {

// The event the ingress stores for `webhooks`' signed sample body with
// `event_id`, received at `received_at`: its normalized fields,
// verification and raw body bytes.
absl::StatusOr<v1::Event> StoredEvent(const SignedWebhooks& webhooks,
                                      const std::string& event_id,
                                      absl::Time received_at);

// Returns the raw SHA-256 digest of `data`, as the store keeps for a body.
std::string RawSha256(const std::string& data);

// Appends `count` payment_link.paid events with ids evt_load_000000001,
// evt_load_000000002, ... to the store at `store_path`, creating it. Each
// event is the one the ingress would store for the signed sample body with
// that id: the same normalized fields, verification and raw body bytes.
// Returns when all of them are committed.
absl::Status PreloadStore(const std::string& store_path, int64_t count);

}  // namespace paymento::bridge::bench

#endif  // PAYMENTO_BRIDGE_BENCH_STORE_PRELOAD_H_
