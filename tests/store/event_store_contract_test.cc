// The EventStore contract, run against every implementation: SQLite on a
// temporary file, and PostgreSQL on a fresh schema of the test server per
// test. Each test states one promise of src/store/event_store.h.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "src/store/event_store.h"
#include "src/store/postgres_event_store.h"
#include "src/store/sqlite_event_store.h"
#include "tests/testing/bridge_process.h"
#include "tests/testing/test_postgres.h"

namespace paymento::bridge {
namespace {

// A database that store instances open, once or several times.
class StoreBackend {
 public:
  virtual ~StoreBackend() = default;
  // Opens a new store instance on the backend's database.
  virtual absl::StatusOr<std::unique_ptr<EventStore>> Open() = 0;
  // Whether several instances may write the same database at once, as
  // replicas do.
  virtual bool SharedByReplicas() const = 0;
};

class SqliteBackend : public StoreBackend {
 public:
  SqliteBackend()
      : path_(test_support::MakeTempDirectory() + "/store/events.db") {}
  absl::StatusOr<std::unique_ptr<EventStore>> Open() override {
    absl::StatusOr<std::unique_ptr<SqliteEventStore>> store =
        SqliteEventStore::Open(path_);
    if (!store.ok()) return store.status();
    return std::unique_ptr<EventStore>(*std::move(store));
  }
  bool SharedByReplicas() const override { return false; }

 private:
  std::string path_;
};

class PostgresBackend : public StoreBackend {
 public:
  explicit PostgresBackend(
      std::unique_ptr<test_support::TestPostgresSchema> schema)
      : schema_(std::move(schema)) {}
  absl::StatusOr<std::unique_ptr<EventStore>> Open() override {
    absl::StatusOr<std::unique_ptr<PostgresEventStore>> store =
        PostgresEventStore::Open(schema_->url());
    if (!store.ok()) return store.status();
    return std::unique_ptr<EventStore>(*std::move(store));
  }
  bool SharedByReplicas() const override { return true; }

 private:
  std::unique_ptr<test_support::TestPostgresSchema> schema_;
};

enum class Backend { kSqlite, kPostgres };

std::string BackendName(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kSqlite ? "Sqlite" : "Postgres";
}

void PrintTo(Backend backend, std::ostream* out) {
  *out << (backend == Backend::kSqlite ? "SQLite" : "PostgreSQL");
}

v1::Event MakeEvent(const std::string& id, const std::string& type,
                    absl::Time received_at = absl::Now()) {
  v1::Event event;
  event.set_id(id);
  event.set_type(type);
  event.mutable_received_at()->set_seconds(absl::ToUnixSeconds(received_at));
  return event;
}

class EventStoreContractTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::kSqlite) {
      backend_ = std::make_unique<SqliteBackend>();
    } else {
      PAYMENTO_REQUIRE_POSTGRES();
      absl::StatusOr<std::unique_ptr<test_support::TestPostgresSchema>> schema =
          test_support::TestPostgresSchema::Create(
              test_support::TestPostgresUrl());
      ASSERT_TRUE(schema.ok()) << schema.status();
      backend_ = std::make_unique<PostgresBackend>(*std::move(schema));
    }
    store_ = OpenStore();
    ASSERT_NE(store_, nullptr);
  }

  void TearDown() override {
    store_.reset();
    backend_.reset();
  }

  std::unique_ptr<EventStore> OpenStore() {
    absl::StatusOr<std::unique_ptr<EventStore>> store = backend_->Open();
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }

  void Reopen() {
    store_.reset();
    store_ = OpenStore();
    ASSERT_NE(store_, nullptr);
  }

  AppendResult Append(const v1::Event& event, const std::string& hash,
                      EventStore* store = nullptr) {
    if (store == nullptr) store = store_.get();
    absl::StatusOr<AppendResult> result = store->Append(event, hash).get();
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : AppendResult{};
  }

  std::vector<std::string> ListIds(const EventQuery& query) {
    absl::StatusOr<std::vector<v1::Event>> events = store_->List(query);
    EXPECT_TRUE(events.ok()) << events.status();
    std::vector<std::string> ids;
    if (events.ok()) {
      for (const v1::Event& event : *events) ids.push_back(event.id());
    }
    return ids;
  }

  SubscriptionRecord CreateSubscription(const std::string& name,
                                        std::vector<std::string> types = {},
                                        int64_t start_sequence = 0) {
    SubscriptionRecord record;
    record.name = name;
    record.event_types = std::move(types);
    record.created_at = absl::FromUnixSeconds(1700000000);
    record.start_sequence = start_sequence;
    record.cursor = start_sequence;
    record.ack_deadline = absl::Seconds(45);
    record.max_delivery_attempts = 7;
    record.ordered = true;
    absl::StatusOr<SubscriptionRecord> created =
        store_->CreateSubscription(record);
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? *created : SubscriptionRecord{};
  }

  void SaveDeliveries(DeliveryUpdate update) {
    absl::Status saved = store_->SaveDeliveries(std::move(update)).get();
    EXPECT_TRUE(saved.ok()) << saved;
  }

  static DeliveryRecord Delivery(int64_t sequence, DeliveryState state,
                                 int attempts = 1) {
    DeliveryRecord record;
    record.sequence = sequence;
    record.state = state;
    record.attempts = attempts;
    record.last_delivered_at = absl::FromUnixSeconds(1700000100);
    if (state == DeliveryState::kAcknowledged) {
      record.acknowledged_at = absl::FromUnixSeconds(1700000200);
    }
    return record;
  }

  std::unique_ptr<StoreBackend> backend_;
  std::unique_ptr<EventStore> store_;
};

