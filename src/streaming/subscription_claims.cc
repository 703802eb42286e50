// Subscription: the parts that run only with a store that shares leases
// between processes (EventStore::SharesSubscriptions). See subscription.h.
#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "src/logging/log.h"
#include "src/streaming/subscription.h"

namespace paymento::bridge {
namespace {

// Maximum candidates per claim. One claim runs at a time per subscription, so
// this bounds the deliveries per store round trip.
constexpr size_t kClaimBatch = 256;
// How long an entry that a concurrent claim locked, or whose lease ends
// within this, waits before it is claimed again.
constexpr absl::Duration kBusyRetry = absl::Milliseconds(200);
// How long the candidates of a failed claim wait before the next attempt.
constexpr absl::Duration kClaimErrorRetry = absl::Seconds(1);

std::vector<LeaseId> ParseAckIds(const std::vector<std::string>& ids) {
  std::vector<LeaseId> leases;
  for (const std::string& id : ids) {
    std::optional<LeaseId> lease = ParseAckId(id);
    if (lease) leases.push_back(*lease);
  }
  return leases;
}

}  // namespace

void Subscription::DispatchSharedLocked() {
  if (closed_ || sinks_.empty() || claim_in_flight_) return;
  absl::Time now = absl::Now();
  std::set<std::string> blocked_keys;
  std::vector<int64_t> candidates;

  for (auto& [sequence, entry] : entries_) {
    bool keyed = record_.ordered && !entry.ordering_key.empty();
    bool leased = entry.state == DeliveryState::kLeased || entry.claiming ||
                  entry.releasing || entry.blocked_until > now;
    if (leased) {
      if (keyed) blocked_keys.insert(entry.ordering_key);
      continue;
    }
    if (keyed && blocked_keys.count(entry.ordering_key) > 0) continue;
    DeliverySink* sink = PickSinkLocked();
    if (sink == nullptr) break;
    if (keyed) blocked_keys.insert(entry.ordering_key);

    // The stream's slot is taken now, so max_outstanding is kept while the
    // claim runs.
    entry.claiming = true;
    entry.holder = sink;
    sinks_[sink].outstanding += 1;
    candidates.push_back(sequence);
    if (candidates.size() >= kClaimBatch) break;
  }
  if (candidates.empty()) return;

  claim_in_flight_ = true;
  environment_.executor->Post([self = shared_from_this(),
                               candidates = std::move(candidates),
                               resets = resets_]() mutable {
    self->Claim(std::move(candidates), resets);
  });
}

void Subscription::Claim(std::vector<int64_t> candidates, uint64_t resets) {
  ClaimRequest request;
  request.subscription = record_.name;
  request.holder = environment_.replica_id;
  request.sequences = std::move(candidates);
  request.lease = record_.ack_deadline;
  request.max_delivery_attempts = record_.max_delivery_attempts;
  // The local lease is measured from before the claim, so it ends no later
  // than the store's, and this process stops counting the lease before any
  // other process can take it.
  absl::Time started = absl::Now();
  absl::StatusOr<std::vector<ClaimResult>> results =
      environment_.store->ClaimDeliveries(request);
  FinishClaim(request.sequences, resets, started, results);
}

void Subscription::FinishClaim(
    const std::vector<int64_t>& candidates, uint64_t resets, absl::Time started,
    const absl::StatusOr<std::vector<ClaimResult>>& results) {
  absl::MutexLock lock(&mu_);
  std::vector<LeaseId> orphans;
  if (resets != resets_ || closed_) {
    // The window was reset or closed meanwhile: nothing here waits for
    // these leases any more.
    if (results.ok()) {
      for (const ClaimResult& result : *results) {
        if (result.outcome == ClaimOutcome::kLeased) {
          orphans.push_back({result.sequence, result.generation});
        }
      }
    }
    if (!orphans.empty()) ReleaseSoon(std::move(orphans), false);
    return;
  }
  claim_in_flight_ = false;
  absl::Time now = absl::Now();

  if (!results.ok()) {
    logging::Error("subscription claim failed",
                   {{"subscription", record_.name},
                    {"candidates", absl::StrCat(candidates.size())},
                    {"error", std::string(results.status().message())}});
    for (int64_t sequence : candidates) {
      auto it = entries_.find(sequence);
      if (it == entries_.end() || !it->second.claiming) continue;
      it->second.claiming = false;
      DropHolderLocked(it->second);
      it->second.blocked_until = now + kClaimErrorRetry;
    }
    ScheduleLeaseTimerLocked();
    return;
  }

  std::map<int64_t, const ClaimResult*> by_sequence;
  for (const ClaimResult& result : *results) {
    by_sequence[result.sequence] = &result;
  }
  std::map<DeliverySink*, std::vector<v1::Delivery>> batches;
  int64_t dead_letters = 0;
  bool settled = false;

  for (int64_t sequence : candidates) {
    auto found = by_sequence.find(sequence);
    const ClaimResult* result =
        found == by_sequence.end() ? nullptr : found->second;
    bool leased = result != nullptr && result->outcome == ClaimOutcome::kLeased;
    auto it = entries_.find(sequence);
    if (it == entries_.end() || !it->second.claiming) {
      // Settled by a change that arrived during the claim.
      if (leased) orphans.push_back({sequence, result->generation});
      continue;
    }
    Entry& entry = it->second;
    entry.claiming = false;
    DeliverySink* sink = entry.holder;
    DropHolderLocked(entry);

    if (result == nullptr || result->outcome == ClaimOutcome::kBusy) {
      absl::Duration wait = result == nullptr
                                ? kBusyRetry
                                : std::max(result->remaining, kBusyRetry);
      entry.blocked_until = now + wait;
      continue;
    }
    if (result->outcome != ClaimOutcome::kLeased) {
      entry.attempts = result->attempts;
      if (result->outcome == ClaimOutcome::kDeadLettered) {
        LogDeadLetterLocked(sequence, entry);
        ++dead_letters;
      }
      EraseEntryLocked(it);
      settled = true;
      continue;
    }
    if (sink == nullptr || sinks_.count(sink) == 0) {
      // The stream closed during the claim.
      orphans.push_back({sequence, result->generation});
      continue;
    }

    entry.state = DeliveryState::kLeased;
    entry.attempts = result->attempts;
    entry.generation = result->generation;
    entry.holder = sink;
    entry.lease_expiry = started + record_.ack_deadline;
    entry.last_delivered_at = now;
    entry.blocked_until = absl::InfinitePast();
    sinks_[sink].outstanding += 1;

    batches[sink].push_back(MakeDelivery(sequence, entry));
  }

  if (dead_letters > 0 && environment_.metrics != nullptr) {
    environment_.metrics->CountDeadLetters(record_.name, dead_letters);
  }
  for (auto& [sink, deliveries] : batches) {
    sinks_[sink].sink->Deliver(std::move(deliveries));
  }
  if (!orphans.empty()) ReleaseSoon(std::move(orphans), false);
  ScheduleLeaseTimerLocked();
  if (settled) {
    ScheduleRefillLocked();
    FlushLocked();
  }
  DispatchSharedLocked();
}

void Subscription::ReleaseSoon(std::vector<LeaseId> leases,
                               bool count_attempt) {
  environment_.executor->Post(
      [self = shared_from_this(), leases = std::move(leases), count_attempt] {
        self->Release(leases, count_attempt);
      });
}

void Subscription::Release(const std::vector<LeaseId>& leases,
                           bool count_attempt) {
  absl::StatusOr<std::vector<LeaseId>> released =
      environment_.store->ReleaseLeases(record_.name, leases, count_attempt);
  if (!released.ok()) {
    // The leases then expire in the store after the ack deadline.
    logging::Error("subscription lease release failed",
                   {{"subscription", record_.name},
                    {"leases", absl::StrCat(leases.size())},
                    {"error", std::string(released.status().message())}});
  }
  absl::MutexLock lock(&mu_);
  for (const LeaseId& lease : leases) {
    auto it = entries_.find(lease.sequence);
    if (it != entries_.end()) it->second.releasing = false;
  }
  DispatchLocked();
}

void Subscription::DropHolderLocked(Entry& entry) {
  auto sink = sinks_.find(entry.holder);
  if (sink != sinks_.end()) sink->second.outstanding -= 1;
  entry.holder = nullptr;
}

bool Subscription::SettleSharedLocked(int64_t sequence) {
  auto it = entries_.find(sequence);
  if (it == entries_.end()) {
    // Not read yet: skip it when it is.
    if (sequence > read_cursor_) settled_ahead_.insert(sequence);
    return false;
  }
  Entry& entry = it->second;
  if (entry.claiming) {
    // The claim's result finds the entry gone and returns any lease.
    DropHolderLocked(entry);
  } else if (entry.state == DeliveryState::kLeased) {
    DropHolderLocked(entry);
  }
  EraseEntryLocked(it);
  return true;
}

void Subscription::DetachSharedLocked(DeliverySink* sink) {
  std::vector<LeaseId> leases;
  for (auto& [sequence, entry] : entries_) {
    if (entry.holder != sink) continue;
    if (entry.state == DeliveryState::kLeased) {
      leases.push_back({sequence, entry.generation});
      entry.state = DeliveryState::kPending;
      entry.releasing = true;
    }
    // A claim in flight for this stream returns its leases when it ends.
    entry.holder = nullptr;
  }
  sinks_.erase(sink);
  next_sink_ = 0;
  if (!leases.empty()) ReleaseSoon(std::move(leases), /*count_attempt=*/false);
  DispatchLocked();
  FlushLocked();
}

std::future<absl::Status> Subscription::AcknowledgeShared(
    const std::vector<std::string>& ids, int* acknowledged) {
  *acknowledged = 0;
  std::promise<absl::Status> done;
  std::vector<LeaseId> leases = ParseAckIds(ids);
  if (leases.empty()) {
    done.set_value(absl::OkStatus());
    return done.get_future();
  }
  // The store checks the lease, wherever it was taken, and notifies the
  // process whose stream has it.
  absl::StatusOr<std::vector<LeaseId>> acked =
      environment_.store->AcknowledgeLeases(record_.name, leases);
  if (!acked.ok()) {
    done.set_value(acked.status());
    return done.get_future();
  }
  *acknowledged = static_cast<int>(acked->size());
  SubscriptionChange change;
  change.kind = SubscriptionChange::Kind::kSettled;
  change.leases = *std::move(acked);
  {
    absl::MutexLock lock(&mu_);
    if (!closed_) ApplyChangeLocked(change);
  }
  done.set_value(absl::OkStatus());
  return done.get_future();
}

absl::StatusOr<int> Subscription::ModifyAckDeadlineShared(
    const std::vector<std::string>& ids, absl::Duration deadline) {
  std::vector<LeaseId> leases = ParseAckIds(ids);
  if (leases.empty()) return 0;
  SubscriptionChange change;
  absl::StatusOr<std::vector<LeaseId>> matched;
  if (deadline <= absl::ZeroDuration()) {
    change.kind = SubscriptionChange::Kind::kReleased;
    matched = environment_.store->ReleaseLeases(record_.name, leases,
                                                /*count_attempt=*/true);
  } else {
    change.kind = SubscriptionChange::Kind::kExtended;
    change.deadline = deadline;
    matched = environment_.store->ExtendLeases(record_.name, leases, deadline);
  }
  if (!matched.ok()) return matched.status();
  int modified = static_cast<int>(matched->size());
  change.leases = *std::move(matched);
  absl::MutexLock lock(&mu_);
  if (!closed_) ApplyChangeLocked(change);
  return modified;
}

absl::StatusOr<int64_t> Subscription::SeekShared(int64_t cursor) {
  absl::StatusOr<int64_t> epoch =
      environment_.store->SeekSubscription(record_.name, cursor);
  if (!epoch.ok()) return epoch.status();
  SubscriptionChange change;
  change.kind = SubscriptionChange::Kind::kSeek;
  change.cursor = cursor;
  change.epoch = *epoch;
  absl::MutexLock lock(&mu_);
  if (!closed_) ApplyChangeLocked(change);
  return cursor;
}

void Subscription::ApplyChange(const SubscriptionChange& change) {
  absl::MutexLock lock(&mu_);
  if (closed_ || !shared_) return;
  ApplyChangeLocked(change);
}

void Subscription::ApplyChangeLocked(const SubscriptionChange& change) {
  absl::Time now = absl::Now();
  switch (change.kind) {
    case SubscriptionChange::Kind::kSettled: {
      bool settled = false;
      for (const LeaseId& lease : change.leases) {
        settled = SettleSharedLocked(lease.sequence) || settled;
      }
      if (!settled) return;
      ScheduleRefillLocked();
      FlushLocked();
      break;
    }
    case SubscriptionChange::Kind::kReleased:
      for (const LeaseId& lease : change.leases) {
        auto it = entries_.find(lease.sequence);
        if (it == entries_.end()) continue;
        Entry& entry = it->second;
        if (entry.state == DeliveryState::kLeased &&
            entry.generation == lease.generation) {
          DropHolderLocked(entry);
          entry.state = DeliveryState::kPending;
        }
        entry.blocked_until = absl::InfinitePast();
      }
      break;
    case SubscriptionChange::Kind::kExtended:
      for (const LeaseId& lease : change.leases) {
        auto it = entries_.find(lease.sequence);
        if (it == entries_.end()) continue;
        Entry& entry = it->second;
        if (entry.state == DeliveryState::kLeased &&
            entry.generation == lease.generation) {
          entry.lease_expiry = now + change.deadline;
        } else if (!entry.claiming && entry.state != DeliveryState::kLeased) {
          entry.blocked_until = now + change.deadline;
        }
      }
      ScheduleLeaseTimerLocked();
      return;
    case SubscriptionChange::Kind::kSeek:
      // This process's own seek arrives twice: from SeekShared and from the
      // store's notification. The epoch makes the second one do nothing.
      if (change.epoch <= epoch_) return;
      epoch_ = change.epoch;
      ResetLocked(change.cursor);
      return;
    case SubscriptionChange::Kind::kRedrive:
      environment_.executor->Post(
          [self = shared_from_this()] { self->ReloadRedriven(); });
      return;
    case SubscriptionChange::Kind::kDelete:
    case SubscriptionChange::Kind::kResync:
      // SubscriptionManager handles these.
      return;
  }
  DispatchLocked();
}

void Subscription::ReloadRedriven() {
  int64_t cursor;
  {
    absl::MutexLock lock(&mu_);
    cursor = saved_cursor_;
  }
  absl::StatusOr<std::vector<DeliveryRecord>> rows =
      environment_.store->LoadDeliveries(record_.name, cursor);
  if (!rows.ok()) {
    logging::Error("subscription reload failed",
                   {{"subscription", record_.name},
                    {"error", std::string(rows.status().message())}});
    return;
  }
  absl::MutexLock lock(&mu_);
  if (closed_) return;
  for (const DeliveryRecord& row : *rows) {
    if (row.state != DeliveryState::kPending) continue;
    settled_ahead_.erase(row.sequence);
    if (row.sequence > read_cursor_ || entries_.count(row.sequence) > 0) {
      continue;
    }
    // Refill loads the event when the window has room.
    redrive_pending_.emplace(row.sequence, row.attempts);
  }
  ScheduleRefillLocked();
}

}  // namespace paymento::bridge
