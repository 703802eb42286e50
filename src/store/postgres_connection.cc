#include "src/store/postgres_connection.h"

#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "src/logging/log.h"

namespace paymento::bridge {
namespace {

// Type OIDs from PostgreSQL's catalog (pg_type.dat). They are fixed by the
// server and the same in every installation; the server headers that name
// them are not part of libpq-dev.
constexpr Oid kBoolOid = 16;
constexpr Oid kByteaOid = 17;
constexpr Oid kInt8Oid = 20;
constexpr Oid kInt2Oid = 21;
constexpr Oid kInt4Oid = 23;
constexpr Oid kTextOid = 25;
constexpr Oid kTimestampOid = 1114;
constexpr Oid kTimestamptzOid = 1184;

// The array type of each element type that PgParam::Array takes, from
// PostgreSQL's catalog pg_type (typarray).
Oid ArrayTypeOf(Oid element) {
  switch (element) {
    case kBoolOid:
      return 1000;
    case kByteaOid:
      return 1001;
    case kInt8Oid:
      return 1016;
    case kTextOid:
      return 1009;
    case kTimestamptzOid:
      return 1185;
  }
  return 0;
}

// Binary timestamps count microseconds from 2000-01-01 00:00:00 UTC.
constexpr int64_t kPostgresEpochUnixMicros = 946684800LL * 1000000;

// Prepared statements kept per connection. List builds its SQL from the
// filters it is given, so the number of shapes has no fixed bound; beyond
// this many, statements run unprepared.
constexpr size_t kMaxPreparedStatements = 256;

constexpr char kReplacementCharacter[] = "\xEF\xBF\xBD";

std::string BigEndian(uint64_t value, int bytes) {
  std::string encoded(bytes, '\0');
  for (int i = bytes - 1; i >= 0; --i) {
    encoded[i] = static_cast<char>(value & 0xFF);
    value >>= 8;
  }
  return encoded;
}

int64_t FromBigEndian(const char* data, int bytes) {
  uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) {
    value = (value << 8) | static_cast<unsigned char>(data[i]);
  }
  // Sign-extend values narrower than 64 bits.
  int shift = 64 - 8 * bytes;
  return static_cast<int64_t>(value << shift) >> shift;
}

// Returns the length of the UTF-8 sequence that starts at `at`, or 0 when
// it is invalid or a NUL byte.
size_t Utf8SequenceLength(absl::string_view text, size_t at) {
  auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  unsigned char lead = byte(at);
  if (lead == 0) return 0;
  if (lead < 0x80) return 1;
  size_t length = 0;
  unsigned char low = 0x80;
  unsigned char high = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;   // overlong
    if (lead == 0xED) high = 0x9F;  // UTF-16 surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;   // overlong
    if (lead == 0xF4) high = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (at + length > text.size()) return 0;
  if (byte(at + 1) < low || byte(at + 1) > high) return 0;
  for (size_t i = 2; i < length; ++i) {
    if (byte(at + i) < 0x80 || byte(at + i) > 0xBF) return 0;
  }
  return length;
}

// libpq messages span lines ("...failed: Connection refused\n\tIs the
// server running..."); a log field reads better on one.
std::string OneLine(absl::string_view message) {
  std::string line =
      absl::StrReplaceAll(absl::StripAsciiWhitespace(message),
                          {{"\r", " "}, {"\n", " "}, {"\t", ""}});
  return line;
}

}  // namespace

PgParam PgParam::Int64(int64_t value) {
  return PgParam(kInt8Oid, BigEndian(static_cast<uint64_t>(value), 8));
}

PgParam PgParam::Bool(bool value) {
  return PgParam(kBoolOid, std::string(1, value ? '\1' : '\0'));
}

PgParam PgParam::Text(absl::string_view value) {
  return PgParam(kTextOid, std::string(value));
}

PgParam PgParam::Bytea(absl::string_view value) {
  return PgParam(kByteaOid, std::string(value));
}

PgParam PgParam::Timestamp(absl::Time value) {
  int64_t micros = absl::ToUnixMicros(value) - kPostgresEpochUnixMicros;
  return PgParam(kTimestamptzOid, BigEndian(static_cast<uint64_t>(micros), 8));
}

PgParam PgParam::TimestampOrNull(absl::Time value) {
  if (value == absl::UnixEpoch()) return PgParam(kTimestamptzOid, "", true);
  return Timestamp(value);
}