TEST_P(EventStoreContractTest, AssignsIncreasingSequences) {
  EXPECT_EQ(store_->LastSequence(), 0);
  EXPECT_EQ(Append(MakeEvent("evt_1", "payment_link.paid"), "a").sequence, 1);
  EXPECT_EQ(Append(MakeEvent("evt_2", "payment_link.paid"), "b").sequence, 2);
  EXPECT_EQ(store_->LastSequence(), 2);
}

TEST_P(EventStoreContractTest, SameIdSameBodyIsDuplicate) {
  Append(MakeEvent("evt_dup", "payment_link.paid"), "hash");
  AppendResult again =
      Append(MakeEvent("evt_dup", "payment_link.paid"), "hash");
  EXPECT_EQ(again.outcome, AppendOutcome::kDuplicate);
  EXPECT_EQ(again.sequence, 1);
  EXPECT_EQ(store_->LastSequence(), 1);
  absl::StatusOr<std::optional<StoredEvent>> stored =
      store_->GetById("evt_dup");
  ASSERT_TRUE(stored.ok()) << stored.status();
  ASSERT_TRUE(stored->has_value());
  EXPECT_EQ((*stored)->duplicate_count, 1);
}

TEST_P(EventStoreContractTest, DuplicateInOneBatchIsStoredOnce) {
  std::vector<AppendFuture> futures;
  for (int i = 0; i < 5; ++i) {
    futures.push_back(
        store_->Append(MakeEvent("evt_same", "payment_link.paid"), "hash"));
  }
  int stored = 0;
  for (auto& future : futures) {
    absl::StatusOr<AppendResult> result = future.get();
    ASSERT_TRUE(result.ok()) << result.status();
    if (result->outcome == AppendOutcome::kStored) ++stored;
    EXPECT_EQ(result->sequence, 1);
  }
  EXPECT_EQ(stored, 1);
  EXPECT_EQ(store_->LastSequence(), 1);
}

TEST_P(EventStoreContractTest, MixedBatchKeepsOutcomesAndOrder) {
  Append(MakeEvent("evt_old", "payment_link.paid"), "old");
  struct Case {
    std::string id;
    std::string hash;
    AppendOutcome outcome;
    int64_t sequence;
  };
  // Queued without waiting, so that the writer commits them in few batches.
  const std::vector<Case> cases = {
      {"evt_new_1", "n1", AppendOutcome::kStored, 2},
      {"evt_old", "old", AppendOutcome::kDuplicate, 1},
      {"evt_new_2", "n2", AppendOutcome::kStored, 3},
      {"evt_old", "other", AppendOutcome::kConflict, 1},
      {"evt_new_1", "n1", AppendOutcome::kDuplicate, 2},
      {"evt_new_3", "n3", AppendOutcome::kStored, 4},
      {"evt_new_1", "changed", AppendOutcome::kConflict, 2},
  };
  std::vector<AppendFuture> futures;
  for (const Case& test : cases) {
    futures.push_back(
        store_->Append(MakeEvent(test.id, "payment_link.paid"), test.hash));
  }
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(cases[i].id + " " + cases[i].hash);
    absl::StatusOr<AppendResult> result = futures[i].get();
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->outcome, cases[i].outcome);
    EXPECT_EQ(result->sequence, cases[i].sequence);
  }
  EXPECT_EQ(store_->LastSequence(), 4);

  absl::StatusOr<std::vector<v1::Event>> all = store_->ReadAfter(0, 10);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 4u);
  const std::vector<std::string> ids = {"evt_old", "evt_new_1", "evt_new_2",
                                        "evt_new_3"};
  for (size_t i = 0; i < all->size(); ++i) {
    EXPECT_EQ((*all)[i].sequence(), static_cast<int64_t>(i + 1));
    EXPECT_EQ((*all)[i].id(), ids[i]);
  }
}

