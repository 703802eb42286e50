// Tests of what only the PostgreSQL store does: URL parameters, text the
// server cannot store, several store instances on one database (as
// replicas), concurrent migrations, and a database that goes away and
// comes back. The shared contract is in event_store_contract_test.cc.
#include "src/store/postgres_event_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "src/store/postgres_connection.h"
#include "src/store/postgres_schema.h"
#include "src/store/postgres_store_options.h"
#include "tests/testing/bridge_process.h"
#include "tests/testing/test_postgres.h"

namespace paymento::bridge {
namespace {

using ::paymento::bridge::test_support::PrivatePostgresServer;
using ::paymento::bridge::test_support::TestPostgresSchema;

v1::Event MakeEvent(const std::string& id) {
  v1::Event event;
  event.set_id(id);
  event.set_type("payment_link.paid");
  event.mutable_received_at()->set_seconds(absl::ToUnixSeconds(absl::Now()));
  return event;
}

// Returns the quarantine record of a request to /webhook.
QuarantineRecord QuarantinedWebhook(std::string reason, std::string headers,
                                    std::string body, std::string body_sha256) {
  QuarantineRecord record;
  record.received_at = absl::FromUnixSeconds(1700000000);
  record.reason = std::move(reason);
  record.route = "/webhook";
  record.headers = std::move(headers);
  record.body = std::move(body);
  record.body_sha256 = std::move(body_sha256);
  return record;
}

// Returns the schema version recorded in the database, or -1 on an error.
int64_t SchemaVersion(PostgresConnection& connection) {
  absl::StatusOr<PgResult> version =
      connection.Execute("SELECT MAX(version)::bigint FROM schema_migrations");
  return version.ok() ? version->Int64(0, 0) : -1;
}

// Returns whether migration 4's index on the quarantine exists in the
// connection's schema.
bool HasQuarantineRequestIndex(PostgresConnection& connection) {
  absl::StatusOr<PgResult> found = connection.Execute(
      "SELECT COUNT(*)::bigint FROM pg_indexes WHERE schemaname ="
      " current_schema() AND indexname = 'quarantine_request'");
  return found.ok() && found->Int64(0, 0) == 1;
}

// Waits up to `timeout` for `condition`.
template <typename Condition>
bool Eventually(Condition condition, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (condition()) return true;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return condition();
}

struct UrlCase {
  std::string url;
  std::string libpq_url;
  int read_connections;
  size_t max_batch;
  size_t max_pending_appends;
};

TEST(PostgresStoreUrlTest, SplitsStoreParametersFromLibpqOnes) {
  const UrlCase cases[] = {
      {"postgres://db/events", "postgres://db/events", 4, 1024, 20000},
      {"postgres://db/events?read_connections=8", "postgres://db/events", 8,
       1024, 20000},
      {"postgres://db/events?sslmode=require&max_batch=64&"
       "max_pending_appends=100&connect_timeout=3",
       "postgres://db/events?sslmode=require&connect_timeout=3", 4, 64, 100},
      {"postgresql://u@db:5433/e?options=-csearch_path%3Dx&read_connections=1",
       "postgresql://u@db:5433/e?options=-csearch_path%3Dx", 1, 1024, 20000},
  };
  for (const UrlCase& test : cases) {
    absl::StatusOr<PostgresStoreUrl> parsed = ParsePostgresStoreUrl(test.url);
    ASSERT_TRUE(parsed.ok()) << test.url << ": " << parsed.status();
    EXPECT_EQ(parsed->libpq_url, test.libpq_url) << test.url;
    EXPECT_EQ(parsed->options.read_connections, test.read_connections)
        << test.url;
    EXPECT_EQ(parsed->options.max_batch, test.max_batch) << test.url;
    EXPECT_EQ(parsed->options.max_pending_appends, test.max_pending_appends)
        << test.url;
  }
}

TEST(PostgresStoreUrlTest, RejectsValuesThatAreNotPositiveCounts) {
  for (const char* parameter :
       {"read_connections=0", "max_batch=-1", "max_pending_appends=lots",
        "read_connections=", "max_batch=99999999999"}) {
    absl::StatusOr<PostgresStoreUrl> parsed = ParsePostgresStoreUrl(
        absl::StrCat("postgres://bridge:pw-secret@db/events?", parameter));
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument)
        << parameter;
    EXPECT_FALSE(absl::StrContains(parsed.status().message(), "pw-secret"))
        << parsed.status();
  }
}

TEST(PostgresStoreUrlTest, FindsThePasswordWhereverTheUrlHasIt) {
  EXPECT_EQ(ParsePostgresStoreUrl("postgres://u:p%40ss@db/e")->password,
            "p@ss");
  EXPECT_EQ(ParsePostgresStoreUrl("postgres://u@db/e?password=q%26")->password,
            "q&");
  EXPECT_EQ(ParsePostgresStoreUrl("postgres://u@db/e")->password, "");
}

TEST(PostgresTextTest, AcceptsOnlyUtf8WithoutNul) {
  struct Case {
    std::string text;
    bool storable;
  };
  const Case cases[] = {
      {"", true},
      {"evt_123", true},
      {"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x92\xB3", true},
      {std::string("a\0b", 3), false},
      {"\xC3", false},              // truncated
      {"\xC0\xAF", false},          // overlong
      {"\xED\xA0\x80", false},      // UTF-16 surrogate
      {"\xF4\x90\x80\x80", false},  // above U+10FFFF
      {"\xFF", false},
  };
  for (const Case& test : cases) {
    EXPECT_EQ(IsStorableText(test.text), test.storable)
        << absl::CEscape(test.text);
    EXPECT_TRUE(IsStorableText(ToStorableText(test.text)))
        << absl::CEscape(test.text);
  }
  EXPECT_EQ(ToStorableText(std::string("a\0b", 3)),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(ToStorableText("caf\xC3\xA9"), "caf\xC3\xA9");
}

class PostgresEventStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PAYMENTO_REQUIRE_POSTGRES();
    absl::StatusOr<std::unique_ptr<TestPostgresSchema>> schema =
        TestPostgresSchema::Create(test_support::TestPostgresUrl());
    ASSERT_TRUE(schema.ok()) << schema.status();
    schema_ = *std::move(schema);
  }

