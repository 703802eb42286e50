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

bool DebugEnabled();

// Formats one line without writing it; exposed for tests.
std::string FormatLine(Format format, Level level, absl::string_view message,
                       const Fields& fields);

// Masks an e-mail address as "j***@example.com": the first character of the
// local part and the whole domain stay visible.
std::string MaskEmail(absl::string_view email);

}  // namespace paymento::bridge::logging

#endif  // PAYMENTO_BRIDGE_SRC_LOGGING_LOG_H_
