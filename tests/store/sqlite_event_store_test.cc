// Tests of the SQLite event store on real database files.
#include "src/store/sqlite_event_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "src/store/sqlite_connection.h"
#include "src/store/sqlite_schema.h"
#include "src/store/type_filter.h"
#include "tests/testing/bridge_process.h"

namespace paymento::bridge {
namespace {

v1::Event MakeEvent(const std::string& id, const std::string& type,
                    const std::string& email = "") {
  v1::Event event;
  event.set_id(id);
  event.set_type(type);
  event.mutable_customer()->set_email(email);
  event.mutable_received_at()->set_seconds(absl::ToUnixSeconds(absl::Now()));
  return event;
}

class SqliteEventStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = test_support::MakeTempDirectory() + "/store/events.db";
    Reopen();
  }

  void Reopen() {
    store_.reset();
    absl::StatusOr<std::unique_ptr<SqliteEventStore>> store =
        SqliteEventStore::Open(path_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  AppendResult Append(const v1::Event& event, const std::string& hash) {
    absl::StatusOr<AppendResult> result = store_->Append(event, hash).get();
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : AppendResult{};
  }

  std::string path_;
  std::unique_ptr<SqliteEventStore> store_;
};

TEST_F(SqliteEventStoreTest, AssignsIncreasingSequences) {
  EXPECT_EQ(Append(MakeEvent("evt_1", "payment_link.paid"), "a").sequence, 1);
  EXPECT_EQ(Append(MakeEvent("evt_2", "payment_link.paid"), "b").sequence, 2);
  EXPECT_EQ(store_->LastSequence(), 2);
}

TEST_F(SqliteEventStoreTest, SameIdSameBodyIsDuplicate) {
  Append(MakeEvent("evt_dup", "payment_link.paid"), "hash");
  AppendResult again =
      Append(MakeEvent("evt_dup", "payment_link.paid"), "hash");
  EXPECT_EQ(again.outcome, AppendOutcome::kDuplicate);
  EXPECT_EQ(again.sequence, 1);
  absl::StatusOr<std::optional<StoredEvent>> stored =
      store_->GetById("evt_dup");
  ASSERT_TRUE(stored.ok());
  ASSERT_TRUE(stored->has_value());
  EXPECT_EQ((*stored)->duplicate_count, 1);
}

TEST_F(SqliteEventStoreTest, SameIdOtherBodyIsConflict) {
  Append(MakeEvent("evt_conflict", "payment_link.paid"), "first");
  AppendResult again =
      Append(MakeEvent("evt_conflict", "payment_link.failed"), "second");
  EXPECT_EQ(again.outcome, AppendOutcome::kConflict);
  EXPECT_EQ(store_->LastSequence(), 1);
  absl::StatusOr<std::optional<StoredEvent>> stored =
      store_->GetById("evt_conflict");
  ASSERT_TRUE(stored.ok());
  ASSERT_TRUE(stored->has_value());
  EXPECT_EQ((*stored)->event.type(), "payment_link.paid");
}

TEST_F(SqliteEventStoreTest, SequencesSurviveReopen) {
  Append(MakeEvent("evt_a", "payment_link.paid"), "a");
  Append(MakeEvent("evt_b", "payment_link.paid"), "b");
  Reopen();
  EXPECT_EQ(store_->LastSequence(), 2);
  EXPECT_EQ(Append(MakeEvent("evt_c", "payment_link.paid"), "c").sequence, 3);
  absl::StatusOr<std::optional<StoredEvent>> stored = store_->GetBySequence(2);
  ASSERT_TRUE(stored.ok());
  ASSERT_TRUE(stored->has_value());
  EXPECT_EQ((*stored)->event.id(), "evt_b");
}

TEST_F(SqliteEventStoreTest, SecondOpenFailsUntilFirstCloses) {
  Append(MakeEvent("evt_a", "payment_link.paid"), "a");
  absl::StatusOr<std::unique_ptr<SqliteEventStore>> second =
      SqliteEventStore::Open(path_);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(second.status().message(),
                                "another process is using " + path_))
      << second.status();
  // The refused open changed nothing for the first store.
  EXPECT_EQ(Append(MakeEvent("evt_b", "payment_link.paid"), "b").sequence, 2);

  Reopen();
  EXPECT_EQ(store_->LastSequence(), 2);
}

TEST_F(SqliteEventStoreTest, ReadAfterSameFromMemoryAndDisk) {
  for (int i = 1; i <= 10; ++i) {
    Append(MakeEvent(absl::StrCat("evt_", i), "payment_link.paid"),
           absl::StrCat(i));
  }
  // The duplicate takes no sequence, so the recent events stay contiguous.
  Append(MakeEvent("evt_3", "payment_link.paid"), "3");
  absl::StatusOr<std::vector<v1::Event>> recent = store_->ReadAfter(3, 4);
  ASSERT_TRUE(recent.ok());
  Reopen();
  absl::StatusOr<std::vector<v1::Event>> stored = store_->ReadAfter(3, 4);
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(recent->size(), 4u);
  ASSERT_EQ(stored->size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ((*recent)[i].sequence(), static_cast<int64_t>(i + 4));
    EXPECT_EQ((*recent)[i].SerializeAsString(),
              (*stored)[i].SerializeAsString());
  }
  absl::StatusOr<std::vector<v1::Event>> none = store_->ReadAfter(10, 4);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

v1::Event MakeFullEvent(const std::string& id) {
  v1::Event event = MakeEvent(id, "payment_link.paid", "Jane@Example.com");
  event.set_known_type(v1::EVENT_TYPE_PAYMENT_LINK_PAID);
  event.mutable_created_at()->set_seconds(1700000000);
  event.set_api_version("v1");
  event.mutable_verification()->set_scheme(v1::SIGNATURE_SCHEME_BODY);
  event.set_source(v1::EVENT_SOURCE_PAYMENT_LINK_WEBHOOK);
  event.mutable_payment_link()->set_id("link_42");
  (*event.mutable_customer()->mutable_metadata())["order"] = "A-17";
  event.mutable_merchant()->set_id("merchant_7");
  event.set_raw_body(R"({"event":{"id":")" + id + R"("}})");
  return event;
}

// Stored bytes equal the event serialized with its sequence, for sequences
// of 1, 2, 3 and 7 varint bytes.
TEST_F(SqliteEventStoreTest, StoresEventSerializedWithItsSequence) {
  std::vector<int64_t> starts = {0, 120, 16380, int64_t{1} << 42};
  std::vector<v1::Event> appended;
  for (int64_t start : starts) {
    if (start != 0) {
      store_.reset();
      sqlite3* db = nullptr;
      ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
      std::string update =
          absl::StrCat("UPDATE sequence_counter SET last_sequence = ", start);
      EXPECT_EQ(sqlite3_exec(db, update.c_str(), nullptr, nullptr, nullptr),
                SQLITE_OK);
      sqlite3_close(db);
      Reopen();
    }
    std::vector<AppendFuture> futures;
    std::vector<v1::Event> events;
    for (int i = 0; i < 10; ++i) {
      events.push_back(MakeFullEvent(absl::StrCat("evt_", start, "_", i)));
      futures.push_back(store_->Append(events.back(), events.back().id()));
    }
    for (size_t i = 0; i < futures.size(); ++i) {
      absl::StatusOr<AppendResult> result = futures[i].get();
      ASSERT_TRUE(result.ok()) << result.status();
      EXPECT_GT(result->sequence, start);
      events[i].set_sequence(result->sequence);
    }
    std::sort(events.begin(), events.end(),
              [](const v1::Event& a, const v1::Event& b) {
                return a.sequence() < b.sequence();
              });
    EXPECT_EQ(events.front().sequence(), start + 1);

    std::optional<std::vector<SerializedEventPtr>> recent =
        store_->ReadRecentSerialized(start, 100);
    ASSERT_TRUE(recent.has_value());
    absl::StatusOr<std::vector<SerializedEventPtr>> stored =
        store_->ReadSerializedAfter(start, 100);
    ASSERT_TRUE(stored.ok()) << stored.status();
    ASSERT_EQ(recent->size(), events.size());
    ASSERT_EQ(stored->size(), events.size());
    for (size_t i = 0; i < events.size(); ++i) {
      EXPECT_EQ((*recent)[i]->sequence, events[i].sequence());
      EXPECT_EQ((*recent)[i]->type, "payment_link.paid");
      EXPECT_EQ((*recent)[i]->bytes, events[i].SerializeAsString());
      EXPECT_EQ((*stored)[i]->bytes, events[i].SerializeAsString());
    }
    appended.insert(appended.end(), events.begin(), events.end());
  }

  // The columns taken from the event still filter.
  EventQuery by_link;
  by_link.payment_link_id = "link_42";
  by_link.customer_email = "JANE@EXAMPLE.COM";
  by_link.type_patterns = {"payment_link.paid"};
  by_link.limit = 1000;
  absl::StatusOr<std::vector<v1::Event>> listed = store_->List(by_link);
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(listed->size(), appended.size());
  absl::StatusOr<std::optional<StoredEvent>> last =
      store_->GetById(appended.back().id());
  ASSERT_TRUE(last.ok()) << last.status();
  ASSERT_TRUE(last->has_value());
  EXPECT_EQ((*last)->event.SerializeAsString(),
            appended.back().SerializeAsString());
}

// Requests with the same body and reason but other headers are kept apart,
// each with its own headers; a byte-identical repeat is kept once.
QuarantineRecord MakeRecord(const std::string& reason,
                            const std::string& headers, const std::string& body,
                            char hash_byte) {
  QuarantineRecord record;
  record.received_at = absl::FromUnixSeconds(1700000000);
  record.reason = reason;
  record.route = "/webhook";
  record.headers = headers;
  record.body = body;
  record.body_sha256 = std::string(32, hash_byte);
  return record;
}

TEST_F(SqliteEventStoreTest, QuarantineKeepsHeadersApart) {
  QuarantineRecord record =
      MakeRecord("event id or type in body differs from headers",
                 "X-Paymento-Event-Id: evt_wrong", "{}", '\x02');
  absl::StatusOr<int64_t> first = store_->Quarantine(record);
  ASSERT_TRUE(first.ok()) << first.status();

  QuarantineRecord other = record;
  other.headers = "X-Paymento-Event-Type: wrong.type";
  absl::StatusOr<int64_t> second = store_->Quarantine(other);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_NE(*second, *first);
  absl::StatusOr<int64_t> repeated = store_->Quarantine(other);
  ASSERT_TRUE(repeated.ok()) << repeated.status();
  EXPECT_EQ(*repeated, *second);

  absl::StatusOr<std::optional<QuarantineRecord>> got_first =
      store_->GetQuarantined(*first);
  ASSERT_TRUE(got_first.ok()) << got_first.status();
  ASSERT_TRUE(got_first->has_value());
  EXPECT_EQ((*got_first)->headers, record.headers);
  absl::StatusOr<std::optional<QuarantineRecord>> got_second =
      store_->GetQuarantined(*second);
  ASSERT_TRUE(got_second.ok()) << got_second.status();
  ASSERT_TRUE(got_second->has_value());
  EXPECT_EQ((*got_second)->headers, other.headers);
}

TEST_F(SqliteEventStoreTest, QuarantineFailsAfterFileRemoved) {
  absl::StatusOr<int64_t> first_id = store_->Quarantine(
      MakeRecord("malformed: body is not valid JSON", "", "not json", '\x03'));
  ASSERT_TRUE(first_id.ok()) << first_id.status();

  // The open connections would go on writing to the removed file, which
  // the next start no longer finds.
  ASSERT_TRUE(std::filesystem::remove(path_));
  absl::StatusOr<int64_t> after_removal = store_->Quarantine(
      MakeRecord("malformed: body is not valid JSON", "", "other", '\x04'));
  EXPECT_EQ(after_removal.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(after_removal.status().message(), "is gone"))
      << after_removal.status();
  absl::Status deleted = store_->DeleteQuarantined(*first_id);
  EXPECT_EQ(deleted.code(), absl::StatusCode::kUnavailable) << deleted;
}

// Opens the store at `path` and returns why it failed, or "" if it opened.
std::string OpenFailure(const std::string& path) {
  absl::StatusOr<std::unique_ptr<SqliteEventStore>> store =
      SqliteEventStore::Open(path);
  return store.ok() ? "" : std::string(store.status().message());
}

// Opens the store at `path`, as uid 65534 (an unprivileged account) when
// this process runs as root, since root may write any file. Returns whether
// the open failed with a message containing `expected`.
bool OpenFailsAsServiceUser(const std::string& path,
                            const std::string& expected) {
  if (geteuid() != 0) {
    std::string failure = OpenFailure(path);
    std::fprintf(stderr, "open: %s\n", failure.c_str());
    return absl::StrContains(failure, expected);
  }
  pid_t child = fork();
  if (child < 0) return false;
  if (child == 0) {
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(3);
    std::string failure = OpenFailure(path);
    std::fprintf(stderr, "open as nobody: %s\n", failure.c_str());
    _exit(absl::StrContains(failure, expected) ? 0 : 1);
  }
  int status = 0;
  if (waitpid(child, &status, 0) != child) return false;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

TEST(SqliteOpenTest, RejectsReadOnlyDatabase) {
  std::string directory = test_support::MakeTempDirectory();
  std::string path = directory + "/events.db";
  ASSERT_EQ(OpenFailure(path), "");
  // What a restore by another user leaves: a directory the service may
  // write, and a file it may not.
  ASSERT_EQ(chmod(directory.c_str(), 0777), 0);
  ASSERT_EQ(chmod(path.c_str(), 0444), 0);
  EXPECT_TRUE(OpenFailsAsServiceUser(path, "is read-only for this process"));
}

TEST(SqliteOpenTest, RejectsReadOnlyLogFiles) {
  std::string directory = test_support::MakeTempDirectory();
  std::string path = directory + "/events.db";
  ASSERT_EQ(OpenFailure(path), "");
  ASSERT_EQ(chmod(directory.c_str(), 0777), 0);
  // The database file is the service's, its -wal and -shm files are not.
  if (geteuid() == 0) {
    ASSERT_EQ(chown(path.c_str(), 65534, 65534), 0);
  }
  for (const std::string& suffix : {"-wal", "-shm"}) {
    std::string file = path + suffix;
    std::FILE* created = std::fopen(file.c_str(), "w");
    ASSERT_NE(created, nullptr) << file;
    std::fclose(created);
    ASSERT_EQ(chmod(file.c_str(), geteuid() == 0 ? 0644 : 0444), 0);
  }
  EXPECT_TRUE(OpenFailsAsServiceUser(path, "writable by the user"));
}

// A store from a binary before quarantine records kept their headers apart
// keeps its records and ids, and never hands out the id of a deleted one.
TEST(SqliteSchemaTest, QuarantineMigrationKeepsIdsAndCounter) {
  const std::string path = test_support::MakeTempDirectory() + "/events.db";
  {
    absl::StatusOr<std::unique_ptr<SqliteConnection>> connection =
        SqliteConnection::Open(path);
    ASSERT_TRUE(connection.ok()) << connection.status();
    ASSERT_TRUE(MigrateSqliteSchemaTo(**connection, 2).ok());
    ASSERT_TRUE(
        (*connection)
            ->Execute("INSERT INTO quarantine (received_at_us, reason, route,"
                      " headers, body, body_sha256) VALUES"
                      " (1, 'mismatch', '/webhook', 'A: 1', '{}', x'01'),"
                      " (2, 'mismatch', '/webhook', 'B: 2', '{}', x'02'),"
                      " (3, 'mismatch', '/webhook', 'C: 3', '{}', x'03');"
                      "DELETE FROM quarantine WHERE id = 3")
            .ok());
  }

  absl::StatusOr<std::unique_ptr<SqliteEventStore>> store =
      SqliteEventStore::Open(path);
  ASSERT_TRUE(store.ok()) << store.status();
  absl::StatusOr<std::optional<QuarantineRecord>> kept =
      (*store)->GetQuarantined(2);
  ASSERT_TRUE(kept.ok()) << kept.status();
  ASSERT_TRUE(kept->has_value());
  EXPECT_EQ((*kept)->headers, "B: 2");

  // The record with new headers comes first, so that it gets the first
  // number the counter hands out.
  QuarantineRecord other;
  other.reason = "mismatch";
  other.route = "/webhook";
  other.headers = "A: other";
  other.body = "{}";
  other.body_sha256 = std::string(1, '\x01');
  absl::StatusOr<int64_t> added = (*store)->Quarantine(other);
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_EQ(*added, 4);

  QuarantineRecord repeat = other;
  repeat.headers = "A: 1";
  absl::StatusOr<int64_t> same = (*store)->Quarantine(repeat);
  ASSERT_TRUE(same.ok()) << same.status();
  EXPECT_EQ(*same, 1);
}

// The cache of recent events is bounded in bytes as well as in events, so
// large events do not fill the memory. Older events leave it first and are
// then read from disk.
TEST(SqliteRecentEventsTest, CacheKeepsWithinByteLimit) {
  SqliteStoreOptions options;
  options.recent_bytes = 20 * 1024;
  absl::StatusOr<std::unique_ptr<SqliteEventStore>> store =
      SqliteEventStore::Open(
          test_support::MakeTempDirectory() + "/store/events.db", options);
  ASSERT_TRUE(store.ok()) << store.status();
  for (int i = 1; i <= 10; ++i) {
    v1::Event event =
        MakeEvent(absl::StrCat("evt_large_", i), "payment_link.paid");
    event.set_raw_body(std::string(4 * 1024, 'x'));
    ASSERT_TRUE((*store)->Append(event, absl::StrCat(i)).get().ok());
  }

  EXPECT_FALSE((*store)->ReadRecentSerialized(0, 10).has_value());
  std::optional<std::vector<SerializedEventPtr>> newest =
      (*store)->ReadRecentSerialized(7, 10);
  ASSERT_TRUE(newest.has_value());
  EXPECT_EQ(newest->size(), 3u);
  absl::StatusOr<std::vector<SerializedEventPtr>> all =
      (*store)->ReadSerializedAfter(0, 10);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->size(), 10u);
}

// ReadRecentSerialized reads only from memory. It returns the events after
// a cursor that the cache covers, and nullopt for a cursor before the cached
// events, which only ReadSerializedAfter reads from disk.
TEST_F(SqliteEventStoreTest, RecentSerializedOnlyFromMemory) {
  std::optional<std::vector<SerializedEventPtr>> empty_store =
      store_->ReadRecentSerialized(0, 10);
  ASSERT_TRUE(empty_store.has_value());
  EXPECT_TRUE(empty_store->empty());

  for (int i = 1; i <= 3; ++i) {
    Append(MakeEvent(absl::StrCat("evt_", i), "payment_link.paid"),
           absl::StrCat(i));
  }
  std::optional<std::vector<SerializedEventPtr>> recent =
      store_->ReadRecentSerialized(1, 10);
  ASSERT_TRUE(recent.has_value());
  ASSERT_EQ(recent->size(), 2u);
  EXPECT_EQ((*recent)[0]->sequence, 2);
  EXPECT_EQ((*recent)[1]->sequence, 3);
  EXPECT_EQ((*recent)[1]->type, "payment_link.paid");

  Reopen();
  EXPECT_FALSE(store_->ReadRecentSerialized(1, 10).has_value());
  std::optional<std::vector<SerializedEventPtr>> caught_up =
      store_->ReadRecentSerialized(3, 10);
  ASSERT_TRUE(caught_up.has_value());
  EXPECT_TRUE(caught_up->empty());
  absl::StatusOr<std::vector<SerializedEventPtr>> stored =
      store_->ReadSerializedAfter(1, 10);
  ASSERT_TRUE(stored.ok()) << stored.status();
  ASSERT_EQ(stored->size(), 2u);
  EXPECT_EQ((*stored)[1]->bytes, (*recent)[1]->bytes);

  Append(MakeEvent("evt_4", "payment_link.paid"), "4");
  EXPECT_FALSE(store_->ReadRecentSerialized(2, 10).has_value());
  std::optional<std::vector<SerializedEventPtr>> newest =
      store_->ReadRecentSerialized(3, 10);
  ASSERT_TRUE(newest.has_value());
  ASSERT_EQ(newest->size(), 1u);
  EXPECT_EQ((*newest)[0]->sequence, 4);
}

TEST_F(SqliteEventStoreTest, ConcurrentAppendsShareCommits) {
  constexpr int kThreads = 16;
  constexpr int kPerThread = 50;
  // The writer calls the listener after it sets the appends' results, so
  // the count must outlive this test's frame as well as the store.
  auto commits = std::make_shared<std::atomic<int>>(0);
  store_->SetCommitListener([commits](int64_t) { commits->fetch_add(1); });
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string id = absl::StrCat("evt_", t, "_", i);
        Append(MakeEvent(id, "payment_link.paid"), id);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(store_->LastSequence(), kThreads * kPerThread);
  // Group commit: far fewer transactions than appends.
  EXPECT_LT(commits->load(), kThreads * kPerThread);

  absl::StatusOr<std::vector<v1::Event>> all =
      store_->ReadAfter(0, kThreads * kPerThread);
  ASSERT_TRUE(all.ok());
  std::set<int64_t> sequences;
  for (const v1::Event& event : *all) sequences.insert(event.sequence());
  EXPECT_EQ(sequences.size(), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_EQ(*sequences.begin(), 1);
  EXPECT_EQ(*sequences.rbegin(), kThreads * kPerThread);
}

TEST_F(SqliteEventStoreTest, ListFiltersByTypeAndEmail) {
  Append(MakeEvent("evt_1", "payment_link.paid", "Jane@Example.com"), "1");
  Append(MakeEvent("evt_2", "subscription.renewed", "jane@example.com"), "2");
  Append(MakeEvent("evt_3", "payment_link.failed", "bob@example.com"), "3");

  EventQuery prefix;
  prefix.type_patterns = {"payment_link.*"};
  absl::StatusOr<std::vector<v1::Event>> links = store_->List(prefix);
  ASSERT_TRUE(links.ok());
  ASSERT_EQ(links->size(), 2u);
  EXPECT_EQ((*links)[0].id(), "evt_1");
  EXPECT_EQ((*links)[1].id(), "evt_3");

  EventQuery email;
  email.customer_email = "JANE@example.com";
  absl::StatusOr<std::vector<v1::Event>> jane = store_->List(email);
  ASSERT_TRUE(jane.ok());
  EXPECT_EQ(jane->size(), 2u);

  EventQuery page;
  page.limit = 1;
  page.after_sequence = 1;
  absl::StatusOr<std::vector<v1::Event>> second = store_->List(page);
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(second->size(), 1u);
  EXPECT_EQ((*second)[0].id(), "evt_2");
}

TEST_F(SqliteEventStoreTest, LikeWildcardsInPrefixAreLiteral) {
  Append(MakeEvent("evt_1", "payment_link.paid"), "1");
  EventQuery query;
  query.type_patterns = {"payment%.*"};
  absl::StatusOr<std::vector<v1::Event>> events = store_->List(query);
  ASSERT_TRUE(events.ok());
  EXPECT_TRUE(events->empty());
}

TEST(TypeFilterTest, MatchesExactAndPrefix) {
  absl::StatusOr<TypeFilter> filter =
      TypeFilter::Create({"payment_link.paid", "subscription.*"});
  ASSERT_TRUE(filter.ok());
  EXPECT_TRUE(filter->Matches("payment_link.paid"));
  EXPECT_FALSE(filter->Matches("payment_link.failed"));
  EXPECT_TRUE(filter->Matches("subscription.renewed"));
  EXPECT_FALSE(filter->Matches("subscriptionX"));
}

TEST(TypeFilterTest, EmptyAndStarMatchAll) {
  EXPECT_TRUE(TypeFilter::Create({})->MatchesAll());
  EXPECT_TRUE(TypeFilter::Create({"*"})->MatchesAll());
  EXPECT_TRUE(*TypeFilter::Create({"*", "a.b"}) == *TypeFilter::Create({}));
}

TEST(TypeFilterTest, EqualAsSets) {
  EXPECT_TRUE(*TypeFilter::Create({"a.*", "b.c", "a.*"}) ==
              *TypeFilter::Create({"b.c", "a.*"}));
  EXPECT_FALSE(*TypeFilter::Create({"a.*"}) == *TypeFilter::Create({"a.b"}));
}

TEST(TypeFilterTest, RejectsInvalidPatterns) {
  for (const char* pattern : {"", "a*", "*.b", "a.*.c", "has space", "a.**"}) {
    EXPECT_EQ(TypeFilter::Create({pattern}).status().code(),
              absl::StatusCode::kInvalidArgument)
        << pattern;
  }
}

}  // namespace
}  // namespace paymento::bridge
