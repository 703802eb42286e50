// The size cap of SqliteEventStore's quarantine: 10,000 requests or 64 MiB,
// whichever comes first, the oldest going first. Rows are filled in with
// SQLite directly, in one transaction, because 10,000 requests quarantined
// one by one would take one fsync each.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "src/ingress/webhook_handler.h"
#include "src/store/sqlite_event_store.h"
#include "tests/testing/bridge_process.h"

namespace paymento::bridge {
namespace {

constexpr int64_t kMaxRequests = 10000;
constexpr int64_t kMaxBytes = int64_t{64} << 20;

class QuarantineCapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = absl::StrCat(test_support::MakeTempDirectory(), "/events.db");
    // Creates the schema.
    auto store = SqliteEventStore::Open(path_);
    ASSERT_TRUE(store.ok()) << store.status();
  }

  // Inserts `count` records with `body_bytes` bodies in one transaction.
  void Fill(int count, size_t body_bytes) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_stmt* insert = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(
                  db,
                  "INSERT INTO quarantine (received_at_us, reason, route,"
                  " headers, body, body_sha256) VALUES (0, 'malformed: x',"
                  " 'webhook', '', zeroblob(?1), ?2)",
                  -1, &insert, nullptr),
              SQLITE_OK);
    for (int i = 0; i < count; ++i) {
      std::string hash = absl::StrCat("fill-", filled_++);
      sqlite3_bind_int64(insert, 1, static_cast<sqlite3_int64>(body_bytes));
      sqlite3_bind_blob(insert, 2, hash.data(), static_cast<int>(hash.size()),
                        SQLITE_TRANSIENT);
      ASSERT_EQ(sqlite3_step(insert), SQLITE_DONE);
      sqlite3_reset(insert);
    }
    sqlite3_finalize(insert);
    ASSERT_EQ(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }

  // Returns COUNT(*), SUM of body and header sizes, MIN(id) and MAX(id).
  std::vector<int64_t> Totals() {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* query = nullptr;
    sqlite3_prepare_v2(db,
                       "SELECT COUNT(*), COALESCE(SUM(length(body) +"
                       " length(headers)), 0), MIN(id), MAX(id)"
                       " FROM quarantine",
                       -1, &query, nullptr);
    sqlite3_step(query);
    std::vector<int64_t> totals;
    for (int column = 0; column < 4; ++column) {
      totals.push_back(sqlite3_column_int64(query, column));
    }
    sqlite3_finalize(query);
    sqlite3_close(db);
    return totals;
  }

  QuarantineRecord Record(std::string body) {
    QuarantineRecord record;
    record.received_at = absl::Now();
    record.reason = "malformed: body is not valid JSON";
    record.route = "webhook";
    record.headers = "X-Paymento-Signature: 00\n";
    record.body = std::move(body);
    record.body_sha256 = Sha256(record.body);
    return record;
  }

  std::string path_;
  int filled_ = 0;
};

TEST_F(QuarantineCapTest, OldestRequestGoesPastTenThousand) {
  Fill(kMaxRequests, 10);
  auto store = SqliteEventStore::Open(path_);
  ASSERT_TRUE(store.ok()) << store.status();

  absl::StatusOr<int64_t> id = (*store)->Quarantine(Record("one more"));
  ASSERT_TRUE(id.ok()) << id.status();
  std::vector<int64_t> totals = Totals();
  EXPECT_EQ(totals[0], kMaxRequests);
  EXPECT_EQ(totals[2], 2) << "the oldest request was not deleted";
  EXPECT_EQ(totals[3], *id);

  // The same bytes and reason again are not stored twice.
  absl::StatusOr<int64_t> again = (*store)->Quarantine(Record("one more"));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *id);
  EXPECT_EQ(Totals()[0], kMaxRequests);
}

TEST_F(QuarantineCapTest, OldestBytesGoPast64MiB) {
  // 63 records of 1 MiB, then one of 2 MiB: two of the oldest must go.
  Fill(63, 1 << 20);
  auto store = SqliteEventStore::Open(path_);
  ASSERT_TRUE(store.ok()) << store.status();
  absl::StatusOr<int64_t> id =
      (*store)->Quarantine(Record(std::string(2 << 20, 'x')));
  ASSERT_TRUE(id.ok()) << id.status();

  std::vector<int64_t> totals = Totals();
  EXPECT_LE(totals[1], kMaxBytes);
  EXPECT_EQ(totals[0], 62);
  EXPECT_EQ(totals[2], 3);
  EXPECT_EQ(totals[3], *id);
}

TEST_F(QuarantineCapTest, NewestIsKeptEvenOverTheCap) {
  Fill(3, 10);
  auto store = SqliteEventStore::Open(path_);
  ASSERT_TRUE(store.ok()) << store.status();
  absl::StatusOr<int64_t> id =
      (*store)->Quarantine(Record(std::string(kMaxBytes + 1, 'x')));
  ASSERT_TRUE(id.ok()) << id.status();
  std::vector<int64_t> totals = Totals();
  EXPECT_EQ(totals[0], 1);
  EXPECT_EQ(totals[3], *id);
}

}  // namespace
}  // namespace paymento::bridge
