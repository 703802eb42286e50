// The VFS that gathers write-ahead log writes, over a counting VFS in place
// of the file system. The tests count the writes that reach the file
// system. They also check that what SQLite reads back is what it committed,
// from the same connection, another one, or a copy of the files taken right
// after a commit.
#include "src/store/sqlite_wal_vfs.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "tests/testing/bridge_process.h"

namespace paymento::bridge {
namespace {

constexpr char kCountingVfs[] = "wal-vfs-test-counting";
constexpr char kGatheredOnCounting[] = "wal-vfs-test-gathered";

// What the counting VFS saw on log files, and a switch that makes their
// writes fail as a full disk would.
struct LogWrites {
  int calls = 0;
  bool fail = false;
};
LogWrites log_writes;

sqlite3_vfs* DefaultVfs() { return sqlite3_vfs_find(nullptr); }

// The default VFS's methods for log files, and a copy of them whose xWrite
// counts the calls before passing them on.
const sqlite3_io_methods* log_methods = nullptr;
sqlite3_io_methods counting_log_methods;

int CountingWrite(sqlite3_file* file, const void* data, int amount,
                  sqlite3_int64 offset) {
  ++log_writes.calls;
  if (log_writes.fail) return SQLITE_FULL;
  return log_methods->xWrite(file, data, amount, offset);
}

// Opens files as the default VFS does, and gives log files the counting
// methods.
int OpenCounting(sqlite3_vfs*, const char* name, sqlite3_file* file, int flags,
                 int* out_flags) {
  int rc = DefaultVfs()->xOpen(DefaultVfs(), name, file, flags, out_flags);
  if (rc != SQLITE_OK || (flags & SQLITE_OPEN_WAL) == 0) return rc;
  if (log_methods == nullptr) {
    log_methods = file->pMethods;
    counting_log_methods = *file->pMethods;
    counting_log_methods.xWrite = CountingWrite;
  }
  file->pMethods = &counting_log_methods;
  return rc;
}

void RegisterTestVfss() {
  static bool registered = [] {
    auto* counting = new sqlite3_vfs(*DefaultVfs());
    counting->zName = kCountingVfs;
    counting->pNext = nullptr;
    counting->xOpen = OpenCounting;
    EXPECT_EQ(sqlite3_vfs_register(counting, 0), SQLITE_OK);
    EXPECT_TRUE(RegisterGatheredWalVfsOn(kGatheredOnCounting, counting).ok());
    return true;
  }();
  (void)registered;
}

class Database {
 public:
  Database(const std::string& path, const char* vfs) {
    EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db_,
                              SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs),
              SQLITE_OK)
        << path;
  }
  ~Database() { sqlite3_close(db_); }

  int Exec(const std::string& sql) {
    return sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
  }

  std::string Text(const std::string& sql) {
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &statement, nullptr) !=
        SQLITE_OK) {
      return absl::StrCat("prepare failed: ", sqlite3_errmsg(db_));
    }
    std::string text;
    int rc = sqlite3_step(statement);
    if (rc == SQLITE_ROW) {
      const unsigned char* value = sqlite3_column_text(statement, 0);
      text = value == nullptr ? "NULL" : reinterpret_cast<const char*>(value);
    } else {
      text = absl::StrCat("step failed: ", sqlite3_errmsg(db_));
    }
    sqlite3_finalize(statement);
    return text;
  }

 private:
  sqlite3* db_ = nullptr;
};

// Inserts `rows` rows of 1,000 bytes numbered from `first`.
std::string InsertRows(int first, int rows) {
  return absl::StrCat(
      "WITH RECURSIVE n(i) AS (SELECT ", first,
      " UNION ALL SELECT i + 1 FROM n"
      " WHERE i < ",
      first + rows - 1,
      ")"
      " INSERT INTO t (id, payload) SELECT i, randomblob(1000) FROM n");
}

class GatheredWalVfsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RegisterTestVfss();
    log_writes = {};
    directory_ = test_support::MakeTempDirectory();
  }

  std::string Path(const std::string& name) const {
    return directory_ + "/" + name;
  }

  static void Prepare(Database& db) {
    ASSERT_EQ(db.Exec("PRAGMA journal_mode=WAL"), SQLITE_OK);
    ASSERT_EQ(db.Exec("PRAGMA synchronous=FULL"), SQLITE_OK);
    ASSERT_EQ(db.Exec("CREATE TABLE t (id INTEGER PRIMARY KEY, payload BLOB)"),
              SQLITE_OK);
  }

  // Copies the database and its log as a crash would leave them: with what
  // the file system contains, nothing of what SQLite still keeps in memory.
  std::string CopyAsAfterCrash(const std::string& name) {
    std::string copy = Path("copy-" + name);
    for (const char* suffix : {"", "-wal"}) {
      std::filesystem::copy_file(
          Path(name) + suffix, copy + suffix,
          std::filesystem::copy_options::overwrite_existing);
    }
    return copy;
  }

  // Opens a crash copy of `name` with the default VFS and checks that it
  // has `rows` rows and passes SQLite's integrity check.
  void ExpectRowsAfterCrash(const std::string& name, const std::string& rows) {
    Database recovered(CopyAsAfterCrash(name), nullptr);
    EXPECT_EQ(recovered.Text("SELECT count(*) FROM t"), rows);
    EXPECT_EQ(recovered.Text("PRAGMA integrity_check"), "ok");
  }

  std::string directory_;
};

TEST_F(GatheredWalVfsTest, WritesACommitInFewCalls) {
  int plain_calls = 0;
  {
    Database db(Path("plain.db"), kCountingVfs);
    Prepare(db);
    log_writes.calls = 0;
    ASSERT_EQ(db.Exec(InsertRows(1, 50)), SQLITE_OK);
    plain_calls = log_writes.calls;
  }
  Database db(Path("gathered.db"), kGatheredOnCounting);
  Prepare(db);
  log_writes.calls = 0;
  ASSERT_EQ(db.Exec(InsertRows(1, 50)), SQLITE_OK);

  // 50 rows of 1,000 bytes fill at least 12 pages of 4 KiB, each written
  // as a frame header and a page.
  EXPECT_GE(plain_calls, 24);
  // About 60 KiB of frames: the commit frame's header with everything before
  // it, then its page.
  EXPECT_LE(log_writes.calls, 2);
  EXPECT_EQ(db.Text("SELECT count(*) FROM t"), "50");
}

TEST_F(GatheredWalVfsTest, CommitsReachTheFileBeforeCommitReturns) {
  Database db(Path("events.db"), kGatheredOnCounting);
  Prepare(db);
  for (int commit = 0; commit < 20; ++commit) {
    ASSERT_EQ(db.Exec(InsertRows(commit * 30 + 1, 30)), SQLITE_OK);
  }
  ExpectRowsAfterCrash("events.db", "600");
}

TEST_F(GatheredWalVfsTest, OtherConnectionsSeeEachCommit) {
  Database writer(Path("events.db"), kGatheredOnCounting);
  Prepare(writer);
  Database gathered_reader(Path("events.db"), kGatheredOnCounting);
  Database plain_reader(Path("events.db"), nullptr);
  for (int commit = 1; commit <= 10; ++commit) {
    ASSERT_EQ(writer.Exec(InsertRows((commit - 1) * 20 + 1, 20)), SQLITE_OK);
    std::string expected = std::to_string(commit * 20);
    EXPECT_EQ(gathered_reader.Text("SELECT count(*) FROM t"), expected);
    EXPECT_EQ(plain_reader.Text("SELECT count(*) FROM t"), expected);
  }
}

// Without a sync at commit, the frames are written with the commit frame,
// before SQLite publishes them to readers.
TEST_F(GatheredWalVfsTest, CommitsWithoutSyncStillReachTheFile) {
  Database writer(Path("events.db"), kGatheredOnCounting);
  Prepare(writer);
  ASSERT_EQ(writer.Exec("PRAGMA synchronous=NORMAL"), SQLITE_OK);
  Database plain_reader(Path("events.db"), nullptr);
  for (int commit = 1; commit <= 10; ++commit) {
    ASSERT_EQ(writer.Exec(InsertRows((commit - 1) * 20 + 1, 20)), SQLITE_OK);
    EXPECT_EQ(plain_reader.Text("SELECT count(*) FROM t"),
              std::to_string(commit * 20));
  }
  ExpectRowsAfterCrash("events.db", "200");
}

