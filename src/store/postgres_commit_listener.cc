#include "src/store/postgres_commit_listener.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace paymento::bridge {
namespace {

// Maximum wait on the socket. Stop ends it early through the eventfd.
constexpr int kPollTimeoutMs = 1000;
// Pause between attempts while the database is unreachable. The connector
// fails attempts at once until its own, growing delay has passed.
constexpr absl::Duration kRetryPause = absl::Milliseconds(100);

}  // namespace

PostgresCommitListener::PostgresCommitListener(
    PostgresConnector* connector, std::function<int64_t()> known_sequence,
    Callback on_commit, ChangeCallback on_change,
    std::function<void()> on_resync)
    : connector_(connector),
      known_sequence_(std::move(known_sequence)),
      on_commit_(std::move(on_commit)),
      on_change_(std::move(on_change)),
      on_resync_(std::move(on_resync)) {}

PostgresCommitListener::~PostgresCommitListener() {
  Stop();
  if (stop_fd_ >= 0) close(stop_fd_);
}

absl::Status PostgresCommitListener::Start() {
  stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd_ < 0) {
    return absl::InternalError(
        absl::StrCat("cannot create an eventfd: ", std::strerror(errno)));
  }
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void PostgresCommitListener::Stop() {
  if (stopping_.exchange(true)) return;
  if (stop_fd_ >= 0) {
    uint64_t one = 1;
    ssize_t written = write(stop_fd_, &one, sizeof(one));
    (void)written;
  }
  if (thread_.joinable()) thread_.join();
}

void PostgresCommitListener::Run() {
  while (!stopping_.load()) {
    if (connection_ == nullptr) {
      absl::Status listening = Listen();
      if (!listening.ok()) {
        connection_.reset();
        Pause(kRetryPause);
        continue;
      }
    }
    absl::Status received = Receive();
    if (!received.ok()) {
      if (connection_->broken()) connector_->ReportLost(*connection_, received);
      connection_.reset();
    }
  }
  connection_.reset();
}

absl::Status PostgresCommitListener::Listen() {
  absl::StatusOr<std::unique_ptr<PostgresConnection>> connection =
      connector_->Connect();
  if (!connection.ok()) return connection.status();
  connection_ = std::move(*connection);
  // LISTEN takes an identifier, not a value, so it cannot be a parameter;
  // the channel is a constant.
  absl::Status listening =
      connection_->ExecuteScript(absl::StrCat("LISTEN ", kPostgresCommitChannel,
                                              "; LISTEN ",
                                              kPostgresSubscriptionChannel));
  if (!listening.ok()) return listening;
  // Listening starts before the counter is read, so no commit falls between.
  absl::Status reported = ReportCounter();
  if (!reported.ok()) return reported;
  if (connected_before_ && on_resync_) on_resync_();
  connected_before_ = true;
  return absl::OkStatus();
}

absl::Status PostgresCommitListener::ReportCounter() {
  absl::StatusOr<PgResult> counter = connection_->Execute(
      "SELECT last_sequence FROM sequence_counter WHERE id = 1");
  if (!counter.ok()) return counter.status();
  if (counter->rows() > 0) on_commit_(counter->Int64(0, 0));
  return absl::OkStatus();
}

absl::Status PostgresCommitListener::Receive() {
  pollfd fds[2] = {{connection_->socket(), POLLIN, 0}, {stop_fd_, POLLIN, 0}};
  int ready = poll(fds, 2, kPollTimeoutMs);
  if (ready < 0 && errno != EINTR) {
    return absl::UnavailableError(
        absl::StrCat("cannot wait for notifications: ", std::strerror(errno)));
  }
  if (ready <= 0 || (fds[0].revents == 0)) return absl::OkStatus();

  absl::StatusOr<std::vector<PgNotification>> notifications =
      connection_->ReadNotifications();
  if (!notifications.ok()) return notifications.status();
  int64_t known = known_sequence_();
  bool ahead = false;
  for (const PgNotification& notification : *notifications) {
    if (notification.channel == kPostgresSubscriptionChannel) {
      if (on_change_) on_change_(notification.payload);
      continue;
    }
    int64_t sequence = 0;
    // A payload that does not parse still means something committed.
    if (!absl::SimpleAtoi(notification.payload, &sequence) ||
        sequence > known) {
      ahead = true;
    }
  }
  if (!ahead) return absl::OkStatus();
  return ReportCounter();
}

void PostgresCommitListener::Pause(absl::Duration duration) {
  pollfd stop = {stop_fd_, POLLIN, 0};
  poll(&stop, 1, static_cast<int>(absl::ToInt64Milliseconds(duration)));
}

}  // namespace paymento::bridge
