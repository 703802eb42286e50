// `paymento-bridge backup`: copies a SQLite store into a new file with
// SQLite's online backup API, also while the service is running.
//
// The copy is made in one backup step, which reads the whole database inside
// one read transaction. In WAL mode that transaction does not block the
// service's writer, and it reads one snapshot, so the copy contains every
// event committed before it began and no partly written transaction. The
// copy is written to FILE.partial, checked with PRAGMA quick_check, switched
// to a single-file journal mode and renamed to FILE only when complete.
#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "src/cli/commands.h"
#include "src/config/flag_parser.h"
#include "src/store/store_url.h"

namespace paymento::bridge {
namespace {

constexpr char kUsage[] =
    "usage: paymento-bridge backup --from sqlite://PATH --to FILE\n\n"
    "Copies the SQLite store at PATH into the new file FILE, also while the\n"
    "service runs. The copy contains every event committed before it\n"
    "began.\n"
    "To restore, stop the service, remove PATH and its -wal and -shm files,\n"
    "copy FILE to PATH and start the service. Events stored after the\n"
    "backup are lost, and their sequence numbers are given to new events:\n"
    "tail clients should resume by time (see the README).";

// How long a backup step is retried while another connection holds a lock
// that the read transaction cannot pass.
constexpr absl::Duration kBusyRetryLimit = absl::Seconds(60);

struct ConnectionCloser {
  void operator()(sqlite3* db) const { sqlite3_close(db); }
};
using Connection = std::unique_ptr<sqlite3, ConnectionCloser>;

absl::Status SqliteError(absl::string_view action, sqlite3* db) {
  return absl::UnavailableError(absl::StrCat(
      action, ": ", db != nullptr ? sqlite3_errmsg(db) : "out of memory"));
}

absl::StatusOr<Connection> OpenDatabase(const std::string& path, int flags) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  Connection connection(db);
  if (rc != SQLITE_OK) {
    return SqliteError(absl::StrCat("cannot open ", path), db);
  }
  sqlite3_busy_timeout(db, 5000);
  return connection;
}

// Returns the single text value of a one-row query.
absl::StatusOr<std::string> QueryText(sqlite3* db, const char* sql) {
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &statement, nullptr) != SQLITE_OK) {
    return SqliteError(absl::StrCat("cannot run ", sql), db);
  }
  std::string value;
  int rc = sqlite3_step(statement);
  if (rc == SQLITE_ROW && sqlite3_column_text(statement, 0) != nullptr) {
    value = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
  }
  sqlite3_finalize(statement);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    return SqliteError(absl::StrCat("cannot run ", sql), db);
  }
  return value;
}

