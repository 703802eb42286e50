#include "src/verification/secret_source.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace paymento::bridge {
namespace {

namespace fs = std::filesystem;

// A directory under the test temporary directory, removed at the end.
class TemporaryDirectory {
 public:
  TemporaryDirectory() {
    std::string pattern =
        (fs::path(testing::TempDir()) / "secret_source_XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TemporaryDirectory() { fs::remove_all(path_); }

  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Sets an environment variable for one test and restores it afterwards.
class ScopedEnvironment {
 public:
  ScopedEnvironment(std::string name, std::optional<std::string> value)
      : name_(std::move(name)) {
    if (const char* old = getenv(name_.c_str())) old_ = old;
    Set(value);
  }
  ~ScopedEnvironment() { Set(old_); }

 private:
  void Set(const std::optional<std::string>& value) {
    if (value.has_value()) {
      setenv(name_.c_str(), value->c_str(), /*overwrite=*/1);
    } else {
      unsetenv(name_.c_str());
    }
  }

  std::string name_;
  std::optional<std::string> old_;
};

void WriteFile(const fs::path& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
}

std::vector<std::string> CurrentValues(const SecretSource& source) {
  std::vector<std::string> values;
  for (const Secret& secret : source.Current()->secrets()) {
    values.push_back(secret.value);
  }
  return values;
}

using Strings = std::vector<std::string>;

TEST(SecretSourceTest, FromEnvironmentReadsCommaSeparatedList) {
  ScopedEnvironment list("BRIDGE_TEST_SECRET", "one,two\n");
  ScopedEnvironment file("BRIDGE_TEST_SECRET_FILE", std::nullopt);

  absl::StatusOr<std::unique_ptr<SecretSource>> source =
      SecretSource::FromEnvironment("BRIDGE_TEST_SECRET", true);

  ASSERT_TRUE(source.ok()) << source.status();
  EXPECT_TRUE((*source)->configured());
  EXPECT_EQ((*source)->file_path(), "");
  EXPECT_EQ(CurrentValues(**source), (Strings{"one", "two"}));
}

TEST(SecretSourceTest, FromEnvironmentRejectsBothVariables) {
  ScopedEnvironment list("BRIDGE_TEST_SECRET", "one");
  ScopedEnvironment file("BRIDGE_TEST_SECRET_FILE", "secrets.txt");

  absl::StatusOr<std::unique_ptr<SecretSource>> source =
      SecretSource::FromEnvironment("BRIDGE_TEST_SECRET", false);

  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(source.status().message(),
                                "BRIDGE_TEST_SECRET and "
                                "BRIDGE_TEST_SECRET_FILE"))
      << source.status();
}

TEST(SecretSourceTest, FromEnvironmentNamesVariablesWhenRequired) {
  ScopedEnvironment list("PAYMENTO_WEBHOOK_SECRET", std::nullopt);
  ScopedEnvironment file("PAYMENTO_WEBHOOK_SECRET_FILE", std::nullopt);

  absl::StatusOr<std::unique_ptr<SecretSource>> source =
      SecretSource::FromEnvironment("PAYMENTO_WEBHOOK_SECRET", true);

  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(source.status().message(),
            "no webhook secret: set PAYMENTO_WEBHOOK_SECRET or "
            "PAYMENTO_WEBHOOK_SECRET_FILE");
}

TEST(SecretSourceTest, FromEnvironmentTreatsEmptyVariablesAsUnset) {
  ScopedEnvironment list("BRIDGE_TEST_SECRET", "");
  ScopedEnvironment file("BRIDGE_TEST_SECRET_FILE", "");

  absl::StatusOr<std::unique_ptr<SecretSource>> required =
      SecretSource::FromEnvironment("BRIDGE_TEST_SECRET", true);
  absl::StatusOr<std::unique_ptr<SecretSource>> optional =
      SecretSource::FromEnvironment("BRIDGE_TEST_SECRET", false);

  ASSERT_FALSE(required.ok());
  EXPECT_EQ(required.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(required.status().message(),
            "no secret: set BRIDGE_TEST_SECRET or BRIDGE_TEST_SECRET_FILE");
  ASSERT_TRUE(optional.ok()) << optional.status();
  EXPECT_FALSE((*optional)->configured());
}

TEST(SecretSourceTest, FromEnvironmentReturnsEmptySetWhenOptional) {
  ScopedEnvironment list("PAYMENTO_IPN_SECRET", std::nullopt);
  ScopedEnvironment file("PAYMENTO_IPN_SECRET_FILE", std::nullopt);

  absl::StatusOr<std::unique_ptr<SecretSource>> source =
      SecretSource::FromEnvironment("PAYMENTO_IPN_SECRET", false);

  ASSERT_TRUE(source.ok()) << source.status();
  EXPECT_FALSE((*source)->configured());
  ASSERT_NE((*source)->Current(), nullptr);
  EXPECT_TRUE((*source)->Current()->empty());
  EXPECT_TRUE((*source)->StartReloading().ok());
}

TEST(SecretSourceTest, FromEnvironmentRejectsListWithoutSecret) {
  for (bool required : {true, false}) {
    ScopedEnvironment list("BRIDGE_TEST_SECRET", ",\r\n,");
    ScopedEnvironment file("BRIDGE_TEST_SECRET_FILE", std::nullopt);

    absl::StatusOr<std::unique_ptr<SecretSource>> source =
        SecretSource::FromEnvironment("BRIDGE_TEST_SECRET", required);

    ASSERT_FALSE(source.ok()) << required;
    EXPECT_EQ(source.status().code(), absl::StatusCode::kFailedPrecondition);
  }
}

TEST(SecretSourceTest, FromEnvironmentReadsFile) {
  TemporaryDirectory directory;
  fs::path path = directory.path() / "webhook-secret";
  WriteFile(path, "one\r\n\r\ntwo\r\n");
  ScopedEnvironment list("BRIDGE_TEST_SECRET", std::nullopt);
  ScopedEnvironment file("BRIDGE_TEST_SECRET_FILE", path.string());

  absl::StatusOr<std::unique_ptr<SecretSource>> source =
      SecretSource::FromEnvironment("BRIDGE_TEST_SECRET", true);

  ASSERT_TRUE(source.ok()) << source.status();
  EXPECT_TRUE((*source)->configured());
  EXPECT_EQ((*source)->file_path(), path.string());
  EXPECT_EQ(CurrentValues(**source), (Strings{"one", "two"}));
}

TEST(SecretSourceTest, FromEnvironmentRejectsMissingOrEmptyFile) {
  TemporaryDirectory directory;
  fs::path empty = directory.path() / "empty";
  WriteFile(empty, "\n\r\n");
  fs::path missing = directory.path() / "missing";

  for (const fs::path& path : {empty, missing}) {
    ScopedEnvironment list("BRIDGE_TEST_SECRET", std::nullopt);
    ScopedEnvironment file("BRIDGE_TEST_SECRET_FILE", path.string());

    absl::StatusOr<std::unique_ptr<SecretSource>> source =
        SecretSource::FromEnvironment("BRIDGE_TEST_SECRET", false);

    ASSERT_FALSE(source.ok()) << path;
    EXPECT_EQ(source.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_TRUE(absl::StrContains(source.status().message(), path.string()))
        << source.status();
    EXPECT_TRUE(absl::StartsWith(source.status().message(),
                                 "BRIDGE_TEST_SECRET_FILE: "))
        << source.status();
  }
}

TEST(SecretSourceTest, FromValuesRejectsEmptyList) {
  EXPECT_EQ(SecretSource::FromValues({}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SecretSource::FromValues({""}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SecretSourceTest, FromValuesKeepsValues) {
  absl::StatusOr<std::unique_ptr<SecretSource>> source =
      SecretSource::FromValues({"one", "two"});

  ASSERT_TRUE(source.ok()) << source.status();
  EXPECT_TRUE((*source)->configured());
  EXPECT_EQ(CurrentValues(**source), (Strings{"one", "two"}));
}

TEST(SecretSourceTest, ReloadPicksUpChangedFile) {
  TemporaryDirectory directory;
  fs::path path = directory.path() / "secret";
  WriteFile(path, "one\n");
  absl::StatusOr<std::unique_ptr<SecretSource>> source =
      SecretSource::FromFile(path.string());
  ASSERT_TRUE(source.ok()) << source.status();
  std::shared_ptr<const SecretSet> before = (*source)->Current();

  WriteFile(path, "two\none\n");
  absl::Status reloaded = (*source)->Reload();

  EXPECT_TRUE(reloaded.ok()) << reloaded;
  EXPECT_EQ(CurrentValues(**source), (Strings{"two", "one"}));
  // A set handed out earlier stays valid and unchanged.
  ASSERT_EQ(before->size(), 1u);
  EXPECT_EQ(before->secrets()[0].value, "one");
}

TEST(SecretSourceTest, ReloadKeepsSetWhenContentsUnchanged) {
  TemporaryDirectory directory;
  fs::path path = directory.path() / "secret";
  WriteFile(path, "one\n");
  absl::StatusOr<std::unique_ptr<SecretSource>> source =
      SecretSource::FromFile(path.string());
  ASSERT_TRUE(source.ok()) << source.status();
  std::shared_ptr<const SecretSet> before = (*source)->Current();

  EXPECT_TRUE((*source)->Reload().ok());

  EXPECT_EQ((*source)->Current(), before);
}

TEST(SecretSourceTest, ReloadFollowsKubernetesSymlinkSwap) {
  // Kubernetes mounts a Secret as <dir>/<key> -> ..data/<key>, with
  // ..data -> ..<timestamp>, and updates it by renaming a new ..data
  // symlink over the old one.
  TemporaryDirectory directory;
  const fs::path& root = directory.path();
  fs::create_directory(root / "..2024_01_15_10_30_00.1");
  WriteFile(root / "..2024_01_15_10_30_00.1" / "webhook-secret", "old\n");
  fs::create_directory_symlink("..2024_01_15_10_30_00.1", root / "..data");
  fs::create_symlink("..data/webhook-secret", root / "webhook-secret");
  absl::StatusOr<std::unique_ptr<SecretSource>> source =
      SecretSource::FromFile((root / "webhook-secret").string());
  ASSERT_TRUE(source.ok()) << source.status();
  ASSERT_EQ(CurrentValues(**source), (Strings{"old"}));

  fs::create_directory(root / "..2024_01_15_11_00_00.2");
  WriteFile(root / "..2024_01_15_11_00_00.2" / "webhook-secret", "new\nold\n");
  fs::create_directory_symlink("..2024_01_15_11_00_00.2", root / "..data_tmp");
  fs::rename(root / "..data_tmp", root / "..data");
  fs::remove_all(root / "..2024_01_15_10_30_00.1");
  absl::Status reloaded = (*source)->Reload();

  EXPECT_TRUE(reloaded.ok()) << reloaded;
  EXPECT_EQ(CurrentValues(**source), (Strings{"new", "old"}));
}

TEST(SecretSourceTest, ReloadKeepsSetWhenFileEmptied) {
  TemporaryDirectory directory;
  fs::path path = directory.path() / "secret";
  WriteFile(path, "one\n");
  absl::StatusOr<std::unique_ptr<SecretSource>> source =
      SecretSource::FromFile(path.string());
  ASSERT_TRUE(source.ok()) << source.status();

  WriteFile(path, "");
  absl::Status emptied = (*source)->Reload();
  EXPECT_EQ(emptied.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(CurrentValues(**source), (Strings{"one"}));

  WriteFile(path, "\r\n\n");
  EXPECT_FALSE((*source)->Reload().ok());
  EXPECT_EQ(CurrentValues(**source), (Strings{"one"}));

  WriteFile(path, "two\n");
  EXPECT_TRUE((*source)->Reload().ok());
  EXPECT_EQ(CurrentValues(**source), (Strings{"two"}));
}

TEST(SecretSourceTest, ReloadKeepsSetWhenFileRemoved) {
  TemporaryDirectory directory;
  fs::path path = directory.path() / "secret";
  WriteFile(path, "one\n");
  absl::StatusOr<std::unique_ptr<SecretSource>> source =
      SecretSource::FromFile(path.string());
  ASSERT_TRUE(source.ok()) << source.status();

  fs::remove(path);
  absl::Status removed = (*source)->Reload();
  EXPECT_EQ(removed.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(absl::StrContains(removed.message(), "one")) << removed;
  EXPECT_EQ(CurrentValues(**source), (Strings{"one"}));

  WriteFile(path, "one\n");
  EXPECT_TRUE((*source)->Reload().ok());
  EXPECT_EQ(CurrentValues(**source), (Strings{"one"}));
}

TEST(SecretSourceTest, ReloadingThreadPicksUpChange) {
  TemporaryDirectory directory;
  fs::path path = directory.path() / "secret";
  WriteFile(path, "one\n");
  absl::StatusOr<std::unique_ptr<SecretSource>> source =
      SecretSource::FromFile(path.string());
  ASSERT_TRUE(source.ok()) << source.status();
  ASSERT_TRUE((*source)->StartReloading(absl::Milliseconds(10)).ok());

  WriteFile(path, "two\n");
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (CurrentValues(**source) != Strings{"two"} && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }

  EXPECT_EQ(CurrentValues(**source), (Strings{"two"}));
  (*source)->Stop();
}

TEST(SecretSourceTest, StopReturnsWithoutWaitingForInterval) {
  TemporaryDirectory directory;
  fs::path path = directory.path() / "secret";
  WriteFile(path, "one\n");
  absl::StatusOr<std::unique_ptr<SecretSource>> source =
      SecretSource::FromFile(path.string());
  ASSERT_TRUE(source.ok()) << source.status();
  ASSERT_TRUE((*source)->StartReloading(absl::Hours(1)).ok());

  absl::Time start = absl::Now();
  (*source)->Stop();
  (*source)->Stop();
  source->reset();

  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
}

TEST(SecretSourceTest, StartReloadingRejectsBadCalls) {
  TemporaryDirectory directory;
  fs::path path = directory.path() / "secret";
  WriteFile(path, "one\n");
  absl::StatusOr<std::unique_ptr<SecretSource>> source =
      SecretSource::FromFile(path.string());
  ASSERT_TRUE(source.ok()) << source.status();

  EXPECT_EQ((*source)->StartReloading(absl::ZeroDuration()).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*source)->StartReloading(absl::Seconds(-1)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE((*source)->StartReloading(absl::Hours(1)).ok());
  EXPECT_EQ((*source)->StartReloading(absl::Hours(1)).code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace paymento::bridge
