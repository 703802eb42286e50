// Opaque page tokens for ListEvents. A token carries the last sequence of
// the page and a fingerprint of the query, so a token reused with other
// filters is rejected rather than silently skipping events.
#ifndef PAYMENTO_BRIDGE_SRC_GRPC_SERVICE_PAGE_TOKEN_H_
#define PAYMENTO_BRIDGE_SRC_GRPC_SERVICE_PAGE_TOKEN_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace paymento::bridge {

// Returns a stable 64-bit FNV-1a hash of `text`.
uint64_t QueryFingerprint(absl::string_view text);

std::string EncodePageToken(int64_t after_sequence, uint64_t fingerprint);

// Returns the sequence after which the next page starts. Fails with
// INVALID_ARGUMENT when the token is malformed or belongs to another query.
absl::StatusOr<int64_t> DecodePageToken(absl::string_view token,
                                        uint64_t fingerprint);

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_GRPC_SERVICE_PAGE_TOKEN_H_
