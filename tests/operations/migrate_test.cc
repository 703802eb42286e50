// `paymento-bridge migrate` from a SQLite store, built with the store
// classes, into PostgreSQL: the copy is checked through the PostgreSQL
// store and through a bridge serving it next to one serving the source.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/message_differencer.h"
#include "src/normalization/gateway_callback_normalizer.h"
#include "src/normalization/webhook_normalizer.h"
#include "src/store/postgres_connection.h"
#include "src/store/postgres_event_store.h"
#include "src/store/postgres_store_options.h"
#include "src/store/sqlite_connection.h"
#include "src/store/sqlite_event_store.h"
#include "tests/operations/operations_support.h"
#include "tests/testing/test_postgres.h"

namespace paymento::bridge::test_support {
namespace {

using ::google::protobuf::util::MessageDifferencer;

// Times with whole microseconds, which both stores keep exactly.
absl::Time MicrosAgo(absl::Duration age) {
  return absl::FromUnixMicros(absl::ToUnixMicros(absl::Now() - age));
}

std::string ReadTestdata(const std::string& name) {
  std::ifstream file(absl::StrCat(PAYMENTO_BRIDGE_TESTDATA_DIR, "/", name),
                     std::ios::binary);
  std::stringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

void SetReceivedAt(v1::Event& event, absl::Time at) {
  event.mutable_received_at()->set_seconds(absl::ToUnixSeconds(at));
  event.mutable_received_at()->set_nanos(
      static_cast<int32_t>(absl::ToInt64Nanoseconds(
          at - absl::FromUnixSeconds(absl::ToUnixSeconds(at)))));
}

v1::Event PlainEvent(const std::string& id, const std::string& type,
                     absl::Time received_at) {
  v1::Event event;
  event.set_id(id);
  event.set_type(type);
  SetReceivedAt(event, received_at);
  return event;
}

// A body that is not valid UTF-8 and contains a NUL byte, so that only a
// byte-exact copy keeps it.
const std::string& BinaryBody() {
  static constexpr char kBody[] = "{\"id\":\"evt_binary\"}\0\xff\xfe tail";
  static const auto* body = new std::string(kBody, sizeof(kBody) - 1);
  return *body;
}

// What BuildSourceStore wrote, for comparisons.
struct SourceFacts {
  std::string webhook_id;
  std::string callback_id;
  int64_t last_sequence = 0;
  std::string quarantined_headers;
  std::string quarantined_body;
};

void Append(SqliteEventStore& store, const v1::Event& event,
            const std::string& hash) {
  absl::StatusOr<AppendResult> result = store.Append(event, hash).get();
  ASSERT_TRUE(result.ok()) << result.status();
}

DeliveryRecord Delivery(int64_t sequence, DeliveryState state, int attempts,
                        absl::Time delivered, absl::Time acknowledged) {
  DeliveryRecord record;
  record.subscription = "billing";
  record.sequence = sequence;
  record.state = state;
  record.attempts = attempts;
  record.last_delivered_at = delivered;
  record.acknowledged_at = acknowledged;
  return record;
}

// Builds a store with every kind of state. Sequence 1 is deleted by
// retention, which leaves a tombstone and an expired event for "billing".
// Sequences 2 to 5 are a Payment Link webhook received twice, a gateway
// callback, an event with a binary body and a pending event. "billing" has
// acknowledged, dead-lettered and leased deliveries. Two quarantined
// requests remain after the newest one is deleted.
void BuildSourceStore(const std::string& path, SourceFacts* facts) {
  absl::StatusOr<std::unique_ptr<SqliteEventStore>> opened =
      SqliteEventStore::Open(path);
  ASSERT_TRUE(opened.ok()) << opened.status();
  SqliteEventStore& store = **opened;

  Append(store,
         PlainEvent("evt_old", "payment_link.paid",
                    MicrosAgo(absl::Hours(24 * 40))),
         "hash_old");
  absl::StatusOr<v1::Event> webhook =
      NormalizeWebhook(ReadTestdata("webhook_payment_link_paid.json"));
  ASSERT_TRUE(webhook.ok()) << webhook.status();
  SetReceivedAt(*webhook, MicrosAgo(absl::Minutes(5)));
  facts->webhook_id = webhook->id();
  Append(store, *webhook, "hash_webhook");
  Append(store, *webhook, "hash_webhook");
  absl::StatusOr<v1::Event> callback =
      NormalizeGatewayCallback(ReadTestdata("gateway_callback_paid.json"));
  ASSERT_TRUE(callback.ok()) << callback.status();
  SetReceivedAt(*callback, MicrosAgo(absl::Minutes(4)));
  facts->callback_id = callback->id();
  Append(store, *callback, "hash_callback");
  v1::Event binary = PlainEvent("evt_binary", "payment_link.failed",
                                MicrosAgo(absl::Minutes(3)));
  binary.set_raw_body(BinaryBody());
  Append(store, binary, "hash_binary");
  Append(store,
         PlainEvent("evt_pending", "payment_link.expired",
                    MicrosAgo(absl::Minutes(2))),
         "hash_pending");

  SubscriptionRecord billing;
  billing.name = "billing";
  billing.created_at = MicrosAgo(absl::Hours(24 * 50));
  ASSERT_TRUE(store.CreateSubscription(billing).ok());
  SubscriptionRecord gateway;
  gateway.name = "gateway";
  gateway.event_types = {"payment.*", "payment_link.failed"};
  gateway.created_at = MicrosAgo(absl::Hours(1));
  gateway.start_sequence = 1;
  gateway.cursor = 1;
  gateway.ack_deadline = absl::Seconds(12);
  gateway.max_delivery_attempts = 3;
  gateway.ordered = true;
  ASSERT_TRUE(store.CreateSubscription(gateway).ok());

  absl::StatusOr<RetentionResult> expired = store.DeleteExpired(
      absl::Now() - absl::Hours(720), absl::Now() - absl::Hours(9600), 100);
  ASSERT_TRUE(expired.ok()) << expired.status();
  ASSERT_EQ(expired->events_deleted, 1);

  absl::Time delivered = MicrosAgo(absl::Minutes(1));
  absl::Time acknowledged = MicrosAgo(absl::Seconds(30));
  DeliveryUpdate update;
  update.subscription = "billing";
  update.records = {
      Delivery(2, DeliveryState::kAcknowledged, 1, delivered, acknowledged),
      Delivery(3, DeliveryState::kDeadLettered, 10, delivered,
               absl::UnixEpoch()),
      Delivery(4, DeliveryState::kLeased, 2, delivered, absl::UnixEpoch())};
  update.cursor = 3;
  ASSERT_TRUE(store.SaveDeliveries(update).get().ok());

  facts->quarantined_headers = "X-Paymento-Signature: abc\nX-Odd: \xff\xfe\n";
  static constexpr char kBody[] = "{\"broken\":\0\xff";
  facts->quarantined_body = std::string(kBody, sizeof(kBody) - 1);
  for (int i = 0; i < 3; ++i) {
    QuarantineRecord record;
    record.received_at = MicrosAgo(absl::Minutes(10 - i));
    record.reason = absl::StrCat("malformed JSON ", i);
    record.route = "webhook";
    record.headers = facts->quarantined_headers;
    record.body = facts->quarantined_body;
    record.body_sha256 = absl::StrCat("sha_", i);
    ASSERT_TRUE(store.Quarantine(record).ok());
  }
  ASSERT_TRUE(store.DeleteQuarantined(3).ok());
  facts->last_sequence = store.LastSequence();
  store.Close();
}

std::string PostgresPassword() {
  absl::StatusOr<PostgresStoreUrl> parsed =
      ParsePostgresStoreUrl(TestPostgresUrl());
  return parsed.ok() ? parsed->password : "";
}

// Returns the value of a one-row, one-column query on `url`, or -1.
int64_t QueryTarget(const std::string& url, const std::string& sql) {
  absl::StatusOr<PostgresStoreUrl> parsed = ParsePostgresStoreUrl(url);
  if (!parsed.ok()) return -1;
  absl::StatusOr<std::unique_ptr<PostgresConnection>> connection =
      PostgresConnection::Connect({parsed->libpq_url, parsed->password});
  if (!connection.ok()) return -1;
  absl::StatusOr<PgResult> row = (*connection)->Execute(sql);
  if (!row.ok() || row->rows() != 1) return -1;
  return row->Int64(0, 0);
}

int RunMigrate(const std::string& from, const std::string& to,
               std::string* output) {
  return RunBridgeCommand({"migrate", "--from", from, "--to", to}, {}, output,
                          absl::Seconds(60));
}

class MigrateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PAYMENTO_REQUIRE_POSTGRES();
    source_path_ = MakeTempDirectory() + "/events.db";
    ASSERT_NO_FATAL_FAILURE(BuildSourceStore(source_path_, &facts_));
    absl::StatusOr<std::unique_ptr<TestPostgresSchema>> schema =
        TestPostgresSchema::Create(TestPostgresUrl());
    ASSERT_TRUE(schema.ok()) << schema.status();
    schema_ = *std::move(schema);
  }