TEST_P(EventStoreContractTest, SameIdOtherBodyIsConflict) {
  Append(MakeEvent("evt_conflict", "payment_link.paid"), "first");
  AppendResult again =
      Append(MakeEvent("evt_conflict", "payment_link.failed"), "second");
  EXPECT_EQ(again.outcome, AppendOutcome::kConflict);
  EXPECT_EQ(again.sequence, 1);
  EXPECT_EQ(store_->LastSequence(), 1);
  absl::StatusOr<std::optional<StoredEvent>> stored =
      store_->GetById("evt_conflict");
  ASSERT_TRUE(stored.ok()) << stored.status();
  ASSERT_TRUE(stored->has_value());
  EXPECT_EQ((*stored)->event.type(), "payment_link.paid");
  EXPECT_EQ((*stored)->duplicate_count, 0);
}

TEST_P(EventStoreContractTest, SequencesAndEventsSurviveReopen) {
  v1::Event event = MakeEvent("evt_b", "payment_link.paid");
  event.mutable_customer()->set_email("jane@example.com");
  event.set_raw_body("{\"exact\":\"bytes\"}");
  Append(MakeEvent("evt_a", "payment_link.paid"), "a");
  Append(event, "b");
  Reopen();
  EXPECT_EQ(store_->LastSequence(), 2);
  EXPECT_EQ(Append(MakeEvent("evt_c", "payment_link.paid"), "c").sequence, 3);
  absl::StatusOr<std::optional<StoredEvent>> stored = store_->GetBySequence(2);
  ASSERT_TRUE(stored.ok()) << stored.status();
  ASSERT_TRUE(stored->has_value());
  EXPECT_EQ((*stored)->event.id(), "evt_b");
  EXPECT_EQ((*stored)->event.sequence(), 2);
  EXPECT_EQ((*stored)->event.raw_body(), "{\"exact\":\"bytes\"}");
  EXPECT_EQ((*stored)->event.customer().email(), "jane@example.com");
}

TEST_P(EventStoreContractTest, MissingEventsAreNullopt) {
  Append(MakeEvent("evt_1", "payment_link.paid"), "a");
  absl::StatusOr<std::optional<StoredEvent>> by_id = store_->GetById("nope");
  ASSERT_TRUE(by_id.ok()) << by_id.status();
  EXPECT_FALSE(by_id->has_value());
  absl::StatusOr<std::optional<StoredEvent>> by_sequence =
      store_->GetBySequence(2);
  ASSERT_TRUE(by_sequence.ok()) << by_sequence.status();
  EXPECT_FALSE(by_sequence->has_value());
}

TEST_P(EventStoreContractTest, ConcurrentAppendsShareCommits) {
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
      store_->ReadAfter(0, kThreads * kPerThread + 10);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), static_cast<size_t>(kThreads * kPerThread));
  for (size_t i = 0; i < all->size(); ++i) {
    EXPECT_EQ((*all)[i].sequence(), static_cast<int64_t>(i + 1));
  }
}

TEST_P(EventStoreContractTest, CommitObserverSeesEveryAppend) {
  absl::Mutex mu;
  int64_t observed_events = 0;
  int commits = 0;
  absl::Duration longest;
  store_->SetCommitObserver([&](absl::Duration duration, int64_t events) {
    absl::MutexLock lock(&mu);
    observed_events += events;
    ++commits;
    longest = std::max(longest, duration);
  });
  Append(MakeEvent("evt_observed_1", "payment_link.paid"), "a");
  Append(MakeEvent("evt_observed_2", "payment_link.paid"), "b");
  Append(MakeEvent("evt_observed_1", "payment_link.paid"), "a");

  // Each append's commit is observed before its result is returned, and a
  // duplicate passes through a commit like a new event.
  absl::MutexLock lock(&mu);
  EXPECT_EQ(observed_events, 3);
  EXPECT_EQ(commits, 3);
  EXPECT_GT(longest, absl::ZeroDuration());
}

TEST_P(EventStoreContractTest, ReadAfterPagesInSequenceOrder) {
  for (int i = 1; i <= 5; ++i) {
    Append(MakeEvent(absl::StrCat("evt_", i), "payment_link.paid"),
           absl::StrCat(i));
  }
  absl::StatusOr<std::vector<v1::Event>> page = store_->ReadAfter(2, 2);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].sequence(), 3);
  EXPECT_EQ((*page)[1].sequence(), 4);
  absl::StatusOr<std::vector<v1::Event>> rest = store_->ReadAfter(5, 10);
  ASSERT_TRUE(rest.ok()) << rest.status();
  EXPECT_TRUE(rest->empty());
}

