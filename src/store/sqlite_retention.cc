// SqliteEventStore: retention. Old events are deleted in small batches so
// that the writer is never held for long. Their ids stay behind as
// tombstones until the dedup window passes, so a replayed request is still
// recognised as a duplicate.
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "src/store/sqlite_event_store.h"
#include "src/store/type_filter.h"

namespace paymento::bridge {
namespace {

struct ExpiringEvent {
  int64_t sequence;
  std::string type;
};

// Returns the states of the delivery rows of `subscription` between `first`
// and `last`, by sequence.
absl::StatusOr<std::map<int64_t, DeliveryState>> DeliveryStates(
    SqliteConnection& connection, const std::string& subscription,
    int64_t first, int64_t last) {
  absl::StatusOr<SqliteStatement> query = connection.Prepare(
      "SELECT sequence, state FROM deliveries WHERE subscription = ?1"
      " AND sequence BETWEEN ?2 AND ?3");
  if (!query.ok()) return query.status();
  query->BindText(1, subscription);
  query->BindInt64(2, first);
  query->BindInt64(3, last);
  std::map<int64_t, DeliveryState> states;
  for (;;) {
    absl::StatusOr<bool> row = query->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    states[query->ColumnInt64(0)] =
        static_cast<DeliveryState>(query->ColumnInt64(1));
  }
  return states;
}

// Counts the events of `batch` that `subscription` has not settled.
absl::StatusOr<int64_t> CountUnsettled(SqliteConnection& connection,
                                       const SubscriptionRecord& subscription,
                                       const std::vector<ExpiringEvent>& batch) {
  absl::StatusOr<TypeFilter> filter =
      TypeFilter::Create(subscription.event_types);
  if (!filter.ok()) return filter.status();
  absl::StatusOr<std::map<int64_t, DeliveryState>> states = DeliveryStates(
      connection, subscription.name, batch.front().sequence,
      batch.back().sequence);
  if (!states.ok()) return states.status();
  int64_t unsettled = 0;
  for (const ExpiringEvent& event : batch) {
    if (event.sequence <= subscription.start_sequence ||
        !filter->Matches(event.type)) {
      continue;
    }
    auto found = states->find(event.sequence);
    bool settled = found != states->end()
                       ? found->second == DeliveryState::kAcknowledged ||
                             found->second == DeliveryState::kDeadLettered
                       : event.sequence <= subscription.cursor;
    if (!settled) ++unsettled;
  }
  return unsettled;
}

}  // namespace

absl::StatusOr<RetentionResult> SqliteEventStore::DeleteExpired(
    absl::Time events_before, absl::Time ids_before, int batch) {
  absl::StatusOr<std::vector<SubscriptionRecord>> subscriptions =
      LoadSubscriptions();
  if (!subscriptions.ok()) return subscriptions.status();

  RetentionResult result;
  absl::Status status = ExecuteInTransaction(
      [&](SqliteConnection& connection) -> absl::Status {
        absl::StatusOr<SqliteStatement> select = connection.Prepare(
            "SELECT sequence, type FROM events WHERE received_at_us < ?1"
            " ORDER BY sequence LIMIT ?2");
        if (!select.ok()) return select.status();
        select->BindInt64(1, absl::ToUnixMicros(events_before));
        select->BindInt64(2, batch);
        std::vector<ExpiringEvent> expiring;
        for (;;) {
          absl::StatusOr<bool> row = select->Step();
          if (!row.ok()) return row.status();
          if (!*row) break;
          expiring.push_back(ExpiringEvent{
              select->ColumnInt64(0), std::string(select->ColumnText(1))});
        }
        select->Reset();

        if (!expiring.empty()) {
          for (const SubscriptionRecord& subscription : *subscriptions) {
            absl::StatusOr<int64_t> unsettled =
                CountUnsettled(connection, subscription, expiring);
            if (!unsettled.ok()) return unsettled.status();
            if (*unsettled == 0) continue;
            result.expired_by_subscription[subscription.name] = *unsettled;
            absl::StatusOr<SqliteStatement> count = connection.Prepare(
                "UPDATE subscriptions SET expired_events = expired_events + ?2"
                " WHERE name = ?1");
            if (!count.ok()) return count.status();
            count->BindText(1, subscription.name);
            count->BindInt64(2, *unsettled);
            absl::Status counted = count->Run();
            if (!counted.ok()) return counted;
          }
          int64_t last = expiring.back().sequence;
          result.last_deleted = last;
          // Only the expiring events: one released from quarantine keeps
          // its old receipt time under a new sequence, so newer events can
          // have lower sequences.
          for (const char* sql :
               {"DELETE FROM deliveries WHERE sequence IN (SELECT sequence"
                " FROM events WHERE sequence <= ?1 AND received_at_us < ?2)",
                "DELETE FROM events WHERE sequence <= ?1"
                " AND received_at_us < ?2"}) {
            absl::StatusOr<SqliteStatement> remove = connection.Prepare(sql);
            if (!remove.ok()) return remove.status();
            remove->BindInt64(1, last);
            remove->BindInt64(2, absl::ToUnixMicros(events_before));
            absl::Status removed = remove->Run();
            if (!removed.ok()) return removed;
            if (std::string(sql).find("events") != std::string::npos) {
              result.events_deleted = sqlite3_changes(connection.handle());
            }
          }
        }

        absl::StatusOr<SqliteStatement> forget = connection.Prepare(
            "DELETE FROM event_ids WHERE event_id IN (SELECT i.event_id FROM"
            " event_ids i WHERE i.first_received_us < ?1 AND NOT EXISTS"
            " (SELECT 1 FROM events e WHERE e.sequence = i.sequence) LIMIT ?2)");
        if (!forget.ok()) return forget.status();
        forget->BindInt64(1, absl::ToUnixMicros(ids_before));
        forget->BindInt64(2, batch);
        absl::Status forgotten = forget->Run();
        if (!forgotten.ok()) return forgotten;
        result.tombstones_deleted = sqlite3_changes(connection.handle());
        return absl::OkStatus();
      });
  if (!status.ok()) return status;
  if (result.events_deleted > 0) ForgetRecentThrough(result.last_deleted);
  return result;
}

}  // namespace paymento::bridge
