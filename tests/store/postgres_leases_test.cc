// Tests of the leases the PostgreSQL store shares between replicas: two
// store instances on one database claim, acknowledge, release and extend
// the leases of one subscription, as two replicas would.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "src/store/postgres_event_store.h"
#include "tests/testing/test_postgres.h"

namespace paymento::bridge {
namespace {

using ::paymento::bridge::test_support::TestPostgresSchema;

constexpr char kSubscription[] = "orders";

template <typename Condition>
bool Eventually(Condition condition, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (condition()) return true;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return condition();
}

std::vector<int64_t> Range(int64_t first, int64_t last) {
  std::vector<int64_t> sequences;
  for (int64_t sequence = first; sequence <= last; ++sequence) {
    sequences.push_back(sequence);
  }
  return sequences;
}

class PostgresLeasesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PAYMENTO_REQUIRE_POSTGRES();
    absl::StatusOr<std::unique_ptr<TestPostgresSchema>> schema =
        TestPostgresSchema::Create(test_support::TestPostgresUrl());
    ASSERT_TRUE(schema.ok()) << schema.status();
    schema_ = *std::move(schema);
    first_ = Open();
    second_ = Open();
    ASSERT_NE(first_, nullptr);
    ASSERT_NE(second_, nullptr);
  }

  std::unique_ptr<PostgresEventStore> Open() {
    absl::StatusOr<std::unique_ptr<PostgresEventStore>> store =
        PostgresEventStore::Open(schema_->url());
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }

  // Appends `count` events and creates the subscription before them.
  void AppendEvents(int count, int max_delivery_attempts = 10) {
    SubscriptionRecord record;
    record.name = kSubscription;
    record.created_at = absl::Now();
    record.max_delivery_attempts = max_delivery_attempts;
    ASSERT_TRUE(first_->CreateSubscription(record).ok());
    std::vector<AppendFuture> appended;
    for (int i = 0; i < count; ++i) {
      v1::Event event;
      event.set_id(absl::StrCat("evt_", i));
      event.set_type("payment_link.paid");
      appended.push_back(first_->Append(event, event.id()));
    }
    for (auto& future : appended) ASSERT_TRUE(future.get().ok());
  }

  static ClaimRequest Request(const std::string& holder,
                              std::vector<int64_t> sequences,
                              absl::Duration lease = absl::Seconds(30)) {
    ClaimRequest request;
    request.subscription = kSubscription;
    request.holder = holder;
    request.sequences = std::move(sequences);
    request.lease = lease;
    return request;
  }

  static std::map<int64_t, ClaimResult> BySequence(
      const std::vector<ClaimResult>& results) {
    std::map<int64_t, ClaimResult> by_sequence;
    for (const ClaimResult& result : results) {
      by_sequence[result.sequence] = result;
    }
    return by_sequence;
  }

  std::unique_ptr<TestPostgresSchema> schema_;
  std::unique_ptr<PostgresEventStore> first_;
  std::unique_ptr<PostgresEventStore> second_;
};

TEST_F(PostgresLeasesTest, SharesSubscriptions) {
  EXPECT_TRUE(first_->SharesSubscriptions());
}

// Two replicas claim the same candidates over and over, in batches that
// overlap, until every event is leased. No sequence is won twice.
TEST_F(PostgresLeasesTest, RacingClaimersNeverWinTheSameSequence) {
  constexpr int kEvents = 600;
  AppendEvents(kEvents);
  absl::Mutex mu;
  std::map<int64_t, std::string> winners;
  std::vector<std::string> duplicates;
  std::vector<std::string> errors;

  // Both claimers start together, from opposite ends, so they meet. Each
  // waits after its first batch for the other's, so both win some events
  // even when the scheduler runs one claimer long before the other.
  std::atomic<int> ready{0};
  std::atomic<int> first_batches{0};
  auto claim_all = [&](PostgresEventStore* store, const std::string& holder,
                       bool reversed) {
    ready.fetch_add(1);
    while (ready.load() < 2) std::this_thread::yield();
    for (int round = 0; round < 40; ++round) {
      for (int batch = 0; batch < kEvents / 100; ++batch) {
        int first = (reversed ? kEvents / 100 - 1 - batch : batch) * 100 + 1;
        absl::StatusOr<std::vector<ClaimResult>> results =
            store->ClaimDeliveries(Request(holder, Range(first, first + 149)));
        if (round == 0 && batch == 0) {
          first_batches.fetch_add(1);
          while (first_batches.load() < 2) std::this_thread::yield();
        }
        absl::MutexLock lock(&mu);
        if (!results.ok()) {
          errors.push_back(std::string(results.status().message()));
          continue;
        }
        for (const ClaimResult& result : *results) {
          if (result.outcome != ClaimOutcome::kLeased) continue;
          auto [it, inserted] = winners.emplace(result.sequence, holder);
          if (!inserted) {
            duplicates.push_back(absl::StrCat(result.sequence, " won by ",
                                              it->second, " and ", holder));
          }
        }
      }
      absl::MutexLock lock(&mu);
      if (winners.size() == static_cast<size_t>(kEvents)) return;
    }
  };
  std::thread a([&] { claim_all(first_.get(), "replica-a", false); });
  std::thread b([&] { claim_all(second_.get(), "replica-b", true); });
  a.join();
  b.join();

  EXPECT_TRUE(duplicates.empty()) << duplicates.front();
  EXPECT_EQ(winners.size(), static_cast<size_t>(kEvents));
  int won_by_a = static_cast<int>(std::count_if(
      winners.begin(), winners.end(),
      [](const auto& winner) { return winner.second == "replica-a"; }));
  EXPECT_GT(won_by_a, 0);
  EXPECT_LT(won_by_a, kEvents);
  // A failed claim (a deadlock, say) is retried by its caller, so it may
  // happen, but not as the rule.
  EXPECT_LT(errors.size(), 5u) << (errors.empty() ? "" : errors.front());
}

