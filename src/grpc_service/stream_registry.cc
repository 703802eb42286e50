#include "src/grpc_service/stream_registry.h"

#include <algorithm>
#include <utility>

namespace paymento::bridge {

void StreamRegistry::Add(std::weak_ptr<TerminableStream> stream) {
  absl::MutexLock lock(&mu_);
  // Dropping ended streams whenever the list doubles keeps the cost of each
  // Add constant on average.
  if (streams_.size() >= 64 && (streams_.size() & (streams_.size() - 1)) == 0) {
    streams_.erase(
        std::remove_if(streams_.begin(), streams_.end(),
                       [](const std::weak_ptr<TerminableStream>& weak) {
                         return weak.expired();
                       }),
        streams_.end());
  }
  streams_.push_back(std::move(stream));
}

void StreamRegistry::TerminateAll(const grpc::Status& status) {
  std::vector<std::weak_ptr<TerminableStream>> streams;
  {
    absl::MutexLock lock(&mu_);
    streams.swap(streams_);
  }
  for (const auto& weak : streams) {
    if (auto stream = weak.lock()) stream->Terminate(status);
  }
}

}  // namespace paymento::bridge
