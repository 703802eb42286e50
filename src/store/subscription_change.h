// SubscriptionChange: a change to a durable subscription that every process
// sharing the store must apply to its own copy of the subscription, and its
// text form, which fits a PostgreSQL notification payload.
#ifndef PAYMENTO_BRIDGE_SRC_STORE_SUBSCRIPTION_CHANGE_H_
#define PAYMENTO_BRIDGE_SRC_STORE_SUBSCRIPTION_CHANGE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace paymento::bridge {

// One lease of one event: what an ack id names.
struct LeaseId {
  int64_t sequence = 0;
  uint64_t generation = 0;

  bool operator==(const LeaseId& other) const {
    return sequence == other.sequence && generation == other.generation;
  }
};

// Formats a lease as an ack id, "<sequence>.<generation>".
std::string FormatAckId(const LeaseId& lease);
// Parses an ack id; nullopt when it is malformed.
std::optional<LeaseId> ParseAckId(absl::string_view id);

struct SubscriptionChange {
  enum class Kind {
    // The leases were acknowledged or dead-lettered.
    kSettled,
    // The leases were returned: their events are pending again.
    kReleased,
    // The leases now expire `deadline` after the change was made.
    kExtended,
    // The cursor moved to `cursor` in epoch `epoch`.
    kSeek,
    // Dead-lettered events are pending again.
    kRedrive,
    // The subscription was deleted.
    kDelete,
    // Changes may have been missed (the listener reconnected), so every
    // subscription must be checked against the store. Never sent.
    kResync,
  };

  Kind kind = Kind::kSettled;
  std::string subscription;
  std::vector<LeaseId> leases;
  absl::Duration deadline = absl::ZeroDuration();
  int64_t cursor = 0;
  int64_t epoch = 0;
};

// Encodes `change` as payloads of at most `max_bytes` each, splitting its
// leases over several payloads when needed. Subscription names never hold
// spaces (SubscriptionManager::CheckName), which the format relies on.
std::vector<std::string> EncodeSubscriptionChange(
    const SubscriptionChange& change, size_t max_bytes = 7000);
// Decodes one payload; nullopt when it is malformed.
std::optional<SubscriptionChange> DecodeSubscriptionChange(
    absl::string_view payload);

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_STORE_SUBSCRIPTION_CHANGE_H_
