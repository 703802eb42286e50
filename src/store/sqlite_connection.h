// Thin RAII wrappers over the SQLite C API: a connection with a cache of
// prepared statements, and a statement that resets itself when released.
//
// A SqliteConnection is not thread-safe: one thread uses it at a time, which
// the owner guarantees with its own lock or pool.
#ifndef PAYMENTO_BRIDGE_SRC_STORE_SQLITE_CONNECTION_H_
#define PAYMENTO_BRIDGE_SRC_STORE_SQLITE_CONNECTION_H_

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace paymento::bridge {

// A prepared statement borrowed from a connection's cache. Binding indexes
// start at 1, column indexes at 0, as in SQLite.
class SqliteStatement {
 public:
  explicit SqliteStatement(sqlite3_stmt* statement) : statement_(statement) {}
  ~SqliteStatement();
  SqliteStatement(SqliteStatement&& other) noexcept
      : statement_(other.statement_) {
    other.statement_ = nullptr;
  }
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;

  // How SQLite keeps a bound text or blob. kBorrowed skips the copy, so the
  // bytes must stay unchanged until the statement is reset or destroyed.
  enum class Binding { kCopied, kBorrowed };

  void BindInt64(int index, int64_t value);
  void BindText(int index, absl::string_view value,
                Binding binding = Binding::kCopied);
  void BindBlob(int index, absl::string_view value,
                Binding binding = Binding::kCopied);
  void BindNull(int index);

  // Clears the bindings and rewinds, to run the statement again.
  void Reset();

  // Steps once: true with a row, false when done. Errors carry the SQLite
  // message.
  absl::StatusOr<bool> Step();
  // Steps to completion, for statements that return no rows.
  absl::Status Run();

  int64_t ColumnInt64(int column) const;
  bool ColumnIsNull(int column) const;
  absl::string_view ColumnText(int column) const;
  absl::string_view ColumnBlob(int column) const;

 private:
  sqlite3_stmt* statement_;
};

class SqliteConnection {
 public:
  // Opens `path` with sqlite3_open_v2 `flags`: by default read-write, and
  // created when missing.
  static absl::StatusOr<std::unique_ptr<SqliteConnection>> Open(
      const std::string& path,
      int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  ~SqliteConnection();

  absl::Status Execute(absl::string_view sql);
  // Returns a cached prepared statement for `sql`, prepared on first use.
  absl::StatusOr<SqliteStatement> Prepare(absl::string_view sql);

  sqlite3* handle() { return db_; }
  std::string LastError() const;

 private:
  explicit SqliteConnection(sqlite3* db) : db_(db) {}

  sqlite3* db_;
  // Prepared statements by SQL text, found without copying the text,
  // because the writer looks up two of them per stored event.
  absl::flat_hash_map<std::string, sqlite3_stmt*> statements_;
};

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_STORE_SQLITE_CONNECTION_H_
