#include "bench/store_preload.h"

#include <openssl/sha.h>

#include <deque>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "bench/signed_webhooks.h"
#include "src/normalization/webhook_normalizer.h"
#include "src/store/sqlite_event_store.h"
#include "src/verification/secret_set.h"

namespace paymento::bridge::bench {
namespace {

// Appends waiting for their commit at once; more only uses memory, because
// the writer already commits max_batch events per transaction.
constexpr size_t kInFlight = 32768;

google::protobuf::Timestamp ToTimestamp(absl::Time time) {
  google::protobuf::Timestamp timestamp;
  int64_t micros = absl::ToUnixMicros(time);
  timestamp.set_seconds(micros / 1000000);
  timestamp.set_nanos(static_cast<int32_t>(micros % 1000000) * 1000);
  return timestamp;
}

}  // namespace

std::string RawSha256(const std::string& data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(),
         digest);
  return std::string(reinterpret_cast<char*>(digest), sizeof(digest));
}

absl::StatusOr<v1::Event> StoredEvent(const SignedWebhooks& webhooks,
                                      const std::string& event_id,
                                      absl::Time received_at) {
  std::string body = webhooks.Body(event_id);
  absl::StatusOr<v1::Event> event = NormalizeWebhook(body);
  if (!event.ok()) {
    return absl::InternalError(
        absl::StrCat("the sample webhook body does not normalize: ",
                     event.status().message()));
  }
  v1::Verification* verification = event->mutable_verification();
  verification->set_scheme(v1::SIGNATURE_SCHEME_BODY);
  verification->set_secret_fingerprint(SecretFingerprint(kBenchSecret));
  verification->set_body_authenticated(true);
  *event->mutable_received_at() = ToTimestamp(received_at);
  event->set_raw_body(std::move(body));
  return event;
}

absl::Status PreloadStore(const std::string& store_path, int64_t count) {
  SqliteStoreOptions options;
  options.max_pending_appends = kInFlight + 1;
  options.max_batch = 8192;
  absl::StatusOr<std::unique_ptr<SqliteEventStore>> store =
      SqliteEventStore::Open(store_path, options);
  if (!store.ok()) return store.status();

  // The body is normalized once. Each event then gets its own id and raw
  // body, because nothing else differs between the events that the ingress
  // would store for these bodies.
  absl::Time now = absl::Now();
  SignedWebhooks webhooks(now);
  absl::StatusOr<v1::Event> sample = StoredEvent(webhooks, "evt_load_0", now);
  if (!sample.ok()) return sample.status();

  std::deque<AppendFuture> pending;
  auto wait_oldest = [&pending]() -> absl::Status {
    absl::StatusOr<AppendResult> result = pending.front().get();
    pending.pop_front();
    if (!result.ok()) return result.status();
    if (result->outcome != AppendOutcome::kStored) {
      return absl::InternalError("a preloaded event id was already stored");
    }
    return absl::OkStatus();
  };
  for (int64_t i = 1; i <= count; ++i) {
    std::string id = absl::StrFormat("evt_load_%09d", i);
    std::string body = webhooks.Body(id);
    v1::Event event = *sample;
    event.set_id(id);
    std::string digest = RawSha256(body);
    event.set_raw_body(std::move(body));
    pending.push_back((*store)->Append(std::move(event), std::move(digest)));
    if (pending.size() >= kInFlight) {
      absl::Status status = wait_oldest();
      if (!status.ok()) return status;
    }
  }
  while (!pending.empty()) {
    absl::Status status = wait_oldest();
    if (!status.ok()) return status;
  }
  (*store)->Close();
  return absl::OkStatus();
}

}  // namespace paymento::bridge::bench
