// Store URLs: "sqlite://" followed by a file path (relative after two
// slashes, absolute after three) or a PostgreSQL URL as libpq reads it.
#ifndef PAYMENTO_BRIDGE_SRC_STORE_STORE_URL_H_
#define PAYMENTO_BRIDGE_SRC_STORE_STORE_URL_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "src/store/event_store.h"

namespace paymento::bridge {

struct StoreUrl {
  enum class Kind { kSqlite, kPostgres };
  Kind kind = Kind::kSqlite;
  // The file path for SQLite, the whole URL for PostgreSQL.
  std::string target;
};

// Fails with INVALID_ARGUMENT on an unknown scheme or an empty path.
absl::StatusOr<StoreUrl> ParseStoreUrl(absl::string_view url);

// Replaces the password of a URL, if any, with "***", for printing.
std::string MaskStoreUrl(absl::string_view url);

// Opens the store a URL names.
absl::StatusOr<std::unique_ptr<EventStore>> OpenStore(absl::string_view url);

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_STORE_STORE_URL_H_