  std::unique_ptr<PostgresEventStore> Open() {
    absl::StatusOr<std::unique_ptr<PostgresEventStore>> store =
        PostgresEventStore::Open(schema_->url());
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }

  // Opens a plain connection to the test schema, beside the store's own.
  absl::StatusOr<std::unique_ptr<PostgresConnection>> Connect() {
    absl::StatusOr<PostgresStoreUrl> parsed =
        ParsePostgresStoreUrl(schema_->url());
    if (!parsed.ok()) return parsed.status();
    return PostgresConnection::Connect({parsed->libpq_url, parsed->password});
  }

  std::unique_ptr<TestPostgresSchema> schema_;
};

TEST_F(PostgresEventStoreTest, UnreachableServerFailsWithoutThePassword) {
  absl::StatusOr<std::unique_ptr<PostgresEventStore>> store =
      PostgresEventStore::Open(
          absl::StrCat("postgres://bridge:closed-port-pw@127.0.0.1:",
                       test_support::FreePort(), "/events"));
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(absl::StrContains(store.status().message(), "closed-port-pw"))
      << store.status();
}

TEST_F(PostgresEventStoreTest, WrongPasswordFailsWithoutEitherPassword) {
  absl::StatusOr<PostgresStoreUrl> parsed =
      ParsePostgresStoreUrl(test_support::TestPostgresUrl());
  ASSERT_TRUE(parsed.ok());
  ASSERT_FALSE(parsed->password.empty());
  std::string wrong = absl::StrReplaceAll(
      schema_->url(), {{parsed->password, "wrong-password-123"}});
  absl::StatusOr<std::unique_ptr<PostgresEventStore>> store =
      PostgresEventStore::Open(wrong);
  ASSERT_FALSE(store.ok());
  EXPECT_FALSE(absl::StrContains(store.status().message(), "wrong-password"))
      << store.status();
  EXPECT_FALSE(absl::StrContains(store.status().message(), parsed->password))
      << store.status();
}

