// Conversion of internal absl::Status values to grpc::Status, done only at
// the gRPC edge. The canonical codes are numerically the same in both.
#ifndef PAYMENTO_BRIDGE_SRC_GRPC_SERVICE_GRPC_STATUS_H_
#define PAYMENTO_BRIDGE_SRC_GRPC_SERVICE_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include <string>

#include "absl/status/status.h"
#include "src/logging/log.h"

namespace paymento::bridge {

// Maximum size, in bytes, of a status message sent whole. Messages repeat
// request values, and gRPC sends the message in a trailer, which clients
// reject when it exceeds their metadata limit (8 KiB by default).
inline constexpr size_t kMaxStatusMessageBytes = 1024;

inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      logging::Shorten(status.message(), kMaxStatusMessageBytes,
                                       status.message().size()));
}

// The canonical name of a gRPC status code, such as "CANCELLED", for logs.
inline std::string StatusCodeName(grpc::StatusCode code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_GRPC_SERVICE_GRPC_STATUS_H_