absl::Status CopyDatabase(sqlite3* source, sqlite3* destination) {
  sqlite3_backup* backup =
      sqlite3_backup_init(destination, "main", source, "main");
  if (backup == nullptr) {
    return SqliteError("cannot start the backup", destination);
  }
  absl::Time give_up = absl::Now() + kBusyRetryLimit;
  int rc = SQLITE_OK;
  for (;;) {
    rc = sqlite3_backup_step(backup, -1);
    bool busy = rc == SQLITE_BUSY || rc == SQLITE_LOCKED;
    if (!busy || absl::Now() > give_up) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  int finished = sqlite3_backup_finish(backup);
  if (rc != SQLITE_DONE) {
    return absl::UnavailableError(
        absl::StrCat("backup step failed: ", sqlite3_errstr(rc)));
  }
  if (finished != SQLITE_OK) {
    return SqliteError("cannot finish the backup", destination);
  }
  return absl::OkStatus();
}

// Checks the copy and switches it to rollback-journal mode. The source is in
// WAL mode, and a copy in rollback-journal mode is one self-contained file.
absl::Status FinishCopy(sqlite3* copy) {
  absl::StatusOr<std::string> check = QueryText(copy, "PRAGMA quick_check");
  if (!check.ok()) return check.status();
  if (*check != "ok") {
    return absl::DataLossError(
        absl::StrCat("the copy fails PRAGMA quick_check: ", *check));
  }
  absl::StatusOr<std::string> mode =
      QueryText(copy, "PRAGMA journal_mode=DELETE");
  if (!mode.ok()) return mode.status();
  return absl::OkStatus();
}

void SyncDirectory(const std::filesystem::path& file) {
  std::filesystem::path directory = file.parent_path();
  int fd = open(directory.empty() ? "." : directory.c_str(),
                O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  fsync(fd);
  close(fd);
}

absl::Status BackupSqlite(const std::string& source_path,
                          const std::string& destination) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(source_path, error)) {
    return absl::NotFoundError(
        absl::StrCat("no SQLite store at ", source_path));
  }
  std::string partial = absl::StrCat(destination, ".partial");
  std::filesystem::remove(partial, error);

  // Read-write lets SQLite create the -shm file that a WAL database needs
  // when the service is not running. The backup itself only reads, and a
  // read-only store falls back to a read-only connection.
  absl::StatusOr<Connection> source =
      OpenDatabase(source_path, SQLITE_OPEN_READWRITE);
  if (!source.ok()) source = OpenDatabase(source_path, SQLITE_OPEN_READONLY);
  if (!source.ok()) return source.status();
  absl::StatusOr<Connection> copy =
      OpenDatabase(partial, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  if (!copy.ok()) return copy.status();

  absl::Status status = CopyDatabase(source->get(), copy->get());
  if (status.ok()) status = FinishCopy(copy->get());
  copy->reset();
  if (!status.ok()) {
    std::filesystem::remove(partial, error);
    return status;
  }
  std::filesystem::rename(partial, destination, error);
  if (error) {
    return absl::UnavailableError(absl::StrCat(
        "cannot rename ", partial, " to ", destination, ": ", error.message()));
  }
  SyncDirectory(destination);
  return absl::OkStatus();
}

}  // namespace

int RunBackup(const std::vector<std::string>& args) {
  FlagParser parser(ProcessEnvironment());
  parser.AddSwitch("help", "Print this help and exit.");
  parser.Add("from", "", "Store to copy: sqlite://PATH.");
  parser.Add("to", "", "New file to write the copy to; must not exist.");
  absl::Status parsed = parser.Parse(args);
  if (!parsed.ok()) {
    std::cerr << parsed.message() << "\n";
    return 2;
  }
  if (parser.IsSet("help")) {
    std::cout << kUsage << "\n\nflags:\n" << parser.Usage();
    return 0;
  }
  const std::string& from = parser.Get("from");
  const std::string& to = parser.Get("to");
  if (from.empty() || to.empty() || !parser.positional().empty()) {
    if (from.empty()) std::cerr << "missing --from: the store to copy\n";
    if (to.empty()) std::cerr << "missing --to: the file to create\n";
    if (!parser.positional().empty()) {
      std::cerr << "unexpected argument \"" << parser.positional().front()
                << "\"\n";
    }
    std::cerr << kUsage << "\n";
    return 2;
  }
  absl::StatusOr<StoreUrl> url = ParseStoreUrl(from);
  if (!url.ok()) {
    std::cerr << url.status().message() << "\n";
    return 2;
  }
  if (url->kind != StoreUrl::Kind::kSqlite) {
    std::cerr << "backup copies SQLite stores only: back up PostgreSQL with "
                 "pg_dump\n";
    return 2;
  }
  std::error_code error;
  if (std::filesystem::exists(to, error)) {
    std::cerr << "--to " << to << " already exists: choose a new file\n";
    return 2;
  }

  absl::Time begin = absl::Now();
  absl::Status copied = BackupSqlite(url->target, to);
  if (!copied.ok()) {
    std::cerr << "backup of " << MaskStoreUrl(from)
              << " failed: " << copied.message() << "\n";
    return 1;
  }
  std::cout << "backed up " << MaskStoreUrl(from) << " to " << to << " in "
            << absl::FormatDuration(absl::Now() - begin) << "\n";
  return 0;
}

}  // namespace paymento::bridge
