#include "src/metrics/metrics.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "prometheus/text_serializer.h"
#include "src/metrics/process_stats.h"
#include "src/normalization/event_types.h"

namespace paymento::bridge {
namespace {

using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;

// Outcome words of the ingress that count as rejections. Any other word
// that is neither accepted nor duplicate counts under reason="other".
constexpr absl::string_view kRejectionReasons[] = {
    "invalid_signature",
    "missing_signature",
    "stale",
    "too_large",
    "malformed",
    "mismatch",
    "conflict",
    "unsupported_encoding",
    "not_found",
    "method_not_allowed",
    "unavailable",
    "overloaded",
    "timeout",
    "shutting_down",
    "incomplete_body",
};

// Rejections that the ingress keeps in quarantine after the signature
// verified. When the quarantine itself cannot be written the outcome is
// "unavailable" instead, so these words always mean a quarantined request.
constexpr absl::string_view kQuarantinedOutcomes[] = {"malformed", "mismatch",
                                                      "stale", "conflict"};

bool Contains(absl::Span<const absl::string_view> list,
              absl::string_view value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

absl::string_view RejectionReason(absl::string_view outcome) {
  return Contains(kRejectionReasons, outcome) ? outcome : "other";
}

// Event types outside the documented list count as "other", so that a
// sender cannot create a series per made-up type.
absl::string_view TypeLabel(absl::string_view type) {
  if (KnownEventType(type) == v1::EVENT_TYPE_UNSPECIFIED) return "other";
  return type;
}

Family<Counter>& CounterFamily(prometheus::Registry& registry,
                               const std::string& name,
                               const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry);
}

Family<Gauge>& GaugeFamily(prometheus::Registry& registry,
                           const std::string& name, const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry);
}

Histogram& SingleHistogram(prometheus::Registry& registry,
                           const std::string& name, const std::string& help,
                           Histogram::BucketBoundaries buckets) {
  return prometheus::BuildHistogram()
      .Name(name)
      .Help(help)
      .Register(registry)
      .Add({}, std::move(buckets));
}

}  // namespace