PgParam PgParam::Array(const std::vector<PgParam>& elements) {
  // The binary array format: dimensions, a has-NULLs flag, the element
  // type, then the length and lower bound of the one dimension, then each
  // element's length (-1 for NULL) and bytes.
  Oid element = elements.empty() ? kTextOid : elements.front().type();
  bool has_null = false;
  std::string items;
  for (const PgParam& item : elements) {
    if (item.is_null()) {
      has_null = true;
      items += BigEndian(0xFFFFFFFFu, 4);
      continue;
    }
    items += BigEndian(item.bytes().size(), 4);
    items += item.bytes();
  }
  std::string bytes = BigEndian(1, 4);
  bytes += BigEndian(has_null ? 1 : 0, 4);
  bytes += BigEndian(element, 4);
  bytes += BigEndian(elements.size(), 4);
  bytes += BigEndian(1, 4);
  bytes += items;
  return PgParam(ArrayTypeOf(element), std::move(bytes));
}

int64_t PgResult::affected_rows() const {
  const char* count = PQcmdTuples(result_.get());
  if (count == nullptr || *count == '\0') return 0;
  return std::strtoll(count, nullptr, 10);
}

bool PgResult::IsNull(int row, int column) const {
  return PQgetisnull(result_.get(), row, column) != 0;
}

int64_t PgResult::Int64(int row, int column) const {
  if (IsNull(row, column)) return 0;
  const char* data = PQgetvalue(result_.get(), row, column);
  switch (PQftype(result_.get(), column)) {
    case kInt2Oid:
      return FromBigEndian(data, 2);
    case kInt4Oid:
      return FromBigEndian(data, 4);
    default:
      return FromBigEndian(data, 8);
  }
}

bool PgResult::Bool(int row, int column) const {
  if (IsNull(row, column)) return false;
  return *PQgetvalue(result_.get(), row, column) != 0;
}

absl::string_view PgResult::Bytes(int row, int column) const {
  return absl::string_view(PQgetvalue(result_.get(), row, column),
                           PQgetlength(result_.get(), row, column));
}

absl::Time PgResult::Timestamp(int row, int column) const {
  if (IsNull(row, column)) return absl::UnixEpoch();
  int64_t micros = FromBigEndian(PQgetvalue(result_.get(), row, column), 8);
  return absl::FromUnixMicros(micros + kPostgresEpochUnixMicros);
}

absl::StatusOr<std::unique_ptr<PostgresConnection>> PostgresConnection::Connect(
    const PostgresConnectionConfig& config) {
  // Keywords are applied in order and a later one wins, so the defaults come
  // before the URL (expanded from "dbname") and the URL can override them;
  // client_encoding comes after it because parameters are sent as UTF-8.
  // Keepalives let a connection to a host that vanished fail in about a
  // minute instead of hanging until the kernel gives up.
  const char* keywords[] = {"connect_timeout",
                            "keepalives",
                            "keepalives_idle",
                            "keepalives_interval",
                            "keepalives_count",
                            "application_name",
                            "dbname",
                            "client_encoding",
                            nullptr};
  const char* values[] = {
      "5",    "1",    "30", "10", "3", "paymento-bridge", config.url.c_str(),
      "UTF8", nullptr};
  PGconn* raw = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
  if (raw == nullptr) {
    return absl::ResourceExhaustedError(
        "cannot allocate a PostgreSQL connection");
  }
  // By default libpq prints notices, such as "drop cascades to ..." or a
  // server's message before it shuts down, to stderr. They go to the debug
  // log instead, because the errors that matter reach callers as statuses.
  PQsetNoticeProcessor(
      raw,
      [](void*, const char* message) {
        logging::Debug("PostgreSQL notice", {{"message", OneLine(message)}});
      },
      nullptr);
  std::unique_ptr<PostgresConnection> connection(
      new PostgresConnection(raw, config.password));
  if (PQstatus(raw) != CONNECTION_OK) {
    absl::Status error = connection->ErrorStatus(nullptr);
    return absl::UnavailableError(
        absl::StrCat("cannot connect to ", error.message()));
  }

  // A commit must be on disk before Append's future is ready. A database
  // or role configured with synchronous_commit=off would report commits
  // before the flush, so this session turns it back on; stronger settings
  // such as remote_apply are kept.
  absl::StatusOr<PgResult> setting =
      connection->Execute("SELECT current_setting('synchronous_commit')");
  if (!setting.ok()) return setting.status();
  if (setting->Bytes(0, 0) == "off") {
    absl::StatusOr<PgResult> raised = connection->Execute(
        "SELECT set_config('synchronous_commit', 'on', false)");
    if (!raised.ok()) return raised.status();
  }

  // The store's transactions send their statements back to back, so a
  // session idle inside a transaction for seconds belongs to a frozen or
  // cut-off process. It may hold the sequence counter's lock that every
  // replica's appends need, so the server ends such a session after 10 s.
  absl::StatusOr<PgResult> limited = connection->Execute(
      "SELECT set_config('idle_in_transaction_session_timeout', '10s', "
      "false)");
  if (!limited.ok()) return limited.status();
  return connection;
}

PostgresConnection::~PostgresConnection() { PQfinish(connection_); }

