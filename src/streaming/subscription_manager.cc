#include "src/streaming/subscription_manager.h"

#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "src/logging/log.h"

namespace paymento::bridge {

absl::Status SubscriptionManager::CheckName(absl::string_view name) {
  bool valid = !name.empty() && name.size() <= 128;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' &&
        c != '_' && c != '-') {
      valid = false;
    }
  }
  if (valid) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "invalid subscription name \"", name,
      "\": use 1 to 128 letters, digits, '.', '_' or '-'"));
}

absl::Status SubscriptionManager::LoadAll() {
  absl::StatusOr<std::vector<SubscriptionRecord>> records =
      environment_.store->LoadSubscriptions();
  if (!records.ok()) return records.status();
  absl::MutexLock lock(&mu_);
  for (SubscriptionRecord& record : *records) {
    std::string name = record.name;
    absl::StatusOr<std::shared_ptr<Subscription>> subscription =
        Subscription::Load(environment_, std::move(record));
    if (!subscription.ok()) {
      return absl::Status(subscription.status().code(),
                          absl::StrCat("cannot load subscription \"", name,
                                       "\": ",
                                       subscription.status().message()));
    }
    subscriptions_[name] = *std::move(subscription);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<Subscription>> SubscriptionManager::GetOrCreate(
    const SubscriptionRecord& requested) {
  absl::Status name = CheckName(requested.name);
  if (!name.ok()) return name;

  absl::MutexLock lock(&mu_);
  auto found = subscriptions_.find(requested.name);
  if (found == subscriptions_.end()) {
    absl::StatusOr<SubscriptionRecord> stored =
        environment_.store->CreateSubscription(requested);
    if (!stored.ok()) return stored.status();
    absl::StatusOr<std::shared_ptr<Subscription>> created =
        Subscription::Load(environment_, *std::move(stored));
    if (!created.ok()) return created.status();
    logging::Info("subscription created",
                  {{"subscription", requested.name},
                   {"event_types", absl::StrJoin(requested.event_types, ",")},
                   {"start_sequence", absl::StrCat(requested.start_sequence)}});
    found = subscriptions_.emplace(requested.name, *std::move(created)).first;
  }
  const SubscriptionRecord& existing = found->second->record();
  if (existing.event_types != requested.event_types) {
    return absl::FailedPreconditionError(absl::StrCat(
        "subscription \"", requested.name, "\" exists with event types [",
        absl::StrJoin(existing.event_types, ", "), "], not [",
        absl::StrJoin(requested.event_types, ", "),
        "]: subscribe with the same types, or delete it with "
        "DeleteSubscription and subscribe again"));
  }
  return found->second;
}

absl::StatusOr<std::shared_ptr<Subscription>> SubscriptionManager::Find(
    absl::string_view name) {
  if (environment_.store->SharesSubscriptions()) {
    bool known;
    {
      absl::MutexLock lock(&mu_);
      known = subscriptions_.count(name) > 0;
    }
    if (!known) SyncWithStore(/*check_epochs=*/false);
  }
  absl::MutexLock lock(&mu_);
  auto found = subscriptions_.find(name);
  if (found == subscriptions_.end()) {
    return absl::NotFoundError(
        absl::StrCat("no subscription named \"", name,
                     "\": list them with ListSubscriptions"));
  }
  return found->second;
}

absl::Status SubscriptionManager::Delete(absl::string_view name) {
  std::shared_ptr<Subscription> subscription;
  {
    absl::MutexLock lock(&mu_);
    auto found = subscriptions_.find(name);
    if (found == subscriptions_.end()) {
      return absl::NotFoundError(
          absl::StrCat("no subscription named \"", name, "\""));
    }
    subscription = found->second;
    subscriptions_.erase(found);
  }
  subscription->Close(absl::NotFoundError(absl::StrCat(
      "subscription \"", name, "\" was deleted: subscribe again to recreate "
      "it")));
  absl::Status deleted = environment_.store->DeleteSubscription(name);
  if (!deleted.ok()) return deleted;
  logging::Info("subscription deleted",
                {{"subscription", std::string(name)}});
  return absl::OkStatus();
}

std::vector<std::shared_ptr<Subscription>> SubscriptionManager::All() {
  if (environment_.store->SharesSubscriptions()) {
    SyncWithStore(/*check_epochs=*/false);
  }
  return Snapshot();
}

std::vector<std::shared_ptr<Subscription>> SubscriptionManager::Snapshot() {
  absl::MutexLock lock(&mu_);
  std::vector<std::shared_ptr<Subscription>> all;
  for (auto& [name, subscription] : subscriptions_) {
    all.push_back(subscription);
  }
  return all;
}

void SubscriptionManager::ForgetReceivedBefore(absl::Time cutoff) {
  for (const std::shared_ptr<Subscription>& subscription : Snapshot()) {
    subscription->ForgetReceivedBefore(cutoff);
  }
}

void SubscriptionManager::CloseAll(const absl::Status& status) {
  for (const auto& subscription : Snapshot()) subscription->Close(status);
}

void SubscriptionManager::OnChange(const SubscriptionChange& change) {
  switch (change.kind) {
    case SubscriptionChange::Kind::kDelete:
      CloseDeleted(change.subscription);
      return;
    case SubscriptionChange::Kind::kResync:
      // Reads the store, so it runs on the executor, not the listener.
      environment_.executor->Post(
          [this] { SyncWithStore(/*check_epochs=*/true); });
      return;
    default:
      break;
  }
  std::shared_ptr<Subscription> subscription;
  {
    absl::MutexLock lock(&mu_);
    auto found = subscriptions_.find(change.subscription);
    if (found == subscriptions_.end()) return;
    subscription = found->second;
  }
  subscription->ApplyChange(change);
}

void SubscriptionManager::CloseDeleted(absl::string_view name) {
  std::shared_ptr<Subscription> subscription;
  {
    absl::MutexLock lock(&mu_);
    auto found = subscriptions_.find(name);
    if (found == subscriptions_.end()) return;
    subscription = found->second;
    subscriptions_.erase(found);
  }
  subscription->Close(absl::NotFoundError(absl::StrCat(
      "subscription \"", name, "\" was deleted: subscribe again to recreate "
      "it")));
  logging::Info("subscription deleted by another replica",
                {{"subscription", std::string(name)}});
}

void SubscriptionManager::SyncWithStore(bool check_epochs) {
  // Only subscriptions known before the store is read can be missing from
  // it because they were deleted. One created meanwhile may be missing only
  // because the read came first.
  std::vector<std::shared_ptr<Subscription>> before = Snapshot();
  absl::StatusOr<std::vector<SubscriptionRecord>> records =
      environment_.store->LoadSubscriptions();
  if (!records.ok()) {
    logging::Error("subscription list reload failed",
                   {{"error", std::string(records.status().message())}});
    return;
  }

  std::set<std::string> stored;
  std::vector<std::pair<std::shared_ptr<Subscription>, SubscriptionRecord>>
      known;
  {
    absl::MutexLock lock(&mu_);
    for (SubscriptionRecord& record : *records) {
      stored.insert(record.name);
      auto found = subscriptions_.find(record.name);
      if (found != subscriptions_.end()) {
        known.emplace_back(found->second, std::move(record));
        continue;
      }
      std::string name = record.name;
      absl::StatusOr<std::shared_ptr<Subscription>> loaded =
          Subscription::Load(environment_, std::move(record));
      if (!loaded.ok()) {
        logging::Error("subscription load failed",
                       {{"subscription", name},
                        {"error", std::string(loaded.status().message())}});
        continue;
      }
      subscriptions_.emplace(name, *std::move(loaded));
    }
  }

  for (const std::shared_ptr<Subscription>& subscription : before) {
    if (stored.count(subscription->record().name) == 0) {
      CloseDeleted(subscription->record().name);
    }
  }
  if (!check_epochs) return;

  // Seeks and redrives whose notifications were missed: a seek in a newer
  // epoch moves the cursor, and a redrive reloads redriven events.
  for (auto& [subscription, record] : known) {
    SubscriptionChange seek;
    seek.kind = SubscriptionChange::Kind::kSeek;
    seek.subscription = record.name;
    seek.cursor = record.cursor;
    seek.epoch = record.epoch;
    subscription->ApplyChange(seek);

    SubscriptionChange redrive;
    redrive.kind = SubscriptionChange::Kind::kRedrive;
    redrive.subscription = record.name;
    subscription->ApplyChange(redrive);
  }
}

}  // namespace paymento::bridge
