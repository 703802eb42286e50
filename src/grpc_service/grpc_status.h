// Conversion of internal absl::Status values to grpc::Status, done only at
// the gRPC edge. The canonical codes are numerically the same in both.
#ifndef PAYMENTO_BRIDGE_SRC_GRPC_SERVICE_GRPC_STATUS_H_
#define PAYMENTO_BRIDGE_SRC_GRPC_SERVICE_GRPC_STATUS_H_

#include <string>

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace paymento::bridge {

inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

// The canonical name of a gRPC status code, such as "CANCELLED", for logs.
inline std::string StatusCodeName(grpc::StatusCode code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_GRPC_SERVICE_GRPC_STATUS_H_
