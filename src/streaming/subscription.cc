#include "src/streaming/subscription.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "src/logging/log.h"

namespace paymento::bridge {
namespace {

// Leases of one process are numbered on from a random start, so that an
// ack id issued before a restart matches no lease of the new process.
uint64_t FirstGeneration() {
  absl::BitGen bits;
  return absl::Uniform<uint64_t>(bits, 1, uint64_t{1} << 48);
}

// Events read from the store per refill.
constexpr int kRefillBatch = 512;
// Bytes of events that one read from the store loads at most, judged by the
// largest event of the read before. The first read takes one event.
// NOTE: a read after small events can still load up to kRefillBatch large
// ones, because the store's reads have no byte limit.
constexpr size_t kReadBytes = 4 << 20;

std::shared_future<absl::Status> ReadyFuture(absl::Status status) {
  std::promise<absl::Status> promise;
  promise.set_value(std::move(status));
  return promise.get_future().share();
}

}  // namespace

std::string Subscription::OrderingKeyOf(const v1::Event& event) {
  if (!event.payment_link().id().empty()) {
    return absl::StrCat("link:", event.payment_link().id());
  }
  if (event.has_gateway_payment()) {
    return absl::StrCat("payment:", event.gateway_payment().payment_id());
  }
  return "";
}

absl::StatusOr<std::shared_ptr<Subscription>> Subscription::Load(
    const SubscriptionEnvironment& environment, SubscriptionRecord record) {
  absl::StatusOr<TypeFilter> filter = TypeFilter::Create(record.event_types);
  if (!filter.ok()) return filter.status();
  std::shared_ptr<Subscription> subscription(
      new Subscription(environment, std::move(record), *std::move(filter)));
  absl::Status loaded = subscription->LoadState();
  if (!loaded.ok()) return loaded;
  absl::MutexLock lock(&subscription->mu_);
  subscription->ScheduleRefillLocked();
  return subscription;
}

Subscription::Subscription(const SubscriptionEnvironment& environment,
                           SubscriptionRecord record, TypeFilter filter)
    : environment_(environment),
      record_(std::move(record)),
      filter_(std::move(filter)),
      shared_(environment.store->SharesSubscriptions()),
      read_cursor_(record_.cursor),
      saved_cursor_(record_.cursor),
      next_generation_(FirstGeneration()),
      epoch_(record_.epoch) {}

absl::Status Subscription::LoadState() {
  absl::StatusOr<std::vector<DeliveryRecord>> rows =
      environment_.store->LoadDeliveries(record_.name, record_.cursor);
  if (!rows.ok()) return rows.status();
  absl::MutexLock lock(&mu_);
  for (const DeliveryRecord& row : *rows) {
    bool settled = row.state == DeliveryState::kAcknowledged ||
                   row.state == DeliveryState::kDeadLettered;
    if (row.sequence > record_.cursor) {
      if (settled) {
        settled_ahead_.insert(row.sequence);
      } else {
        attempts_ahead_[row.sequence] = row.attempts;
      }
      continue;
    }
    // A redriven event below the cursor, which Refill loads before reading
    // the store above the cursor.
    if (!settled) redrive_pending_[row.sequence] = row.attempts;
  }
  return absl::OkStatus();
}

bool Subscription::WindowFullLocked() const {
  return entries_.size() >= kWindow || window_bytes_ >= kWindowBytes;
}

Subscription::Entry* Subscription::InsertEntryLocked(int64_t sequence,
                                                     v1::Event event,
                                                     size_t bytes) {
  if (entries_.count(sequence) > 0) return nullptr;
  Entry entry;
  entry.bytes = bytes;
  entry.ordering_key = OrderingKeyOf(event);
  entry.event = std::make_shared<const v1::Event>(std::move(event));
  window_bytes_ += entry.bytes;
  return &entries_.emplace(sequence, std::move(entry)).first->second;
}

std::map<int64_t, Subscription::Entry>::iterator Subscription::EraseEntryLocked(
    std::map<int64_t, Entry>::iterator it) {
  window_bytes_ -= it->second.bytes;
  return entries_.erase(it);
}

void Subscription::ClearEntriesLocked() {
  entries_.clear();
  window_bytes_ = 0;
}

void Subscription::ScheduleRefillLocked() {
  if (refill_scheduled_ || closed_ || WindowFullLocked()) return;
  refill_scheduled_ = true;
  environment_.executor->Post([self = shared_from_this()] { self->Refill(); });
}

void Subscription::Wake() {
  absl::MutexLock lock(&mu_);
  ScheduleRefillLocked();
}

void Subscription::RetryReadLaterLocked() {
  std::weak_ptr<Subscription> weak = weak_from_this();
  environment_.timer->Schedule(absl::Now() + absl::Seconds(1), [weak] {
    if (auto self = weak.lock()) self->Wake();
  });
}

bool Subscription::FinishReadLocked(uint64_t resets) {
  refill_scheduled_ = false;
  if (closed_) return false;
  if (resets != resets_) {
    // A seek moved the read cursor meanwhile, so the events read may skip
    // some, or be settled or forgotten.
    ScheduleRefillLocked();
    return false;
  }
  return true;
}

void Subscription::Refill() {
  int64_t cursor;
  int limit;
  uint64_t resets;
  std::vector<std::pair<int64_t, int>> redriven;
  {
    absl::MutexLock lock(&mu_);
    cursor = read_cursor_;
    resets = resets_;
    size_t room = kWindow - std::min(kWindow, entries_.size());
    // Events read but left out of a full window are freed at once, but the
    // allocator keeps the memory, so a read stays within the bytes left.
    size_t bytes_left = kWindowBytes - std::min(kWindowBytes, window_bytes_);
    size_t read_room =
        read_event_bytes_ == 0
            ? 1
            : std::min(bytes_left, kReadBytes) / read_event_bytes_ + 1;
    limit = static_cast<int>(std::min<size_t>({kRefillBatch, room, read_room}));
    // They stay in redrive_pending_ until they are in the window, so that
    // the backlog counts them meanwhile.
    for (auto it = redrive_pending_.begin();
         it != redrive_pending_.end() &&
         redriven.size() < static_cast<size_t>(limit);
         ++it) {
      redriven.push_back(*it);
    }
  }
  if (!redriven.empty()) {
    LoadRedriven(std::move(redriven), resets);
    return;
  }
  absl::StatusOr<std::vector<v1::Event>> events =
      environment_.store->ReadAfter(cursor, limit);

  absl::MutexLock lock(&mu_);
  if (!FinishReadLocked(resets)) return;
  if (!events.ok()) {
    logging::Error("subscription read failed",
                   {{"subscription", record_.name},
                    {"cursor", absl::StrCat(cursor)},
                    {"error", std::string(events.status().message())}});
    RetryReadLaterLocked();
    return;
  }
  size_t count = events->size();
  if (count > 0) read_event_bytes_ = 0;
  bool filled = false;
  for (v1::Event& event : *events) {
    size_t bytes = event.ByteSizeLong();
    read_event_bytes_ = std::max(read_event_bytes_, bytes);
    // The events from this one on are read again once the window has room.
    if (WindowFullLocked()) {
      filled = true;
      continue;
    }
    AddEventLocked(std::move(event), bytes);
  }
  DispatchLocked();
  if (!dirty_.empty()) FlushLocked();
  if (filled) {
    // Settling an entry schedules the next read.
  } else if (count == static_cast<size_t>(limit) && limit > 0) {
    ScheduleRefillLocked();
  } else if (count < static_cast<size_t>(limit) &&
             !environment_.notifier->WaitAfter(read_cursor_,
                                               weak_from_this())) {
    ScheduleRefillLocked();
  }
}

void Subscription::LoadRedriven(std::vector<std::pair<int64_t, int>> redriven,
                                uint64_t resets) {
  // The events found, by sequence; none for an event that retention
  // deleted meanwhile.
  std::vector<std::pair<int64_t, std::optional<v1::Event>>> loaded;
  absl::Status failed;
  for (const auto& [sequence, attempts] : redriven) {
    absl::StatusOr<std::optional<StoredEvent>> stored =
        environment_.store->GetBySequence(sequence);
    if (!stored.ok()) {
      failed = stored.status();
      break;
    }
    if (stored->has_value()) {
      loaded.emplace_back(sequence, std::move((*stored)->event));
    } else {
      loaded.emplace_back(sequence, std::nullopt);
    }
  }

  absl::MutexLock lock(&mu_);
  if (!FinishReadLocked(resets)) return;
  for (auto& [sequence, event] : loaded) {
    auto pending = redrive_pending_.find(sequence);
    if (pending == redrive_pending_.end()) continue;
    if (!event || ForgottenLocked(*event)) {
      redrive_pending_.erase(pending);
      continue;
    }
    size_t bytes = event->ByteSizeLong();
    read_event_bytes_ = std::max(read_event_bytes_, bytes);
    if (WindowFullLocked()) continue;
    int attempts = pending->second;
    redrive_pending_.erase(pending);
    Entry* entry = InsertEntryLocked(sequence, *std::move(event), bytes);
    if (entry != nullptr) entry->attempts = attempts;
  }
  DispatchLocked();
  if (!failed.ok()) {
    logging::Error("subscription read failed",
                   {{"subscription", record_.name},
                    {"error", std::string(failed.message())}});
    RetryReadLaterLocked();
    return;
  }
  ScheduleRefillLocked();
}

void Subscription::AddEventLocked(v1::Event event, size_t bytes) {
  int64_t sequence = event.sequence();
  read_cursor_ = std::max(read_cursor_, sequence);
  if (sequence <= record_.start_sequence) return;
  if (ForgottenLocked(event)) return;
  if (settled_ahead_.erase(sequence) > 0) return;
  if (!filter_.Matches(event.type())) return;

  Entry* entry = InsertEntryLocked(sequence, std::move(event), bytes);
  if (entry == nullptr) return;
  auto attempts = attempts_ahead_.find(sequence);
  if (attempts != attempts_ahead_.end()) {
    entry->attempts = attempts->second;
    attempts_ahead_.erase(attempts);
  }
}

DeliverySink* Subscription::PickSinkLocked() {
  if (sinks_.empty()) return nullptr;
  size_t count = sinks_.size();
  for (size_t tried = 0; tried < count; ++tried) {
    auto it = sinks_.begin();
    std::advance(it, (next_sink_ + tried) % count);
    if (it->second.outstanding < it->second.max_outstanding) {
      next_sink_ = (next_sink_ + tried + 1) % count;
      return it->first;
    }
  }
  return nullptr;
}

void Subscription::DispatchLocked() {
  if (shared_) {
    DispatchSharedLocked();
    return;
  }
  if (closed_ || sinks_.empty()) return;
  absl::Time now = absl::Now();
  std::map<DeliverySink*, std::vector<v1::Delivery>> batches;
  std::set<std::string> blocked_keys;
  std::vector<int64_t> exhausted;
  bool leased = false;

  for (auto& [sequence, entry] : entries_) {
    bool keyed = record_.ordered && !entry.ordering_key.empty();
    if (entry.state == DeliveryState::kLeased) {
      if (keyed) blocked_keys.insert(entry.ordering_key);
      continue;
    }
    if (keyed && blocked_keys.count(entry.ordering_key) > 0) continue;
    if (entry.attempts >= record_.max_delivery_attempts) {
      exhausted.push_back(sequence);
      continue;
    }
    DeliverySink* sink = PickSinkLocked();
    if (sink == nullptr) break;
    if (keyed) blocked_keys.insert(entry.ordering_key);

    entry.state = DeliveryState::kLeased;
    entry.attempts += 1;
    entry.generation = next_generation_++;
    entry.holder = sink;
    entry.lease_expiry = now + record_.ack_deadline;
    entry.last_delivered_at = now;
    sinks_[sink].outstanding += 1;
    MarkDirtyLocked(sequence, entry);
    leased = true;

    batches[sink].push_back(MakeDelivery(sequence, entry));
  }

  for (int64_t sequence : exhausted) {
    LogDeadLetterLocked(sequence, entries_[sequence]);
    SettleLocked(entries_.find(sequence), DeliveryState::kDeadLettered);
  }
  if (!exhausted.empty() && environment_.metrics != nullptr) {
    environment_.metrics->CountDeadLetters(
        record_.name, static_cast<int64_t>(exhausted.size()));
  }
  for (auto& [sink, deliveries] : batches) {
    sinks_[sink].sink->Deliver(std::move(deliveries));
  }
  if (leased) ScheduleLeaseTimerLocked();
  if (!exhausted.empty()) ScheduleRefillLocked();
}

v1::Delivery Subscription::MakeDelivery(int64_t sequence, const Entry& entry) {
  v1::Delivery delivery;
  *delivery.mutable_event() = *entry.event;
  delivery.set_attempt(entry.attempts);
  delivery.set_ack_id(FormatAckId({sequence, entry.generation}));
  return delivery;
}

void Subscription::LogDeadLetterLocked(int64_t sequence, const Entry& entry) {
  logging::Warn("event dead-lettered",
                {{"subscription", record_.name},
                 {"sequence", absl::StrCat(sequence)},
                 {"event_id", entry.event->id()},
                 {"attempts", absl::StrCat(entry.attempts)}});
}

void Subscription::ReleaseLocked(int64_t sequence, Entry& entry,
                                 bool count_attempt) {
  auto sink = sinks_.find(entry.holder);
  if (sink != sinks_.end()) sink->second.outstanding -= 1;
  entry.holder = nullptr;
  entry.state = DeliveryState::kPending;
  if (!count_attempt) entry.attempts = std::max(0, entry.attempts - 1);
  MarkDirtyLocked(sequence, entry);
}

void Subscription::SettleLocked(std::map<int64_t, Entry>::iterator it,
                                DeliveryState state) {
  Entry& entry = it->second;
  if (entry.state == DeliveryState::kLeased) {
    auto sink = sinks_.find(entry.holder);
    if (sink != sinks_.end()) sink->second.outstanding -= 1;
  }
  entry.state = state;
  MarkDirtyLocked(
      it->first, entry,
      state == DeliveryState::kAcknowledged ? absl::Now() : absl::UnixEpoch());
  EraseEntryLocked(it);
}

void Subscription::MarkDirtyLocked(int64_t sequence, const Entry& entry,
                                   absl::Time acknowledged_at) {
  DeliveryRecord& record = dirty_[sequence];
  record.subscription = record_.name;
  record.sequence = sequence;
  record.state = entry.state;
  record.attempts = entry.attempts;
  record.last_delivered_at = entry.last_delivered_at;
  record.acknowledged_at = acknowledged_at;
}

int64_t Subscription::FloorLocked() const {
  int64_t floor = read_cursor_;
  if (!entries_.empty()) {
    floor = std::min(floor, entries_.begin()->first - 1);
  }
  if (!redrive_pending_.empty()) {
    floor = std::min(floor, redrive_pending_.begin()->first - 1);
  }
  return floor;
}

std::shared_future<absl::Status> Subscription::FlushLocked() {
  int64_t floor = FloorLocked();
  if (dirty_.empty() && floor <= saved_cursor_) {
    // Nothing is new, but an earlier write may still be queued, and a seek
    // that went ahead of it would have its rows overwritten.
    if (last_write_.valid() && last_write_.wait_for(std::chrono::seconds(0)) !=
                                   std::future_status::ready) {
      return last_write_;
    }
    return ReadyFuture(absl::OkStatus());
  }
  DeliveryUpdate update;
  update.subscription = record_.name;
  if (shared_) update.epoch = epoch_;
  update.records.reserve(dirty_.size());
  for (auto& [sequence, record] : dirty_) {
    update.records.push_back(std::move(record));
  }
  dirty_.clear();
  if (floor > saved_cursor_) {
    update.cursor = floor;
    saved_cursor_ = floor;
  }
  last_write_ = environment_.store->SaveDeliveries(std::move(update)).share();
  return last_write_;
}

void Subscription::ScheduleLeaseTimerLocked() {
  std::optional<absl::Time> earliest;
  absl::Time now = absl::Now();
  for (const auto& [sequence, entry] : entries_) {
    absl::Time due = absl::InfinitePast();
    if (entry.state == DeliveryState::kLeased) {
      due = entry.lease_expiry;
    } else if (entry.blocked_until > now) {
      due = entry.blocked_until;
    } else {
      continue;
    }
    if (!earliest || due < *earliest) earliest = due;
  }
  if (!earliest) return;
  if (lease_timer_at_ && *lease_timer_at_ <= *earliest) return;
  lease_timer_at_ = *earliest;
  std::weak_ptr<Subscription> weak = weak_from_this();
  environment_.timer->Schedule(*earliest, [weak] {
    if (auto self = weak.lock()) {
      self->environment_.executor->Post([self] { self->OnLeaseTimer(); });
    }
  });
}

void Subscription::OnLeaseTimer() {
  absl::MutexLock lock(&mu_);
  lease_timer_at_.reset();
  if (closed_) return;
  absl::Time now = absl::Now();
  bool released = false;
  for (auto& [sequence, entry] : entries_) {
    if (entry.state == DeliveryState::kLeased && entry.lease_expiry <= now) {
      if (shared_) {
        // The store counted the attempt when it leased the entry, and the
        // lease expires there by itself, so nothing is written.
        DropHolderLocked(entry);
        entry.state = DeliveryState::kPending;
      } else {
        ReleaseLocked(sequence, entry, /*count_attempt=*/true);
      }
      released = true;
    } else if (shared_ && entry.blocked_until > absl::InfinitePast() &&
               entry.blocked_until <= now) {
      released = true;
    }
  }
  if (released) {
    DispatchLocked();
    FlushLocked();
  }
  ScheduleLeaseTimerLocked();
}

void Subscription::Attach(std::shared_ptr<DeliverySink> sink,
                          int max_outstanding) {
  absl::MutexLock lock(&mu_);
  if (closed_) {
    sink->Terminate(absl::NotFoundError(absl::StrCat(
        "subscription \"", record_.name, "\" was deleted: subscribe again")));
    return;
  }
  DeliverySink* key = sink.get();
  sinks_[key] = SinkState{std::move(sink), max_outstanding, 0};
  DispatchLocked();
}

void Subscription::Detach(DeliverySink* sink) {
  absl::MutexLock lock(&mu_);
  if (sinks_.count(sink) == 0) return;
  if (shared_) {
    DetachSharedLocked(sink);
    return;
  }
  for (auto& [sequence, entry] : entries_) {
    if (entry.state == DeliveryState::kLeased && entry.holder == sink) {
      ReleaseLocked(sequence, entry, /*count_attempt=*/false);
    }
  }
  sinks_.erase(sink);
  next_sink_ = 0;
  DispatchLocked();
  FlushLocked();
}

std::map<int64_t, Subscription::Entry>::iterator Subscription::FindLeaseLocked(
    absl::string_view id) {
  std::optional<LeaseId> lease = ParseAckId(id);
  if (!lease) return entries_.end();
  auto it = entries_.find(lease->sequence);
  if (it == entries_.end() || it->second.state != DeliveryState::kLeased ||
      it->second.generation != lease->generation) {
    return entries_.end();
  }
  return it;
}

std::shared_future<absl::Status> Subscription::Acknowledge(
    const std::vector<std::string>& ids, int* acknowledged) {
  if (shared_) return AcknowledgeShared(ids, acknowledged).share();
  absl::MutexLock lock(&mu_);
  *acknowledged = 0;
  for (const std::string& id : ids) {
    auto it = FindLeaseLocked(id);
    if (it == entries_.end()) continue;
    SettleLocked(it, DeliveryState::kAcknowledged);
    ++*acknowledged;
  }
  if (*acknowledged == 0) return ReadyFuture(absl::OkStatus());
  DispatchLocked();
  ScheduleRefillLocked();
  return FlushLocked();
}

absl::StatusOr<int> Subscription::ModifyAckDeadline(
    const std::vector<std::string>& ids, absl::Duration deadline) {
  if (shared_) return ModifyAckDeadlineShared(ids, deadline);
  absl::MutexLock lock(&mu_);
  int modified = 0;
  bool released = false;
  absl::Time now = absl::Now();
  for (const std::string& id : ids) {
    auto it = FindLeaseLocked(id);
    if (it == entries_.end()) continue;
    ++modified;
    if (deadline <= absl::ZeroDuration()) {
      ReleaseLocked(it->first, it->second, /*count_attempt=*/true);
      released = true;
    } else {
      it->second.lease_expiry = now + deadline;
    }
  }
  if (released) {
    DispatchLocked();
    FlushLocked();
  }
  return modified;
}

absl::StatusOr<int64_t> Subscription::Seek(int64_t cursor) {
  cursor = std::max(cursor, record_.start_sequence);
  if (shared_) return SeekShared(cursor);
  absl::MutexLock lock(&mu_);
  // Writes queued before the seek must land first, or they would bring
  // back rows the seek removes.
  absl::Status flushed = FlushLocked().get();
  if (!flushed.ok()) return flushed;
  absl::StatusOr<int64_t> moved =
      environment_.store->SeekSubscription(record_.name, cursor);
  if (!moved.ok()) return moved.status();
  ResetLocked(cursor);
  return cursor;
}

void Subscription::ResetLocked(int64_t cursor) {
  for (auto& [sink, state] : sinks_) state.outstanding = 0;
  ClearEntriesLocked();
  redrive_pending_.clear();
  settled_ahead_.clear();
  attempts_ahead_.clear();
  read_cursor_ = cursor;
  saved_cursor_ = cursor;
  lease_timer_at_.reset();
  claim_in_flight_ = false;
  ++resets_;
  logging::Info("subscription moved", {{"subscription", record_.name},
                                       {"cursor", absl::StrCat(cursor)},
                                       {"epoch", absl::StrCat(epoch_)}});
  ScheduleRefillLocked();
}

absl::StatusOr<int> Subscription::RedriveDeadLetters() {
  absl::MutexLock lock(&mu_);
  absl::Status flushed = FlushLocked().get();
  if (!flushed.ok()) return flushed;
  absl::StatusOr<std::vector<DeliveryRecord>> dead =
      environment_.store->LoadDeadLetters(record_.name);
  if (!dead.ok()) return dead.status();
  int redriven = 0;
  for (const DeliveryRecord& row : *dead) {
    if (entries_.count(row.sequence) > 0 ||
        redrive_pending_.count(row.sequence) > 0) {
      continue;
    }
    // Pending with no attempts; Refill loads the event when the window has
    // room.
    Entry pending;
    MarkDirtyLocked(row.sequence, pending);
    redrive_pending_.emplace(row.sequence, 0);
    ++redriven;
  }
  ScheduleRefillLocked();
  logging::Info("dead letters redriven", {{"subscription", record_.name},
                                          {"events", absl::StrCat(redriven)}});
  DispatchLocked();
  absl::Status saved = FlushLocked().get();
  if (!saved.ok()) return saved;
  if (shared_) {
    SubscriptionChange change;
    change.kind = SubscriptionChange::Kind::kRedrive;
    change.subscription = record_.name;
    absl::Status published =
        environment_.store->PublishSubscriptionChange(change);
    if (!published.ok()) return published;
  }
  return redriven;
}

void Subscription::Close(const absl::Status& status) {
  std::vector<LeaseId> leases;
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
    for (auto& [key, state] : sinks_) state.sink->Terminate(status);
    if (shared_) {
      for (const auto& [sequence, entry] : entries_) {
        if (entry.state == DeliveryState::kLeased) {
          leases.push_back({sequence, entry.generation});
        }
      }
    }
    sinks_.clear();
    ClearEntriesLocked();
    redrive_pending_.clear();
    dirty_.clear();
  }
  // The streams ended, so their leases go back at once, as on Detach, and
  // other processes need not wait for them to expire.
  if (!leases.empty()) Release(leases, /*count_attempt=*/false);
}