// A transaction larger than the page cache writes pages to the log before
// its commit and reads them back from there.
TEST_F(GatheredWalVfsTest, ReadsBackPagesSpilledBeforeTheCommit) {
  Database db(Path("events.db"), kGatheredOnCounting);
  Prepare(db);
  ASSERT_EQ(db.Exec("PRAGMA cache_size=10"), SQLITE_OK);
  ASSERT_EQ(db.Exec("BEGIN"), SQLITE_OK);
  ASSERT_EQ(db.Exec(InsertRows(1, 2000)), SQLITE_OK);
  EXPECT_EQ(db.Text("SELECT count(*) FROM t WHERE length(payload) = 1000"),
            "2000");
  ASSERT_EQ(db.Exec("ROLLBACK"), SQLITE_OK);
  EXPECT_EQ(db.Text("SELECT count(*) FROM t"), "0");

  ASSERT_EQ(db.Exec("BEGIN"), SQLITE_OK);
  ASSERT_EQ(db.Exec(InsertRows(1, 1500)), SQLITE_OK);
  ASSERT_EQ(db.Exec("COMMIT"), SQLITE_OK);
  EXPECT_EQ(db.Text("SELECT count(*) FROM t"), "1500");
  EXPECT_EQ(db.Text("PRAGMA integrity_check"), "ok");
  ASSERT_EQ(db.Exec("PRAGMA wal_checkpoint(TRUNCATE)"), SQLITE_OK);
  ASSERT_EQ(db.Exec(InsertRows(1501, 100)), SQLITE_OK);

  ExpectRowsAfterCrash("events.db", "1600");
}

// Inserts rows as InsertRows does while every log write fails, and returns
// SQLite's primary result code.
int InsertWhileLogWritesFail(Database& db, int first, int rows) {
  log_writes.fail = true;
  int rc = db.Exec(InsertRows(first, rows));
  log_writes.fail = false;
  return rc & 0xff;
}

TEST_F(GatheredWalVfsTest, FailedWriteFailsOnlyItsCommit) {
  Database db(Path("events.db"), kGatheredOnCounting);
  Prepare(db);
  ASSERT_EQ(db.Exec(InsertRows(1, 10)), SQLITE_OK);

  EXPECT_EQ(InsertWhileLogWritesFail(db, 11, 10), SQLITE_FULL);
  EXPECT_EQ(db.Text("SELECT count(*) FROM t"), "10");

  ASSERT_EQ(db.Exec(InsertRows(11, 10)), SQLITE_OK);
  EXPECT_EQ(db.Text("SELECT count(*) FROM t"), "20");
  ExpectRowsAfterCrash("events.db", "20");
}

// Without a sync at commit nothing after the commit's writes can report a
// failure, so the commit itself must fail.
TEST_F(GatheredWalVfsTest, FailedWriteWithoutSyncFailsItsCommit) {
  Database db(Path("events.db"), kGatheredOnCounting);
  Prepare(db);
  ASSERT_EQ(db.Exec("PRAGMA synchronous=NORMAL"), SQLITE_OK);
  Database plain_reader(Path("events.db"), nullptr);
  ASSERT_EQ(db.Exec(InsertRows(1, 10)), SQLITE_OK);

  EXPECT_EQ(InsertWhileLogWritesFail(db, 11, 10), SQLITE_FULL);
  EXPECT_EQ(db.Text("SELECT count(*) FROM t"), "10");
  EXPECT_EQ(plain_reader.Text("SELECT count(*) FROM t"), "10");

  ASSERT_EQ(db.Exec(InsertRows(11, 10)), SQLITE_OK);
  EXPECT_EQ(plain_reader.Text("SELECT count(*) FROM t"), "20");
  ExpectRowsAfterCrash("events.db", "20");
}

TEST_F(GatheredWalVfsTest, RegisteringTwiceKeepsTheFirstVfs) {
  EXPECT_TRUE(RegisterGatheredWalVfs().ok());
  sqlite3_vfs* first = sqlite3_vfs_find(kGatheredWalVfs);
  ASSERT_NE(first, nullptr);
  EXPECT_TRUE(RegisterGatheredWalVfs().ok());
  EXPECT_EQ(sqlite3_vfs_find(kGatheredWalVfs), first);
}

}  // namespace
}  // namespace paymento::bridge