TEST_F(PostgresEventStoreTest, UnstorableTextFailsOnlyItsEvent) {
  std::unique_ptr<PostgresEventStore> store = Open();
  ASSERT_NE(store, nullptr);
  auto bad = store->Append(MakeEvent(std::string("evt_\0nul", 8)), "bad");
  auto good = store->Append(MakeEvent("evt_good"), "good");
  EXPECT_EQ(bad.get().status().code(), absl::StatusCode::kInvalidArgument);
  absl::StatusOr<AppendResult> stored = good.get();
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->outcome, AppendOutcome::kStored);
}

TEST_F(PostgresEventStoreTest, ReplicasStoreTheSameEventOnce) {
  std::unique_ptr<PostgresEventStore> first = Open();
  std::unique_ptr<PostgresEventStore> second = Open();
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  constexpr int kEvents = 200;
  std::vector<AppendFuture> on_first;
  std::vector<AppendFuture> on_second;
  for (int i = 0; i < kEvents; ++i) {
    std::string id = absl::StrCat("evt_both_", i);
    on_first.push_back(first->Append(MakeEvent(id), id));
    on_second.push_back(second->Append(MakeEvent(id), id));
  }
  for (int i = 0; i < kEvents; ++i) {
    absl::StatusOr<AppendResult> a = on_first[i].get();
    absl::StatusOr<AppendResult> b = on_second[i].get();
    ASSERT_TRUE(a.ok()) << a.status();
    ASSERT_TRUE(b.ok()) << b.status();
    EXPECT_EQ((a->outcome == AppendOutcome::kStored) +
                  (b->outcome == AppendOutcome::kStored),
              1)
        << i;
    EXPECT_EQ(a->sequence, b->sequence) << i;
  }
  absl::StatusOr<std::vector<v1::Event>> all = first->ReadAfter(0, 1000);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->size(), static_cast<size_t>(kEvents));
  EXPECT_EQ(all->back().sequence(), kEvents);
}

TEST_F(PostgresEventStoreTest, CommitOnOneReplicaWakesTheOther) {
  std::unique_ptr<PostgresEventStore> writer = Open();
  std::unique_ptr<PostgresEventStore> reader = Open();
  ASSERT_NE(writer, nullptr);
  ASSERT_NE(reader, nullptr);
  // The listener may run after this test's frame is gone.
  auto heard_sequence = std::make_shared<std::atomic<int64_t>>(0);
  reader->SetCommitListener(
      [heard_sequence](int64_t last) { heard_sequence->store(last); });

  absl::Time sent = absl::Now();
  ASSERT_TRUE(writer->Append(MakeEvent("evt_wake"), "wake").get().ok());
  ASSERT_TRUE(
      Eventually([&] { return heard_sequence->load() == 1; }, absl::Seconds(1)))
      << "heard sequence " << heard_sequence->load();
  EXPECT_LT(absl::Now() - sent, absl::Seconds(1));
  EXPECT_EQ(reader->LastSequence(), 1);
}

TEST_F(PostgresEventStoreTest, ReplicasStartingTogetherMigrateOnce) {
  constexpr int kReplicas = 4;
  std::vector<std::unique_ptr<PostgresEventStore>> stores(kReplicas);
  std::vector<std::thread> threads;
  for (int i = 0; i < kReplicas; ++i) {
    threads.emplace_back([&, i] { stores[i] = Open(); });
  }
  for (std::thread& thread : threads) thread.join();
  for (const auto& store : stores) ASSERT_NE(store, nullptr);

  absl::StatusOr<std::unique_ptr<PostgresConnection>> connection = Connect();
  ASSERT_TRUE(connection.ok()) << connection.status();
  absl::StatusOr<PgResult> versions =
      (*connection)
          ->Execute(
              "SELECT COUNT(*), MAX(version)::bigint FROM schema_migrations");
  ASSERT_TRUE(versions.ok()) << versions.status();
  EXPECT_EQ(versions->Int64(0, 0), 4);
  EXPECT_EQ(versions->Int64(0, 1), 4);
}