bool Subscription::ForgottenLocked(const v1::Event& event) const {
  const google::protobuf::Timestamp& received = event.received_at();
  return received.seconds() * 1000000 + received.nanos() / 1000 <
         forgotten_before_us_;
}

void Subscription::ForgetReceivedBefore(absl::Time cutoff) {
  absl::MutexLock lock(&mu_);
  if (closed_) return;
  forgotten_before_us_ =
      std::max(forgotten_before_us_, absl::ToUnixMicros(cutoff));
  int64_t forgotten = 0;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (!ForgottenLocked(*it->second.event)) {
      ++it;
      continue;
    }
    // The store deleted the delivery row with the event.
    dirty_.erase(it->first);
    if (it->second.holder != nullptr) DropHolderLocked(it->second);
    it = EraseEntryLocked(it);
    ++forgotten;
  }
  if (forgotten == 0) return;
  logging::Info(
      "subscription dropped events deleted by retention",
      {{"subscription", record_.name}, {"events", absl::StrCat(forgotten)}});
  FlushLocked();
  ScheduleRefillLocked();
  DispatchLocked();
}

int64_t Subscription::Epoch() {
  absl::MutexLock lock(&mu_);
  return epoch_;
}

int64_t Subscription::Cursor() {
  absl::MutexLock lock(&mu_);
  return std::max(saved_cursor_, FloorLocked());
}

