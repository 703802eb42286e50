// AppendFuture and AppendPromise from event_store.h, on a futex word.
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <ctime>

#include "src/store/event_store.h"

namespace paymento::bridge {
namespace {

constexpr uint32_t kPending = 0;
constexpr uint32_t kWaiting = 1;
constexpr uint32_t kSet = 2;

static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t) &&
                  std::atomic<uint32_t>::is_always_lock_free,
              "the futex word must be a plain 32-bit integer");

uint32_t* FutexWord(std::atomic<uint32_t>& word) {
  return reinterpret_cast<uint32_t*>(&word);
}

}  // namespace

bool AppendFuture::WaitUntil(
    std::optional<std::chrono::steady_clock::time_point> deadline) const {
  std::atomic<uint32_t>& word = state_->word;
  uint32_t seen = word.load(std::memory_order_acquire);
  while (seen != kSet) {
    if (seen == kPending && !word.compare_exchange_weak(
                                seen, kWaiting, std::memory_order_acquire)) {
      continue;  // `seen` has the current value now.
    }
    timespec left{};
    if (deadline.has_value()) {
      auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(
                       *deadline - std::chrono::steady_clock::now())
                       .count();
      if (nanos <= 0) return false;
      left.tv_sec = static_cast<time_t>(nanos / 1000000000);
      left.tv_nsec = static_cast<long>(nanos % 1000000000);
    }
    // Returns at once when the word is no longer kWaiting, and may return
    // early on a signal. The loop checks again either way.
    syscall(SYS_futex, FutexWord(word), FUTEX_WAIT_PRIVATE, kWaiting,
            deadline.has_value() ? &left : nullptr, nullptr, 0);
    seen = word.load(std::memory_order_acquire);
  }
  return true;
}

absl::StatusOr<AppendResult> AppendFuture::get() {
  WaitUntil(std::nullopt);
  return std::move(state_->result);
}

AppendPromise::AppendPromise()
    : state_(std::make_shared<AppendFuture::State>()) {}

AppendPromise& AppendPromise::operator=(AppendPromise&& other) {
  if (this != &other) {
    AppendPromise abandoned(std::move(*this));
    state_ = std::move(other.state_);
  }
  return *this;
}

AppendPromise::~AppendPromise() {
  if (state_ != nullptr &&
      state_->word.load(std::memory_order_acquire) != kSet) {
    set_value(absl::UnavailableError("append dropped before its commit"));
  }
}

void AppendPromise::set_value(absl::StatusOr<AppendResult> result) {
  state_->result = std::move(result);
  uint32_t before = state_->word.exchange(kSet, std::memory_order_acq_rel);
  // The future's reference keeps the word alive through the wake-up.
  if (before == kWaiting) {
    syscall(SYS_futex, FutexWord(state_->word), FUTEX_WAKE_PRIVATE, INT_MAX,
            nullptr, nullptr, 0);
  }
}

}  // namespace paymento::bridge