  int Migrate(std::string* output) {
    return RunMigrate("sqlite://" + source_path_, schema_->url(), output);
  }

  // Opens the source and the migrated target through the store classes.
  void OpenStores() {
    absl::StatusOr<std::unique_ptr<SqliteEventStore>> source =
        SqliteEventStore::Open(source_path_);
    ASSERT_TRUE(source.ok()) << source.status();
    source_ = *std::move(source);
    absl::StatusOr<std::unique_ptr<PostgresEventStore>> target =
        PostgresEventStore::Open(schema_->url());
    ASSERT_TRUE(target.ok()) << target.status();
    target_ = *std::move(target);
  }

  std::string source_path_;
  SourceFacts facts_;
  std::unique_ptr<TestPostgresSchema> schema_;
  std::unique_ptr<SqliteEventStore> source_;
  std::unique_ptr<PostgresEventStore> target_;
};

TEST_F(MigrateTest, PrintsSummaryWithoutPassword) {
  std::string output;
  ASSERT_EQ(Migrate(&output), 0) << output;
  EXPECT_TRUE(absl::StrContains(
      output,
      "events: 4, event ids: 5 (tombstones: 1), subscriptions: 2 (expired "
      "events: 1), delivery rows: 3 (dead letters: 1), quarantined requests: "
      "2, last sequence: 5"))
      << output;
  EXPECT_TRUE(absl::StrContains(output, "migrated in")) << output;
  EXPECT_TRUE(absl::StrContains(output, "events: 4/4")) << output;
  EXPECT_TRUE(absl::StrContains(output, "bridge_test:***@")) << output;
  ASSERT_FALSE(PostgresPassword().empty());
  EXPECT_FALSE(absl::StrContains(output, PostgresPassword())) << output;
}

TEST_F(MigrateTest, CopiesRowsAndCounters) {
  std::string output;
  ASSERT_EQ(Migrate(&output), 0) << output;
  const std::string& url = schema_->url();
  EXPECT_EQ(QueryTarget(url, "SELECT COUNT(*) FROM events"), 4);
  EXPECT_EQ(QueryTarget(url, "SELECT COUNT(*) FROM event_ids"), 5);
  EXPECT_EQ(QueryTarget(url, "SELECT COUNT(*) FROM subscriptions"), 2);
  EXPECT_EQ(QueryTarget(url, "SELECT COUNT(*) FROM deliveries"), 3);
  EXPECT_EQ(QueryTarget(url, "SELECT COUNT(*) FROM quarantine"), 2);
  EXPECT_EQ(QueryTarget(url, "SELECT last_sequence FROM sequence_counter"),
            facts_.last_sequence);
  EXPECT_EQ(QueryTarget(url,
                        "SELECT COUNT(*) FROM deliveries WHERE"
                        " last_delivered_at IS NOT NULL AND"
                        " acknowledged_at IS NULL"),
            2);
}

TEST_F(MigrateTest, CounterCoversEveryStoredSequence) {
  // A damaged source whose counter fell behind its rows.
  {
    absl::StatusOr<std::unique_ptr<SqliteConnection>> source =
        SqliteConnection::Open(source_path_);
    ASSERT_TRUE(source.ok()) << source.status();
    ASSERT_TRUE((*source)
                    ->Execute("UPDATE sequence_counter SET last_sequence = 1")
                    .ok());
  }
  std::string output;
  ASSERT_EQ(Migrate(&output), 0) << output;
  EXPECT_EQ(
      QueryTarget(schema_->url(), "SELECT last_sequence FROM sequence_counter"),
      facts_.last_sequence);
}

TEST_F(MigrateTest, StoresReadTheSame) {
  std::string output;
  ASSERT_EQ(Migrate(&output), 0) << output;
  ASSERT_NO_FATAL_FAILURE(OpenStores());
  EXPECT_EQ(target_->LastSequence(), facts_.last_sequence);

  for (int64_t sequence = 1; sequence <= facts_.last_sequence; ++sequence) {
    SCOPED_TRACE(absl::StrCat("sequence ", sequence));
    absl::StatusOr<std::optional<StoredEvent>> expected =
        source_->GetBySequence(sequence);
    absl::StatusOr<std::optional<StoredEvent>> copied =
        target_->GetBySequence(sequence);
    ASSERT_TRUE(expected.ok()) << expected.status();
    ASSERT_TRUE(copied.ok()) << copied.status();
    ASSERT_EQ(copied->has_value(), expected->has_value());
    if (!expected->has_value()) continue;
    EXPECT_TRUE(
        MessageDifferencer::Equals((*copied)->event, (*expected)->event));
    EXPECT_EQ((*copied)->duplicate_count, (*expected)->duplicate_count);
    absl::StatusOr<std::vector<DeliveryRecord>> expected_rows =
        source_->DeliveriesOf(sequence);
    absl::StatusOr<std::vector<DeliveryRecord>> copied_rows =
        target_->DeliveriesOf(sequence);
    ASSERT_TRUE(expected_rows.ok());
    ASSERT_TRUE(copied_rows.ok());
    ASSERT_EQ(copied_rows->size(), expected_rows->size());
    for (size_t i = 0; i < expected_rows->size(); ++i) {
      EXPECT_EQ((*copied_rows)[i].state, (*expected_rows)[i].state);
      EXPECT_EQ((*copied_rows)[i].attempts, (*expected_rows)[i].attempts);
      EXPECT_EQ((*copied_rows)[i].last_delivered_at,
                (*expected_rows)[i].last_delivered_at);
      EXPECT_EQ((*copied_rows)[i].acknowledged_at,
                (*expected_rows)[i].acknowledged_at);
    }
  }

  absl::StatusOr<std::optional<StoredEvent>> binary =
      target_->GetById("evt_binary");
  ASSERT_TRUE(binary.ok());
  ASSERT_TRUE(binary->has_value());
  EXPECT_EQ((*binary)->event.raw_body(), BinaryBody());
  absl::StatusOr<std::optional<StoredEvent>> webhook =
      target_->GetById(facts_.webhook_id);
  ASSERT_TRUE(webhook.ok());
  ASSERT_TRUE(webhook->has_value());
  EXPECT_EQ((*webhook)->duplicate_count, 1);
  EXPECT_EQ((*webhook)->event.raw_body(),
            ReadTestdata("webhook_payment_link_paid.json"));
  absl::StatusOr<std::optional<StoredEvent>> callback =
      target_->GetById(facts_.callback_id);
  ASSERT_TRUE(callback.ok());
  ASSERT_TRUE(callback->has_value());
  EXPECT_EQ((*callback)->event.gateway_payment().payment_id(), 244);
}

TEST_F(MigrateTest, KeepsSubscriptionState) {
  std::string output;
  ASSERT_EQ(Migrate(&output), 0) << output;
  ASSERT_NO_FATAL_FAILURE(OpenStores());

  absl::StatusOr<std::vector<SubscriptionRecord>> expected =
      source_->LoadSubscriptions();
  absl::StatusOr<std::vector<SubscriptionRecord>> copied =
      target_->LoadSubscriptions();
  ASSERT_TRUE(expected.ok());
  ASSERT_TRUE(copied.ok()) << copied.status();
  ASSERT_EQ(copied->size(), 2u);
  ASSERT_EQ(expected->size(), 2u);
  for (size_t i = 0; i < expected->size(); ++i) {
    const SubscriptionRecord& want = (*expected)[i];
    const SubscriptionRecord& got = (*copied)[i];
    SCOPED_TRACE(want.name);
    EXPECT_EQ(got.name, want.name);
    EXPECT_EQ(got.event_types, want.event_types);
    EXPECT_EQ(got.created_at, want.created_at);
    EXPECT_EQ(got.start_sequence, want.start_sequence);
    EXPECT_EQ(got.cursor, want.cursor);
    EXPECT_EQ(got.ack_deadline, want.ack_deadline);
    EXPECT_EQ(got.max_delivery_attempts, want.max_delivery_attempts);
    EXPECT_EQ(got.ordered, want.ordered);
    EXPECT_EQ(got.expired_events, want.expired_events);
  }
  EXPECT_EQ((*copied)[0].cursor, 3);
  EXPECT_EQ((*copied)[0].expired_events, 1);
  EXPECT_TRUE((*copied)[1].ordered);

  absl::StatusOr<std::vector<DeliveryRecord>> dead =
      target_->LoadDeadLetters("billing");
  ASSERT_TRUE(dead.ok());
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].sequence, 3);
  EXPECT_EQ((*dead)[0].attempts, 10);
  absl::StatusOr<std::vector<DeliveryRecord>> open =
      target_->LoadDeliveries("billing", 3);
  ASSERT_TRUE(open.ok());
  ASSERT_EQ(open->size(), 1u);
  EXPECT_EQ((*open)[0].state, DeliveryState::kLeased);
}