Metrics::Metrics(absl::string_view version, absl::Time start_time)
    : registry_(std::make_shared<prometheus::Registry>()),
      http_requests_(CounterFamily(
          *registry_, "paymento_bridge_http_requests_total",
          "Ingress HTTP requests answered, by route and status code.")),
      webhooks_accepted_(
          CounterFamily(*registry_, "paymento_bridge_webhooks_accepted_total",
                        "Webhooks and gateway callbacks stored as new "
                        "events.")
              .Add({})),
      rejections_(
          CounterFamily(*registry_, "paymento_bridge_rejections_total",
                        "Ingress requests answered with an error, by reason.")),
      verifications_(CounterFamily(
          *registry_, "paymento_bridge_verifications_total",
          "Requests whose signature verified, by scheme and by the "
          "fingerprint of the secret that matched.")),
      duplicates_(CounterFamily(*registry_, "paymento_bridge_duplicates_total",
                                "Requests repeating a stored event id with "
                                "the same body, answered 200 and not stored.")
                      .Add({})),
      events_stored_(CounterFamily(
          *registry_, "paymento_bridge_events_stored_total",
          "Events stored, by type; undocumented types count as other.")),
      commit_seconds_(SingleHistogram(
          *registry_, "paymento_bridge_store_commit_seconds",
          "Duration of one store commit, fsync included, in seconds.",
          {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
           2.5, 5})),
      commit_batch_events_(SingleHistogram(
          *registry_, "paymento_bridge_store_commit_batch_events",
          "Events made durable by one store commit.",
          {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024})),
      quarantined_(CounterFamily(
          *registry_, "paymento_bridge_quarantined_requests_total",
          "Verified requests kept in quarantine, by kind of reason.")),
      tls_handshake_failures_(
          CounterFamily(*registry_,
                        "paymento_bridge_tls_handshake_failures_total",
                        "HTTPS connections closed because the TLS handshake "
                        "failed or timed out.")
              .Add({})),
      open_streams_(GaugeFamily(*registry_, "paymento_bridge_open_streams",
                                "Open Subscribe streams, by kind.")),
      open_tail_streams_(open_streams_.Add({{"kind", "tail"}})),
      open_durable_streams_(open_streams_.Add({{"kind", "durable"}})),
      deliveries_(CounterFamily(
          *registry_, "paymento_bridge_deliveries_total",
          "Events delivered on durable subscription streams, redeliveries "
          "included.")),
      acknowledgements_(
          CounterFamily(*registry_, "paymento_bridge_acks_total",
                        "Deliveries acknowledged, by durable subscription.")),
      redeliveries_(CounterFamily(
          *registry_, "paymento_bridge_redeliveries_total",
          "Deliveries after the first attempt, by durable subscription.")),
      dead_letters_(CounterFamily(
          *registry_, "paymento_bridge_dead_letters_total",
          "Events dead-lettered after their last delivery attempt, by "
          "durable subscription.")),
      backlog_events_(GaugeFamily(
          *registry_, "paymento_bridge_subscription_backlog_events",
          "Matching events not yet acknowledged or dead-lettered, by "
          "durable subscription.")),
      backlog_seconds_(GaugeFamily(
          *registry_, "paymento_bridge_subscription_backlog_seconds",
          "Age of the oldest event in a durable subscription's backlog, in "
          "seconds.")),
      ready_(GaugeFamily(*registry_, "paymento_bridge_ready",
                         "1 while GET /readyz answers 200, else 0.")
                 .Add({})),
      // The process_* names and meanings of Prometheus's client libraries,
      // so that existing dashboards read them.
      resident_memory_(GaugeFamily(*registry_, "process_resident_memory_bytes",
                                   "Resident memory size in bytes.")
                           .Add({})),
      virtual_memory_(GaugeFamily(*registry_, "process_virtual_memory_bytes",
                                  "Virtual memory size in bytes.")
                          .Add({})),
      cpu_seconds_(CounterFamily(*registry_, "process_cpu_seconds_total",
                                 "Total user and system CPU time spent in "
                                 "seconds.")
                       .Add({})),
      open_fds_(GaugeFamily(*registry_, "process_open_fds",
                            "Number of open file descriptors.")
                    .Add({})),
      max_fds_(GaugeFamily(*registry_, "process_max_fds",
                           "Maximum number of open file descriptors.")
                   .Add({})) {
  // Series with a fixed label set exist from the start at 0, so that an
  // alert on their increase fires on the first occurrence.
  for (absl::string_view reason : kRejectionReasons) {
    rejections_.Add({{"reason", std::string(reason)}});
  }
  rejections_.Add({{"reason", "other"}});
  for (absl::string_view kind : kQuarantinedOutcomes) {
    quarantined_.Add({{"reason_kind", std::string(kind)}});
  }
  const double started = absl::ToDoubleSeconds(start_time - absl::UnixEpoch());
  GaugeFamily(*registry_, "paymento_bridge_start_time_seconds",
              "Start time of the process, in seconds since the Unix epoch.")
      .Add({})
      .Set(started);
  GaugeFamily(*registry_, "process_start_time_seconds",
              "Start time of the process since unix epoch in seconds.")
      .Add({})
      .Set(started);
  GaugeFamily(*registry_, "paymento_bridge_build_info",
              "Always 1; the version label names the running build.")
      .Add({{"version", std::string(version)}})
      .Set(1);
}

void Metrics::CountTlsHandshakeFailure() {
  tls_handshake_failures_.Increment();
}

void Metrics::CountRequest(absl::string_view route, int status,
                           absl::string_view outcome,
                           absl::string_view event_type) {
  LabeledCounter(http_requests_, "route", route, "status", absl::StrCat(status))
      .Increment();
  if (outcome == "accepted") {
    webhooks_accepted_.Increment();
    CountStoredEvent(event_type);
    return;
  }
  if (outcome == "duplicate") {
    duplicates_.Increment();
    return;
  }
  LabeledCounter(rejections_, "reason", RejectionReason(outcome)).Increment();
  if (Contains(kQuarantinedOutcomes, outcome)) {
    LabeledCounter(quarantined_, "reason_kind", outcome).Increment();
  }
}

void Metrics::CountVerification(absl::string_view scheme,
                                absl::string_view secret_fingerprint) {
  LabeledCounter(verifications_, "scheme", scheme, "secret", secret_fingerprint)
      .Increment();
}

void Metrics::CountStoredEvent(absl::string_view event_type) {
  LabeledCounter(events_stored_, "type", TypeLabel(event_type)).Increment();
}

void Metrics::ObserveCommit(absl::Duration duration, int64_t batch_events) {
  commit_seconds_.Observe(absl::ToDoubleSeconds(duration));
  commit_batch_events_.Observe(static_cast<double>(batch_events));
}

void Metrics::StreamOpened(StreamKind kind) {
  (kind == StreamKind::kTail ? open_tail_streams_ : open_durable_streams_)
      .Increment();
}

