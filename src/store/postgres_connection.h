// Thin RAII wrappers over libpq: a connection with a cache of prepared
// statements, typed query parameters, and results read in binary format.
//
// Every value reaches the server as a bound parameter of a prepared or
// parameterized statement and is never spliced into SQL text. Parameters
// and results both use PostgreSQL's binary format, so integers, times and
// bytea values cross the wire without text conversion or escaping.
//
// A PostgresConnection is not thread-safe: one thread uses it at a time,
// which its owner guarantees with its own lock, pool or thread.
#ifndef PAYMENTO_BRIDGE_SRC_STORE_POSTGRES_CONNECTION_H_
#define PAYMENTO_BRIDGE_SRC_STORE_POSTGRES_CONNECTION_H_

#include <libpq-fe.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace paymento::bridge {

// One statement parameter with its PostgreSQL type, sent in binary format.
class PgParam {
 public:
  static PgParam Int64(int64_t value);
  static PgParam Bool(bool value);
  // Text must be valid UTF-8 without NUL bytes; see IsStorableText.
  static PgParam Text(absl::string_view value);
  static PgParam Bytea(absl::string_view value);
  static PgParam Timestamp(absl::Time value);
  // A timestamptz that is NULL when `value` is absl::UnixEpoch(), the
  // "never" of DeliveryRecord.
  static PgParam TimestampOrNull(absl::Time value);
  // A one-dimensional array of `elements`, which must all have the same
  // type: int8, bool, text, bytea or timestamptz. An empty array is sent
  // as text[].
  static PgParam Array(const std::vector<PgParam>& elements);

  Oid type() const { return type_; }
  bool is_null() const { return is_null_; }
  const std::string& bytes() const { return bytes_; }

 private:
  PgParam(Oid type, std::string bytes, bool is_null = false)
      : type_(type), bytes_(std::move(bytes)), is_null_(is_null) {}

  Oid type_;
  std::string bytes_;
  bool is_null_;
};

// The result of one statement, with rows in binary format. Column readers
// take the row and column index, both from 0, and expect the column types
// they name; integers of any width read through Int64.
class PgResult {
 public:
  explicit PgResult(PGresult* result) : result_(result, &PQclear) {}

  int rows() const { return PQntuples(result_.get()); }
  // Rows inserted, updated or deleted by the statement.
  int64_t affected_rows() const;

  bool IsNull(int row, int column) const;
  int64_t Int64(int row, int column) const;
  bool Bool(int row, int column) const;
  // The raw bytes of a text or bytea value.
  absl::string_view Bytes(int row, int column) const;
  // A timestamptz value; absl::UnixEpoch() for NULL.
  absl::Time Timestamp(int row, int column) const;

 private:
  std::unique_ptr<PGresult, void (*)(PGresult*)> result_;
};

// One notification received through LISTEN.
struct PgNotification {
  std::string channel;
  std::string payload;
};

// Connection settings of one store.
struct PostgresConnectionConfig {
  // A libpq connection URI, without the store's own query parameters.
  std::string url;
  // The password the URL contains, if any: removed from every error message
  // as a precaution, since messages end up in logs.
  std::string password;
};

class PostgresConnection {
 public:
  // Connects and prepares the session. The URL's own settings win over the
  // defaults set here (connect_timeout, TCP keepalives, application_name);
  // the password may also come from PGPASSWORD or the file PGPASSFILE
  // names, as libpq reads them. Fails with UNAVAILABLE.
  static absl::StatusOr<std::unique_ptr<PostgresConnection>> Connect(
      const PostgresConnectionConfig& config);
  ~PostgresConnection();
  PostgresConnection(const PostgresConnection&) = delete;
  PostgresConnection& operator=(const PostgresConnection&) = delete;

  // Runs one statement with `params` bound to $1, $2, ... The statement is
  // prepared on first use and reused after. Errors carry the server's
  // message and SQLSTATE; see StatusCodeFromSqlState for their codes.
  absl::StatusOr<PgResult> Execute(const std::string& sql,
                                   const std::vector<PgParam>& params = {});
  // Runs constant SQL that may hold several statements, such as a schema
  // migration, through the simple query protocol. Never pass values here.
  absl::Status ExecuteScript(const std::string& sql);

  // Reads what the server sent without blocking and returns the
  // notifications received on any channel this session listens to.
  absl::StatusOr<std::vector<PgNotification>> ReadNotifications();

  // True once the connection to the server is lost; the owner then drops
  // it and connects anew.
  bool broken() const { return PQstatus(connection_) != CONNECTION_OK; }
  // The socket, to wait on for notifications.
  int socket() const { return PQsocket(connection_); }
  absl::Time connected_at() const { return connected_at_; }

 private:
  PostgresConnection(PGconn* connection, std::string password)
      : connection_(connection), password_(std::move(password)) {}

  // The current error of the connection or of `result`, as a Status.
  absl::Status ErrorStatus(const PGresult* result) const;
  // Returns the name of the prepared statement for `sql`, preparing it with
  // the types of `params` on first use; empty when the cache is full.
  absl::StatusOr<std::string> PreparedName(const std::string& sql,
                                           const std::vector<PgParam>& params);

  PGconn* connection_;
  const std::string password_;
  const absl::Time connected_at_ = absl::Now();
  std::map<std::string, std::string> prepared_;
};

// Maps a SQLSTATE to a status code. Errors that a retry can cure map to
// UNAVAILABLE: connection exceptions, insufficient resources such as a full
// disk, operator intervention such as a shutdown, serialization failures,
// deadlocks, and lock and statement timeouts. Everything else is INTERNAL.
absl::StatusCode StatusCodeFromSqlState(absl::string_view sql_state);

// Whether PostgreSQL's text type can store `text`: valid UTF-8 and no NUL
// byte.
bool IsStorableText(absl::string_view text);

// Replaces what text cannot store (invalid UTF-8, NUL) with U+FFFD, for
// fields that only describe something and need not be exact.
std::string ToStorableText(absl::string_view text);

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_STORE_POSTGRES_CONNECTION_H_