TEST_F(MigrateTest, KeepsQuarantineAndTombstones) {
  std::string output;
  ASSERT_EQ(Migrate(&output), 0) << output;
  ASSERT_NO_FATAL_FAILURE(OpenStores());

  absl::StatusOr<std::vector<QuarantineRecord>> listed =
      target_->ListQuarantined(0, 10);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].id, 2);
  EXPECT_EQ((*listed)[1].id, 1);
  absl::StatusOr<std::optional<QuarantineRecord>> record =
      target_->GetQuarantined(2);
  ASSERT_TRUE(record.ok());
  ASSERT_TRUE(record->has_value());
  EXPECT_EQ((*record)->headers, facts_.quarantined_headers);
  EXPECT_EQ((*record)->body, facts_.quarantined_body);
  EXPECT_EQ((*record)->body_sha256, "sha_1");
  EXPECT_EQ((*record)->reason, "malformed JSON 1");

  // New rows are numbered after every id the source assigned, the deleted
  // newest one included, and after every copied sequence.
  QuarantineRecord later;
  later.received_at = absl::Now();
  later.reason = "stale";
  later.route = "webhook";
  later.body = "{}";
  later.body_sha256 = "sha_later";
  absl::StatusOr<int64_t> later_id = target_->Quarantine(later);
  ASSERT_TRUE(later_id.ok()) << later_id.status();
  EXPECT_EQ(*later_id, 4);
  absl::StatusOr<AppendResult> appended =
      target_
          ->Append(PlainEvent("evt_new", "payment_link.paid", absl::Now()),
                   "hash_new")
          .get();
  ASSERT_TRUE(appended.ok()) << appended.status();
  EXPECT_EQ(appended->sequence, facts_.last_sequence + 1);

  // The id of the event retention deleted is still known.
  absl::StatusOr<AppendResult> replayed =
      target_
          ->Append(PlainEvent("evt_old", "payment_link.paid", absl::Now()),
                   "hash_old")
          .get();
  ASSERT_TRUE(replayed.ok()) << replayed.status();
  EXPECT_EQ(replayed->outcome, AppendOutcome::kDuplicate);
  absl::StatusOr<std::optional<StoredEvent>> deleted =
      target_->GetById("evt_old");
  ASSERT_TRUE(deleted.ok());
  EXPECT_FALSE(deleted->has_value());
}

