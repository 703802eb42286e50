#include "src/config/tls_files.h"

#include <gtest/gtest.h>

#include <string>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "tests/operations/operations_support.h"

namespace paymento::bridge {
namespace {

using test_support::GenerateCertificates;
using test_support::MakeTempDirectory;
using test_support::TestCertificates;
using test_support::WriteTextFile;

class TlsFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = MakeTempDirectory();
    absl::StatusOr<TestCertificates> files = GenerateCertificates(directory_);
    ASSERT_TRUE(files.ok()) << files.status();
    files_ = *files;
  }

  std::string directory_;
  TestCertificates files_;
};

TEST_F(TlsFilesTest, LoadsMatchingPair) {
  absl::StatusOr<ServerTlsFiles> loaded = LoadServerTlsFiles(
      {files_.server_certificate, files_.server_key, files_.ca_certificate});
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_TRUE(
      absl::StrContains(loaded->certificate_chain, "BEGIN CERTIFICATE"));
  EXPECT_TRUE(absl::StrContains(loaded->private_key, "PRIVATE KEY"));
  EXPECT_TRUE(absl::StrContains(loaded->client_ca, "BEGIN CERTIFICATE"));
  EXPECT_GT(loaded->not_after, absl::Now());
  EXPECT_LT(loaded->not_after, absl::Now() + absl::Hours(25));
}

TEST_F(TlsFilesTest, RejectsBadFiles) {
  std::string garbage = directory_ + "/garbage.pem";
  WriteTextFile(garbage, "not a PEM file\n");
  struct Case {
    ServerTlsPaths paths;
    std::string fragment;
  };
  const Case cases[] = {
      {{directory_ + "/absent.pem", files_.server_key, ""},
       "cannot read --grpc-tls-cert " + directory_ + "/absent.pem"},
      {{files_.server_certificate, directory_, ""},
       "invalid --grpc-tls-key " + directory_ + ": is a directory"},
      {{garbage, files_.server_key, ""},
       "invalid --grpc-tls-cert " + garbage + ": no PEM certificate found"},
      {{files_.server_certificate, garbage, ""},
       "invalid --grpc-tls-key " + garbage},
      {{files_.server_certificate, files_.client_key, ""},
       "--grpc-tls-key " + files_.client_key + " does not match"},
      {{files_.server_certificate, files_.server_key, garbage},
       "invalid --grpc-tls-client-ca " + garbage},
  };
  for (const Case& test : cases) {
    absl::StatusOr<ServerTlsFiles> loaded = LoadServerTlsFiles(test.paths);
    EXPECT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument)
        << test.fragment;
    EXPECT_TRUE(absl::StrContains(loaded.status().message(), test.fragment))
        << loaded.status();
  }
}

}  // namespace
}  // namespace paymento::bridge