// During a rolling update, replicas of the previous release still insert
// quarantine records with ON CONFLICT (body_sha256, reason), so that key
// stays and requests that differ only in their headers still merge.
TEST_F(PostgresEventStoreTest, QuarantineKeepsThePreviousReleasesKey) {
  std::unique_ptr<PostgresEventStore> store = Open();
  ASSERT_NE(store, nullptr);
  QuarantineRecord record =
      QuarantinedWebhook("mismatch", "A: 1", "{}", std::string(32, '\x03'));
  absl::StatusOr<int64_t> first = store->Quarantine(record);
  ASSERT_TRUE(first.ok()) << first.status();
  QuarantineRecord other = record;
  other.headers = "A: other";
  absl::StatusOr<int64_t> merged = store->Quarantine(other);
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_EQ(*merged, *first);

  absl::StatusOr<std::unique_ptr<PostgresConnection>> connection = Connect();
  ASSERT_TRUE(connection.ok()) << connection.status();
  absl::Status previous_release =
      (*connection)
          ->ExecuteScript(
              "INSERT INTO quarantine (received_at, reason, route, event_id,"
              " headers, body, body_sha256) VALUES (now(), 'mismatch',"
              " '/webhook', '', 'B: 2', '{}', '\\x04')"
              " ON CONFLICT (body_sha256, reason) DO NOTHING");
  EXPECT_TRUE(previous_release.ok()) << previous_release;
}

// A database that the previous release left at schema version 3, with
// quarantined requests in it, upgrades in place when the store opens it.
// Migration 4 adds its index, and the records keep their ids, headers and
// bodies. A repeat of a record finds it instead of adding another.
TEST_F(PostgresEventStoreTest, UpgradeFromVersion3KeepsTheQuarantine) {
  absl::StatusOr<std::unique_ptr<PostgresConnection>> connection = Connect();
  ASSERT_TRUE(connection.ok()) << connection.status();
  absl::Status migrated = MigratePostgresSchemaTo(**connection, 3);
  ASSERT_TRUE(migrated.ok()) << migrated;
  EXPECT_EQ(SchemaVersion(**connection), 3);
  EXPECT_FALSE(HasQuarantineRequestIndex(**connection));
  absl::Status inserted =
      (*connection)
          ->ExecuteScript(
              "INSERT INTO quarantine (received_at, reason, route, event_id,"
              " headers, body, body_sha256) VALUES"
              " (now(), 'mismatch', '/webhook', 'evt_a', 'A: 1', '{\"a\":1}',"
              " '\\x0a'),"
              " (now(), 'stale', '/webhook', 'evt_b', 'B: 2', '{\"b\":2}',"
              " '\\x0b')"
              " ON CONFLICT (body_sha256, reason) DO NOTHING");
  ASSERT_TRUE(inserted.ok()) << inserted;
  absl::StatusOr<PgResult> before =
      (*connection)->Execute("SELECT id FROM quarantine ORDER BY id");
  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_EQ(before->rows(), 2);
  int64_t first_id = before->Int64(0, 0);
  int64_t second_id = before->Int64(1, 0);

  std::unique_ptr<PostgresEventStore> store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(SchemaVersion(**connection), 4);
  EXPECT_TRUE(HasQuarantineRequestIndex(**connection));

  absl::StatusOr<std::optional<QuarantineRecord>> kept =
      store->GetQuarantined(second_id);
  ASSERT_TRUE(kept.ok()) << kept.status();
  ASSERT_TRUE(kept->has_value());
  EXPECT_EQ((*kept)->reason, "stale");
  EXPECT_EQ((*kept)->headers, "B: 2");
  EXPECT_EQ((*kept)->body, "{\"b\":2}");
  EXPECT_EQ((*kept)->event_id, "evt_b");

  QuarantineRecord repeat = QuarantinedWebhook("mismatch", "A: 1", "{\"a\":1}",
                                               std::string(1, '\x0a'));
  repeat.event_id = "evt_a";
  absl::StatusOr<int64_t> found = store->Quarantine(repeat);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(*found, first_id);
  absl::StatusOr<std::vector<QuarantineRecord>> all =
      store->ListQuarantined(0, 10);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->size(), 2u);
}

