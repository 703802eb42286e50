#include "src/store/postgres_connector.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "src/logging/log.h"

namespace paymento::bridge {

PostgresConnector::PostgresConnector(PostgresConnectionConfig config,
                                     absl::Duration min_delay,
                                     absl::Duration max_delay)
    : config_(std::move(config)),
      min_delay_(min_delay),
      max_delay_(max_delay),
      delay_(min_delay) {}

absl::StatusOr<std::unique_ptr<PostgresConnection>>
PostgresConnector::Connect() {
  {
    absl::MutexLock lock(&mu_);
    absl::Time now = absl::Now();
    if (now < next_attempt_) {
      return absl::UnavailableError(
          absl::StrCat(last_error_.message(), "; next attempt in ",
                       absl::FormatDuration(absl::Ceil(
                           next_attempt_ - now, absl::Milliseconds(1)))));
    }
  }
  absl::StatusOr<std::unique_ptr<PostgresConnection>> connection =
      PostgresConnection::Connect(config_);
  if (connection.ok()) {
    MarkReachable((*connection)->connected_at());
    return connection;
  }
  absl::MutexLock lock(&mu_);
  MarkUnreachable(connection.status());
  next_attempt_ = absl::Now() + delay_;
  delay_ = std::min(delay_ * 2, max_delay_);
  return connection.status();
}

void PostgresConnector::ReportLost(const PostgresConnection& connection,
                                   const absl::Status& error) {
  absl::MutexLock lock(&mu_);
  if (connection.connected_at() < reachable_since_) return;
  MarkUnreachable(error);
}

absl::Status PostgresConnector::status() const {
  absl::MutexLock lock(&mu_);
  if (reachable_) return absl::OkStatus();
  return absl::UnavailableError(last_error_.message());
}

void PostgresConnector::MarkReachable(absl::Time connected_at) {
  {
    absl::MutexLock lock(&mu_);
    delay_ = min_delay_;
    next_attempt_ = absl::InfinitePast();
    if (reachable_) return;
    reachable_ = true;
    reachable_since_ = connected_at;
  }
  logging::Info("PostgreSQL reachable again", {{"store", "postgres"}});
}

void PostgresConnector::MarkUnreachable(const absl::Status& error) {
  last_error_ = error;
  if (!reachable_) return;
  reachable_ = false;
  logging::Error(
      "PostgreSQL unreachable",
      {{"store", "postgres"}, {"error", std::string(error.message())}});
}

}  // namespace paymento::bridge
