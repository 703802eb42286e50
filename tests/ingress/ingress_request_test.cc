// ParseHeaderBlock and LoggableValue of ingress_request.h.
#include "src/ingress/ingress_request.h"

#include <gtest/gtest.h>

#include "absl/strings/match.h"

namespace paymento::bridge {
namespace {

TEST(ParseHeaderBlockTest, KeepsValuesAsSent) {
  auto headers = ParseHeaderBlock(
      "POST /webhook HTTP/1.1\r\n"
      "X-Paymento-Event-Id: evt_%41+b \t\r\n"
      "x-signature:ab\r\n"
      "X-Empty:\r\n"
      "X-Paymento-Signature: a\r\n"
      "X-Paymento-Signature: b\r\n"
      "\r\n"
      "body: not a header\r\n");
  ASSERT_EQ(headers.size(), 5u);
  EXPECT_EQ(headers[0].first, "X-Paymento-Event-Id");
  EXPECT_EQ(headers[0].second, "evt_%41+b");
  EXPECT_EQ(headers[1].first, "x-signature");
  EXPECT_EQ(headers[1].second, "ab");
  EXPECT_EQ(headers[2].second, "");
  EXPECT_EQ(headers[3].second, "a");
  EXPECT_EQ(headers[4].second, "b");
}

TEST(ParseHeaderBlockTest, SkipsLinesThatHttplibSkips) {
  auto headers = ParseHeaderBlock(
      "POST / HTTP/1.1\r\n"
      "No-Crlf: 1\n"
      "no colon\r\n"
      "Kept: 2\r\n"
      "Unfinished: 3");
  ASSERT_EQ(headers.size(), 1u);
  EXPECT_EQ(headers[0].first, "Kept");
  EXPECT_EQ(headers[0].second, "2");
}

TEST(LoggableValueTest, MasksOnlyWhatLooksLikeAnEmail) {
  EXPECT_EQ(LoggableValue("evt_123"), "evt_123");
  EXPECT_EQ(LoggableValue("jane.doe@example.com"), "j***@example.com");
}

TEST(LoggableValueTest, CutsLongValues) {
  std::string type(100000, 't');
  EXPECT_EQ(LoggableValue(type),
            std::string(kMaxLoggedValueBytes, 't') + "... (100000 bytes)");
  EXPECT_EQ(LoggableValue(std::string(kMaxLoggedValueBytes, 'x')),
            std::string(kMaxLoggedValueBytes, 'x'));
  // A two-byte character across the limit is left out whole.
  std::string accented = std::string(kMaxLoggedValueBytes - 1, 'a') + "é";
  EXPECT_EQ(LoggableValue(accented),
            std::string(kMaxLoggedValueBytes - 1, 'a') + "... (257 bytes)");
  // An address whose '@' falls past the cut is still masked.
  std::string long_address =
      std::string(240, 'x') + " jane.doe.customer@example.com";
  EXPECT_FALSE(absl::StrContains(LoggableValue(long_address), "jane"))
      << LoggableValue(long_address);
}

}  // namespace
}  // namespace paymento::bridge
