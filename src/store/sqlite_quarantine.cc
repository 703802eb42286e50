// The quarantine of SqliteEventStore: listing, reading and deleting
// quarantined requests, and the cap that keeps the table bounded.
//
// The cap counts requests and stored bytes (body bytes plus header
// characters). Quarantine() trims after each insert, oldest first, and
// always keeps the newest record, so a request larger than the byte cap is
// still kept until the next one arrives.
#include <sqlite3.h>

#include <cstdint>
#include <limits>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "src/store/sqlite_event_store.h"

namespace paymento::bridge {
namespace {

constexpr int64_t kMaxQuarantinedRequests = 10000;
constexpr int64_t kMaxQuarantineBytes = int64_t{64} << 20;

// The columns every query reads, in this order. GetQuarantined adds the
// body and its hash.
constexpr char kRecordColumns[] =
    "id, received_at_us, reason, route, event_id, headers, length(body)";

QuarantineRecord ReadRecordColumns(const SqliteStatement& row) {
  QuarantineRecord record;
  record.id = row.ColumnInt64(0);
  record.received_at = absl::FromUnixMicros(row.ColumnInt64(1));
  record.reason = std::string(row.ColumnText(2));
  record.route = std::string(row.ColumnText(3));
  record.event_id = std::string(row.ColumnText(4));
  record.headers = std::string(row.ColumnText(5));
  record.body_size = row.ColumnInt64(6);
  return record;
}

}  // namespace

absl::StatusOr<std::vector<QuarantineRecord>> SqliteEventStore::ListQuarantined(
    int64_t after_id, int limit) {
  absl::StatusOr<ReadLease> reader = BorrowReader();
  if (!reader.ok()) return reader.status();
  absl::StatusOr<SqliteStatement> query = (*reader)->Prepare(
      absl::StrCat("SELECT ", kRecordColumns,
                   " FROM quarantine WHERE id < ?1 ORDER BY id DESC"
                   " LIMIT ?2"));
  if (!query.ok()) return query.status();
  query->BindInt64(
      1, after_id > 0 ? after_id : std::numeric_limits<int64_t>::max());
  query->BindInt64(2, limit);

  std::vector<QuarantineRecord> records;
  for (;;) {
    absl::StatusOr<bool> row = query->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    records.push_back(ReadRecordColumns(*query));
  }
  return records;
}

absl::StatusOr<std::optional<QuarantineRecord>>
SqliteEventStore::GetQuarantined(int64_t id) {
  absl::StatusOr<ReadLease> reader = BorrowReader();
  if (!reader.ok()) return reader.status();
  absl::StatusOr<SqliteStatement> query = (*reader)->Prepare(
      absl::StrCat("SELECT ", kRecordColumns,
                   ", body, body_sha256 FROM quarantine WHERE id = ?1"));
  if (!query.ok()) return query.status();
  query->BindInt64(1, id);

  absl::StatusOr<bool> row = query->Step();
  if (!row.ok()) return row.status();
  if (!*row) return std::nullopt;
  QuarantineRecord record = ReadRecordColumns(*query);
  record.body = std::string(query->ColumnBlob(7));
  record.body_sha256 = std::string(query->ColumnBlob(8));
  return record;
}

absl::Status SqliteEventStore::DeleteQuarantined(int64_t id) {
  absl::MutexLock lock(&writer_mu_);
  absl::Status in_place = file_lock_.CheckInPlace(path_);
  if (!in_place.ok()) return in_place;
  absl::StatusOr<SqliteStatement> remove =
      writer_->Prepare("DELETE FROM quarantine WHERE id = ?1");
  if (!remove.ok()) return remove.status();
  remove->BindInt64(1, id);
  absl::Status removed = remove->Run();
  if (!removed.ok()) return removed;
  if (sqlite3_changes(writer_->handle()) == 0) {
    return absl::NotFoundError(
        absl::StrCat("no quarantined request with id ", id,
                     ": list them with ListQuarantined"));
  }
  return absl::OkStatus();
}

absl::Status SqliteEventStore::TrimQuarantineLocked() {
  absl::StatusOr<SqliteStatement> totals = writer_->Prepare(
      "SELECT COUNT(*), COALESCE(SUM(length(body) + length(headers)), 0)"
      " FROM quarantine");
  if (!totals.ok()) return totals.status();
  absl::StatusOr<bool> row = totals->Step();
  if (!row.ok()) return row.status();
  int64_t count = totals->ColumnInt64(0);
  int64_t bytes = totals->ColumnInt64(1);
  // An autocommit write commits only once no statement of the connection is
  // still stepping, so each read is reset before the DELETE.
  totals->Reset();
  if (count <= kMaxQuarantinedRequests && bytes <= kMaxQuarantineBytes) {
    return absl::OkStatus();
  }

  // Finds the newest record past either cap, counting from the newest. It
  // and every older record are deleted.
  absl::StatusOr<SqliteStatement> boundary = writer_->Prepare(
      "SELECT id FROM (SELECT id,"
      " ROW_NUMBER() OVER (ORDER BY id DESC) AS position,"
      " SUM(length(body) + length(headers)) OVER (ORDER BY id DESC"
      "   ROWS UNBOUNDED PRECEDING) AS total"
      " FROM quarantine)"
      " WHERE position > 1 AND (position > ?1 OR total > ?2)"
      " ORDER BY id DESC LIMIT 1");
  if (!boundary.ok()) return boundary.status();
  boundary->BindInt64(1, kMaxQuarantinedRequests);
  boundary->BindInt64(2, kMaxQuarantineBytes);
  absl::StatusOr<bool> found = boundary->Step();
  if (!found.ok()) return found.status();
  if (!*found) return absl::OkStatus();
  int64_t newest_evicted = boundary->ColumnInt64(0);
  boundary->Reset();

  absl::StatusOr<SqliteStatement> evict =
      writer_->Prepare("DELETE FROM quarantine WHERE id <= ?1");
  if (!evict.ok()) return evict.status();
  evict->BindInt64(1, newest_evicted);
  return evict->Run();
}

}  // namespace paymento::bridge