TEST_F(PostgresLeasesTest, LeasedEventIsBusyElsewhere) {
  AppendEvents(3);
  absl::StatusOr<std::vector<ClaimResult>> won =
      first_->ClaimDeliveries(Request("replica-a", {1, 2}));
  ASSERT_TRUE(won.ok()) << won.status();
  ASSERT_EQ(won->size(), 2u);
  EXPECT_EQ(won->at(0).outcome, ClaimOutcome::kLeased);
  EXPECT_EQ(won->at(0).attempts, 1);

  absl::StatusOr<std::vector<ClaimResult>> lost =
      second_->ClaimDeliveries(Request("replica-b", {1, 2, 3}));
  ASSERT_TRUE(lost.ok()) << lost.status();
  std::map<int64_t, ClaimResult> results = BySequence(*lost);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[1].outcome, ClaimOutcome::kBusy);
  EXPECT_GT(results[1].remaining, absl::Seconds(25));
  EXPECT_EQ(results[2].outcome, ClaimOutcome::kBusy);
  EXPECT_EQ(results[3].outcome, ClaimOutcome::kLeased);
}

TEST_F(PostgresLeasesTest, ExpiredLeaseMovesToOtherClaimer) {
  AppendEvents(1);
  absl::StatusOr<std::vector<ClaimResult>> first_lease =
      first_->ClaimDeliveries(
          Request("replica-a", {1}, absl::Milliseconds(300)));
  ASSERT_TRUE(first_lease.ok()) << first_lease.status();
  ASSERT_EQ(first_lease->size(), 1u);
  ASSERT_EQ(first_lease->at(0).outcome, ClaimOutcome::kLeased);
  LeaseId expired{1, first_lease->at(0).generation};

  absl::SleepFor(absl::Milliseconds(400));
  absl::StatusOr<std::vector<ClaimResult>> second_lease =
      second_->ClaimDeliveries(Request("replica-b", {1}));
  ASSERT_TRUE(second_lease.ok()) << second_lease.status();
  ASSERT_EQ(second_lease->size(), 1u);
  EXPECT_EQ(second_lease->at(0).outcome, ClaimOutcome::kLeased);
  EXPECT_EQ(second_lease->at(0).attempts, 2);
  EXPECT_NE(second_lease->at(0).generation, expired.generation);

  absl::StatusOr<std::vector<LeaseId>> acked =
      first_->AcknowledgeLeases(kSubscription, {expired});
  ASSERT_TRUE(acked.ok()) << acked.status();
  EXPECT_TRUE(acked->empty());
  absl::StatusOr<std::vector<DeliveryRecord>> rows = first_->DeliveriesOf(1);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ(rows->at(0).state, DeliveryState::kLeased);
}

