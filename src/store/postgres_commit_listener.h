// PostgresCommitListener: a thread that LISTENs for the notifications every
// replica's commits send and reports the highest committed sequence, so
// that streams on this replica wake for events appended through any other.
// It also passes on the payloads of the subscription channel, where
// replicas announce changes to durable subscriptions (acks, released
// leases, seeks; see subscription_change.h).
//
// The payload of a notification is the committing replica's last sequence,
// but it is only a hint: anyone connected to the database may notify the
// channel, so the listener reads the sequence counter itself before it
// reports, and only when the hint is above the sequence the store already
// knows (its own commits notify too).
//
// The thread waits on the connection's socket together with an eventfd
// that Stop signals, so stopping is immediate. A lost connection is
// reconnected through the store's PostgresConnector, which spaces the
// attempts; after every (re)connection the listener reads the counter and
// reports it, since commits made while it was not listening sent
// notifications that no session received. For the same reason it calls on_resync
// after every reconnection, though not after the first connection.
#ifndef PAYMENTO_BRIDGE_SRC_STORE_POSTGRES_COMMIT_LISTENER_H_
#define PAYMENTO_BRIDGE_SRC_STORE_POSTGRES_COMMIT_LISTENER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "src/store/postgres_connection.h"
#include "src/store/postgres_connector.h"

namespace paymento::bridge {

// The channel that commits notify, with the last sequence as payload.
inline constexpr char kPostgresCommitChannel[] = "paymento_bridge_events";
// The channel of subscription changes, with an encoded SubscriptionChange
// as payload.
inline constexpr char kPostgresSubscriptionChannel[] =
    "paymento_bridge_subscriptions";

class PostgresCommitListener {
 public:
  // Called on the listener's thread with the highest committed sequence.
  using Callback = std::function<void(int64_t last_sequence)>;
  // Called on the listener's thread with a subscription channel payload.
  using ChangeCallback = std::function<void(const std::string& payload)>;

  // `connector` must outlive the listener. `known_sequence` returns the
  // highest sequence the store has seen committed, from any thread.
  PostgresCommitListener(PostgresConnector* connector,
                         std::function<int64_t()> known_sequence,
                         Callback on_commit, ChangeCallback on_change,
                         std::function<void()> on_resync);
  ~PostgresCommitListener();

  // Starts the thread. Fails with INTERNAL when no eventfd can be created.
  absl::Status Start();
  // Stops and joins the thread. Safe to call more than once.
  void Stop();

 private:
  void Run();
  // Connects, listens and reports the counter.
  absl::Status Listen();
  // Waits for notifications or Stop and handles what arrived.
  absl::Status Receive();
  absl::Status ReportCounter();
  // Waits for `duration` or until Stop.
  void Pause(absl::Duration duration);

  PostgresConnector* const connector_;
  const std::function<int64_t()> known_sequence_;
  const Callback on_commit_;
  const ChangeCallback on_change_;
  const std::function<void()> on_resync_;
  bool connected_before_ = false;
  std::unique_ptr<PostgresConnection> connection_;
  int stop_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_STORE_POSTGRES_COMMIT_LISTENER_H_
