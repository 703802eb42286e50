#include "src/streaming/subscription_manager.h"

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
  absl::MutexLock lock(&mu_);
  std::vector<std::shared_ptr<Subscription>> all;
  for (auto& [name, subscription] : subscriptions_) {
    all.push_back(subscription);
  }
  return all;
}

void SubscriptionManager::CloseAll(const absl::Status& status) {
  for (const auto& subscription : All()) subscription->Close(status);
}

}  // namespace paymento::bridge