// An ack sent through one replica for a lease the other took is applied
// and reaches the other replica's change listener.
TEST_F(PostgresLeasesTest, AckThroughOtherReplicaReachesHolder) {
  AppendEvents(2);
  absl::Mutex mu;
  std::vector<SubscriptionChange> received;
  first_->SetSubscriptionChangeListener([&](const SubscriptionChange& change) {
    absl::MutexLock lock(&mu);
    received.push_back(change);
  });
  absl::StatusOr<std::vector<ClaimResult>> won =
      first_->ClaimDeliveries(Request("replica-a", {1, 2}));
  ASSERT_TRUE(won.ok()) << won.status();
  ASSERT_EQ(won->size(), 2u);
  LeaseId lease{won->at(0).sequence, won->at(0).generation};
  LeaseId wrong_generation{won->at(1).sequence, won->at(1).generation + 1000};

  absl::StatusOr<std::vector<LeaseId>> acked =
      second_->AcknowledgeLeases(kSubscription, {lease, wrong_generation});
  ASSERT_TRUE(acked.ok()) << acked.status();
  ASSERT_EQ(acked->size(), 1u);
  EXPECT_EQ(acked->at(0), lease);

  ASSERT_TRUE(Eventually(
      [&] {
        absl::MutexLock lock(&mu);
        return !received.empty();
      },
      absl::Seconds(5)));
  {
    absl::MutexLock lock(&mu);
    EXPECT_EQ(received[0].kind, SubscriptionChange::Kind::kSettled);
    EXPECT_EQ(received[0].subscription, kSubscription);
    ASSERT_EQ(received[0].leases.size(), 1u);
    EXPECT_EQ(received[0].leases[0], lease);
  }
  absl::StatusOr<std::vector<DeliveryRecord>> rows =
      second_->DeliveriesOf(lease.sequence);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ(rows->at(0).state, DeliveryState::kAcknowledged);
  EXPECT_GT(rows->at(0).acknowledged_at, absl::UnixEpoch());

  absl::StatusOr<std::vector<ClaimResult>> again =
      second_->ClaimDeliveries(Request("replica-b", {lease.sequence}));
  ASSERT_TRUE(again.ok());
  ASSERT_EQ(again->size(), 1u);
  EXPECT_EQ(again->at(0).outcome, ClaimOutcome::kSettled);
}

TEST_F(PostgresLeasesTest, ReleaseWithoutAttemptKeepsTheCount) {
  AppendEvents(1);
  absl::StatusOr<std::vector<ClaimResult>> won =
      first_->ClaimDeliveries(Request("replica-a", {1}));
  ASSERT_TRUE(won.ok());
  ASSERT_EQ(won->size(), 1u);
  absl::StatusOr<std::vector<LeaseId>> released = first_->ReleaseLeases(
      kSubscription, {{1, won->at(0).generation}}, /*count_attempt=*/false);
  ASSERT_TRUE(released.ok()) << released.status();
  EXPECT_EQ(released->size(), 1u);

  absl::StatusOr<std::vector<ClaimResult>> again =
      second_->ClaimDeliveries(Request("replica-b", {1}));
  ASSERT_TRUE(again.ok());
  ASSERT_EQ(again->size(), 1u);
  EXPECT_EQ(again->at(0).outcome, ClaimOutcome::kLeased);
  EXPECT_EQ(again->at(0).attempts, 1);
}

TEST_F(PostgresLeasesTest, ExtendedLeaseOutlivesItsDeadline) {
  AppendEvents(1);
  absl::StatusOr<std::vector<ClaimResult>> won = first_->ClaimDeliveries(
      Request("replica-a", {1}, absl::Milliseconds(300)));
  ASSERT_TRUE(won.ok());
  ASSERT_EQ(won->size(), 1u);
  absl::StatusOr<std::vector<LeaseId>> extended = second_->ExtendLeases(
      kSubscription, {{1, won->at(0).generation}}, absl::Seconds(30));
  ASSERT_TRUE(extended.ok()) << extended.status();
  EXPECT_EQ(extended->size(), 1u);

  absl::SleepFor(absl::Milliseconds(400));
  absl::StatusOr<std::vector<ClaimResult>> busy =
      second_->ClaimDeliveries(Request("replica-b", {1}));
  ASSERT_TRUE(busy.ok());
  ASSERT_EQ(busy->size(), 1u);
  EXPECT_EQ(busy->at(0).outcome, ClaimOutcome::kBusy);
}

TEST_F(PostgresLeasesTest, ClaimDeadLettersAfterMaxAttempts) {
  AppendEvents(1, /*max_delivery_attempts=*/1);
  absl::StatusOr<std::vector<ClaimResult>> won =
      first_->ClaimDeliveries(Request("replica-a", {1}));
  ASSERT_TRUE(won.ok());
  ASSERT_EQ(won->size(), 1u);
  ASSERT_TRUE(first_
                  ->ReleaseLeases(kSubscription, {{1, won->at(0).generation}},
                                  /*count_attempt=*/true)
                  .ok());
  ClaimRequest request = Request("replica-b", {1});
  request.max_delivery_attempts = 1;
  absl::StatusOr<std::vector<ClaimResult>> dead =
      second_->ClaimDeliveries(request);
  ASSERT_TRUE(dead.ok());
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ(dead->at(0).outcome, ClaimOutcome::kDeadLettered);
  absl::StatusOr<std::vector<DeliveryRecord>> letters =
      first_->LoadDeadLetters(kSubscription);
  ASSERT_TRUE(letters.ok());
  EXPECT_EQ(letters->size(), 1u);
}