// A session that holds the sequence counter's lock, as a frozen replica
// would, makes appends fail with UNAVAILABLE after the lock timeout instead
// of hanging. They succeed again once the lock is released.
TEST_F(PostgresEventStoreTest, AppendBehindStuckLockIsUnavailable) {
  std::unique_ptr<PostgresEventStore> store = Open();
  ASSERT_NE(store, nullptr);
  absl::StatusOr<std::unique_ptr<PostgresConnection>> holder = Connect();
  ASSERT_TRUE(holder.ok()) << holder.status();
  ASSERT_TRUE((*holder)->ExecuteScript("BEGIN").ok());
  ASSERT_TRUE((*holder)
                  ->Execute("SELECT last_sequence FROM sequence_counter"
                            " WHERE id = 1 FOR UPDATE")
                  .ok());

  absl::Time started = absl::Now();
  absl::StatusOr<AppendResult> blocked =
      store->Append(MakeEvent("evt_blocked"), "1").get();
  EXPECT_EQ(blocked.status().code(), absl::StatusCode::kUnavailable)
      << blocked.status();
  EXPECT_LT(absl::Now() - started, absl::Seconds(8));

  ASSERT_TRUE((*holder)->ExecuteScript("ROLLBACK").ok());
  absl::StatusOr<AppendResult> accepted =
      store->Append(MakeEvent("evt_released"), "2").get();
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  EXPECT_EQ(accepted->sequence, 1);
  EXPECT_TRUE(store->Health().ok()) << store->Health();
}

// The database stops as `pg_ctl stop -m fast` stops it, and starts again.
// Meanwhile appends and reads fail with UNAVAILABLE and Health reports it.
// Afterwards everything works again without reopening the store, and the
// listener receives other replicas' commits again.
TEST(PostgresOutageTest, StoreRecoversWhenTheDatabaseReturns) {
  PAYMENTO_REQUIRE_POSTGRES();
  absl::StatusOr<std::unique_ptr<PrivatePostgresServer>> server =
      PrivatePostgresServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  absl::StatusOr<std::unique_ptr<PostgresEventStore>> store =
      PostgresEventStore::Open((*server)->url());
  ASSERT_TRUE(store.ok()) << store.status();
  // The listener may run after this test's frame is gone.
  auto heard_sequence = std::make_shared<std::atomic<int64_t>>(0);
  (*store)->SetCommitListener(
      [heard_sequence](int64_t last) { heard_sequence->store(last); });
  ASSERT_TRUE((*store)->Append(MakeEvent("evt_before"), "1").get().ok());

  ASSERT_TRUE((*server)->StopServer().ok());
  absl::StatusOr<AppendResult> refused =
      (*store)->Append(MakeEvent("evt_during"), "2").get();
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable)
      << refused.status();
  EXPECT_EQ((*store)->ReadAfter(0, 10).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_TRUE(
      Eventually([&] { return !(*store)->Health().ok(); }, absl::Seconds(3)));
  EXPECT_FALSE(
      absl::StrContains((*store)->Health().message(), (*server)->password()));

  ASSERT_TRUE((*server)->StartServer().ok());
  EXPECT_TRUE(
      Eventually([&] { return (*store)->Health().ok(); }, absl::Seconds(10)))
      << (*store)->Health();
  absl::StatusOr<AppendResult> accepted =
      (*store)->Append(MakeEvent("evt_after"), "3").get();
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  EXPECT_EQ(accepted->sequence, 2);
  absl::StatusOr<std::vector<v1::Event>> events = (*store)->ReadAfter(0, 10);
  ASSERT_TRUE(events.ok()) << events.status();
  EXPECT_EQ(events->size(), 2u);

  absl::StatusOr<std::unique_ptr<PostgresEventStore>> other =
      PostgresEventStore::Open((*server)->url());
  ASSERT_TRUE(other.ok()) << other.status();
  ASSERT_TRUE((*other)->Append(MakeEvent("evt_other"), "4").get().ok());
  EXPECT_TRUE(
      Eventually([&] { return heard_sequence->load() == 3; }, absl::Seconds(2)))
      << "heard sequence " << heard_sequence->load();
  (*other)->Close();
  (*store)->Close();
}

}  // namespace
}  // namespace paymento::bridge
