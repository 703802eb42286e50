// StreamRegistry: the open Subscribe streams of a server, so that shutdown
// can end each one with UNAVAILABLE and clients reconnect elsewhere, rather
// than seeing their calls cancelled.
#ifndef PAYMENTO_BRIDGE_SRC_GRPC_SERVICE_STREAM_REGISTRY_H_
#define PAYMENTO_BRIDGE_SRC_GRPC_SERVICE_STREAM_REGISTRY_H_

#include <memory>
#include <vector>

#include <grpcpp/support/status.h>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace paymento::bridge {

class TerminableStream {
 public:
  virtual ~TerminableStream() = default;
  // Ends the stream with `status` once its write in flight, if any, is done.
  virtual void Terminate(const grpc::Status& status) = 0;
};

class StreamRegistry {
 public:
  // Holds `stream` weakly: an ended stream needs no removal.
  void Add(std::weak_ptr<TerminableStream> stream);
  // Terminates every open stream with `status`.
  void TerminateAll(const grpc::Status& status);

 private:
  absl::Mutex mu_;
  std::vector<std::weak_ptr<TerminableStream>> streams_ ABSL_GUARDED_BY(mu_);
};

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_GRPC_SERVICE_STREAM_REGISTRY_H_