// Runs GetEvent by id and by sequence, ListEvents and ListSubscriptions on
// `stub`, and returns the responses in one text for comparison.
std::string ReadThroughApi(v1::EventService::Stub& stub,
                           const std::vector<std::string>& ids,
                           int64_t last_sequence) {
  std::string text;
  auto get = [&](const v1::GetEventRequest& request) {
    grpc::ClientContext context;
    v1::EventStatus status;
    grpc::Status result = stub.GetEvent(&context, request, &status);
    absl::StrAppend(&text, "GetEvent ", request.ShortDebugString(), " -> ",
                    result.error_code(), " ", status.ShortDebugString(), "\n");
  };
  for (const std::string& id : ids) {
    v1::GetEventRequest request;
    request.set_id(id);
    get(request);
  }
  for (int64_t sequence = 1; sequence <= last_sequence; ++sequence) {
    v1::GetEventRequest request;
    request.set_sequence(sequence);
    get(request);
  }
  std::vector<v1::ListEventsRequest> lists(3);
  lists[1].add_event_types("payment.*");
  lists[2].set_subscription("billing");
  lists[2].set_delivery_state(v1::DELIVERY_STATE_DEAD_LETTERED);
  for (const v1::ListEventsRequest& request : lists) {
    grpc::ClientContext context;
    v1::ListEventsResponse response;
    grpc::Status result = stub.ListEvents(&context, request, &response);
    absl::StrAppend(&text, "ListEvents ", request.ShortDebugString(), " -> ",
                    result.error_code(), " ", response.ShortDebugString(),
                    "\n");
  }
  grpc::ClientContext context;
  v1::ListSubscriptionsResponse subscriptions;
  grpc::Status result = stub.ListSubscriptions(&context, {}, &subscriptions);
  // The backlog's age grows while the test runs.
  for (v1::Subscription& subscription :
       *subscriptions.mutable_subscriptions()) {
    subscription.clear_backlog_age();
  }
  absl::StrAppend(&text, "ListSubscriptions -> ", result.error_code(), " ",
                  subscriptions.ShortDebugString(), "\n");
  return text;
}

