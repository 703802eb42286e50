#include "src/store/sqlite_connection.h"

#include "absl/strings/str_cat.h"
#include "src/store/sqlite_wal_vfs.h"

namespace paymento::bridge {

SqliteStatement::~SqliteStatement() {
  if (statement_ == nullptr) return;
  sqlite3_reset(statement_);
  sqlite3_clear_bindings(statement_);
}

void SqliteStatement::Reset() {
  sqlite3_reset(statement_);
  sqlite3_clear_bindings(statement_);
}

void SqliteStatement::BindInt64(int index, int64_t value) {
  sqlite3_bind_int64(statement_, index, value);
}

namespace {

sqlite3_destructor_type Destructor(SqliteStatement::Binding binding) {
  return binding == SqliteStatement::Binding::kBorrowed ? SQLITE_STATIC
                                                        : SQLITE_TRANSIENT;
}

}  // namespace

void SqliteStatement::BindText(int index, absl::string_view value,
                               Binding binding) {
  sqlite3_bind_text(statement_, index, value.data(),
                    static_cast<int>(value.size()), Destructor(binding));
}

void SqliteStatement::BindBlob(int index, absl::string_view value,
                               Binding binding) {
  sqlite3_bind_blob(statement_, index, value.data(),
                    static_cast<int>(value.size()), Destructor(binding));
}

void SqliteStatement::BindNull(int index) {
  sqlite3_bind_null(statement_, index);
}

absl::StatusOr<bool> SqliteStatement::Step() {
  int rc = sqlite3_step(statement_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return absl::UnavailableError(
      absl::StrCat("sqlite step failed: ",
                   sqlite3_errmsg(sqlite3_db_handle(statement_))));
}

absl::Status SqliteStatement::Run() {
  absl::StatusOr<bool> row = Step();
  while (row.ok() && *row) row = Step();
  return row.status();
}

int64_t SqliteStatement::ColumnInt64(int column) const {
  return sqlite3_column_int64(statement_, column);
}

bool SqliteStatement::ColumnIsNull(int column) const {
  return sqlite3_column_type(statement_, column) == SQLITE_NULL;
}

absl::string_view SqliteStatement::ColumnText(int column) const {
  const unsigned char* text = sqlite3_column_text(statement_, column);
  if (text == nullptr) return {};
  return absl::string_view(reinterpret_cast<const char*>(text),
                           sqlite3_column_bytes(statement_, column));
}

absl::string_view SqliteStatement::ColumnBlob(int column) const {
  const void* blob = sqlite3_column_blob(statement_, column);
  if (blob == nullptr) return {};
  return absl::string_view(static_cast<const char*>(blob),
                           sqlite3_column_bytes(statement_, column));
}

absl::StatusOr<std::unique_ptr<SqliteConnection>> SqliteConnection::Open(
    const std::string& path, int flags) {
  absl::Status registered = RegisterGatheredWalVfs();
  if (!registered.ok()) return registered;
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX,
                           kGatheredWalVfs);
  if (rc != SQLITE_OK) {
    std::string message = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    absl::string_view hint =
        (flags & SQLITE_OPEN_CREATE) != 0
            ? "check that the directory exists and is writable"
            : "check that the file exists and is readable";
    return absl::UnavailableError(absl::StrCat(
        "cannot open SQLite database ", path, ": ", message, "; ", hint));
  }
  sqlite3_extended_result_codes(db, 1);
  return std::unique_ptr<SqliteConnection>(new SqliteConnection(db));
}

SqliteConnection::~SqliteConnection() {
  for (auto& [sql, statement] : statements_) sqlite3_finalize(statement);
  sqlite3_close(db_);
}

absl::Status SqliteConnection::Execute(absl::string_view sql) {
  char* error = nullptr;
  int rc = sqlite3_exec(db_, std::string(sql).c_str(), nullptr, nullptr,
                        &error);
  if (rc == SQLITE_OK) return absl::OkStatus();
  std::string message = error != nullptr ? error : sqlite3_errstr(rc);
  sqlite3_free(error);
  return absl::UnavailableError(absl::StrCat("sqlite: ", message));
}

absl::StatusOr<SqliteStatement> SqliteConnection::Prepare(
    absl::string_view sql) {
  auto found = statements_.find(sql);
  if (found != statements_.end()) return SqliteStatement(found->second);
  sqlite3_stmt* statement = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &statement, nullptr);
  if (rc != SQLITE_OK) {
    return absl::InternalError(
        absl::StrCat("sqlite prepare failed: ", sqlite3_errmsg(db_)));
  }
  statements_.emplace(std::string(sql), statement);
  return SqliteStatement(statement);
}

std::string SqliteConnection::LastError() const { return sqlite3_errmsg(db_); }

}  // namespace paymento::bridge
