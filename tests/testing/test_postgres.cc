#include "tests/testing/test_postgres.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "src/store/postgres_connection.h"
#include "src/store/postgres_store_options.h"
#include "tests/testing/bridge_process.h"

namespace paymento::bridge::test_support {
namespace {

constexpr char kUrlVariable[] = "PAYMENTO_BRIDGE_TEST_POSTGRES_URL";

std::string Environment(const char* name) {
  const char* value = getenv(name);
  return value != nullptr ? value : "";
}

// Runs scripts/test-postgres.sh with `command` and `directory`; fails with
// the script's output when it exits non-zero.
absl::Status RunScript(const std::string& command,
                       const std::string& directory) {
  std::string line = absl::StrCat("'", PAYMENTO_BRIDGE_TEST_POSTGRES_SCRIPT,
                                  "' ", command, " '", directory, "' 2>&1");
  FILE* pipe = popen(line.c_str(), "r");
  if (pipe == nullptr) return absl::InternalError("cannot run " + line);
  std::string output;
  char buffer[4096];
  size_t read;
  while ((read = fread(buffer, 1, sizeof(buffer), pipe)) > 0) {
    output.append(buffer, read);
  }
  int status = pclose(pipe);
  if (status != 0) {
    return absl::InternalError(
        absl::StrCat("test-postgres.sh ", command, " failed:\n", output));
  }
  return absl::OkStatus();
}

// Connects to `url` and runs the statement that `format_sql` yields when
// PostgreSQL's format() quotes `identifier` into it as %I. Identifiers
// cannot be bound as parameters; format() quotes them on the server.
absl::Status ExecuteWithIdentifier(const std::string& url,
                                   const std::string& format_sql,
                                   const std::string& identifier) {
  absl::StatusOr<PostgresStoreUrl> parsed = ParsePostgresStoreUrl(url);
  if (!parsed.ok()) return parsed.status();
  absl::StatusOr<std::unique_ptr<PostgresConnection>> connection =
      PostgresConnection::Connect({parsed->libpq_url, parsed->password});
  if (!connection.ok()) return connection.status();
  absl::StatusOr<PgResult> sql =
      (*connection)
          ->Execute("SELECT format($1, $2)",
                    {PgParam::Text(format_sql), PgParam::Text(identifier)});
  if (!sql.ok()) return sql.status();
  return (*connection)->ExecuteScript(std::string(sql->Bytes(0, 0)));
}

}  // namespace

std::string TestPostgresUrl() { return Environment(kUrlVariable); }

bool PostgresRequired() { return Environment("CI") == "true"; }

std::string PostgresUnavailableReason() {
  if (!TestPostgresUrl().empty()) return "";
  return absl::StrCat(
      "\n*** PostgreSQL tests did not run: ", kUrlVariable,
      " is unset. Run them through scripts/test.sh, or start a server with "
      "`scripts/test-postgres.sh start DIR` and `source DIR/env`. ***\n");
}

std::string WithSearchPath(const std::string& url, const std::string& schema) {
  return absl::StrCat(url, absl::StrContains(url, "?") ? "&" : "?",
                      "options=-csearch_path%3D", schema);
}

TestPostgresSchema::TestPostgresSchema(std::string server_url, std::string name)
    : server_url_(std::move(server_url)),
      name_(std::move(name)),
      url_(WithSearchPath(server_url_, name_)) {}

absl::StatusOr<std::unique_ptr<TestPostgresSchema>> TestPostgresSchema::Create(
    const std::string& server_url) {
  static std::atomic<int> counter{0};
  std::string name =
      absl::StrCat("test_", getpid(), "_", counter.fetch_add(1), "_",
                   absl::ToUnixMicros(absl::Now()) % 1000000);
  absl::Status created =
      ExecuteWithIdentifier(server_url, "CREATE SCHEMA %I", name);
  if (!created.ok()) return created;
  return std::unique_ptr<TestPostgresSchema>(
      new TestPostgresSchema(server_url, name));
}

TestPostgresSchema::~TestPostgresSchema() {
  ExecuteWithIdentifier(server_url_, "DROP SCHEMA %I CASCADE", name_)
      .IgnoreError();
}

absl::StatusOr<std::unique_ptr<PrivatePostgresServer>>
PrivatePostgresServer::Start() {
  std::string directory = MakeTempDirectory();
  if (directory.empty()) {
    return absl::InternalError("cannot create a temporary directory");
  }
  std::unique_ptr<PrivatePostgresServer> server(
      new PrivatePostgresServer(directory));
  absl::Status started = RunScript("start", directory);
  if (!started.ok()) return started;

  std::ifstream env(absl::StrCat(directory, "/env"));
  std::string line;
  while (std::getline(env, line)) {
    absl::string_view value = line;
    if (absl::ConsumePrefix(&value,
                            absl::StrCat("export ", kUrlVariable, "='"))) {
      server->url_ = std::string(absl::StripSuffix(value, "'"));
    }
  }
  if (server->url_.empty()) {
    return absl::InternalError(
        absl::StrCat("no ", kUrlVariable, " in ", directory, "/env"));
  }
  return server;
}

PrivatePostgresServer::~PrivatePostgresServer() {
  RunScript("stop", directory_).IgnoreError();
}

absl::Status PrivatePostgresServer::StopServer() {
  return RunScript("server-stop", directory_);
}

absl::Status PrivatePostgresServer::StartServer() {
  return RunScript("server-start", directory_);
}

std::string PrivatePostgresServer::password() const {
  absl::StatusOr<PostgresStoreUrl> parsed = ParsePostgresStoreUrl(url_);
  return parsed.ok() ? parsed->password : "";
}

}  // namespace paymento::bridge::test_support