// Serialized reads return each event's stored bytes, which parse to what
// ReadAfter returns, with the sequence and type beside them. The test reads
// before and after a reopen, which empties any in-memory copy.
TEST_P(EventStoreContractTest, ReadSerializedAfterMatchesReadAfter) {
  const std::vector<std::string> types = {
      "payment_link.paid", "subscription.renewed", "payment_link.expired"};
  for (size_t i = 0; i < types.size(); ++i) {
    v1::Event event = MakeEvent(absl::StrCat("evt_", i), types[i]);
    event.set_raw_body(absl::StrCat("{\"n\":", i, "}"));
    Append(event, absl::StrCat(i));
  }
  for (bool reopened : {false, true}) {
    if (reopened) Reopen();
    SCOPED_TRACE(reopened ? "after reopen" : "before reopen");
    absl::StatusOr<std::vector<v1::Event>> parsed = store_->ReadAfter(1, 10);
    absl::StatusOr<std::vector<SerializedEventPtr>> serialized =
        store_->ReadSerializedAfter(1, 10);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    ASSERT_TRUE(serialized.ok()) << serialized.status();
    ASSERT_EQ(serialized->size(), 2u);
    ASSERT_EQ(parsed->size(), 2u);
    for (size_t i = 0; i < serialized->size(); ++i) {
      const SerializedEvent& event = *(*serialized)[i];
      EXPECT_EQ(event.sequence, static_cast<int64_t>(i + 2));
      EXPECT_EQ(event.type, types[i + 1]);
      v1::Event decoded;
      ASSERT_TRUE(decoded.ParseFromString(event.bytes));
      EXPECT_EQ(decoded.SerializeAsString(), (*parsed)[i].SerializeAsString());
      EXPECT_EQ(decoded.sequence(), event.sequence);
    }
    absl::StatusOr<std::vector<SerializedEventPtr>> page =
        store_->ReadSerializedAfter(0, 1);
    ASSERT_TRUE(page.ok()) << page.status();
    ASSERT_EQ(page->size(), 1u);
    EXPECT_EQ((*page)[0]->sequence, 1);
  }
}

// A reader that only moves forward, as streams do, must end up having seen
// every event: a sequence that committed after a higher one would be
// skipped for good. Where the backend allows it, two store instances append
// at once, as two replicas would.
TEST_P(EventStoreContractTest, ReaderAfterCursorNeverMissesAnEvent) {
  std::unique_ptr<EventStore> second;
  if (backend_->SharedByReplicas()) {
    second = OpenStore();
    ASSERT_NE(second, nullptr);
  }
  std::vector<EventStore*> writers = {store_.get()};
  if (second != nullptr) writers.push_back(second.get());

  constexpr int kThreadsPerWriter = 6;
  constexpr int kInFlight = 8;
  constexpr int kRounds = 12;
  std::atomic<int> appenders_left{static_cast<int>(writers.size()) *
                                  kThreadsPerWriter};
  std::vector<std::thread> appenders;
  for (size_t w = 0; w < writers.size(); ++w) {
    for (int t = 0; t < kThreadsPerWriter; ++t) {
      appenders.emplace_back([&, w, t] {
        for (int round = 0; round < kRounds; ++round) {
          std::vector<AppendFuture> futures;
          for (int i = 0; i < kInFlight; ++i) {
            std::string id =
                absl::StrCat("evt_", w, "_", t, "_", round, "_", i);
            futures.push_back(
                writers[w]->Append(MakeEvent(id, "payment_link.paid"), id));
          }
          for (auto& future : futures) {
            absl::StatusOr<AppendResult> result = future.get();
            EXPECT_TRUE(result.ok()) << result.status();
          }
        }
        appenders_left.fetch_sub(1);
      });
    }
  }

  std::set<int64_t> seen;
  int64_t cursor = 0;
  for (;;) {
    bool done = appenders_left.load() == 0;
    absl::StatusOr<std::vector<v1::Event>> events =
        store_->ReadAfter(cursor, 100);
    ASSERT_TRUE(events.ok()) << events.status();
    for (const v1::Event& event : *events) {
      EXPECT_GT(event.sequence(), cursor);
      seen.insert(event.sequence());
      cursor = event.sequence();
    }
    // One more pass after the appenders finished reads the tail.
    if (done && events->empty()) break;
  }
  for (std::thread& thread : appenders) thread.join();

  const int64_t total = static_cast<int64_t>(writers.size()) *
                        kThreadsPerWriter * kRounds * kInFlight;
  absl::StatusOr<std::vector<v1::Event>> all =
      store_->ReadAfter(0, static_cast<int>(total) + 10);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), static_cast<size_t>(total));
  EXPECT_EQ(all->back().sequence(), total);
  std::vector<int64_t> missed;
  for (const v1::Event& event : *all) {
    if (seen.count(event.sequence()) == 0) missed.push_back(event.sequence());
  }
  EXPECT_TRUE(missed.empty())
      << missed.size() << " events committed behind the reader's cursor, "
      << "first " << missed.front();
}

