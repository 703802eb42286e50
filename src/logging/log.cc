#include "src/logging/log.h"

#include <algorithm>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "spdlog/sinks/base_sink.h"
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

spdlog::level::level_enum SpdlogLevel(Level level) {
  switch (level) {
    case Level::kDebug:
      return spdlog::level::debug;
    case Level::kInfo:
      return spdlog::level::info;
    case Level::kWarn:
      return spdlog::level::warn;
    case Level::kError:
      return spdlog::level::err;
  }
  return spdlog::level::info;
}

// Collects pre-formatted lines and writes them to stdout when the logger
// flushes, or when they pass kMaxBufferedBytes. spdlog 1.10's stdout sinks
// call fflush after every line, which costs one write(2) per request.
class BufferedStdoutSink : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& message) override {
    buffer_.append(message.payload.data(), message.payload.size());
    buffer_.push_back('\n');
    if (buffer_.size() >= kMaxBufferedBytes) flush_();
  }

  void flush_() override {
    if (!buffer_.empty()) {
      std::fwrite(buffer_.data(), 1, buffer_.size(), stdout);
      buffer_.clear();
    }
    std::fflush(stdout);
  }

 private:
  static constexpr size_t kMaxBufferedBytes = 64 * 1024;
  std::string buffer_;
};

// Returns the logger of pre-formatted lines. spdlog provides the locked sink
// and the periodic flush, and this file controls the line layout. Warn and
// error lines flush at once. The logger is never destroyed, so threads still
// logging during exit, and the exit-time flush, can use it.
spdlog::logger& Logger() {
  static spdlog::logger* const logger = [] {
    auto created = std::make_shared<spdlog::logger>(
        "paymento-bridge", std::make_shared<BufferedStdoutSink>());
    created->set_level(spdlog::level::trace);
    created->flush_on(spdlog::level::warn);
    // flush_every flushes the loggers in spdlog's registry.
    spdlog::register_logger(created);
    spdlog::flush_every(
        std::chrono::duration_cast<std::chrono::seconds>(kFlushInterval));
    std::atexit(Flush);
    // Leaked on purpose, so the logger outlives the registry at exit.
    return new std::shared_ptr<spdlog::logger>(created);
  }()->get();
  return *logger;
}

// Formats the current UTC time with milliseconds, as
// "2024-05-01T12:00:00.123Z". absl::FormatTime costs more than the rest of
// a line, so each thread reuses the text of the current second.
std::string NowText() {
  int64_t millis = absl::ToUnixMillis(absl::Now());
  int64_t second = millis / 1000;
  if (millis < 0 && millis % 1000 != 0) --second;
  thread_local int64_t cached_second = std::numeric_limits<int64_t>::min();
  thread_local std::string cached_text;
  if (second != cached_second) {
    cached_text = absl::FormatTime("%Y-%m-%dT%H:%M:%S",
                                   absl::FromUnixSeconds(second),
                                   absl::UTCTimeZone());
    cached_second = second;
  }
  int64_t fraction = millis - second * 1000;
  char digits[] = {'.', static_cast<char>('0' + fraction / 100),
                   static_cast<char>('0' + fraction / 10 % 10),
                   static_cast<char>('0' + fraction % 10), 'Z'};
  return absl::StrCat(cached_text,
                      absl::string_view(digits, sizeof(digits)));
}

std::string JsonDump(const nlohmann::ordered_json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Appends `value` as a JSON string. Printable ASCII other than '"' and '\\'
// needs no escape; anything else goes through nlohmann::json, which escapes
// control characters and replaces invalid UTF-8 with U+FFFD.
void AppendJsonString(absl::string_view value, std::string* out) {
  bool plain = std::all_of(value.begin(), value.end(), [](char c) {
    unsigned char byte = static_cast<unsigned char>(c);
    return byte >= 0x20 && byte < 0x7f && c != '"' && c != '\\';
  });
  if (!plain) {
    out->append(JsonDump(nlohmann::ordered_json(std::string(value))));
    return;
  }
  out->push_back('"');
  out->append(value.data(), value.size());
  out->push_back('"');
}

// Returns whether two fields share a key, or a field is named like one of
// the keys every line starts with.
bool HasRepeatedKey(const Fields& fields) {
  for (size_t i = 0; i < fields.size(); ++i) {
    const std::string& key = fields[i].first;
    if (key == "time" || key == "level" || key == "msg") return true;
    for (size_t j = 0; j < i; ++j) {
      if (fields[j].first == key) return true;
    }
  }
  return false;
}

// Builds the line through nlohmann::ordered_json, where a repeated key keeps
// its first position and its last value.
std::string JsonLineWithRepeatedKeys(const std::string& time, Level level,
                                     absl::string_view message,
                                     const Fields& fields) {
  nlohmann::ordered_json object;
  object["time"] = time;
  object["level"] = LevelName(level);
  object["msg"] = std::string(message);
  for (const auto& [key, value] : fields) object[key] = value;
  return JsonDump(object);
}

std::string JsonLine(const std::string& time, Level level,
                     absl::string_view message, const Fields& fields) {
  if (HasRepeatedKey(fields)) {
    return JsonLineWithRepeatedKeys(time, level, message, fields);
  }
  std::string line = absl::StrCat(R"({"time":")", time, R"(","level":")",
                                   LevelName(level), R"(","msg":)");
  AppendJsonString(message, &line);
  for (const auto& [key, value] : fields) {
    line.push_back(',');
    AppendJsonString(key, &line);
    line.push_back(':');
    AppendJsonString(value, &line);
  }
  line.push_back('}');
  return line;
}

void Write(Level level, absl::string_view message, const Fields& fields,
           bool flush) {
  if (static_cast<int>(level) < static_cast<int>(g_level.load())) return;
  std::string line = FormatLine(g_format.load(), level, message, fields);
  spdlog::logger& logger = Logger();
  logger.log(SpdlogLevel(level), spdlog::string_view_t(line));
  if (flush) logger.flush();
}

// Quotes a text value unless it is printable ASCII without spaces, quotes
// or '=', so that a key=value line stays parseable and a value cannot carry
// control characters, such as a carriage return that hides the line.
std::string TextValue(const std::string& value) {
  bool plain = !value.empty() &&
               std::all_of(value.begin(), value.end(), [](char c) {
                 return c > ' ' && c < 0x7f && c != '"' && c != '=';
               });
  if (plain) return value;
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
  std::string time = NowText();
  if (format == Format::kText) {
    std::string line = absl::StrCat(time, " ", LevelName(level), " ", message);
    for (const auto& [key, value] : fields) {
      absl::StrAppend(&line, " ", key, "=", TextValue(value));
    }
    return line;
  }
  return JsonLine(time, level, message, fields);
}

void Log(Level level, absl::string_view message, const Fields& fields) {
  Write(level, message, fields, /*flush=*/true);
}

void InfoBuffered(absl::string_view message, const Fields& fields) {
  Write(Level::kInfo, message, fields, /*flush=*/false);
}

void Flush() { Logger().flush(); }

std::string Shorten(absl::string_view text, size_t max_bytes,
                    size_t full_size) {
  if (text.size() <= max_bytes) return std::string(text);
  size_t cut = max_bytes;
  // Continuation bytes of a UTF-8 character have the bits 10xxxxxx.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) {
    --cut;
  }
  return absl::StrCat(text.substr(0, cut), "... (", full_size, " bytes)");
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
