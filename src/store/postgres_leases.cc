// PostgresEventStore: leases of durable subscriptions shared between
// replicas, and the notifications that tell every replica of changes.
//
// A lease lives in its delivery row: state leased, the holder, the expiry
// and a generation from the sequence lease_generations. Claims lock the
// candidate rows with FOR UPDATE SKIP LOCKED, so two replicas claiming at
// once skip each other's locked rows and never lease the same row. Ack ids are
// "<sequence>.<generation>", so any replica can check and apply them.
// Times are the database's clock (clock_timestamp()), the same for every
// replica.
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "src/logging/log.h"
#include "src/store/postgres_event_store.h"

namespace paymento::bridge {
namespace {

// The rows of $1 whose (sequence, generation) pair is listed in $2 and $3
// and whose lease is still live.
constexpr char kLiveLeases[] =
    " WHERE subscription = $1 AND state = 2"
    " AND lease_expiry > clock_timestamp()"
    " AND (sequence, lease_generation) IN (SELECT s, g FROM"
    " unnest(string_to_array($2, ',')::bigint[],"
    " string_to_array($3, ',')::bigint[]) AS leases(s, g))"
    " RETURNING sequence, lease_generation";

// Lease statements receive lists of numbers as comma-separated text, which
// the SQL splits into bigint arrays, because PgParam has no array type.
std::string JoinSequences(const std::vector<int64_t>& sequences) {
  return absl::StrJoin(sequences, ",");
}

// The statements below write DeliveryState values as number literals.
static_assert(static_cast<int>(DeliveryState::kPending) == 1);
static_assert(static_cast<int>(DeliveryState::kLeased) == 2);
static_assert(static_cast<int>(DeliveryState::kAcknowledged) == 3);
static_assert(static_cast<int>(DeliveryState::kDeadLettered) == 4);

// Inserts pending rows for candidates above the cursor that have none, so
// that the claim below can lock them. Rows at or below the cursor are
// settled and must not come back, and events that retention deleted get no
// row. Ascending order keeps concurrent claims from waiting on each other
// in a cycle.
constexpr char kInsertCandidates[] =
    "INSERT INTO deliveries (subscription, sequence, state, attempts)"
    " SELECT $1, candidate, 1, 0 FROM"
    " unnest(string_to_array($2, ',')::bigint[]) AS candidate"
    " JOIN subscriptions ON subscriptions.name = $1"
    " JOIN events ON events.sequence = candidate"
    " WHERE candidate > subscriptions.cursor ORDER BY candidate"
    " ON CONFLICT (subscription, sequence) DO NOTHING";

// Leases the claimable candidates ($3 holder, $4 lease in milliseconds),
// or dead-letters those that used their $5 attempts.
constexpr char kClaimCandidates[] =
    "WITH claimable AS (SELECT sequence, attempts FROM deliveries"
    " WHERE subscription = $1 AND sequence = ANY(string_to_array($2, ',')"
    "::bigint[]) AND (state = 1 OR (state = 2 AND (lease_expiry IS NULL OR"
    " lease_expiry <= clock_timestamp())))"
    " ORDER BY sequence FOR UPDATE SKIP LOCKED)"
    " UPDATE deliveries AS d SET"
    " state = CASE WHEN c.attempts >= $5 THEN 4 ELSE 2 END,"
    " attempts = CASE WHEN c.attempts >= $5 THEN c.attempts"
    " ELSE c.attempts + 1 END,"
    " holder = CASE WHEN c.attempts >= $5 THEN NULL ELSE $3 END,"
    " lease_expiry = CASE WHEN c.attempts >= $5 THEN NULL ELSE"
    " clock_timestamp() + $4::double precision * interval '1 millisecond'"
    " END,"
    " lease_generation = CASE WHEN c.attempts >= $5 THEN d.lease_generation"
    " ELSE nextval('lease_generations') END,"
    " last_delivered_at = CASE WHEN c.attempts >= $5 THEN d.last_delivered_at"
    " ELSE clock_timestamp() END"
    " FROM claimable AS c"
    " WHERE d.subscription = $1 AND d.sequence = c.sequence"
    " RETURNING d.sequence, d.state, d.attempts, d.lease_generation";

// The candidates' rows as they stand, with the milliseconds left on a
// lease. A row locked by a concurrent claim shows its last committed state.
constexpr char kReadCandidates[] =
    "SELECT sequence, state, GREATEST(0, CEIL(EXTRACT(EPOCH FROM"
    " (lease_expiry - clock_timestamp())) * 1000))::bigint"
    " FROM deliveries WHERE subscription = $1"
    " AND sequence = ANY(string_to_array($2, ',')::bigint[])";

ClaimResult ReadClaimed(const PgResult& rows, int row) {
  ClaimResult result;
  result.sequence = rows.Int64(row, 0);
  result.outcome = rows.Int64(row, 1) == 4 ? ClaimOutcome::kDeadLettered
                                           : ClaimOutcome::kLeased;
  result.attempts = static_cast<int>(rows.Int64(row, 2));
  result.generation = static_cast<uint64_t>(rows.Int64(row, 3));
  return result;
}

ClaimResult ReadUnclaimed(const PgResult& rows, int row) {
  ClaimResult result;
  result.sequence = rows.Int64(row, 0);
  int64_t state = rows.Int64(row, 1);
  result.outcome =
      state == 3 || state == 4 ? ClaimOutcome::kSettled : ClaimOutcome::kBusy;
  if (state == 2 && !rows.IsNull(row, 2)) {
    result.remaining = absl::Milliseconds(rows.Int64(row, 2));
  }
  return result;
}

}  // namespace

absl::StatusOr<std::vector<ClaimResult>> PostgresEventStore::ClaimDeliveries(
    const ClaimRequest& request) {
  std::vector<ClaimResult> results;
  if (request.sequences.empty() || !IsStorableText(request.subscription) ||
      !IsStorableText(request.holder)) {
    return results;
  }
  const std::string sequences = JoinSequences(request.sequences);
  absl::Status claimed =
      RunTransaction([&](PostgresConnection& connection) -> absl::Status {
        results.clear();
        absl::StatusOr<PgResult> inserted = connection.Execute(
            kInsertCandidates,
            {PgParam::Text(request.subscription), PgParam::Text(sequences)});
        if (!inserted.ok()) return inserted.status();
        absl::StatusOr<PgResult> leased = connection.Execute(
            kClaimCandidates,
            {PgParam::Text(request.subscription), PgParam::Text(sequences),
             PgParam::Text(request.holder),
             PgParam::Int64(absl::ToInt64Milliseconds(request.lease)),
             PgParam::Int64(request.max_delivery_attempts)});
        if (!leased.ok()) return leased.status();
        std::set<int64_t> claimed_sequences;
        SubscriptionChange dead;
        dead.kind = SubscriptionChange::Kind::kSettled;
        dead.subscription = request.subscription;
        for (int row = 0; row < leased->rows(); ++row) {
          results.push_back(ReadClaimed(*leased, row));
          claimed_sequences.insert(results.back().sequence);
          if (results.back().outcome == ClaimOutcome::kDeadLettered) {
            dead.leases.push_back(
                {results.back().sequence, results.back().generation});
          }
        }

        absl::StatusOr<PgResult> current = connection.Execute(
            kReadCandidates,
            {PgParam::Text(request.subscription), PgParam::Text(sequences)});
        if (!current.ok()) return current.status();
        std::set<int64_t> existing;
        for (int row = 0; row < current->rows(); ++row) {
          int64_t sequence = current->Int64(row, 0);
          existing.insert(sequence);
          if (claimed_sequences.count(sequence) == 0) {
            results.push_back(ReadUnclaimed(*current, row));
          }
        }
        // A candidate without a row is at or below the cursor, or its event or
        // subscription is gone, so it counts as settled.
        for (int64_t sequence : request.sequences) {
          if (existing.count(sequence) > 0) continue;
          ClaimResult settled;
          settled.sequence = sequence;
          settled.outcome = ClaimOutcome::kSettled;
          results.push_back(settled);
        }
        if (dead.leases.empty()) return absl::OkStatus();
        return NotifyChange(connection, dead);
      });
  if (!claimed.ok()) return claimed;
  return results;
}

absl::StatusOr<std::vector<LeaseId>> PostgresEventStore::UpdateLeases(
    const std::string& sql, absl::string_view subscription,
    const std::vector<LeaseId>& leases, std::vector<PgParam> extra,
    SubscriptionChange change) {
  std::vector<LeaseId> matched;
  if (leases.empty() || !IsStorableText(subscription)) return matched;
  std::vector<int64_t> sequences;
  std::vector<uint64_t> generations;
  for (const LeaseId& lease : leases) {
    sequences.push_back(lease.sequence);
    generations.push_back(lease.generation);
  }
  std::vector<PgParam> params = {
      PgParam::Text(subscription), PgParam::Text(JoinSequences(sequences)),
      PgParam::Text(absl::StrJoin(generations, ","))};
  for (PgParam& param : extra) params.push_back(std::move(param));

  absl::Status updated =
      RunTransaction([&](PostgresConnection& connection) -> absl::Status {
        matched.clear();
        absl::StatusOr<PgResult> rows = connection.Execute(sql, params);
        if (!rows.ok()) return rows.status();
        for (int row = 0; row < rows->rows(); ++row) {
          matched.push_back({rows->Int64(row, 0),
                             static_cast<uint64_t>(rows->Int64(row, 1))});
        }
        if (matched.empty()) return absl::OkStatus();
        change.subscription = std::string(subscription);
        change.leases = matched;
        return NotifyChange(connection, change);
      });
  if (!updated.ok()) return updated;
  return matched;
}

absl::StatusOr<std::vector<LeaseId>> PostgresEventStore::AcknowledgeLeases(
    absl::string_view subscription, const std::vector<LeaseId>& leases) {
  SubscriptionChange change;
  change.kind = SubscriptionChange::Kind::kSettled;
  return UpdateLeases(
      absl::StrCat("UPDATE deliveries SET state = 3,"
                   " acknowledged_at = clock_timestamp(), holder = NULL,"
                   " lease_expiry = NULL",
                   kLiveLeases),
      subscription, leases, {}, std::move(change));
}

absl::StatusOr<std::vector<LeaseId>> PostgresEventStore::ReleaseLeases(
    absl::string_view subscription, const std::vector<LeaseId>& leases,
    bool count_attempt) {
  SubscriptionChange change;
  change.kind = SubscriptionChange::Kind::kReleased;
  return UpdateLeases(
      absl::StrCat("UPDATE deliveries SET state = 1, holder = NULL,"
                   " lease_expiry = NULL, attempts = CASE WHEN $4 THEN"
                   " attempts ELSE GREATEST(attempts - 1, 0) END",
                   kLiveLeases),
      subscription, leases, {PgParam::Bool(count_attempt)}, std::move(change));
}

absl::StatusOr<std::vector<LeaseId>> PostgresEventStore::ExtendLeases(
    absl::string_view subscription, const std::vector<LeaseId>& leases,
    absl::Duration deadline) {
  SubscriptionChange change;
  change.kind = SubscriptionChange::Kind::kExtended;
  change.deadline = deadline;
  return UpdateLeases(
      absl::StrCat("UPDATE deliveries SET lease_expiry = clock_timestamp() +"
                   " $4::double precision * interval '1 millisecond'",
                   kLiveLeases),
      subscription, leases,
      {PgParam::Int64(absl::ToInt64Milliseconds(deadline))}, std::move(change));
}

absl::Status PostgresEventStore::NotifyChange(
    PostgresConnection& connection, const SubscriptionChange& change) {
  for (const std::string& payload : EncodeSubscriptionChange(change)) {
    absl::StatusOr<PgResult> sent = connection.Execute(
        "SELECT pg_notify($1, $2)",
        {PgParam::Text(kPostgresSubscriptionChannel), PgParam::Text(payload)});
    if (!sent.ok()) return sent.status();
  }
  return absl::OkStatus();
}

absl::Status PostgresEventStore::PublishSubscriptionChange(
    const SubscriptionChange& change) {
  if (!IsStorableText(change.subscription)) {
    return absl::InvalidArgumentError(
        "subscription name must be UTF-8 text without NUL bytes");
  }
  return RunTransaction([&](PostgresConnection& connection) {
    return NotifyChange(connection, change);
  });
}

void PostgresEventStore::SetSubscriptionChangeListener(
    SubscriptionChangeListener listener) {
  absl::MutexLock lock(&queue_mu_);
  change_listener_ = std::move(listener);
}

// NOTE: payloads are trusted as much as the tables are. A role that may
// NOTIFY this channel can make a replica drop unsettled entries from its
// window, and that replica may then save a cursor past them.
void PostgresEventStore::PublishChange(const std::string& payload) {
  std::optional<SubscriptionChange> change = DecodeSubscriptionChange(payload);
  if (!change) {
    logging::Warn("subscription change notification ignored",
                  {{"reason", "malformed payload"},
                   {"channel", kPostgresSubscriptionChannel}});
    return;
  }
  CallChangeListener(*change);
}

void PostgresEventStore::CallChangeListener(const SubscriptionChange& change) {
  SubscriptionChangeListener listener;
  {
    absl::MutexLock lock(&queue_mu_);
    listener = change_listener_;
  }
  if (listener) listener(change);
}

}  // namespace paymento::bridge