TEST_P(EventStoreContractTest, ListFiltersByTypeEmailLinkAndTime) {
  absl::Time base = absl::FromUnixSeconds(1700000000);
  v1::Event paid = MakeEvent("evt_1", "payment_link.paid", base);
  paid.mutable_customer()->set_email("Jane@Example.com");
  paid.mutable_payment_link()->set_id("pl_1");
  v1::Event renewed =
      MakeEvent("evt_2", "subscription.renewed", base + absl::Hours(1));
  renewed.mutable_customer()->set_email("jane@example.com");
  v1::Event failed =
      MakeEvent("evt_3", "payment_link.failed", base + absl::Hours(2));
  failed.mutable_customer()->set_email("bob@example.com");
  failed.mutable_payment_link()->set_id("pl_1");
  Append(paid, "1");
  Append(renewed, "2");
  Append(failed, "3");

  EventQuery prefix;
  prefix.type_patterns = {"payment_link.*"};
  EXPECT_EQ(ListIds(prefix), (std::vector<std::string>{"evt_1", "evt_3"}));

  EventQuery exact;
  exact.type_patterns = {"subscription.renewed", "payment_link.failed"};
  EXPECT_EQ(ListIds(exact), (std::vector<std::string>{"evt_2", "evt_3"}));

  EventQuery email;
  email.customer_email = "JANE@example.com";
  EXPECT_EQ(ListIds(email), (std::vector<std::string>{"evt_1", "evt_2"}));

  EventQuery link;
  link.payment_link_id = "pl_1";
  EXPECT_EQ(ListIds(link), (std::vector<std::string>{"evt_1", "evt_3"}));

  EventQuery window;
  window.received_after = base + absl::Hours(1);
  window.received_before = base + absl::Hours(2);
  EXPECT_EQ(ListIds(window), (std::vector<std::string>{"evt_2"}));

  EventQuery page;
  page.limit = 1;
  page.after_sequence = 1;
  EXPECT_EQ(ListIds(page), (std::vector<std::string>{"evt_2"}));

  EventQuery wildcard;
  wildcard.type_patterns = {"payment%.*"};
  EXPECT_TRUE(ListIds(wildcard).empty());

  EventQuery invalid;
  invalid.type_patterns = {"a*"};
  EXPECT_EQ(store_->List(invalid).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(EventStoreContractTest, ListFiltersByDeliveryState) {
  for (int i = 1; i <= 6; ++i) {
    Append(MakeEvent(absl::StrCat("evt_", i),
                     i == 6 ? "subscription.renewed" : "payment_link.paid"),
           absl::StrCat(i));
  }
  // Starts after event 1, subscribes to payment links only (not event 6).
  CreateSubscription("billing", {"payment_link.*"}, 1);
  DeliveryUpdate update;
  update.subscription = "billing";
  update.records = {Delivery(2, DeliveryState::kAcknowledged),
                    Delivery(3, DeliveryState::kLeased),
                    Delivery(4, DeliveryState::kDeadLettered, 7)};
  update.cursor = 2;
  SaveDeliveries(update);

  auto in_state = [&](DeliveryState state) {
    EventQuery query;
    query.subscription = "billing";
    query.delivery_state = state;
    return ListIds(query);
  };
  EXPECT_EQ(in_state(DeliveryState::kAcknowledged),
            (std::vector<std::string>{"evt_2"}));
  EXPECT_EQ(in_state(DeliveryState::kLeased),
            (std::vector<std::string>{"evt_3"}));
  EXPECT_EQ(in_state(DeliveryState::kDeadLettered),
            (std::vector<std::string>{"evt_4"}));
  // No row and above the cursor: pending.
  EXPECT_EQ(in_state(DeliveryState::kPending),
            (std::vector<std::string>{"evt_5"}));

  EventQuery unknown;
  unknown.subscription = "absent";
  unknown.delivery_state = DeliveryState::kPending;
  EXPECT_EQ(store_->List(unknown).status().code(), absl::StatusCode::kNotFound);
}

TEST_P(EventStoreContractTest, CreateSubscriptionKeepsTheFirstRecord) {
  SubscriptionRecord first =
      CreateSubscription("orders", {"payment_link.paid", "subscription.*"}, 4);
  EXPECT_EQ(first.name, "orders");
  EXPECT_EQ(first.event_types,
            (std::vector<std::string>{"payment_link.paid", "subscription.*"}));
  EXPECT_EQ(first.start_sequence, 4);
  EXPECT_EQ(first.cursor, 4);
  EXPECT_EQ(first.ack_deadline, absl::Seconds(45));
  EXPECT_EQ(first.max_delivery_attempts, 7);
  EXPECT_TRUE(first.ordered);
  EXPECT_EQ(first.created_at, absl::FromUnixSeconds(1700000000));

  SubscriptionRecord again = CreateSubscription("orders", {}, 9);
  EXPECT_EQ(again.event_types, first.event_types);
  EXPECT_EQ(again.start_sequence, 4);

  CreateSubscription("all");
  absl::StatusOr<std::vector<SubscriptionRecord>> loaded =
      store_->LoadSubscriptions();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_EQ(loaded->size(), 2u);
  EXPECT_EQ((*loaded)[0].name, "all");
  EXPECT_TRUE((*loaded)[0].event_types.empty());
  EXPECT_EQ((*loaded)[1].name, "orders");
}

TEST_P(EventStoreContractTest, DeleteSubscriptionRemovesItsDeliveries) {
  Append(MakeEvent("evt_1", "payment_link.paid"), "1");
  CreateSubscription("gone");
  CreateSubscription("kept");
  for (const char* name : {"gone", "kept"}) {
    DeliveryUpdate update;
    update.subscription = name;
    update.records = {Delivery(1, DeliveryState::kLeased)};
    SaveDeliveries(update);
  }
  ASSERT_TRUE(store_->DeleteSubscription("gone").ok());
  EXPECT_EQ(store_->DeleteSubscription("gone").code(),
            absl::StatusCode::kNotFound);

  absl::StatusOr<std::vector<DeliveryRecord>> rows = store_->DeliveriesOf(1);
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].subscription, "kept");

  // Rows saved for a deleted subscription are not written back.
  DeliveryUpdate late;
  late.subscription = "gone";
  late.records = {Delivery(1, DeliveryState::kAcknowledged)};
  SaveDeliveries(late);
  rows = store_->DeliveriesOf(1);
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ(rows->size(), 1u);
}