void Metrics::StreamClosed(StreamKind kind) {
  (kind == StreamKind::kTail ? open_tail_streams_ : open_durable_streams_)
      .Decrement();
}

void Metrics::CountDeliveries(absl::string_view subscription, int64_t count) {
  deliveries_.Add({{"subscription", std::string(subscription)}})
      .Increment(static_cast<double>(count));
}

void Metrics::CountRedeliveries(absl::string_view subscription, int64_t count) {
  redeliveries_.Add({{"subscription", std::string(subscription)}})
      .Increment(static_cast<double>(count));
}

void Metrics::CountAcknowledgements(absl::string_view subscription,
                                    int64_t count) {
  acknowledgements_.Add({{"subscription", std::string(subscription)}})
      .Increment(static_cast<double>(count));
}

void Metrics::CountDeadLetters(absl::string_view subscription, int64_t count) {
  dead_letters_.Add({{"subscription", std::string(subscription)}})
      .Increment(static_cast<double>(count));
}

void Metrics::SetBacklogSource(BacklogSource source) {
  absl::MutexLock lock(&scrape_mu_);
  backlog_source_ = std::move(source);
}

void Metrics::SetReady(bool ready) { ready_.Set(ready ? 1 : 0); }

void Metrics::UpdateBacklogs() {
  if (!backlog_source_) return;
  std::vector<SubscriptionBacklog> backlogs = backlog_source_();
  std::vector<std::string> listed;
  for (const SubscriptionBacklog& backlog : backlogs) {
    prometheus::Labels labels = {{"subscription", backlog.subscription}};
    backlog_events_.Add(labels).Set(static_cast<double>(backlog.events));
    backlog_seconds_.Add(labels).Set(absl::ToDoubleSeconds(backlog.age));
    listed.push_back(backlog.subscription);
  }
  // A deleted subscription must not keep reporting its last backlog.
  for (const std::string& previous : backlog_subscriptions_) {
    if (std::find(listed.begin(), listed.end(), previous) != listed.end()) {
      continue;
    }
    prometheus::Labels labels = {{"subscription", previous}};
    backlog_events_.Remove(&backlog_events_.Add(labels));
    backlog_seconds_.Remove(&backlog_seconds_.Add(labels));
  }
  backlog_subscriptions_ = std::move(listed);
}

std::string Metrics::Render() {
  absl::MutexLock lock(&scrape_mu_);
  UpdateBacklogs();
  UpdateProcess();
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

void Metrics::UpdateProcess() {
  if (std::optional<ProcessMemory> memory = ReadProcessMemory()) {
    resident_memory_.Set(static_cast<double>(memory->resident_bytes));
    virtual_memory_.Set(static_cast<double>(memory->virtual_bytes));
  }
  // A counter only grows, so it gets the CPU time since the last scrape.
  double cpu = ProcessCpuSeconds();
  if (cpu > counted_cpu_seconds_) {
    cpu_seconds_.Increment(cpu - counted_cpu_seconds_);
    counted_cpu_seconds_ = cpu;
  }
  if (std::optional<int64_t> open = CountOpenFds()) {
    open_fds_.Set(static_cast<double>(*open));
  }
  // An unlimited soft limit leaves the gauge at 0.
  if (std::optional<int64_t> max = MaxFds()) {
    max_fds_.Set(static_cast<double>(*max));
  }
}

prometheus::Counter& Metrics::LabeledCounter(
    prometheus::Family<prometheus::Counter>& family, absl::string_view name,
    absl::string_view value, absl::string_view second_name,
    absl::string_view second_value) {
  // Label values hold no NUL byte that could make two keys collide:
  // they come from fixed lists, status codes and secret fingerprints.
  constexpr absl::string_view kSeparator("\0", 1);
  thread_local std::string key;
  key.clear();
  absl::StrAppend(&key, reinterpret_cast<uintptr_t>(&family), kSeparator, value,
                  kSeparator, second_value);
  {
    absl::ReaderMutexLock lock(&counters_mu_);
    auto it = counters_.find(key);
    if (it != counters_.end()) return *it->second;
  }
  prometheus::Labels labels = {{std::string(name), std::string(value)}};
  if (!second_name.empty())
    labels.emplace(std::string(second_name), std::string(second_value));
  prometheus::Counter& counter = family.Add(labels);
  absl::MutexLock lock(&counters_mu_);
  counters_.emplace(key, &counter);
  return counter;
}

}  // namespace paymento::bridge