TEST_F(MigrateTest, ServeAnswersLikeSource) {
  std::string output;
  ASSERT_EQ(Migrate(&output), 0) << output;
  BridgeOptions source_options = OperationsOptions();
  source_options.store_url = "sqlite://" + source_path_;
  BridgeProcess source(source_options);
  ASSERT_TRUE(source.Start().ok()) << source.Output();
  BridgeOptions target_options = OperationsOptions();
  target_options.store_url = schema_->url();
  BridgeProcess target(target_options);
  ASSERT_TRUE(target.Start().ok()) << target.Output();

  std::vector<std::string> ids = {"evt_old", facts_.webhook_id,
                                  facts_.callback_id, "evt_binary",
                                  "evt_pending"};
  auto source_stub = EventStub(PlaintextChannel(source));
  auto target_stub = EventStub(PlaintextChannel(target));
  std::string expected =
      ReadThroughApi(*source_stub, ids, facts_.last_sequence);
  std::string served = ReadThroughApi(*target_stub, ids, facts_.last_sequence);
  EXPECT_EQ(served, expected);
  EXPECT_TRUE(absl::StrContains(served, "evt_binary")) << served;
  EXPECT_TRUE(absl::StrContains(served, "dead_lettered_events: 1")) << served;
}

TEST_F(MigrateTest, NamesMissingSchema) {
  std::string output;
  int code = RunMigrate("sqlite://" + source_path_,
                        WithSearchPath(TestPostgresUrl(), "no_such_schema"),
                        &output);
  EXPECT_EQ(code, 1) << output;
  EXPECT_TRUE(absl::StrContains(output, "create it first")) << output;
  EXPECT_FALSE(absl::StrContains(output, PostgresPassword())) << output;
}