TEST_P(EventStoreContractTest, DeliveriesRoundTripAndCursorOnlyAdvances) {
  for (int i = 1; i <= 5; ++i) {
    Append(MakeEvent(absl::StrCat("evt_", i), "payment_link.paid"),
           absl::StrCat(i));
  }
  CreateSubscription("worker");
  DeliveryUpdate update;
  update.subscription = "worker";
  update.records = {Delivery(1, DeliveryState::kAcknowledged),
                    Delivery(2, DeliveryState::kPending, 2),
                    Delivery(3, DeliveryState::kLeased, 3),
                    Delivery(4, DeliveryState::kDeadLettered, 7),
                    Delivery(5, DeliveryState::kAcknowledged)};
  update.cursor = 3;
  SaveDeliveries(update);
  DeliveryUpdate backwards;
  backwards.subscription = "worker";
  backwards.cursor = 1;
  SaveDeliveries(backwards);

  absl::StatusOr<std::vector<SubscriptionRecord>> loaded =
      store_->LoadSubscriptions();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)[0].cursor, 3);

  // Above the cursor, and pending or leased at or below it.
  absl::StatusOr<std::vector<DeliveryRecord>> rows =
      store_->LoadDeliveries("worker", 3);
  ASSERT_TRUE(rows.ok()) << rows.status();
  std::vector<int64_t> sequences;
  for (const DeliveryRecord& row : *rows) sequences.push_back(row.sequence);
  EXPECT_EQ(sequences, (std::vector<int64_t>{2, 3, 4, 5}));
  EXPECT_EQ((*rows)[1].state, DeliveryState::kLeased);
  EXPECT_EQ((*rows)[1].attempts, 3);
  EXPECT_EQ((*rows)[1].last_delivered_at, absl::FromUnixSeconds(1700000100));
  EXPECT_EQ((*rows)[1].acknowledged_at, absl::UnixEpoch());
  EXPECT_EQ((*rows)[3].acknowledged_at, absl::FromUnixSeconds(1700000200));

  absl::StatusOr<std::vector<DeliveryRecord>> dead =
      store_->LoadDeadLetters("worker");
  ASSERT_TRUE(dead.ok()) << dead.status();
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].sequence, 4);
  EXPECT_EQ((*dead)[0].attempts, 7);

  // A later change to the same row replaces it.
  DeliveryUpdate settle;
  settle.subscription = "worker";
  settle.records = {Delivery(3, DeliveryState::kAcknowledged, 3)};
  SaveDeliveries(settle);
  absl::StatusOr<std::vector<DeliveryRecord>> of_three =
      store_->DeliveriesOf(3);
  ASSERT_TRUE(of_three.ok()) << of_three.status();
  ASSERT_EQ(of_three->size(), 1u);
  EXPECT_EQ((*of_three)[0].state, DeliveryState::kAcknowledged);
}

