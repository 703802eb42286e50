#include "src/streaming/timer.h"

#include <utility>

#include "absl/time/clock.h"

namespace paymento::bridge {

Timer::Timer() : thread_([this] { Run(); }) {}

Timer::~Timer() { Shutdown(); }

void Timer::Schedule(absl::Time when, std::function<void()> callback) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return;
  entries_.push(Entry{when, next_order_++, std::move(callback)});
}

void Timer::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    while (!entries_.empty()) entries_.pop();
  }
  if (thread_.joinable()) thread_.join();
}

void Timer::Run() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    absl::Time now = absl::Now();
    if (entries_.empty() || entries_.top().when > now) {
      absl::Time wake = entries_.empty() ? now + absl::Seconds(1)
                                         : entries_.top().when;
      // Schedule and Shutdown change what this waits for, so the wait also
      // ends when the queue size or the stopping flag changes.
      std::pair<Timer*, size_t> watched(this, entries_.size());
      mu_.AwaitWithDeadline(
          absl::Condition(
              +[](std::pair<Timer*, size_t>* state)
                   ABSL_NO_THREAD_SAFETY_ANALYSIS {
                     return state->first->stopping_ ||
                            state->first->entries_.size() != state->second;
                   },
              &watched),
          wake);
      continue;
    }
    std::function<void()> callback =
        std::move(const_cast<Entry&>(entries_.top()).callback);
    entries_.pop();
    mu_.Unlock();
    callback();
    mu_.Lock();
  }
}

}  // namespace paymento::bridge
