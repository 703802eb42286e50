// Structured logging for the service: one line per event, as a JSON object
// (the default) or as key=value text, written to stdout through spdlog.
//
// Usage:
//   logging::Info("webhook accepted", {{"event_id", id}, {"status", "200"}});
//
// Field values are strings; callers mask anything sensitive before logging
// (see MaskEmail) and never pass secrets or signatures.
#ifndef PAYMENTO_BRIDGE_SRC_LOGGING_LOG_H_
#define PAYMENTO_BRIDGE_SRC_LOGGING_LOG_H_

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace paymento::bridge::logging {

enum class Format { kJson, kText };
enum class Level { kDebug, kInfo, kWarn, kError };

using Fields = std::vector<std::pair<std::string, std::string>>;

// Parses "json" or "text".
absl::Status ParseFormat(absl::string_view text, Format* format);
// Parses "debug", "info", "warn" or "error".
absl::Status ParseLevel(absl::string_view text, Level* level);

// Sets the output format and the lowest level written. Thread-safe, but meant
// to be called once at start-up, before other threads log.
void Configure(Format format, Level level);

// Lines written with InfoBuffered reach stdout at most this long after they
// are logged. Every other line is written at once, together with the
// buffered lines before it.
inline constexpr std::chrono::seconds kFlushInterval{1};

// Writes one line, and the buffered lines before it, to stdout at once.
void Log(Level level, absl::string_view message, const Fields& fields = {});
inline void Debug(absl::string_view message, const Fields& fields = {}) {
  Log(Level::kDebug, message, fields);
}
inline void Info(absl::string_view message, const Fields& fields = {}) {
  Log(Level::kInfo, message, fields);
}
inline void Warn(absl::string_view message, const Fields& fields = {}) {
  Log(Level::kWarn, message, fields);
}
inline void Error(absl::string_view message, const Fields& fields = {}) {
  Log(Level::kError, message, fields);
}

// Logs an info line that may wait in a buffer for up to kFlushInterval, for
// lines logged once per request, where a write(2) per line costs more than
// formatting it.
void InfoBuffered(absl::string_view message, const Fields& fields = {});

// Writes the buffered lines to stdout. Called at shutdown, and at exit.
void Flush();

bool DebugEnabled();

// Formats one line without writing it; exposed for tests.
std::string FormatLine(Format format, Level level, absl::string_view message,
                       const Fields& fields);

// Returns `text` when it has at most `max_bytes` bytes. Otherwise returns
// its first `max_bytes` bytes or fewer, ending before a UTF-8 character
// rather than inside one, followed by "... (N bytes)" with N `full_size`.
std::string Shorten(absl::string_view text, size_t max_bytes, size_t full_size);

// Masks an e-mail address as "j***@example.com": the first character of the
// local part and the whole domain stay visible.
std::string MaskEmail(absl::string_view email);

}  // namespace paymento::bridge::logging

#endif  // PAYMENTO_BRIDGE_SRC_LOGGING_LOG_H_