TEST_F(MigrateTest, RejectsNonEmptyTarget) {
  std::string output;
  ASSERT_EQ(Migrate(&output), 0) << output;
  ASSERT_EQ(Migrate(&output), 1) << output;
  EXPECT_TRUE(absl::StrContains(
      output,
      "migrate failed: the target database is not empty (events: 4, event "
      "ids: 5, subscriptions: 2, delivery rows: 3, quarantined requests: 2, "
      "last sequence: 5)"))
      << output;
  EXPECT_FALSE(absl::StrContains(output, PostgresPassword())) << output;
  EXPECT_EQ(QueryTarget(schema_->url(), "SELECT COUNT(*) FROM events"), 4);
  EXPECT_EQ(QueryTarget(schema_->url(), "SELECT COUNT(*) FROM quarantine"), 2);
}

TEST_F(MigrateTest, RejectsLiveTarget) {
  absl::StatusOr<std::unique_ptr<PostgresEventStore>> live =
      PostgresEventStore::Open(schema_->url());
  ASSERT_TRUE(live.ok()) << live.status();
  absl::StatusOr<AppendResult> appended =
      (*live)
          ->Append(PlainEvent("evt_live", "payment_link.paid", absl::Now()),
                   "hash_live")
          .get();
  ASSERT_TRUE(appended.ok()) << appended.status();
  (*live)->Close();

  std::string output;
  EXPECT_EQ(Migrate(&output), 1) << output;
  EXPECT_TRUE(absl::StrContains(output,
                                "not empty (events: 1, event ids: 1, last "
                                "sequence: 1)"))
      << output;
  EXPECT_EQ(QueryTarget(schema_->url(), "SELECT COUNT(*) FROM events"), 1);
}

