// Options of the PostgreSQL store, and the store URL's query parameters that
// set them.
//
// A store URL is a libpq connection URI; these query parameters belong to
// the store and are removed before libpq reads the URI (libpq rejects
// parameters it does not know):
//
//   read_connections     connections for reads (default 4)
//   max_batch            most appends in one transaction (default 1024)
//   max_pending_appends  appends waiting for a commit before Append fails
//                        with RESOURCE_EXHAUSTED (default 20000)
//
// For example
// postgres://bridge@db.internal/bridge?sslmode=require&read_connections=8
// passes sslmode to libpq and keeps read_connections for the store.
#ifndef PAYMENTO_BRIDGE_SRC_STORE_POSTGRES_STORE_OPTIONS_H_
#define PAYMENTO_BRIDGE_SRC_STORE_POSTGRES_STORE_OPTIONS_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace paymento::bridge {

struct PostgresStoreOptions {
  int read_connections = 4;
  size_t max_batch = 1024;
  size_t max_pending_appends = 20000;
  // Spacing of reconnection attempts while the database is unreachable: it
  // starts at the minimum and doubles up to the maximum.
  absl::Duration min_reconnect_delay = absl::Milliseconds(100);
  absl::Duration max_reconnect_delay = absl::Seconds(2);
};

struct PostgresStoreUrl {
  // The URL as libpq reads it: the store's parameters removed.
  std::string libpq_url;
  // The password in the URL's user information, decoded; empty without one.
  std::string password;
  PostgresStoreOptions options;
};

// Splits the store's query parameters off `url` and applies them on top of
// `defaults`. Fails with INVALID_ARGUMENT on a value that is not a positive
// integer; the message never contains the URL's password.
absl::StatusOr<PostgresStoreUrl> ParsePostgresStoreUrl(
    absl::string_view url, PostgresStoreOptions defaults = {});

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_STORE_POSTGRES_STORE_OPTIONS_H_