absl::StatusOr<SubscriptionStats> Subscription::Stats() {
  SubscriptionStats stats;
  int64_t read_cursor;
  std::optional<int64_t> oldest_redriven;
  {
    absl::MutexLock lock(&mu_);
    stats.cursor = std::max(saved_cursor_, FloorLocked());
    stats.open_streams = static_cast<int>(sinks_.size());
    stats.backlog_events =
        static_cast<int64_t>(entries_.size() + redrive_pending_.size());
    if (!redrive_pending_.empty()) {
      oldest_redriven = redrive_pending_.begin()->first;
    }
    for (const auto& [sequence, entry] : entries_) {
      absl::Time received =
          absl::FromUnixSeconds(entry.event->received_at().seconds());
      if (!stats.oldest_backlog_received_at ||
          received < *stats.oldest_backlog_received_at) {
        stats.oldest_backlog_received_at = received;
      }
    }
    read_cursor = read_cursor_;
    stats.backlog_events -= static_cast<int64_t>(settled_ahead_.size());
  }

  // Redriven events wait outside the window, and the lowest is most likely
  // the oldest of them.
  if (oldest_redriven) {
    absl::StatusOr<std::optional<StoredEvent>> stored =
        environment_.store->GetBySequence(*oldest_redriven);
    if (!stored.ok()) return stored.status();
    if (stored->has_value()) {
      absl::Time received =
          absl::FromUnixSeconds((*stored)->event.received_at().seconds());
      if (!stats.oldest_backlog_received_at ||
          received < *stats.oldest_backlog_received_at) {
        stats.oldest_backlog_received_at = received;
      }
    }
  }

  absl::StatusOr<std::vector<DeliveryRecord>> dead =
      environment_.store->LoadDeadLetters(record_.name);
  if (!dead.ok()) return dead.status();
  stats.dead_lettered_events = static_cast<int64_t>(dead->size());
  absl::StatusOr<std::vector<SubscriptionRecord>> records =
      environment_.store->LoadSubscriptions();
  if (!records.ok()) return records.status();
  for (const SubscriptionRecord& stored : *records) {
    if (stored.name == record_.name) {
      stats.expired_events = stored.expired_events;
    }
  }

  absl::StatusOr<Backlog> unread =
      environment_.store->CountBacklog(record_.event_types, read_cursor);
  if (!unread.ok()) return unread.status();
  stats.backlog_events += unread->events;
  if (unread->oldest_received_at && !stats.oldest_backlog_received_at) {
    stats.oldest_backlog_received_at = unread->oldest_received_at;
  }
  stats.backlog_events = std::max<int64_t>(0, stats.backlog_events);
  return stats;
}

}  // namespace paymento::bridge
