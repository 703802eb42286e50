// The JSON line format, and when buffered and unbuffered lines reach stdout.
#include "src/logging/log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace paymento::bridge::logging {
namespace {

using nlohmann::json;

json ParseLine(const std::string& line) {
  return json::parse(line, nullptr, /*allow_exceptions=*/false);
}

TEST(LogFormatTest, JsonLineStartsWithTimeLevelMessage) {
  std::string line = FormatLine(Format::kJson, Level::kInfo, "request",
                                {{"status", "200"}, {"route", "webhook"}});
  json object = ParseLine(line);
  ASSERT_TRUE(object.is_object()) << line;
  EXPECT_TRUE(absl::StartsWith(line, R"({"time":")")) << line;
  EXPECT_TRUE(absl::StrContains(
      line,
      R"("level":"info","msg":"request","status":"200","route":"webhook"})"))
      << line;
  std::string time = object.value("time", "");
  ASSERT_EQ(time.size(), 24u) << time;
  EXPECT_EQ(time[19], '.') << time;
  EXPECT_EQ(time.back(), 'Z') << time;
}

TEST(LogFormatTest, JsonLineEscapesOddValues) {
  struct Case {
    std::string value;
    std::string expected;
  };
  const Case cases[] = {
      {"say \"hi\"", "say \"hi\""},
      {"back\\slash", "back\\slash"},
      {"line\nbreak\ttab", "line\nbreak\ttab"},
      {std::string("nul\0byte", 8), std::string("nul\0byte", 8)},
      {"caf\xc3\xa9", "caf\xc3\xa9"},
      {"bad \xff byte", "bad \xef\xbf\xbd byte"},
      {"del\x7f", "del\x7f"},
      {"", ""},
  };
  for (const Case& test : cases) {
    std::string line =
        FormatLine(Format::kJson, Level::kWarn, "odd", {{"value", test.value}});
    json object = ParseLine(line);
    ASSERT_TRUE(object.is_object()) << line;
    EXPECT_EQ(object.value("value", "?"), test.expected) << line;
  }
}

TEST(LogFormatTest, RepeatedKeyKeepsLastValue) {
  std::string line = FormatLine(Format::kJson, Level::kError, "twice",
                                {{"key", "first"}, {"key", "second"}});
  json object = ParseLine(line);
  ASSERT_TRUE(object.is_object()) << line;
  EXPECT_EQ(object.value("key", ""), "second") << line;
  EXPECT_EQ(line.find("first"), std::string::npos) << line;
}

TEST(LogFormatTest, FieldNamedMsgReplacesMessage) {
  std::string line =
      FormatLine(Format::kJson, Level::kInfo, "original", {{"msg", "field"}});
  json object = ParseLine(line);
  ASSERT_TRUE(object.is_object()) << line;
  EXPECT_EQ(object.value("msg", ""), "field") << line;
}

TEST(LogFormatTest, TextValuesCarryNoControlCharacters) {
  std::string line = FormatLine(Format::kText, Level::kWarn, "rejected",
                                {{"subscription", "evil\rname\x1b[2J"},
                                 {"plain", "payment_link.paid"},
                                 {"accented", "caf\xc3\xa9"}});
  for (char c : line) {
    EXPECT_FALSE((c >= 0 && c < ' ') || c == 0x7f)
        << "control character " << static_cast<int>(c) << " in " << line;
  }
  EXPECT_NE(line.find(R"(subscription="evil\rname\u001b[2J")"),
            std::string::npos)
      << line;
  EXPECT_NE(line.find("plain=payment_link.paid"), std::string::npos) << line;
  EXPECT_NE(line.find("accented=\"caf\xc3\xa9\""), std::string::npos) << line;
}

// Sends this process's stdout to a temporary file for the life of the
// object.
class CapturedStdout {
 public:
  CapturedStdout() {
    char path[] = "/tmp/log_test_XXXXXX";
    int fd = mkstemp(path);
    path_ = path;
    std::fflush(stdout);
    saved_ = dup(STDOUT_FILENO);
    dup2(fd, STDOUT_FILENO);
    close(fd);
  }
  ~CapturedStdout() {
    Flush();
    std::fflush(stdout);
    dup2(saved_, STDOUT_FILENO);
    close(saved_);
    unlink(path_.c_str());
  }

  std::string Text() const {
    std::ifstream file(path_);
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
  }

 private:
  std::string path_;
  int saved_ = -1;
};

TEST(LogFlushTest, WarnWritesBufferedLinesAtOnce) {
  Configure(Format::kText, Level::kInfo);
  CapturedStdout output;
  InfoBuffered("buffered-before-warn");
  // Whether the periodic flush has run yet is left unchecked, because it
  // may run at any moment; the warn line must follow the buffered one.
  Warn("warn-line");
  std::string text = output.Text();
  size_t buffered = text.find("buffered-before-warn");
  size_t warned = text.find("warn-line");
  ASSERT_NE(buffered, std::string::npos) << text;
  ASSERT_NE(warned, std::string::npos) << text;
  EXPECT_LT(buffered, warned) << text;
}

TEST(LogFlushTest, ErrorAndInfoAreWrittenAtOnce) {
  Configure(Format::kText, Level::kInfo);
  CapturedStdout output;
  Error("error-line");
  EXPECT_TRUE(absl::StrContains(output.Text(), "error-line"));
  Info("info-line");
  EXPECT_TRUE(absl::StrContains(output.Text(), "info-line"));
}

TEST(LogFlushTest, FlushWritesBufferedLines) {
  Configure(Format::kText, Level::kInfo);
  CapturedStdout output;
  InfoBuffered("buffered-until-flush");
  Flush();
  EXPECT_TRUE(absl::StrContains(output.Text(), "buffered-until-flush"));
}

TEST(LogFlushTest, BufferedLineAppearsWithinInterval) {
  Configure(Format::kText, Level::kInfo);
  CapturedStdout output;
  InfoBuffered("buffered-periodic");
  absl::Time deadline =
      absl::Now() + absl::FromChrono(kFlushInterval) + absl::Seconds(2);
  while (!absl::StrContains(output.Text(), "buffered-periodic") &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_TRUE(absl::StrContains(output.Text(), "buffered-periodic"));
}

TEST(LogFlushTest, ExitWritesBufferedLines) {
  // The child runs this test alone in a fresh process, so it creates the
  // logger itself rather than inherit one whose flush thread is gone.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  // The child's stdout goes to its stderr, which EXPECT_EXIT matches.
  EXPECT_EXIT(
      {
        dup2(STDERR_FILENO, STDOUT_FILENO);
        Configure(Format::kText, Level::kInfo);
        InfoBuffered("buffered-at-exit");
        std::exit(0);
      },
      ::testing::ExitedWithCode(0), "buffered-at-exit");
}

}  // namespace
}  // namespace paymento::bridge::logging
