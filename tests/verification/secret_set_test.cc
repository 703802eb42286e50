#include "src/verification/secret_set.h"

#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace paymento::bridge {
namespace {

using Strings = std::vector<std::string>;

TEST(SecretFingerprintTest, IsFirstEightHexDigitsOfSha256) {
  // SHA-256("abc") = ba7816bf8f01cfea414140de5dae2223...
  EXPECT_EQ(SecretFingerprint("abc"), "ba7816bf");
  EXPECT_EQ(SecretFingerprint("whsec_test_secret"), "7a200eb8");
}

TEST(SecretSetTest, KeepsOrderAndComputesFingerprints) {
  SecretSet secrets({"whsec_test_secret", "abc"});

  ASSERT_EQ(secrets.size(), 2u);
  EXPECT_EQ(secrets.secrets()[0].value, "whsec_test_secret");
  EXPECT_EQ(secrets.secrets()[0].fingerprint, "7a200eb8");
  EXPECT_EQ(secrets.secrets()[1].value, "abc");
  EXPECT_EQ(secrets.secrets()[1].fingerprint, "ba7816bf");
  EXPECT_EQ(secrets.FingerprintList(), "7a200eb8,ba7816bf");
}

TEST(SecretSetTest, DropsEmptyAndRepeatedValues) {
  SecretSet secrets({"", "abc", "abc", "", "def"});

  ASSERT_EQ(secrets.size(), 2u);
  EXPECT_EQ(secrets.secrets()[0].value, "abc");
  EXPECT_EQ(secrets.secrets()[1].value, "def");
}

TEST(SecretSetTest, EmptyWithoutValues) {
  EXPECT_TRUE(SecretSet(Strings{}).empty());
  EXPECT_TRUE(SecretSet(Strings{"", ""}).empty());
  EXPECT_FALSE(SecretSet(Strings{"x"}).empty());
}

TEST(SplitSecretListTest, SplitsOnCommas) {
  const std::vector<std::pair<std::string, Strings>> cases = {
      {"", {}},
      {"one", {"one"}},
      {"one,two", {"one", "two"}},
      {"one,,two,", {"one", "two"}},
      {",", {}},
      // Spaces and tabs are part of a secret: Paymento does not trim.
      {" one , two", {" one ", " two"}},
      {"one\t", {"one\t"}},
      // Line breaks at either end of an entry are stripped.
      {"one\r\n", {"one"}},
      {"one\r\n,two\n", {"one", "two"}},
      {"\none", {"one"}},
      {"\r\n", {}},
      // An entry of whitespace only is no secret.
      {" , ,\t", {}},
      {" ,one", {"one"}},
      // A line break inside an entry is kept.
      {"on\re", {"on\re"}},
      {"sécret,🔑key", {"sécret", "🔑key"}},
  };
  for (const auto& [input, expected] : cases) {
    EXPECT_EQ(SplitSecretList(input), expected) << "input: " << input;
  }
}

TEST(SplitSecretFileTest, SplitsLines) {
  const std::vector<std::pair<std::string, Strings>> cases = {
      {"", {}},
      {"one", {"one"}},
      {"one\n", {"one"}},
      {"one\ntwo\n", {"one", "two"}},
      {"one\r\ntwo\r\n", {"one", "two"}},
      {"\n\none\n\n\ntwo", {"one", "two"}},
      {"\r\n\r\n", {}},
      // Commas and spaces are part of the secret in a file.
      {"a,b\n c \n", {"a,b", " c "}},
      {"one\n  \n\t\ntwo", {"one", "two"}},
      {"one\r\r\n", {"one"}},
  };
  for (const auto& [input, expected] : cases) {
    EXPECT_EQ(SplitSecretFile(input), expected) << "input: " << input;
  }
}

}  // namespace
}  // namespace paymento::bridge
