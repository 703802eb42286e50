#include "src/logging/log.h"

#include <atomic>
#include <chrono>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace paymento::bridge::logging {
namespace {

std::atomic<Format> g_format{Format::kJson};
std::atomic<Level> g_level{Level::kInfo};

const char* LevelName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

// The logger writes pre-formatted lines: spdlog provides the locked,
// buffered sink, and the line layout stays under this file's control.
spdlog::logger& Logger() {
  static std::shared_ptr<spdlog::logger> logger = [] {
    auto sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
    auto created = std::make_shared<spdlog::logger>("paymento-bridge", sink);
    created->set_pattern("%v");
    created->set_level(spdlog::level::trace);
    created->flush_on(spdlog::level::trace);
    return created;
  }();
  return *logger;
}

// Quotes a text value when it contains spaces, quotes or '=' so that a
// key=value line stays parseable.
std::string TextValue(const std::string& value) {
  if (!value.empty() &&
      value.find_first_of(" \"=\t\n") == std::string::npos) {
    return value;
  }
  return nlohmann::json(value).dump(-1, ' ', false,
                                    nlohmann::json::error_handler_t::replace);
}

}  // namespace

absl::Status ParseFormat(absl::string_view text, Format* format) {
  if (text == "json") {
    *format = Format::kJson;
  } else if (text == "text") {
    *format = Format::kText;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid log format \"", text, "\": use json or text"));
  }
  return absl::OkStatus();
}

absl::Status ParseLevel(absl::string_view text, Level* level) {
  std::string lower = absl::AsciiStrToLower(text);
  if (lower == "debug") {
    *level = Level::kDebug;
  } else if (lower == "info") {
    *level = Level::kInfo;
  } else if (lower == "warn" || lower == "warning") {
    *level = Level::kWarn;
  } else if (lower == "error") {
    *level = Level::kError;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid log level \"", text, "\": use debug, info, warn or error"));
  }
  return absl::OkStatus();
}

void Configure(Format format, Level level) {
  g_format.store(format);
  g_level.store(level);
}

bool DebugEnabled() { return g_level.load() == Level::kDebug; }

std::string FormatLine(Format format, Level level, absl::string_view message,
                       const Fields& fields) {
  std::string time =
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
  if (format == Format::kText) {
    std::string line = absl::StrCat(time, " ", LevelName(level), " ", message);
    for (const auto& [key, value] : fields) {
      absl::StrAppend(&line, " ", key, "=", TextValue(value));
    }
    return line;
  }
  nlohmann::ordered_json object;
  object["time"] = time;
  object["level"] = LevelName(level);
  object["msg"] = std::string(message);
  for (const auto& [key, value] : fields) object[key] = value;
  return object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void Log(Level level, absl::string_view message, const Fields& fields) {
  if (static_cast<int>(level) < static_cast<int>(g_level.load())) return;
  Logger().info(FormatLine(g_format.load(), level, message, fields));
}

std::string MaskEmail(absl::string_view email) {
  size_t at = email.rfind('@');
  if (at == absl::string_view::npos) return email.empty() ? "" : "***";
  absl::string_view local = email.substr(0, at);
  absl::string_view domain = email.substr(at);
  if (local.empty()) return absl::StrCat("***", domain);
  return absl::StrCat(local.substr(0, 1), "***", domain);
}

}  // namespace paymento::bridge::logging
