// PostgresEventStore: retention. Old events are deleted in small batches,
// each one short transaction. Their ids stay behind as tombstones until the
// dedup window passes, so a replayed request is still recognised as a
// duplicate.
//
// Every replica runs retention. A transaction-scoped advisory lock makes
// them take turns, so that no batch is selected, and its unacknowledged
// events counted, by two replicas at once.
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_split.h"
#include "src/store/postgres_event_store.h"
#include "src/store/type_filter.h"

namespace paymento::bridge {
namespace {

// "pbretain" in ASCII; see kMigrationLockKey in postgres_schema.cc.
constexpr int64_t kRetentionLockKey = 0x706272657461696e;

struct ExpiringEvent {
  int64_t sequence;
  std::string type;
};

absl::StatusOr<std::vector<ExpiringEvent>> SelectExpiring(
    PostgresConnection& connection, absl::Time events_before, int batch) {
  absl::StatusOr<PgResult> rows = connection.Execute(
      "SELECT sequence, type FROM events WHERE received_at < $1"
      " ORDER BY sequence LIMIT $2",
      {PgParam::Timestamp(events_before), PgParam::Int64(batch)});
  if (!rows.ok()) return rows.status();
  std::vector<ExpiringEvent> expiring;
  for (int row = 0; row < rows->rows(); ++row) {
    expiring.push_back(
        ExpiringEvent{rows->Int64(row, 0), std::string(rows->Bytes(row, 1))});
  }
  return expiring;
}

// Counts the events of `batch` that `subscription` has not settled: those
// it subscribes to, without an acknowledged or dead-lettered delivery row,
// and above its cursor when they have no row at all.
absl::StatusOr<int64_t> CountUnsettled(
    PostgresConnection& connection, const SubscriptionRecord& subscription,
    const std::vector<ExpiringEvent>& batch) {
  absl::StatusOr<TypeFilter> filter =
      TypeFilter::Create(subscription.event_types);
  if (!filter.ok()) return filter.status();
  absl::StatusOr<PgResult> rows = connection.Execute(
      "SELECT sequence, state FROM deliveries WHERE subscription = $1"
      " AND sequence BETWEEN $2 AND $3",
      {PgParam::Text(subscription.name), PgParam::Int64(batch.front().sequence),
       PgParam::Int64(batch.back().sequence)});
  if (!rows.ok()) return rows.status();
  std::map<int64_t, DeliveryState> states;
  for (int row = 0; row < rows->rows(); ++row) {
    states[rows->Int64(row, 0)] =
        static_cast<DeliveryState>(rows->Int64(row, 1));
  }

  int64_t unsettled = 0;
  for (const ExpiringEvent& event : batch) {
    if (event.sequence <= subscription.start_sequence ||
        !filter->Matches(event.type)) {
      continue;
    }
    auto found = states.find(event.sequence);
    bool settled = found != states.end()
                       ? found->second == DeliveryState::kAcknowledged ||
                             found->second == DeliveryState::kDeadLettered
                       : event.sequence <= subscription.cursor;
    if (!settled) ++unsettled;
  }
  return unsettled;
}

}  // namespace

absl::StatusOr<RetentionResult> PostgresEventStore::DeleteExpired(
    absl::Time events_before, absl::Time ids_before, int batch) {
  RetentionResult result;
  absl::Status status =
      RunTransaction([&](PostgresConnection& connection) -> absl::Status {
        result = RetentionResult();
        absl::StatusOr<PgResult> locked =
            connection.Execute("SELECT pg_advisory_xact_lock($1)",
                               {PgParam::Int64(kRetentionLockKey)});
        if (!locked.ok()) return locked.status();
        absl::StatusOr<std::vector<ExpiringEvent>> expiring =
            SelectExpiring(connection, events_before, batch);
        if (!expiring.ok()) return expiring.status();

        if (!expiring->empty()) {
          // Read after taking the lock, so cursors are current.
          absl::StatusOr<PgResult> rows = connection.Execute(
              "SELECT name, array_to_string(event_types, chr(10)),"
              " start_sequence, cursor FROM subscriptions");
          if (!rows.ok()) return rows.status();
          for (int row = 0; row < rows->rows(); ++row) {
            SubscriptionRecord subscription;
            subscription.name = std::string(rows->Bytes(row, 0));
            std::string types(rows->Bytes(row, 1));
            if (!types.empty()) {
              subscription.event_types = absl::StrSplit(types, '\n');
            }
            subscription.start_sequence = rows->Int64(row, 2);
            subscription.cursor = rows->Int64(row, 3);
            absl::StatusOr<int64_t> unsettled =
                CountUnsettled(connection, subscription, *expiring);
            if (!unsettled.ok()) return unsettled.status();
            if (*unsettled == 0) continue;
            result.expired_by_subscription[subscription.name] = *unsettled;
            absl::StatusOr<PgResult> counted = connection.Execute(
                "UPDATE subscriptions SET expired_events = expired_events + $2"
                " WHERE name = $1",
                {PgParam::Text(subscription.name), PgParam::Int64(*unsettled)});
            if (!counted.ok()) return counted.status();
          }
          // Exactly the selected events: those up to the batch's last
          // sequence that are older than the cutoff.
          absl::StatusOr<PgResult> deleted = connection.Execute(
              "WITH gone AS (DELETE FROM events WHERE sequence <= $1"
              " AND received_at < $2 RETURNING sequence),"
              " rows AS (DELETE FROM deliveries WHERE sequence IN"
              " (SELECT sequence FROM gone))"
              " SELECT COUNT(*) FROM gone",
              {PgParam::Int64(expiring->back().sequence),
               PgParam::Timestamp(events_before)});
          if (!deleted.ok()) return deleted.status();
          result.events_deleted = deleted->Int64(0, 0);
        }

        absl::StatusOr<PgResult> forgotten = connection.Execute(
            "DELETE FROM event_ids WHERE event_id IN (SELECT i.event_id FROM"
            " event_ids i WHERE i.first_received_at < $1 AND NOT EXISTS"
            " (SELECT 1 FROM events e WHERE e.sequence = i.sequence)"
            " LIMIT $2)",
            {PgParam::Timestamp(ids_before), PgParam::Int64(batch)});
        if (!forgotten.ok()) return forgotten.status();
        result.tombstones_deleted = forgotten->affected_rows();
        return absl::OkStatus();
      });
  if (!status.ok()) return status;
  return result;
}

}  // namespace paymento::bridge
