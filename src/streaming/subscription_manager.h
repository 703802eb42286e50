// SubscriptionManager: the registry of durable subscriptions in this
// process. It loads them at start-up, creates them on first use, and
// deletes them. With a store that shares subscriptions between processes,
// it also loads the subscriptions other processes created when they are
// asked for, drops those they deleted, and passes their changes on to the
// subscriptions here (OnChange).
#ifndef PAYMENTO_BRIDGE_SRC_STREAMING_SUBSCRIPTION_MANAGER_H_
#define PAYMENTO_BRIDGE_SRC_STREAMING_SUBSCRIPTION_MANAGER_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "src/streaming/subscription.h"

namespace paymento::bridge {

class SubscriptionManager {
 public:
  explicit SubscriptionManager(const SubscriptionEnvironment& environment)
      : environment_(environment) {}

  // Loads every stored subscription. Call once before serving.
  absl::Status LoadAll();

  // Returns the subscription named in `requested`, creating it with those
  // settings when it does not exist. Fails with FAILED_PRECONDITION when it
  // exists with another filter.
  absl::StatusOr<std::shared_ptr<Subscription>> GetOrCreate(
      const SubscriptionRecord& requested);

  // Returns the subscription or NOT_FOUND. With a shared store, a name not
  // known here is looked up in the store.
  absl::StatusOr<std::shared_ptr<Subscription>> Find(absl::string_view name);

  // Deletes the subscription; its streams end with NOT_FOUND.
  absl::Status Delete(absl::string_view name);

  // Returns every subscription; with a shared store, after loading the
  // store's list.
  std::vector<std::shared_ptr<Subscription>> All();

  // Applies a change another process made (or this one; those do nothing
  // more). Called on the store's listener thread.
  void OnChange(const SubscriptionChange& change);

  // Ends every stream with `status`, for shutdown.
  void CloseAll(const absl::Status& status);

  // Drops, from every subscription, the events received before `cutoff`
  // that retention deleted.
  void ForgetReceivedBefore(absl::Time cutoff);

  // Validates a subscription name.
  static absl::Status CheckName(absl::string_view name);

 private:
  // Loads subscriptions the store has and this process lacks, and closes
  // those the store no longer has. With `check_epochs`, also moves the
  // cursor of those sought meanwhile and reloads redriven events, for when
  // changes may have been missed.
  void SyncWithStore(bool check_epochs);
  // Ends the streams of a subscription deleted by another process.
  void CloseDeleted(absl::string_view name);
  std::vector<std::shared_ptr<Subscription>> Snapshot();

  const SubscriptionEnvironment environment_;
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<Subscription>, std::less<>>
      subscriptions_ ABSL_GUARDED_BY(mu_);
};

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_STREAMING_SUBSCRIPTION_MANAGER_H_