TEST_P(EventStoreContractTest, SeekForgetsRowsAboveAndSettlesRowsBelow) {
  for (int i = 1; i <= 4; ++i) {
    Append(MakeEvent(absl::StrCat("evt_", i), "payment_link.paid"),
           absl::StrCat(i));
  }
  CreateSubscription("replay");
  DeliveryUpdate update;
  update.subscription = "replay";
  update.records = {Delivery(1, DeliveryState::kLeased),
                    Delivery(2, DeliveryState::kDeadLettered),
                    Delivery(3, DeliveryState::kAcknowledged),
                    Delivery(4, DeliveryState::kLeased)};
  update.cursor = 3;
  SaveDeliveries(update);

  ASSERT_TRUE(store_->SeekSubscription("replay", 2).ok());
  absl::StatusOr<std::vector<SubscriptionRecord>> loaded =
      store_->LoadSubscriptions();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)[0].cursor, 2);
  for (int64_t sequence : {3, 4}) {
    absl::StatusOr<std::vector<DeliveryRecord>> rows =
        store_->DeliveriesOf(sequence);
    ASSERT_TRUE(rows.ok()) << rows.status();
    EXPECT_TRUE(rows->empty()) << sequence;
  }
  for (int64_t sequence : {1, 2}) {
    absl::StatusOr<std::vector<DeliveryRecord>> rows =
        store_->DeliveriesOf(sequence);
    ASSERT_TRUE(rows.ok()) << rows.status();
    ASSERT_EQ(rows->size(), 1u) << sequence;
    EXPECT_EQ((*rows)[0].state, DeliveryState::kAcknowledged) << sequence;
  }
  EXPECT_EQ(store_->SeekSubscription("absent", 1).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_P(EventStoreContractTest, FindsSequencesByReceivedTime) {
  absl::Time base = absl::FromUnixSeconds(1700000000);
  for (int i = 1; i <= 3; ++i) {
    Append(MakeEvent(absl::StrCat("evt_", i), "payment_link.paid",
                     base + absl::Minutes(10 * i)),
           absl::StrCat(i));
  }
  absl::StatusOr<int64_t> before =
      store_->SequenceBefore(base + absl::Minutes(15));
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_EQ(*before, 1);
  absl::StatusOr<int64_t> first =
      store_->FirstSequenceAtOrAfter(base + absl::Minutes(20));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, 2);
  absl::StatusOr<int64_t> none =
      store_->FirstSequenceAtOrAfter(base + absl::Hours(5));
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(*none, 4);
}

TEST_P(EventStoreContractTest, CountsBacklogAfterAPosition) {
  absl::Time base = absl::FromUnixSeconds(1700000000);
  Append(MakeEvent("evt_1", "payment_link.paid", base), "1");
  Append(MakeEvent("evt_2", "subscription.renewed", base + absl::Minutes(1)),
         "2");
  Append(MakeEvent("evt_3", "payment_link.failed", base + absl::Minutes(2)),
         "3");
  absl::StatusOr<Backlog> links = store_->CountBacklog({"payment_link.*"}, 1);
  ASSERT_TRUE(links.ok()) << links.status();
  EXPECT_EQ(links->events, 1);
  ASSERT_TRUE(links->oldest_received_at.has_value());
  EXPECT_EQ(*links->oldest_received_at, base + absl::Minutes(2));
  absl::StatusOr<Backlog> none = store_->CountBacklog({}, 3);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(none->events, 0);
  EXPECT_FALSE(none->oldest_received_at.has_value());
}

TEST_P(EventStoreContractTest, RetentionKeepsNewerEventsBelowAnOldOne) {
  // A request released from quarantine keeps its old receipt time but gets
  // the next sequence, above newer events.
  Append(MakeEvent("evt_fresh", "payment_link.paid", absl::Now()), "fresh");
  Append(MakeEvent("evt_released", "payment_link.paid",
                   absl::Now() - absl::Hours(48)),
         "released");
  CreateSubscription("slow");
  DeliveryUpdate update;
  update.subscription = "slow";
  update.records = {Delivery(1, DeliveryState::kLeased)};
  SaveDeliveries(update);

  absl::StatusOr<RetentionResult> deleted = store_->DeleteExpired(
      absl::Now() - absl::Hours(24), absl::Now() - absl::Hours(72), 10);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(deleted->events_deleted, 1);

  absl::StatusOr<std::vector<v1::Event>> left = store_->ReadAfter(0, 10);
  ASSERT_TRUE(left.ok()) << left.status();
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ((*left)[0].id(), "evt_fresh");
  absl::StatusOr<std::vector<DeliveryRecord>> rows = store_->DeliveriesOf(1);
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ(rows->size(), 1u);
}