absl::Status PostgresConnection::ErrorStatus(const PGresult* result) const {
  const char* sql_state = result != nullptr
                              ? PQresultErrorField(result, PG_DIAG_SQLSTATE)
                              : nullptr;
  const char* primary =
      result != nullptr ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY)
                        : nullptr;
  std::string message =
      OneLine(primary != nullptr ? primary : PQerrorMessage(connection_));
  if (message.empty()) message = "unknown error";
  if (!password_.empty()) {
    absl::StrReplaceAll({{password_, "***"}}, &message);
  }
  absl::StatusCode code = absl::StatusCode::kUnavailable;
  if (!broken() && sql_state != nullptr) {
    code = StatusCodeFromSqlState(sql_state);
    absl::StrAppend(&message, " (SQLSTATE ", sql_state, ")");
  }
  return absl::Status(code, absl::StrCat("PostgreSQL: ", message));
}

absl::StatusOr<std::string> PostgresConnection::PreparedName(
    const std::string& sql, const std::vector<PgParam>& params) {
  auto found = prepared_.find(sql);
  if (found != prepared_.end()) return found->second;
  if (prepared_.size() >= kMaxPreparedStatements) return std::string();

  std::string name = absl::StrCat("paymento_", prepared_.size() + 1);
  std::vector<Oid> types;
  types.reserve(params.size());
  for (const PgParam& param : params) types.push_back(param.type());
  PGresult* prepared = PQprepare(connection_, name.c_str(), sql.c_str(),
                                 static_cast<int>(types.size()), types.data());
  PgResult result(prepared);
  if (prepared == nullptr || PQresultStatus(prepared) != PGRES_COMMAND_OK) {
    return ErrorStatus(prepared);
  }
  prepared_.emplace(sql, name);
  return name;
}

absl::StatusOr<PgResult> PostgresConnection::Execute(
    const std::string& sql, const std::vector<PgParam>& params) {
  absl::StatusOr<std::string> name = PreparedName(sql, params);
  if (!name.ok()) return name.status();

  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<int> formats(params.size(), 1);
  std::vector<Oid> types;
  for (const PgParam& param : params) {
    values.push_back(param.is_null() ? nullptr : param.bytes().data());
    lengths.push_back(static_cast<int>(param.bytes().size()));
    types.push_back(param.type());
  }
  int count = static_cast<int>(params.size());
  PGresult* raw =
      name->empty()
          ? PQexecParams(connection_, sql.c_str(), count, types.data(),
                         values.data(), lengths.data(), formats.data(),
                         /*resultFormat=*/1)
          : PQexecPrepared(connection_, name->c_str(), count, values.data(),
                           lengths.data(), formats.data(), /*resultFormat=*/1);
  PgResult result(raw);
  ExecStatusType status =
      raw != nullptr ? PQresultStatus(raw) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    return ErrorStatus(raw);
  }
  return result;
}

absl::Status PostgresConnection::ExecuteScript(const std::string& sql) {
  PGresult* raw = PQexec(connection_, sql.c_str());
  PgResult result(raw);
  ExecStatusType status =
      raw != nullptr ? PQresultStatus(raw) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    return ErrorStatus(raw);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<PgNotification>>
PostgresConnection::ReadNotifications() {
  if (PQconsumeInput(connection_) == 0) return ErrorStatus(nullptr);
  std::vector<PgNotification> notifications;
  while (PGnotify* notification = PQnotifies(connection_)) {
    notifications.push_back({notification->relname, notification->extra});
    PQfreemem(notification);
  }
  return notifications;
}

absl::StatusCode StatusCodeFromSqlState(absl::string_view sql_state) {
  absl::string_view state_class = sql_state.substr(0, 2);
  // Classes: 08 connection exception, 53 insufficient resources (disk
  // full, out of memory, too many connections), 57 operator intervention
  // (shutdown, query canceled), 40 transaction rollback (serialization
  // failure, deadlock). Codes: 55P03 lock not available, 25006 read-only
  // transaction, as on a primary that became a standby in a failover.
  if (state_class == "08" || state_class == "53" || state_class == "57" ||
      state_class == "40" || sql_state == "55P03" || sql_state == "25006") {
    return absl::StatusCode::kUnavailable;
  }
  return absl::StatusCode::kInternal;
}

bool IsStorableText(absl::string_view text) {
  for (size_t at = 0; at < text.size();) {
    size_t length = Utf8SequenceLength(text, at);
    if (length == 0) return false;
    at += length;
  }
  return true;
}

std::string ToStorableText(absl::string_view text) {
  std::string storable;
  storable.reserve(text.size());
  for (size_t at = 0; at < text.size();) {
    size_t length = Utf8SequenceLength(text, at);
    if (length == 0) {
      storable.append(kReplacementCharacter);
      at += 1;
    } else {
      storable.append(text.data() + at, length);
      at += length;
    }
  }
  return storable;
}

}  // namespace paymento::bridge
