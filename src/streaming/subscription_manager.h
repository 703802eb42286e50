// SubscriptionManager: the registry of durable subscriptions in this
// process. It loads them at start-up, creates them on first use, and
// deletes them.
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

  // Returns the subscription or NOT_FOUND.
  absl::StatusOr<std::shared_ptr<Subscription>> Find(absl::string_view name);

  // Deletes the subscription; its streams end with NOT_FOUND.
  absl::Status Delete(absl::string_view name);

  std::vector<std::shared_ptr<Subscription>> All();

  // Ends every stream with `status`, for shutdown.
  void CloseAll(const absl::Status& status);

  // Validates a subscription name.
  static absl::Status CheckName(absl::string_view name);

 private:
  const SubscriptionEnvironment environment_;
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<Subscription>, std::less<>>
      subscriptions_ ABSL_GUARDED_BY(mu_);
};

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_STREAMING_SUBSCRIPTION_MANAGER_H_
