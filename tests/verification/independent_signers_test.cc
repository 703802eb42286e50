// Checks the verifier against signatures made by other HMAC implementations:
// the openssl command line, Node.js crypto and Python's hmac module. Their
// paths are found when CMake configures the tests. A missing program fails
// the test rather than skipping it, so a green run always means all three
// signers agreed.
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "src/verification/signature_verifier.h"

namespace paymento::bridge {
namespace {

namespace fs = std::filesystem;

// Multi-byte UTF-8 and a space in the secret, because Paymento uses its
// UTF-8 bytes as they are.
constexpr char kSecret[] = "whsec_ünïcode key 🔑";

// Exact bytes matter: CRLF, a tab, a 4-byte UTF-8 character, a NUL byte and
// no trailing newline.
constexpr char kBodyBytes[] =
    "{\"event\":{\"id\":\"evt_1\",\"type\":\"payment_link.paid\"},\r\n"
    "\t\"customer\":{\"name\":\"J\xC3\xA9r\xC3\xB4me \xF0\x9F\x98\x80\"},"
    "\"pad\":\"a\0b\"}";

std::string Body() { return std::string(kBodyBytes, sizeof(kBodyBytes) - 1); }

// Wraps `text` in single quotes for /bin/sh.
std::string ShellQuote(absl::string_view text) {
  return absl::StrCat("'", absl::StrReplaceAll(text, {{"'", "'\\''"}}), "'");
}

// Runs `command` through /bin/sh and returns its standard output, or fails
// the test when it exits with an error.
std::string RunCommand(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    ADD_FAILURE() << "popen failed: " << command;
    return "";
  }
  std::string output;
  char buffer[256];
  size_t length;
  while ((length = fread(buffer, 1, sizeof(buffer), pipe)) > 0) {
    output.append(buffer, length);
  }
  int status = pclose(pipe);
  EXPECT_TRUE(WIFEXITED(status)) << "command did not exit: " << command;
  EXPECT_EQ(WEXITSTATUS(status), 0) << "command failed: " << command;
  return std::string(absl::StripAsciiWhitespace(output));
}

class IndependentSignersTest : public testing::Test {
 protected:
  void SetUp() override {
    body_path_ = fs::path(testing::TempDir()) /
                 absl::StrCat("independent_signers_body_", getpid());
    std::ofstream out(body_path_, std::ios::binary | std::ios::trunc);
    out << Body();
    out.close();
    ASSERT_EQ(fs::file_size(body_path_), Body().size());
  }
  void TearDown() override { fs::remove(body_path_); }

  void ExpectVerifierAccepts(const std::string& signature) {
    ASSERT_EQ(signature.size(), 64u) << signature;
    EXPECT_EQ(signature, HmacSha256Hex(kSecret, Body()));

    WebhookSignatureInput input;
    const std::string body = Body();
    input.body = body;
    input.signature_values = {signature};
    absl::StatusOr<VerifiedSignature> result = VerifyWebhookSignature(
        SecretSet({kSecret}), SchemePolicy::kBody, input);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->scheme, v1::SIGNATURE_SCHEME_BODY);
  }

  fs::path body_path_;
};

TEST_F(IndependentSignersTest, BodyHasExpectedBytes) {
  EXPECT_EQ(Body().size(), 102u);
  EXPECT_EQ(Body().back(), '}');
  EXPECT_NE(Body().find('\0'), std::string::npos);
}

TEST_F(IndependentSignersTest, AcceptsOpensslSignature) {
  ASSERT_STRNE(PAYMENTO_BRIDGE_OPENSSL_PROGRAM, "") << "openssl not found";
  std::string output = RunCommand(absl::StrCat(
      ShellQuote(PAYMENTO_BRIDGE_OPENSSL_PROGRAM), " dgst -sha256 -r -hmac ",
      ShellQuote(kSecret), " ", ShellQuote(body_path_.string())));

  // "-r" prints "<hex> *<file>".
  std::vector<std::string> fields = absl::StrSplit(output, ' ');
  ExpectVerifierAccepts(fields.front());
}

TEST_F(IndependentSignersTest, AcceptsNodeSignature) {
  ASSERT_STRNE(PAYMENTO_BRIDGE_NODE_PROGRAM, "") << "node not found";
  constexpr char kScript[] =
      "const crypto = require('crypto'); const fs = require('fs');"
      "process.stdout.write(crypto.createHmac('sha256', process.argv[1])"
      ".update(fs.readFileSync(process.argv[2])).digest('hex'));";

  ExpectVerifierAccepts(RunCommand(absl::StrCat(
      ShellQuote(PAYMENTO_BRIDGE_NODE_PROGRAM), " -e ", ShellQuote(kScript),
      " ", ShellQuote(kSecret), " ", ShellQuote(body_path_.string()))));
}

TEST_F(IndependentSignersTest, AcceptsPythonSignature) {
  ASSERT_STRNE(PAYMENTO_BRIDGE_PYTHON3_PROGRAM, "") << "python3 not found";
  constexpr char kScript[] =
      "import hashlib, hmac, os, sys\n"
      "key = os.fsencode(sys.argv[1])\n"
      "body = open(sys.argv[2], 'rb').read()\n"
      "print(hmac.new(key, body, hashlib.sha256).hexdigest())\n";

  ExpectVerifierAccepts(RunCommand(absl::StrCat(
      ShellQuote(PAYMENTO_BRIDGE_PYTHON3_PROGRAM), " -c ", ShellQuote(kScript),
      " ", ShellQuote(kSecret), " ", ShellQuote(body_path_.string()))));
}

TEST_F(IndependentSignersTest, AcceptsPythonHeaderSignature) {
  ASSERT_STRNE(PAYMENTO_BRIDGE_PYTHON3_PROGRAM, "") << "python3 not found";
  constexpr char kScript[] =
      "import hashlib, hmac, os, sys\n"
      "key = os.fsencode(sys.argv[1])\n"
      "message = ':'.join(sys.argv[2:5]).encode()\n"
      "print(hmac.new(key, message, hashlib.sha256).hexdigest().upper())\n";
  std::string signature = RunCommand(absl::StrCat(
      ShellQuote(PAYMENTO_BRIDGE_PYTHON3_PROGRAM), " -c ", ShellQuote(kScript),
      " ", ShellQuote(kSecret), " evt_1 payment_link.paid 1705314600"));

  WebhookSignatureInput input;
  const std::string body = Body();
  input.body = body;
  input.signature_values = {signature};
  input.event_id = "evt_1";
  input.event_type = "payment_link.paid";
  input.timestamp = "1705314600";
  absl::StatusOr<VerifiedSignature> result = VerifyWebhookSignature(
      SecretSet({kSecret}), SchemePolicy::kHeader, input);

  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->scheme, v1::SIGNATURE_SCHEME_HEADER);
}

}  // namespace
}  // namespace paymento::bridge