TEST_P(EventStoreContractTest, RetentionDeletesOldEventsAndKeepsTombstones) {
  absl::Time old_time = absl::Now() - absl::Hours(48);
  absl::Time new_time = absl::Now();
  for (int i = 1; i <= 4; ++i) {
    Append(
        MakeEvent(absl::StrCat("evt_old_", i), "payment_link.paid", old_time),
        absl::StrCat("old", i));
  }
  Append(MakeEvent("evt_new", "payment_link.paid", new_time), "new");
  CreateSubscription("slow");
  CreateSubscription("other_types", {"subscription.*"});
  DeliveryUpdate update;
  update.subscription = "slow";
  update.records = {Delivery(1, DeliveryState::kAcknowledged),
                    Delivery(2, DeliveryState::kDeadLettered),
                    Delivery(3, DeliveryState::kLeased)};
  update.cursor = 2;
  SaveDeliveries(update);

  absl::Time cutoff = absl::Now() - absl::Hours(24);
  absl::Time ids_cutoff = absl::Now() - absl::Hours(72);
  absl::StatusOr<RetentionResult> first =
      store_->DeleteExpired(cutoff, ids_cutoff, 3);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->events_deleted, 3);
  EXPECT_EQ(first->tombstones_deleted, 0);
  // Event 3 was leased; events 1 and 2 were settled.
  EXPECT_EQ(first->expired_by_subscription,
            (std::map<std::string, int64_t>{{"slow", 1}}));
  absl::StatusOr<RetentionResult> second =
      store_->DeleteExpired(cutoff, ids_cutoff, 3);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->events_deleted, 1);
  // Event 4 had no row and was above the cursor.
  EXPECT_EQ(second->expired_by_subscription,
            (std::map<std::string, int64_t>{{"slow", 1}}));
  absl::StatusOr<RetentionResult> done =
      store_->DeleteExpired(cutoff, ids_cutoff, 3);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->events_deleted, 0);

  absl::StatusOr<std::vector<SubscriptionRecord>> loaded =
      store_->LoadSubscriptions();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)[1].name, "slow");
  EXPECT_EQ((*loaded)[1].expired_events, 2);
  absl::StatusOr<std::vector<DeliveryRecord>> rows = store_->DeliveriesOf(3);
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_TRUE(rows->empty());
  absl::StatusOr<std::vector<v1::Event>> left = store_->ReadAfter(0, 10);
  ASSERT_TRUE(left.ok()) << left.status();
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ((*left)[0].id(), "evt_new");

  // The tombstone still recognises a replay.
  AppendResult replay =
      Append(MakeEvent("evt_old_1", "payment_link.paid", old_time), "old1");
  EXPECT_EQ(replay.outcome, AppendOutcome::kDuplicate);
  EXPECT_EQ(store_->LastSequence(), 5);

  // Past the dedup window, tombstones go too.
  absl::StatusOr<RetentionResult> forgotten =
      store_->DeleteExpired(cutoff, absl::Now(), 10);
  ASSERT_TRUE(forgotten.ok()) << forgotten.status();
  EXPECT_EQ(forgotten->tombstones_deleted, 4);
}

TEST_P(EventStoreContractTest, QuarantineStoresListsAndDeletes) {
  QuarantineRecord record;
  record.received_at = absl::FromUnixSeconds(1700000000);
  record.reason = "malformed JSON";
  record.route = "/webhook";
  record.headers = "X-Paymento-Signature: abc\nContent-Type: text/plain";
  record.body = std::string("not json\0\xff bytes", 16);
  record.body_sha256 = std::string(32, '\x01');
  record.event_id = "evt_q";
  absl::StatusOr<int64_t> first = store_->Quarantine(record);
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<int64_t> again = store_->Quarantine(record);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *first);

  QuarantineRecord other = record;
  other.reason = "stale timestamp";
  absl::StatusOr<int64_t> second = store_->Quarantine(other);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_GT(*second, *first);

  absl::StatusOr<std::vector<QuarantineRecord>> listed =
      store_->ListQuarantined(0, 10);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].id, *second);
  EXPECT_EQ((*listed)[0].reason, "stale timestamp");
  EXPECT_TRUE((*listed)[0].body.empty());
  EXPECT_EQ((*listed)[0].body_size, 16);
  absl::StatusOr<std::vector<QuarantineRecord>> older =
      store_->ListQuarantined(*second, 10);
  ASSERT_TRUE(older.ok()) << older.status();
  ASSERT_EQ(older->size(), 1u);
  EXPECT_EQ((*older)[0].id, *first);

  absl::StatusOr<std::optional<QuarantineRecord>> got =
      store_->GetQuarantined(*first);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->body, record.body);
  EXPECT_EQ((*got)->body_sha256, record.body_sha256);
  EXPECT_EQ((*got)->headers, record.headers);
  EXPECT_EQ((*got)->route, "/webhook");
  EXPECT_EQ((*got)->event_id, "evt_q");
  EXPECT_EQ((*got)->received_at, absl::FromUnixSeconds(1700000000));

  ASSERT_TRUE(store_->DeleteQuarantined(*first).ok());
  EXPECT_EQ(store_->DeleteQuarantined(*first).code(),
            absl::StatusCode::kNotFound);
  absl::StatusOr<std::optional<QuarantineRecord>> gone =
      store_->GetQuarantined(*first);
  ASSERT_TRUE(gone.ok()) << gone.status();
  EXPECT_FALSE(gone->has_value());
}

TEST_P(EventStoreContractTest, HealthyWhileTheDatabaseIsReachable) {
  EXPECT_TRUE(store_->Health().ok()) << store_->Health();
}

TEST_P(EventStoreContractTest, AppendAfterCloseIsUnavailable) {
  store_->Close();
  absl::StatusOr<AppendResult> result =
      store_->Append(MakeEvent("evt_late", "payment_link.paid"), "late").get();
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable);
}

INSTANTIATE_TEST_SUITE_P(Stores, EventStoreContractTest,
                         ::testing::Values(Backend::kSqlite,
                                           Backend::kPostgres),
                         BackendName);

}  // namespace
}  // namespace paymento::bridge
