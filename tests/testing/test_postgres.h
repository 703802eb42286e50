// PostgreSQL for tests: the shared server scripts/test-postgres.sh starts
// before CTest runs, a fresh schema on it per test, and private servers for
// tests that stop and restart the database.
//
// scripts/test.sh exports the shared server's URL as
// PAYMENTO_BRIDGE_TEST_POSTGRES_URL. Without it the PostgreSQL tests fail
// when CI=true and are skipped otherwise; see RequirePostgres.
#ifndef PAYMENTO_BRIDGE_TESTS_TESTING_TEST_POSTGRES_H_
#define PAYMENTO_BRIDGE_TESTS_TESTING_TEST_POSTGRES_H_

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace paymento::bridge::test_support {

// The shared server's URL, or empty when the variable is unset.
std::string TestPostgresUrl();

// Why PostgreSQL tests cannot run, or empty when they can: a message
// naming the variable to set and how to set it. Tests fail with it when the CI
// variable is "true" and skip with it otherwise.
std::string PostgresUnavailableReason();

// Fails or skips the current test, as above, when the shared server is not
// configured. Use at the start of a test or SetUp.
#define PAYMENTO_REQUIRE_POSTGRES()                                    \
  do {                                                                 \
    std::string reason =                                               \
        ::paymento::bridge::test_support::PostgresUnavailableReason(); \
    if (!reason.empty()) {                                             \
      if (::paymento::bridge::test_support::PostgresRequired()) {      \
        GTEST_FAIL() << reason;                                        \
      } else {                                                         \
        GTEST_SKIP() << reason;                                        \
      }                                                                \
    }                                                                  \
  } while (false)

// Whether a missing server is a failure (CI=true) rather than a skip.
bool PostgresRequired();

// Adds options=-csearch_path=`schema` to a libpq URL, so its sessions
// create and find tables in that schema.
std::string WithSearchPath(const std::string& url, const std::string& schema);

// A new, empty schema on a server, dropped with everything in it on
// destruction.
class TestPostgresSchema {
 public:
  // Creates the schema on the server `server_url` names.
  static absl::StatusOr<std::unique_ptr<TestPostgresSchema>> Create(
      const std::string& server_url);
  ~TestPostgresSchema();

  // A store URL whose tables live in this schema.
  const std::string& url() const { return url_; }
  const std::string& name() const { return name_; }

 private:
  TestPostgresSchema(std::string server_url, std::string name);

  std::string server_url_;
  std::string name_;
  std::string url_;
};

// A PostgreSQL server of its own, for tests that stop and start the
// database, run through scripts/test-postgres.sh.
class PrivatePostgresServer {
 public:
  // Creates the cluster in a new temporary directory and starts it.
  static absl::StatusOr<std::unique_ptr<PrivatePostgresServer>> Start();
  // Stops the server and removes its directory.
  ~PrivatePostgresServer();

  // Stops the server as `pg_ctl stop -m fast` does: sessions are ended at
  // once and the data is kept.
  absl::Status StopServer();
  // Starts the stopped server again on the same port.
  absl::Status StartServer();

  // The URL of its database, password included.
  const std::string& url() const { return url_; }
  // The password of its role, for checking output.
  std::string password() const;

 private:
  explicit PrivatePostgresServer(std::string directory)
      : directory_(std::move(directory)) {}

  std::string directory_;
  std::string url_;
};

}  // namespace paymento::bridge::test_support

#endif  // PAYMENTO_BRIDGE_TESTS_TESTING_TEST_POSTGRES_H_