// A cursor computed before a seek is not saved after it, and a claim never
// brings back an event at or below the cursor.
TEST_F(PostgresLeasesTest, SeekFencesStaleCursorsAndClaims) {
  AppendEvents(10);
  absl::StatusOr<int64_t> epoch = first_->SeekSubscription(kSubscription, 5);
  ASSERT_TRUE(epoch.ok()) << epoch.status();
  EXPECT_EQ(*epoch, 1);

  DeliveryUpdate stale;
  stale.subscription = kSubscription;
  stale.cursor = 9;
  stale.epoch = 0;
  ASSERT_TRUE(second_->SaveDeliveries(stale).get().ok());
  absl::StatusOr<std::vector<SubscriptionRecord>> records =
      second_->LoadSubscriptions();
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ(records->at(0).cursor, 5);
  EXPECT_EQ(records->at(0).epoch, 1);

  absl::StatusOr<std::vector<ClaimResult>> claimed =
      second_->ClaimDeliveries(Request("replica-b", {4, 6}));
  ASSERT_TRUE(claimed.ok());
  std::map<int64_t, ClaimResult> results = BySequence(*claimed);
  EXPECT_EQ(results[4].outcome, ClaimOutcome::kSettled);
  EXPECT_EQ(results[6].outcome, ClaimOutcome::kLeased);
}

TEST(SubscriptionChangeTest, EncodesAndDecodesEveryKind) {
  SubscriptionChange extended;
  extended.kind = SubscriptionChange::Kind::kExtended;
  extended.subscription = "orders.v1";
  extended.deadline = absl::Seconds(45);
  extended.leases = {{7, 12}, {9, 13}};
  std::vector<std::string> payloads = EncodeSubscriptionChange(extended);
  ASSERT_EQ(payloads.size(), 1u);
  std::optional<SubscriptionChange> decoded =
      DecodeSubscriptionChange(payloads[0]);
  ASSERT_TRUE(decoded.has_value()) << payloads[0];
  EXPECT_EQ(decoded->kind, SubscriptionChange::Kind::kExtended);
  EXPECT_EQ(decoded->subscription, "orders.v1");
  EXPECT_EQ(decoded->deadline, absl::Seconds(45));
  EXPECT_EQ(decoded->leases, extended.leases);

  SubscriptionChange seek;
  seek.kind = SubscriptionChange::Kind::kSeek;
  seek.subscription = "orders";
  seek.cursor = 41;
  seek.epoch = 3;
  payloads = EncodeSubscriptionChange(seek);
  ASSERT_EQ(payloads.size(), 1u);
  decoded = DecodeSubscriptionChange(payloads[0]);
  ASSERT_TRUE(decoded.has_value()) << payloads[0];
  EXPECT_EQ(decoded->cursor, 41);
  EXPECT_EQ(decoded->epoch, 3);
}

TEST(SubscriptionChangeTest, SplitsLongLeaseListsIntoPayloads) {
  SubscriptionChange settled;
  settled.kind = SubscriptionChange::Kind::kSettled;
  settled.subscription = "orders";
  for (int64_t sequence = 1; sequence <= 2000; ++sequence) {
    settled.leases.push_back({sequence, static_cast<uint64_t>(sequence)});
  }
  std::vector<std::string> payloads = EncodeSubscriptionChange(settled, 1000);
  EXPECT_GT(payloads.size(), 1u);
  std::vector<LeaseId> decoded_leases;
  for (const std::string& payload : payloads) {
    EXPECT_LE(payload.size(), 1000u);
    std::optional<SubscriptionChange> decoded =
        DecodeSubscriptionChange(payload);
    ASSERT_TRUE(decoded.has_value()) << payload;
    decoded_leases.insert(decoded_leases.end(), decoded->leases.begin(),
                          decoded->leases.end());
  }
  EXPECT_EQ(decoded_leases, settled.leases);
}

TEST(SubscriptionChangeTest, RejectsMalformedPayloads) {
  const char* payloads[] = {
      "",
      "settled",
      "settled orders",
      "settled orders 1.x",
      "unknown orders 1.1",
      "seek orders 5",
      "extended orders soon 1.1",
      "delete orders extra",
  };
  for (const char* payload : payloads) {
    EXPECT_FALSE(DecodeSubscriptionChange(payload).has_value()) << payload;
  }
}

}  // namespace
}  // namespace paymento::bridge
