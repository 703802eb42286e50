// Metrics: the service's Prometheus metrics, owned in one registry and
// rendered in the text exposition format on the admin port's GET /metrics.
//
// Every call site is one line. The class turns domain facts (a response was
// sent, a commit took this long, a stream opened) into samples, so no caller
// touches prometheus-cpp. Label values that come from outside (event
// types, outcomes) are mapped onto fixed lists, so a client cannot grow the
// number of series.
//
// Thread-safe: prometheus-cpp counters, gauges and histograms are atomic, and
// its families lock only while a new label set is added.
#ifndef PAYMENTO_BRIDGE_SRC_METRICS_METRICS_H_
#define PAYMENTO_BRIDGE_SRC_METRICS_METRICS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace paymento::bridge {

enum class StreamKind { kTail, kDurable };

// The backlog of one durable subscription at scrape time.
struct SubscriptionBacklog {
  std::string subscription;
  // Matching events not yet acknowledged or dead-lettered.
  int64_t events = 0;
  // Age of the oldest of those events, or zero without a backlog.
  absl::Duration age;
};

class Metrics {
 public:
  // Returns the backlog of every durable subscription; called on each
  // scrape, so it must be cheap and must not call back into Metrics.
  using BacklogSource = std::function<std::vector<SubscriptionBacklog>()>;

  // `version` becomes the build_info label; `start_time` the value of
  // paymento_bridge_start_time_seconds.
  explicit Metrics(absl::string_view version,
                   absl::Time start_time = absl::Now());
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Counts one ingress request after its response. `route` is webhook, ipn
  // or other, and `outcome` is the access log's outcome word (accepted,
  // duplicate, invalid_signature, ...). Accepted requests also count as
  // stored events of `event_type`. Rejections that the ingress keeps in
  // quarantine (malformed, mismatch, stale, conflict) also count as
  // quarantined requests.
  void CountRequest(absl::string_view route, int status,
                    absl::string_view outcome, absl::string_view event_type);

  // Counts an HTTPS connection closed because its TLS handshake failed.
  void CountTlsHandshakeFailure();

  // Counts a request whose signature verified, by scheme (body, header,
  // gateway_body) and by the fingerprint of the secret that matched.
  void CountVerification(absl::string_view scheme,
                         absl::string_view secret_fingerprint);

  // Counts an event stored by a path other than the ingress, such as a
  // release from quarantine. Types outside the known list count as "other".
  void CountStoredEvent(absl::string_view event_type);

  // Records one store commit: its duration and the events it made durable.
  void ObserveCommit(absl::Duration duration, int64_t batch_events);

  void StreamOpened(StreamKind kind);
  void StreamClosed(StreamKind kind);

  // Durable subscription counters. Redeliveries also count as deliveries.
  void CountDeliveries(absl::string_view subscription, int64_t count);
  void CountRedeliveries(absl::string_view subscription, int64_t count);
  void CountAcknowledgements(absl::string_view subscription, int64_t count);
  void CountDeadLetters(absl::string_view subscription, int64_t count);

  // Sets the function that reports subscription backlogs at scrape time.
  // Gauges of subscriptions it no longer lists are removed.
  void SetBacklogSource(BacklogSource source);

  void SetReady(bool ready);

  // Returns every metric in the Prometheus text exposition format 0.0.4.
  std::string Render();

  // The content type of Render's output.
  static constexpr char kContentType[] = "text/plain; version=0.0.4";

 private:
  void UpdateBacklogs();
  // Sets the process_* metrics from this process's current readings.
  void UpdateProcess() ABSL_EXCLUSIVE_LOCKS_REQUIRED(scrape_mu_);
  // Returns the counter of `family` with the label `name` set to `value`,
  // and `second_name` to `second_value` when given. prometheus-cpp's
  // Family::Add builds and hashes a label map on every call, so the ingress's
  // counters are looked up here once per label set. Only for families whose
  // series are never removed, because the returned counter is kept.
  prometheus::Counter& LabeledCounter(
      prometheus::Family<prometheus::Counter>& family, absl::string_view name,
      absl::string_view value, absl::string_view second_name = {},
      absl::string_view second_value = {});

  std::shared_ptr<prometheus::Registry> registry_;

  prometheus::Family<prometheus::Counter>& http_requests_;
  prometheus::Counter& webhooks_accepted_;
  prometheus::Family<prometheus::Counter>& rejections_;
  prometheus::Family<prometheus::Counter>& verifications_;
  prometheus::Counter& duplicates_;
  prometheus::Family<prometheus::Counter>& events_stored_;
  prometheus::Histogram& commit_seconds_;
  prometheus::Histogram& commit_batch_events_;
  prometheus::Family<prometheus::Counter>& quarantined_;
  prometheus::Counter& tls_handshake_failures_;
  prometheus::Family<prometheus::Gauge>& open_streams_;
  prometheus::Gauge& open_tail_streams_;
  prometheus::Gauge& open_durable_streams_;
  prometheus::Family<prometheus::Counter>& deliveries_;
  prometheus::Family<prometheus::Counter>& acknowledgements_;
  prometheus::Family<prometheus::Counter>& redeliveries_;
  prometheus::Family<prometheus::Counter>& dead_letters_;
  prometheus::Family<prometheus::Gauge>& backlog_events_;
  prometheus::Family<prometheus::Gauge>& backlog_seconds_;
  prometheus::Gauge& ready_;
  prometheus::Gauge& resident_memory_;
  prometheus::Gauge& virtual_memory_;
  prometheus::Counter& cpu_seconds_;
  prometheus::Gauge& open_fds_;
  prometheus::Gauge& max_fds_;

  absl::Mutex counters_mu_;
  // Keyed by the family's address and the label values.
  absl::flat_hash_map<std::string, prometheus::Counter*> counters_
      ABSL_GUARDED_BY(counters_mu_);

  // Serializes scrapes, which update the backlog gauges before rendering.
  absl::Mutex scrape_mu_;
  BacklogSource backlog_source_ ABSL_GUARDED_BY(scrape_mu_);
  std::vector<std::string> backlog_subscriptions_ ABSL_GUARDED_BY(scrape_mu_);
  // The CPU seconds already added to cpu_seconds_.
  double counted_cpu_seconds_ ABSL_GUARDED_BY(scrape_mu_) = 0;
};

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_METRICS_METRICS_H_
