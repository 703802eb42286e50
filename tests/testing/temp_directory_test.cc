// Tests of the test processes' temporary directories, which a later
// process removes when a signal killed the one that made them.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tests/testing/bridge_process.h"

namespace paymento::bridge::test_support {
namespace {

// Returns the id of a child process that has exited and been reaped.
int EndedProcessId() {
  pid_t child = fork();
  if (child == 0) _exit(0);
  int status = 0;
  waitpid(child, &status, 0);
  return child;
}

TEST(TempDirectoryTest, NameCarriesProcessId) {
  std::string path = MakeTempDirectory();
  ASSERT_FALSE(path.empty());
  EXPECT_TRUE(std::filesystem::is_directory(path));
  EXPECT_TRUE(
      absl::StrContains(std::filesystem::path(path).filename().string(),
                        absl::StrCat("paymento-bridge-test-", getpid(), "-")))
      << path;
}

TEST(TempDirectoryTest, SweepRemovesOnlyEndedProcesses) {
  std::filesystem::path base = MakeTempDirectory();
  ASSERT_FALSE(base.empty());
  std::filesystem::path orphaned =
      base / absl::StrCat("paymento-bridge-test-", EndedProcessId(), "-a1");
  std::filesystem::path running =
      base / absl::StrCat("paymento-bridge-test-", getpid(), "-b2");
  std::filesystem::path kept_on_request = base / "paymento-bridge-test-kept-c3";
  std::filesystem::path unrelated = base / "paymento-bridge-d4";
  for (const std::filesystem::path& path :
       {orphaned, running, kept_on_request, unrelated}) {
    std::filesystem::create_directories(path / "store");
  }
  std::filesystem::path orphaned_file =
      base / absl::StrCat("paymento-bridge-test-", EndedProcessId(), "-e5");
  { std::ofstream(orphaned_file.string()) << "not a directory"; }

  RemoveOrphanedTempDirectories(base.string());

  EXPECT_FALSE(std::filesystem::exists(orphaned));
  EXPECT_TRUE(std::filesystem::exists(running));
  EXPECT_TRUE(std::filesystem::exists(kept_on_request));
  EXPECT_TRUE(std::filesystem::exists(unrelated));
  EXPECT_TRUE(std::filesystem::exists(orphaned_file));
}

TEST(TempDirectoryTest, SweepOfMissingBaseDoesNothing) {
  std::string base = MakeTempDirectory() + "/missing";
  RemoveOrphanedTempDirectories(base);
  EXPECT_FALSE(std::filesystem::exists(base));
}

}  // namespace
}  // namespace paymento::bridge::test_support