// Returns the lines of `output` that report a failure.
std::vector<std::string> FailureLines(const std::string& output) {
  std::vector<std::string> lines;
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    if (absl::StartsWith(line, "migrate failed")) lines.emplace_back(line);
  }
  return lines;
}

struct BadArguments {
  std::vector<std::string> args;
  int exit_code;
  std::string message;
};

TEST(MigrateArgumentsTest, RejectsBadArguments) {
  const std::string postgres = "postgres://bridge:hunter2@127.0.0.1:1/events";
  const BadArguments cases[] = {
      {{"--from", "mysql://bridge:hunter2@db/events", "--to", postgres},
       2,
       "unknown store URL scheme"},
      {{"--from", postgres, "--to", postgres}, 2, "is not a SQLite store"},
      {{"--from", "sqlite://events.db", "--to", "sqlite://other.db"},
       2,
       "is not a PostgreSQL store"},
      {{"--from", "sqlite://events.db", "--to", "mysql://u:hunter2@db/x"},
       2,
       "unknown store URL scheme"},
      {{"--from", "sqlite://events.db", "--to", postgres, "--batch-size", "0"},
       2,
       "--batch-size 0 is invalid"},
      {{"--from", "sqlite://events.db"}, 2, "usage: paymento-bridge migrate"},
  };
  for (const BadArguments& bad : cases) {
    std::vector<std::string> args = {"migrate"};
    args.insert(args.end(), bad.args.begin(), bad.args.end());
    std::string output;
    SCOPED_TRACE(absl::StrJoin(args, " "));
    EXPECT_EQ(RunBridgeCommand(args, {}, &output), bad.exit_code) << output;
    EXPECT_TRUE(absl::StrContains(output, bad.message)) << output;
    EXPECT_FALSE(absl::StrContains(output, "hunter2")) << output;
  }
}

TEST(MigrateArgumentsTest, FailsOnMissingOrUnreadableSource) {
  std::string directory = MakeTempDirectory();
  const std::string postgres = "postgres://bridge:hunter2@127.0.0.1:1/events";
  std::string output;
  EXPECT_EQ(
      RunMigrate("sqlite://" + directory + "/absent.db", postgres, &output), 1);
  EXPECT_EQ(FailureLines(output), std::vector<std::string>{absl::StrCat(
                                      "migrate failed: no SQLite store at ",
                                      directory, "/absent.db")})
      << output;

  WriteTextFile(directory + "/garbage.db", std::string(4096, 'x'));
  EXPECT_EQ(
      RunMigrate("sqlite://" + directory + "/garbage.db", postgres, &output),
      1);
  ASSERT_EQ(FailureLines(output).size(), 1u) << output;
  EXPECT_TRUE(absl::StrContains(output,
                                "is not a readable paymento-bridge SQLite "
                                "store: sqlite prepare failed: file is not "
                                "a database"))
      << output;
}

TEST(MigrateArgumentsTest, FailsOnUnreachableDatabase) {
  std::string path = MakeTempDirectory() + "/events.db";
  SourceFacts facts;
  ASSERT_NO_FATAL_FAILURE(BuildSourceStore(path, &facts));
  std::string output;
  EXPECT_EQ(RunMigrate("sqlite://" + path,
                       absl::StrCat("postgres://bridge:hunter2@127.0.0.1:",
                                    FreePort(), "/events"),
                       &output),
            1);
  std::vector<std::string> failures = FailureLines(output);
  ASSERT_EQ(failures.size(), 1u) << output;
  EXPECT_TRUE(absl::StrContains(failures[0], "cannot connect to PostgreSQL"))
      << output;
  EXPECT_TRUE(absl::StrContains(output, "postgres://bridge:***@127.0.0.1"))
      << output;
  EXPECT_FALSE(absl::StrContains(output, "hunter2")) << output;
}

}  // namespace
}  // namespace paymento::bridge::test_support
