#include "src/store/store_url.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "src/store/postgres_event_store.h"
#include "src/store/sqlite_event_store.h"

namespace paymento::bridge {

absl::StatusOr<StoreUrl> ParseStoreUrl(absl::string_view url) {
  constexpr absl::string_view kSqlite = "sqlite://";
  if (absl::StartsWith(url, kSqlite)) {
    std::string path(url.substr(kSqlite.size()));
    if (path.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid store URL \"", url,
          "\": give a file path, as in sqlite://data/events.db"));
    }
    return StoreUrl{StoreUrl::Kind::kSqlite, path};
  }
  if (absl::StartsWith(url, "postgres://") ||
      absl::StartsWith(url, "postgresql://")) {
    return StoreUrl{StoreUrl::Kind::kPostgres, std::string(url)};
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown store URL scheme in \"", MaskStoreUrl(url),
      "\": use sqlite://PATH or postgres://..."));
}

std::string MaskStoreUrl(absl::string_view url) {
  size_t scheme_end = url.find("://");
  if (scheme_end == absl::string_view::npos) return std::string(url);
  size_t authority_start = scheme_end + 3;
  size_t authority_end = url.find_first_of("/?#", authority_start);
  if (authority_end == absl::string_view::npos) authority_end = url.size();
  absl::string_view authority =
      url.substr(authority_start, authority_end - authority_start);
  size_t at = authority.rfind('@');
  std::string masked(url);
  if (at != absl::string_view::npos) {
    size_t colon = authority.substr(0, at).find(':');
    if (colon != absl::string_view::npos) {
      masked = absl::StrCat(url.substr(0, authority_start + colon + 1), "***",
                            url.substr(authority_start + at));
    }
  }
  // A password may also arrive as a query parameter.
  size_t password = masked.find("password=");
  if (password != std::string::npos) {
    size_t end = masked.find('&', password);
    if (end == std::string::npos) end = masked.size();
    masked.replace(password + 9, end - password - 9, "***");
  }
  return masked;
}

absl::StatusOr<std::unique_ptr<EventStore>> OpenStore(absl::string_view url) {
  absl::StatusOr<StoreUrl> parsed = ParseStoreUrl(url);
  if (!parsed.ok()) return parsed.status();
  if (parsed->kind == StoreUrl::Kind::kPostgres) {
    absl::StatusOr<std::unique_ptr<PostgresEventStore>> store =
        PostgresEventStore::Open(parsed->target);
    if (!store.ok()) return store.status();
    return std::unique_ptr<EventStore>(std::move(*store));
  }
  absl::StatusOr<std::unique_ptr<SqliteEventStore>> store =
      SqliteEventStore::Open(parsed->target);
  if (!store.ok()) return store.status();
  return std::unique_ptr<EventStore>(std::move(*store));
}

}  // namespace paymento::bridge
