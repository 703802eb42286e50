// Fills a SQLite store with webhook events before a bridge starts on it, far
// faster than posting them: events go through the store library
// (SqliteEventStore::Append) in large group commits, in this process.
#ifndef PAYMENTO_BRIDGE_BENCH_STORE_PRELOAD_H_
#define PAYMENTO_BRIDGE_BENCH_STORE_PRELOAD_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace paymento::bridge::bench {

// Appends `count` payment_link.paid events with ids evt_load_000000001,
// evt_load_000000002, ... to the store at `store_path`, creating it. Each
// event is the one the ingress would store for the signed sample body with
// that id: the same normalized fields, verification and raw body bytes.
// Returns when all of them are committed.
absl::Status PreloadStore(const std::string& store_path, int64_t count);

}  // namespace paymento::bridge::bench

#endif  // PAYMENTO_BRIDGE_BENCH_STORE_PRELOAD_H_
