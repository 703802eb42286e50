// `paymento-bridge migrate`: copies a SQLite store into an empty PostgreSQL
// store, printing progress and a summary. What is copied, and how the copy
// stays consistent, is described in src/store/store_migration.h.
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "src/cli/commands.h"
#include "src/config/flag_parser.h"
#include "src/store/store_migration.h"
#include "src/store/store_url.h"

namespace paymento::bridge {
namespace {

constexpr char kUsage[] =
    "usage: paymento-bridge migrate --from sqlite://PATH --to postgres://...\n"
    "\n"
    "Copies the SQLite store at PATH into an empty PostgreSQL database:\n"
    "events, event ids (tombstones included), durable subscriptions with\n"
    "their cursors and delivery state, and quarantined requests, keeping\n"
    "sequence numbers and ids. PATH is read as one snapshot and PostgreSQL\n"
    "is written in one transaction, so a failed run writes nothing and can\n"
    "be run again.\n"
    "Stop the bridge first: events it receives after the snapshot are not\n"
    "copied. Then start it with --store set to the PostgreSQL URL.";

// Rows in one INSERT: 5000 rows of the widest table (9 columns) stay below
// PostgreSQL's limit of 65535 parameters in one statement.
constexpr int kMaxBatchSize = 5000;

// Prints each table's progress at most once a second, and when it is done.
class ProgressPrinter {
 public:
  void Print(const MigrationProgress& progress) {
    absl::Time now = absl::Now();
    bool done = progress.copied >= progress.total;
    if (!done && now - last_printed_ < absl::Seconds(1)) return;
    last_printed_ = now;
    std::cout << progress.table << ": " << progress.copied << "/"
              << progress.total << std::endl;
  }

 private:
  absl::Time last_printed_ = absl::InfinitePast();
};

std::string DescribeCounts(const MigrationCounts& counts) {
  return absl::StrCat("events: ", counts.events,
                      ", event ids: ", counts.event_ids,
                      " (tombstones: ", counts.tombstones,
                      "), subscriptions: ", counts.subscriptions,
                      " (expired events: ", counts.expired_events,
                      "), delivery rows: ", counts.deliveries,
                      " (dead letters: ", counts.dead_letters,
                      "), quarantined requests: ", counts.quarantined,
                      ", last sequence: ", counts.last_sequence);
}

// Parses the store URL given to `flag` and checks that it is of `kind`,
// which `expected` describes. Otherwise prints why and returns nullopt.
std::optional<StoreUrl> ParseStoreFlag(absl::string_view flag,
                                       const std::string& url,
                                       StoreUrl::Kind kind,
                                       absl::string_view expected) {
  absl::StatusOr<StoreUrl> parsed = ParseStoreUrl(url);
  if (!parsed.ok()) {
    std::cerr << "--" << flag << ": " << parsed.status().message() << "\n";
    return std::nullopt;
  }
  if (parsed->kind != kind) {
    std::cerr << "--" << flag << " " << MaskStoreUrl(url) << " is not "
              << expected << "\n";
    return std::nullopt;
  }
  return *parsed;
}

}  // namespace

int RunMigrate(const std::vector<std::string>& args) {
  FlagParser parser(ProcessEnvironment());
  parser.AddSwitch("help", "Print this help and exit.");
  parser.Add("from", "", "Store to copy: sqlite://PATH.");
  parser.Add("to", "",
             "Empty PostgreSQL database to copy into: postgres://... as "
             "libpq reads it.");
  parser.Add("batch-size", "1000",
             absl::StrCat("Rows in one INSERT statement, from 1 to ",
                          kMaxBatchSize, "."));
  absl::Status parsed = parser.Parse(args);
  if (!parsed.ok()) {
    std::cerr << parsed.message() << "\n";
    return 2;
  }
  if (parser.IsSet("help")) {
    std::cout << kUsage << "\n\nflags:\n" << parser.Usage();
    return 0;
  }
  const std::string& from = parser.Get("from");
  const std::string& to = parser.Get("to");
  if (from.empty() || to.empty() || !parser.positional().empty()) {
    std::cerr << kUsage << "\n";
    return 2;
  }
  MigrationOptions options;
  if (!absl::SimpleAtoi(parser.Get("batch-size"), &options.batch_size) ||
      options.batch_size < 1 || options.batch_size > kMaxBatchSize) {
    std::cerr << "--batch-size " << parser.Get("batch-size")
              << " is invalid: give a row count from 1 to " << kMaxBatchSize
              << "\n";
    return 2;
  }
  std::optional<StoreUrl> source =
      ParseStoreFlag("from", from, StoreUrl::Kind::kSqlite,
                     "a SQLite store: migrate reads sqlite://PATH");
  if (!source.has_value()) return 2;
  std::optional<StoreUrl> target =
      ParseStoreFlag("to", to, StoreUrl::Kind::kPostgres,
                     "a PostgreSQL store: migrate writes postgres://...");
  if (!target.has_value()) return 2;

  std::cout << "migrating " << MaskStoreUrl(from) << " to " << MaskStoreUrl(to)
            << std::endl;
  ProgressPrinter printer;
  options.on_progress = [&](const MigrationProgress& progress) {
    printer.Print(progress);
  };
  options.on_source_counted = [](const MigrationCounts& counts) {
    std::cout << "source snapshot: " << DescribeCounts(counts) << std::endl;
  };
  absl::Time begin = absl::Now();
  absl::StatusOr<MigrationCounts> counts =
      MigrateSqliteToPostgres(source->target, to, options);
  if (!counts.ok()) {
    std::cerr << "migrate failed: " << counts.status().message() << "\n";
    return 1;
  }
  absl::Duration took = absl::Trunc(absl::Now() - begin, absl::Milliseconds(1));
  std::cout << "migrated in " << absl::FormatDuration(took) << ": "
            << DescribeCounts(*counts) << "\n"
            << "now start the bridge with --store set to the --to URL\n";
  return 0;
}

}  // namespace paymento::bridge
