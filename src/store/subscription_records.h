// Records of durable subscriptions and of their deliveries, as the store
// keeps them.
#ifndef PAYMENTO_BRIDGE_SRC_STORE_SUBSCRIPTION_RECORDS_H_
#define PAYMENTO_BRIDGE_SRC_STORE_SUBSCRIPTION_RECORDS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace paymento::bridge {

struct SubscriptionRecord {
  std::string name;
  // Sorted, de-duplicated patterns; empty means every type.
  std::vector<std::string> event_types;
  absl::Time created_at;
  // Events with a greater sequence belong to the subscription.
  int64_t start_sequence = 0;
  // Every event at or below the cursor is acknowledged or dead-lettered,
  // unless a delivery row records another state (a redriven event).
  int64_t cursor = 0;
  absl::Duration ack_deadline = absl::Seconds(30);
  int max_delivery_attempts = 10;
  bool ordered = false;
  // Unacknowledged events deleted by retention.
  int64_t expired_events = 0;
  // Seeks made so far, in a store that shares subscriptions; 0 otherwise.
  int64_t epoch = 0;
};

// Numeric values are stored; never renumber them.
enum class DeliveryState {
  kPending = 1,
  kLeased = 2,
  kAcknowledged = 3,
  kDeadLettered = 4,
};

struct DeliveryRecord {
  std::string subscription;
  int64_t sequence = 0;
  DeliveryState state = DeliveryState::kPending;
  int attempts = 0;
  // absl::UnixEpoch() when never delivered or not acknowledged.
  absl::Time last_delivered_at = absl::UnixEpoch();
  absl::Time acknowledged_at = absl::UnixEpoch();
};

// A batch of delivery changes for one subscription, written in one commit.
struct DeliveryUpdate {
  std::string subscription;
  std::vector<DeliveryRecord> records;
  // The new cursor, or -1 to keep it.
  int64_t cursor = -1;
  // With a store that shares subscriptions, the epoch the cursor was
  // computed in: the cursor is not saved after a later seek. -1 saves it
  // in any epoch.
  int64_t epoch = -1;
};

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_STORE_SUBSCRIPTION_RECORDS_H_
