// `paymento-bridge backup` against a running bridge that keeps receiving
// webhooks. The copy restores into a working store that contains every
// event answered 200 before the backup began.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/operations/operations_support.h"

namespace paymento::bridge::test_support {
namespace {

namespace fs = std::filesystem;

TEST(BackupTest, CopyOfRunningStoreRestores) {
  BridgeProcess bridge(OperationsOptions());
  ASSERT_TRUE(bridge.Start().ok()) << bridge.Output();

  std::mutex mu;
  std::vector<std::string> accepted;
  std::atomic<bool> stop{false};
  std::thread poster([&] {
    for (int i = 0; !stop.load(); ++i) {
      std::string id = absl::StrCat("evt_backup_", i);
      httplib::Result result = PostEvent(bridge, "payment_link.paid", id);
      if (result && result->status == 200) {
        std::lock_guard<std::mutex> lock(mu);
        accepted.push_back(id);
      }
    }
  });
  absl::SleepFor(absl::Milliseconds(300));

  std::vector<std::string> before_backup;
  {
    std::lock_guard<std::mutex> lock(mu);
    before_backup = accepted;
  }
  std::string backup = MakeTempDirectory() + "/backup.db";
  std::string output;
  int code = RunBridgeCommand(
      {"backup", "--from", "sqlite://" + bridge.store_path(), "--to", backup},
      {}, &output);
  absl::SleepFor(absl::Milliseconds(100));
  stop = true;
  poster.join();
  ASSERT_EQ(code, 0) << output;
  ASSERT_GT(before_backup.size(), 0u);
  EXPECT_TRUE(fs::exists(backup));
  EXPECT_FALSE(fs::exists(backup + "-wal"));
  EXPECT_FALSE(fs::exists(backup + ".partial"));

  BridgeOptions restore = OperationsOptions();
  restore.data_directory = MakeTempDirectory();
  fs::copy_file(backup, restore.data_directory + "/events.db");
  BridgeProcess restored(restore);
  ASSERT_TRUE(restored.Start().ok()) << restored.Output();
  auto stub = EventStub(PlaintextChannel(restored));
  for (const std::string& id : before_backup) {
    grpc::Status found = GetEvent(*stub, id);
    EXPECT_TRUE(found.ok()) << id << ": " << found.error_message();
  }
  // The restored store takes new events after the copied ones.
  EXPECT_EQ(
      PostEvent(restored, "payment_link.paid", "evt_after_restore")->status,
      200);
}

TEST(BackupTest, RejectsBadArguments) {
  std::string directory = MakeTempDirectory();
  std::string existing = directory + "/existing.db";
  WriteTextFile(existing, "keep me");
  std::string output;

  EXPECT_EQ(RunBridgeCommand(
                {"backup", "--from", "sqlite://" + directory + "/absent.db",
                 "--to", existing},
                {}, &output),
            2);
  EXPECT_TRUE(absl::StrContains(output, "already exists")) << output;
  EXPECT_EQ(ReadTextFile(existing), "keep me");

  EXPECT_EQ(RunBridgeCommand(
                {"backup", "--from", "sqlite://" + directory + "/absent.db",
                 "--to", directory + "/new.db"},
                {}, &output),
            1);
  EXPECT_TRUE(absl::StrContains(output, "no SQLite store at")) << output;
  EXPECT_FALSE(fs::exists(directory + "/new.db"));

  EXPECT_EQ(RunBridgeCommand({"backup", "--from",
                              "postgres://bridge:hunter2@127.0.0.1:1/events",
                              "--to", directory + "/new.db"},
                             {}, &output),
            2);
  EXPECT_TRUE(absl::StrContains(output, "pg_dump")) << output;
  EXPECT_FALSE(absl::StrContains(output, "hunter2")) << output;

  EXPECT_EQ(RunBridgeCommand({"backup"}, {}, &output), 2);
  EXPECT_TRUE(absl::StrContains(output, "usage: paymento-bridge backup"))
      << output;

  EXPECT_EQ(RunBridgeCommand({"backup", "--to", "copy.db"}, {}, &output), 2);
  EXPECT_TRUE(absl::StrContains(output, "missing --from")) << output;
  EXPECT_FALSE(absl::StrContains(output, "missing --to")) << output;
}

}  // namespace
}  // namespace paymento::bridge::test_support
