// The quarantine of PostgresEventStore: storing, listing, reading and
// deleting quarantined requests, and the cap that keeps the table bounded.
//
// The cap counts requests and stored bytes (body plus header bytes).
// Quarantine() trims after each insert, oldest first, and always keeps the
// newest record, so a request larger than the byte cap is still kept until
// the next one arrives. Replicas may trim at the same time; they delete
// overlapping sets of the oldest rows, which is harmless.
#include <cstdint>
#include <limits>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "src/store/postgres_event_store.h"
#include "src/store/postgres_query.h"

namespace paymento::bridge {
namespace {

constexpr int64_t kMaxQuarantinedRequests = 10000;
constexpr int64_t kMaxQuarantineBytes = int64_t{64} << 20;

// The columns every query reads, in this order; GetQuarantined adds the
// body and its hash.
constexpr char kRecordColumns[] =
    "id, received_at, reason, route, event_id, headers, octet_length(body)";

QuarantineRecord ReadRecordColumns(const PgResult& rows, int row) {
  QuarantineRecord record;
  record.id = rows.Int64(row, 0);
  record.received_at = rows.Timestamp(row, 1);
  record.reason = std::string(rows.Bytes(row, 2));
  record.route = std::string(rows.Bytes(row, 3));
  record.event_id = std::string(rows.Bytes(row, 4));
  record.headers = std::string(rows.Bytes(row, 5));
  record.body_size = rows.Int64(row, 6);
  return record;
}

}  // namespace

absl::StatusOr<int64_t> PostgresEventStore::Quarantine(
    QuarantineRecord record) {
  // Reason, route and event id describe the request; headers and body are
  // its exact bytes and go to bytea columns. A verified request is never
  // dropped for a byte text cannot hold, so those text fields are made
  // storable instead.
  std::string reason = ToStorableText(record.reason);
  std::string route = ToStorableText(record.route);
  std::string event_id = ToStorableText(record.event_id);
  int64_t id = 0;
  absl::Status status =
      RunTransaction([&](PostgresConnection& connection) -> absl::Status {
        absl::StatusOr<PgResult> inserted = connection.Execute(
            "INSERT INTO quarantine (received_at, reason, route, event_id,"
            " headers, body, body_sha256) VALUES ($1, $2, $3, $4, $5, $6, $7)"
            " ON CONFLICT DO NOTHING",
            {PgParam::Timestamp(record.received_at), PgParam::Text(reason),
             PgParam::Text(route), PgParam::Text(event_id),
             PgParam::Bytea(record.headers), PgParam::Bytea(record.body),
             PgParam::Bytea(record.body_sha256)});
        if (!inserted.ok()) return inserted.status();
        // The record with these headers, or, while the schema still merges
        // by body and reason, the record this request merged into.
        absl::StatusOr<PgResult> found = connection.Execute(
            "SELECT id FROM quarantine WHERE body_sha256 = $1"
            " AND reason = $2"
            " ORDER BY sha256(headers) = sha256($3) DESC, id LIMIT 1",
            {PgParam::Bytea(record.body_sha256), PgParam::Text(reason),
             PgParam::Bytea(record.headers)});
        if (!found.ok()) return found.status();
        if (found->rows() > 0) id = found->Int64(0, 0);
        return TrimQuarantine(connection);
      });
  if (!status.ok()) return status;
  return id;
}

absl::StatusOr<std::vector<QuarantineRecord>>
PostgresEventStore::ListQuarantined(int64_t after_id, int limit) {
  return pool_.Run([&](PostgresConnection& connection)
                       -> absl::StatusOr<std::vector<QuarantineRecord>> {
    absl::StatusOr<PgResult> rows = connection.Execute(
        absl::StrCat("SELECT ", kRecordColumns,
                     " FROM quarantine WHERE id < $1 ORDER BY id DESC"
                     " LIMIT $2"),
        {PgParam::Int64(after_id > 0 ? after_id
                                     : std::numeric_limits<int64_t>::max()),
         PgParam::Int64(RowLimit(limit))});
    if (!rows.ok()) return rows.status();
    std::vector<QuarantineRecord> records;
    for (int row = 0; row < rows->rows(); ++row) {
      records.push_back(ReadRecordColumns(*rows, row));
    }
    return records;
  });
}

absl::StatusOr<std::optional<QuarantineRecord>>
PostgresEventStore::GetQuarantined(int64_t id) {
  return pool_.Run([&](PostgresConnection& connection)
                       -> absl::StatusOr<std::optional<QuarantineRecord>> {
    absl::StatusOr<PgResult> rows = connection.Execute(
        absl::StrCat("SELECT ", kRecordColumns,
                     ", body, body_sha256 FROM quarantine WHERE id = $1"),
        {PgParam::Int64(id)});
    if (!rows.ok()) return rows.status();
    if (rows->rows() == 0) return std::nullopt;
    QuarantineRecord record = ReadRecordColumns(*rows, 0);
    record.body = std::string(rows->Bytes(0, 7));
    record.body_sha256 = std::string(rows->Bytes(0, 8));
    return record;
  });
}

absl::Status PostgresEventStore::DeleteQuarantined(int64_t id) {
  return pool_.Run([&](PostgresConnection& connection) -> absl::Status {
    absl::StatusOr<PgResult> removed = connection.Execute(
        "DELETE FROM quarantine WHERE id = $1", {PgParam::Int64(id)});
    if (!removed.ok()) return removed.status();
    if (removed->affected_rows() == 0) {
      return absl::NotFoundError(
          absl::StrCat("no quarantined request with id ", id,
                       ": list them with ListQuarantined"));
    }
    return absl::OkStatus();
  });
}

absl::Status PostgresEventStore::TrimQuarantine(
    PostgresConnection& connection) {
  absl::StatusOr<PgResult> totals = connection.Execute(
      "SELECT COUNT(*),"
      " COALESCE(SUM(octet_length(body) + octet_length(headers)), 0)::bigint"
      " FROM quarantine");
  if (!totals.ok()) return totals.status();
  if (totals->Int64(0, 0) <= kMaxQuarantinedRequests &&
      totals->Int64(0, 1) <= kMaxQuarantineBytes) {
    return absl::OkStatus();
  }
  // The newest record past either cap, counting from the newest; it and
  // every older record go.
  return connection
      .Execute(
          "DELETE FROM quarantine WHERE id <= (SELECT id FROM (SELECT id,"
          " ROW_NUMBER() OVER (ORDER BY id DESC) AS position,"
          " SUM(octet_length(body) + octet_length(headers)) OVER"
          " (ORDER BY id DESC ROWS UNBOUNDED PRECEDING) AS total"
          " FROM quarantine) ranked"
          " WHERE position > 1 AND (position > $1 OR total > $2)"
          " ORDER BY id DESC LIMIT 1)",
          {PgParam::Int64(kMaxQuarantinedRequests),
           PgParam::Int64(kMaxQuarantineBytes)})
      .status();
}

}  // namespace paymento::bridge
