#include "src/streaming/task_batcher.h"

#include <utility>
#include <vector>

namespace paymento::bridge {

void TaskBatcher::Post(std::function<void()> task) {
  {
    absl::MutexLock lock(&mu_);
    pending_.push_back(std::move(task));
    if (scheduled_) return;
    scheduled_ = true;
  }
  executor_->Post([this] { RunBatch(); });
}

void TaskBatcher::RunBatch() {
  std::vector<std::function<void()>> batch;
  bool more = false;
  {
    absl::MutexLock lock(&mu_);
    while (!pending_.empty() && batch.size() < max_batch_) {
      batch.push_back(std::move(pending_.front()));
      pending_.pop_front();
    }
    more = !pending_.empty();
    scheduled_ = more;
  }
  // Queued before this batch runs, so that another executor thread can
  // take the rest meanwhile.
  if (more) executor_->Post([this] { RunBatch(); });
  for (std::function<void()>& task : batch) task();
}

}  // namespace paymento::bridge
