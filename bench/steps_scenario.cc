// The bridge's own work on one webhook, step by step, timed in this process
// on one thread with the benchmark's signed body. The steps of a request
// are verifying the signature, normalizing the JSON body into an event,
// serializing the event for the store and formatting the access log line.
// Parsing a stored event, which a durable stream does for each delivery
// (tail streams send the stored bytes), is timed too. HTTP parsing,
// threads and the store's commit are left out. So the sum of a request's
// steps is the cost of the bridge's own code per webhook with warm caches,
// to set against the ingress scenario's CPU per webhook.
#include <chrono>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "bench/bench_stats.h"
#include "bench/scenarios.h"
#include "bench/signed_webhooks.h"
#include "paymento/bridge/v1/event.pb.h"
#include "src/logging/log.h"
#include "src/normalization/webhook_normalizer.h"
#include "src/verification/secret_set.h"
#include "src/verification/signature_verifier.h"

namespace paymento::bridge::bench {
namespace {

constexpr char kScenario[] = "steps";

struct Step {
  std::string name;
  std::function<bool()> run;
  // False for a step of each delivery rather than of the webhook's request.
  bool in_request = true;
};

// Returns the mean wall time of `step` over `iterations` calls, in
// microseconds, or a negative value when a call failed.
double MeanMicros(const Step& step, int iterations) {
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < iterations; ++i) {
    if (!step.run()) return -1;
  }
  std::chrono::duration<double, std::micro> elapsed =
      std::chrono::steady_clock::now() - start;
  return elapsed.count() / iterations;
}

}  // namespace

absl::Status RunStepsScenario(const BenchConfig& config) {
  SignedWebhooks webhooks(absl::Now());
  const std::string body = webhooks.Body("evt_steps_0000000001");
  WebhookSignatureInput input;
  input.body = body;
  input.signature_values = {HmacSha256Hex(kBenchSecret, body)};
  const SecretSet secrets({kBenchSecret});
  absl::StatusOr<v1::Event> sample = NormalizeWebhook(body);
  if (!sample.ok()) return sample.status();
  std::string stored;
  sample->SerializeToString(&stored);

  const std::vector<Step> steps = {
      {"verify the HMAC-SHA256 signature",
       [&] {
         return VerifyWebhookSignature(secrets, SchemePolicy::kAny, input).ok();
       }},
      {"normalize the JSON body into an event",
       [&] { return NormalizeWebhook(body).ok(); }},
      {"serialize the event for the store",
       [&] {
         std::string blob;
         return sample->SerializeToString(&blob);
       }},
      {"parse a stored event, as a durable stream does",
       [&] {
         v1::Event event;
         return event.ParseFromString(stored);
       },
       /*in_request=*/false},
      {"format the access log line",
       [&] {
         std::string line = logging::FormatLine(
             logging::Format::kJson, logging::Level::kInfo, "request",
             {{"request_id", "0123456789abcdef"},
              {"peer", "127.0.0.1:43210"},
              {"method", "POST"},
              {"route", "webhook"},
              {"status", "200"},
              {"latency_ms", "1.234"},
              {"outcome", "accepted"},
              {"event_id", sample->id()},
              {"event_type", sample->type()}});
         return !line.empty();
       }},
  };

  const int iterations = config.smoke ? 2000 : 100000;
  const std::string scenario = RowScenario(kScenario, config);
  double total = 0;
  for (const Step& step : steps) {
    std::vector<double> runs;
    for (int run = 0; run < config.runs; ++run) {
      double micros = MeanMicros(step, iterations);
      if (micros < 0) {
        return absl::InternalError(absl::StrFormat(
            "step \"%s\" failed on the sample body", step.name));
      }
      runs.push_back(micros);
    }
    std::cerr << "steps: " << step.name << ", µs per run " << FormatRuns(runs)
              << "\n";
    if (step.in_request) total += Median(runs);
    PrintRow({scenario, absl::StrFormat("%s, µs", step.name),
              absl::StrFormat("%.2f", Median(runs)), "-"});
  }
  PrintRow({scenario, "sum of the steps of a request, µs per webhook",
            absl::StrFormat("%.2f", total), "-"});
  PrintRow({scenario, "webhook body bytes", absl::StrFormat("%d", body.size()),
            "-"});
  return absl::OkStatus();
}

}  // namespace paymento::bridge::bench
