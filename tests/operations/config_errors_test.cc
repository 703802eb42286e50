// Configuration errors stop the real binary at start-up with one clear
// line and a non-zero exit code: never a hang, a crash or a stack trace.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "tests/operations/operations_support.h"

namespace paymento::bridge::test_support {
namespace {

struct ConfigErrorCase {
  std::string name;
  std::vector<std::string> args;
  std::map<std::string, std::string> environment;
  int exit_code;
  // Must appear in the output, on one line.
  std::string fragment;
};

// The password of the PostgreSQL URL below, which no output may show.
constexpr char kStorePassword[] = "hunter2";

class ConfigErrorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = MakeTempDirectory();
    not_a_directory_ = absl::StrCat(directory_, "/plain-file");
    WriteTextFile(not_a_directory_, "a file where a directory should be");
    absl::StatusOr<TestCertificates> certificates =
        GenerateCertificates(directory_);
    ASSERT_TRUE(certificates.ok()) << certificates.status();
    certificates_ = *certificates;
    garbage_key_ = absl::StrCat(directory_, "/garbage.key");
    WriteTextFile(garbage_key_, "-----BEGIN PRIVATE KEY-----\nnot base64\n");
  }

  // Arguments of a serve command that would start, before `extra`.
  std::vector<std::string> ServeArgs(std::vector<std::string> extra) const {
    std::vector<std::string> args = {
        "serve",
        "--http-listen=127.0.0.1:0",
        "--grpc-listen=127.0.0.1:0",
        "--admin-listen=127.0.0.1:0",
        absl::StrCat("--store=sqlite://", directory_, "/events.db"),
        "--log-format=text"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  std::string directory_;
  std::string not_a_directory_;
  std::string garbage_key_;
  TestCertificates certificates_;
};

TEST_F(ConfigErrorsTest, EachErrorStopsWithOneClearLine) {
  OccupiedPort busy;
  std::string busy_address = absl::StrCat("127.0.0.1:", busy.port());
  std::string busy_port = absl::StrCat("port ", busy.port(), " is in use");
  std::map<std::string, std::string> secret = {
      {"PAYMENTO_WEBHOOK_SECRET", kWebhookSecret}};
  const std::vector<ConfigErrorCase> cases = {
      {"listen address without port", ServeArgs({"--http-listen=localhost"}),
       secret, 2, "invalid --http-listen \"localhost\""},
      {"listen host not an address",
       ServeArgs({"--grpc-listen=example.invalid:50051"}), secret, 2,
       "invalid --grpc-listen"},
      {"port out of range", ServeArgs({"--admin-listen=127.0.0.1:70000"}),
       secret, 2, "invalid --admin-listen"},
      {"http port in use", ServeArgs({"--http-listen=" + busy_address}), secret,
       1, "cannot listen for HTTP on " + busy_address + ": " + busy_port},
      {"grpc port in use", ServeArgs({"--grpc-listen=" + busy_address}), secret,
       1, "cannot listen for gRPC on " + busy_address + ": " + busy_port},
      {"admin port in use", ServeArgs({"--admin-listen=" + busy_address}),
       secret, 1,
       "cannot listen for admin HTTP on " + busy_address + ": " + busy_port},
      // 192.0.2.1 is reserved for documentation, so no machine has it.
      {"http address not on this machine",
       ServeArgs({"--http-listen=192.0.2.1:8080"}), secret, 2,
       "cannot listen for HTTP on 192.0.2.1:8080: 192.0.2.1 is not an "
       "address of this machine"},
      {"grpc address not on this machine",
       ServeArgs({"--grpc-listen=192.0.2.1:50051"}), secret, 2,
       "cannot listen for gRPC on 192.0.2.1:50051: 192.0.2.1 is not an "
       "address of this machine"},
      {"unknown store scheme", ServeArgs({"--store=mysql://db/events"}), secret,
       2, "unknown store URL scheme"},
      {"data directory is a file",
       ServeArgs(
           {absl::StrCat("--store=sqlite://", not_a_directory_, "/events.db")}),
       secret, 1, "cannot open store sqlite://" + not_a_directory_},
      {"password in store URL",
       ServeArgs({"--store=postgres://bridge:hunter2@127.0.0.1:1/events"}),
       secret, 1, "postgres://bridge:***@127.0.0.1:1/events"},
      {"bad duration", ServeArgs({"--retention=forever"}), secret, 2,
       "invalid --retention \"forever\""},
      {"bad value from the environment",
       ServeArgs({}),
       {{"PAYMENTO_WEBHOOK_SECRET", kWebhookSecret},
        {"PAYMENTO_BRIDGE_MAX_BODY_BYTES", "abc"}},
       2,
       "invalid PAYMENTO_BRIDGE_MAX_BODY_BYTES (--max-body-bytes) \"abc\""},
      {"negative drain delay", ServeArgs({"--drain-delay=-1s"}), secret, 2,
       "invalid --drain-delay"},
      {"drain delay not shorter than timeout",
       ServeArgs({"--drain-delay=5s", "--shutdown-timeout=5s"}), secret, 2,
       "must be shorter than --shutdown-timeout"},
      {"zero concurrent streams",
       ServeArgs({"--grpc-max-concurrent-streams=0"}), secret, 2,
       "invalid --grpc-max-concurrent-streams"},
      {"missing webhook secret",
       ServeArgs({}),
       {},
       2,
       "PAYMENTO_WEBHOOK_SECRET"},
      {"token set twice",
       ServeArgs({}),
       {{"PAYMENTO_WEBHOOK_SECRET", kWebhookSecret},
        {"PAYMENTO_BRIDGE_GRPC_TOKEN", "one"},
        {"PAYMENTO_BRIDGE_GRPC_TOKEN_FILE", not_a_directory_}},
       2,
       "both PAYMENTO_BRIDGE_GRPC_TOKEN and PAYMENTO_BRIDGE_GRPC_TOKEN_FILE"},
      {"missing certificate file",
       ServeArgs({"--grpc-tls-cert=" + directory_ + "/absent.pem",
                  "--grpc-tls-key=" + certificates_.server_key}),
       secret, 2,
       "cannot read --grpc-tls-cert " + directory_ +
           "/absent.pem: No such file or directory"},
      {"missing key file",
       ServeArgs({"--grpc-tls-cert=" + certificates_.server_certificate,
                  "--grpc-tls-key=" + directory_ + "/absent.key"}),
       secret, 2, "cannot read --grpc-tls-key " + directory_ + "/absent.key"},
      {"unreadable key",
       ServeArgs({"--grpc-tls-cert=" + certificates_.server_certificate,
                  "--grpc-tls-key=" + garbage_key_}),
       secret, 2, "invalid --grpc-tls-key " + garbage_key_},
      {"unreadable key from the environment",
       ServeArgs({}),
       {{"PAYMENTO_WEBHOOK_SECRET", kWebhookSecret},
        {"PAYMENTO_BRIDGE_TLS_CERT", certificates_.server_certificate},
        {"PAYMENTO_BRIDGE_TLS_KEY", garbage_key_}},
       2,
       "invalid PAYMENTO_BRIDGE_TLS_KEY (--tls-key) " + garbage_key_},
      {"key of another certificate",
       ServeArgs({"--grpc-tls-cert=" + certificates_.server_certificate,
                  "--grpc-tls-key=" + certificates_.other_key}),
       secret, 2,
       "--grpc-tls-key " + certificates_.other_key +
           " does not match the certificate in --grpc-tls-cert " +
           certificates_.server_certificate},
      {"client CA that is not a certificate",
       ServeArgs({"--grpc-tls-cert=" + certificates_.server_certificate,
                  "--grpc-tls-key=" + certificates_.server_key,
                  "--grpc-tls-client-ca=" + certificates_.client_key}),
       secret, 2, "invalid --grpc-tls-client-ca " + certificates_.client_key},
      {"certificate without key",
       ServeArgs({"--grpc-tls-cert=" + certificates_.server_certificate}),
       secret, 2, "--grpc-tls-cert and --grpc-tls-key must be set together"},
      {"ingress key without certificate",
       ServeArgs({"--tls-key=" + certificates_.server_key}), secret, 2,
       "--tls-cert and --tls-key must be set together"},
      {"missing ingress certificate",
       ServeArgs({"--tls-cert=" + directory_ + "/absent.pem",
                  "--tls-key=" + certificates_.server_key}),
       secret, 2,
       "cannot read --tls-cert " + directory_ +
           "/absent.pem: No such file or directory"},
      {"unreadable ingress key",
       ServeArgs({"--tls-cert=" + certificates_.server_certificate,
                  "--tls-key=" + garbage_key_}),
       secret, 2, "invalid --tls-key " + garbage_key_},
      {"ingress key of another certificate",
       ServeArgs({"--tls-cert=" + certificates_.server_certificate,
                  "--tls-key=" + certificates_.other_key}),
       secret, 2,
       "--tls-key " + certificates_.other_key +
           " does not match the certificate in --tls-cert " +
           certificates_.server_certificate},
  };

  for (const ConfigErrorCase& test : cases) {
    SCOPED_TRACE(test.name);
    std::string output;
    absl::Time begin = absl::Now();
    int code = RunBridgeCommand(test.args, test.environment, &output,
                                absl::Seconds(10));
    EXPECT_EQ(code, test.exit_code) << output;
    EXPECT_LT(absl::Now() - begin, absl::Seconds(5)) << output;
    EXPECT_TRUE(absl::StrContains(output, test.fragment)) << output;
    EXPECT_FALSE(absl::StrContains(output, kStorePassword)) << output;
    int error_lines = 0;
    for (absl::string_view line : absl::StrSplit(output, '\n')) {
      if (absl::StrContains(line, test.fragment)) ++error_lines;
    }
    EXPECT_EQ(error_lines, 1) << output;
    EXPECT_FALSE(absl::StrContains(output, "terminate called")) << output;
    // gRPC's own error lines would be a second line about the failure.
    EXPECT_FALSE(absl::StrContains(output, "grpc core error")) << output;
    EXPECT_FALSE(absl::StrContains(output, "stopping")) << output;
  }
}

}  // namespace
}  // namespace paymento::bridge::test_support
