// Durable subscription throughput: a backlog of preloaded events, read by
// one stream of a durable subscription (SubscribeRequest.subscription set,
// max_outstanding 1000) that acknowledges every delivery with batched
// Acknowledge calls as fast as it can. The figure is events acknowledged
// per second, from the Subscribe call to the last acknowledgement.
//
// A server without durable subscriptions is reported as "not available",
// never as a number: Subscribe or Acknowledge failing with UNIMPLEMENTED,
// or deliveries without ack ids (the request served as a tail stream).
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "bench/bench_stats.h"
#include "bench/http_load.h"
#include "bench/scenario_support.h"
#include "bench/scenarios.h"
#include "bench/store_preload.h"

namespace paymento::bridge::bench {
namespace {

constexpr char kScenario[] = "durable";
constexpr char kSubscription[] = "bench-durable";
constexpr int kMaxOutstanding = 1000;
constexpr int kAckThreads = 2;
constexpr size_t kMaxAckBatch = 500;

struct DurableRun {
  // Set when the server lacks durable subscriptions.
  std::string not_available;
  double events_per_second = 0;
  int64_t acknowledged = 0;
  int64_t redelivered = 0;
  bool complete = false;
  double seconds = 0;
};

// Reads one durable stream and acknowledges what it receives.
class DurableConsumer {
 public:
  DurableConsumer(const std::string& address, int64_t expected)
      : stub_(NewEventStub(address)), expected_(expected) {}

  // Runs until every expected event is acknowledged, the stream ends, or
  // `timeout` passes.
  DurableRun Run(absl::Duration timeout) {
    start_ns_ = MonotonicNanos();
    std::thread reader([this] { Read(); });
    std::vector<std::thread> ackers;
    for (int i = 0; i < kAckThreads; ++i) {
      ackers.emplace_back([this] { AcknowledgeLoop(); });
    }
    {
      std::unique_lock<std::mutex> lock(mu_);
      done_.wait_for(lock, absl::ToChronoNanoseconds(timeout), [this] {
        return acknowledged_ >= expected_ || !not_available_.empty() ||
               (reader_finished_ && queue_.empty() && acks_in_flight_ == 0);
      });
      stopping_ = true;
    }
    context_.TryCancel();
    work_.notify_all();
    reader.join();
    for (std::thread& acker : ackers) acker.join();

    std::lock_guard<std::mutex> lock(mu_);
    DurableRun run;
    run.not_available = not_available_;
    run.acknowledged = acknowledged_;
    run.redelivered = redelivered_;
    run.complete = acknowledged_ >= expected_;
    int64_t end = run.complete ? finished_ns_ : MonotonicNanos();
    run.seconds = static_cast<double>(end - start_ns_) / 1e9;
    run.events_per_second = static_cast<double>(acknowledged_) / run.seconds;
    return run;
  }

 private:
  void Read() {
    v1::SubscribeRequest request;
    request.set_subscription(kSubscription);
    request.set_position(v1::START_POSITION_EARLIEST);
    request.set_max_outstanding(kMaxOutstanding);
    std::unique_ptr<grpc::ClientReader<v1::SubscribeResponse>> reader =
        stub_->Subscribe(&context_, request);

    v1::SubscribeResponse response;
    int64_t delivered = 0;
    bool served_as_tail = false;
    while (!served_as_tail && reader->Read(&response)) {
      std::lock_guard<std::mutex> lock(mu_);
      for (const v1::Delivery& delivery : response.deliveries()) {
        if (delivery.ack_id().empty()) {
          served_as_tail = true;
          not_available_ =
              "deliveries carry no ack id (the request was served as a tail)";
          break;
        }
        if (delivery.attempt() > 1) ++redelivered_;
        queue_.push_back(delivery.ack_id());
        ++delivered;
      }
      work_.notify_one();
    }
    if (served_as_tail) context_.TryCancel();
    grpc::Status status = reader->Finish();

    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_ && delivered == 0 && not_available_.empty() &&
        (status.error_code() == grpc::StatusCode::UNIMPLEMENTED ||
         status.error_code() == grpc::StatusCode::INVALID_ARGUMENT)) {
      not_available_ = absl::StrCat("Subscribe with a subscription returned ",
                                    GrpcCodeName(status.error_code()), " ",
                                    status.error_message());
    } else if (!stopping_ && !served_as_tail && !status.ok() &&
               first_error_.empty()) {
      first_error_ =
          absl::StrCat("Subscribe ended with ",
                       GrpcCodeName(status.error_code()), " ",
                       status.error_message());
      std::cerr << "durable: " << first_error_ << "\n";
    }
    reader_finished_ = true;
    done_.notify_all();
  }

  void AcknowledgeLoop() {
    for (;;) {
      v1::AcknowledgeRequest request;
      request.set_subscription(kSubscription);
      {
        std::unique_lock<std::mutex> lock(mu_);
        work_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (stopping_) return;
        while (!queue_.empty() &&
               static_cast<size_t>(request.ack_ids_size()) < kMaxAckBatch) {
          request.add_ack_ids(std::move(queue_.front()));
          queue_.pop_front();
        }
        ++acks_in_flight_;
      }
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() +
                           std::chrono::seconds(10));
      v1::AcknowledgeResponse response;
      grpc::Status status = stub_->Acknowledge(&context, request, &response);
      std::lock_guard<std::mutex> lock(mu_);
      --acks_in_flight_;
      if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
        not_available_ = "Acknowledge returned UNIMPLEMENTED";
      } else if (!status.ok()) {
        if (first_error_.empty()) {
          first_error_ = absl::StrCat("Acknowledge failed with ",
                                      GrpcCodeName(status.error_code()), " ",
                                      status.error_message());
          std::cerr << "durable: " << first_error_ << "\n";
        }
      } else {
        acknowledged_ += response.acknowledged();
        if (acknowledged_ >= expected_ && finished_ns_ == 0) {
          finished_ns_ = MonotonicNanos();
        }
      }
      done_.notify_all();
    }
  }

  std::unique_ptr<v1::EventService::Stub> stub_;
  const int64_t expected_;
  grpc::ClientContext context_;
  int64_t start_ns_ = 0;

  std::mutex mu_;
  std::condition_variable work_;
  std::condition_variable done_;
  std::deque<std::string> queue_;
  bool stopping_ = false;
  bool reader_finished_ = false;
  int acks_in_flight_ = 0;
  int64_t acknowledged_ = 0;
  int64_t redelivered_ = 0;
  int64_t finished_ns_ = 0;
  std::string not_available_;
  std::string first_error_;
};

absl::StatusOr<DurableRun> RunOnce(const BenchConfig& config,
                                   int64_t backlog) {
  absl::StatusOr<std::unique_ptr<TempDirectory>> directory =
      TempDirectory::Create(config.keep_temp);
  if (!directory.ok()) return directory.status();
  absl::Status preloaded =
      PreloadStore((*directory)->path() + "/events.db", backlog);
  if (!preloaded.ok()) return preloaded;
  absl::StatusOr<std::unique_ptr<BridgeServer>> bridge =
      StartBridgeIn(config, (*directory)->path());
  if (!bridge.ok()) return bridge.status();
  DurableConsumer consumer((*bridge)->endpoints().grpc_address(), backlog);
  DurableRun run =
      consumer.Run(config.smoke ? absl::Seconds(30) : absl::Seconds(180));
  absl::Status stopped = (*bridge)->Stop();
  if (!stopped.ok()) return stopped;
  return run;
}

}  // namespace

absl::Status RunDurableScenario(const BenchConfig& config) {
  const int64_t backlog = config.smoke ? 2000 : 100000;
  std::vector<double> rates;
  int64_t redelivered = 0;
  for (int run = 0; run < config.runs; ++run) {
    absl::StatusOr<DurableRun> result = RunOnce(config, backlog);
    if (!result.ok()) return result.status();
    if (!result->not_available.empty()) {
      std::cerr << "durable: not available: " << result->not_available << "\n";
      PrintRow({kScenario, "acknowledged events/s (max_outstanding 1000)",
                "not available", ">= 10,000"});
      return absl::OkStatus();
    }
    if (!result->complete) {
      PrintRow({kScenario, "acknowledged events/s (max_outstanding 1000)",
                absl::StrFormat("incomplete: %d of %d acknowledged in %.1f s",
                                result->acknowledged, backlog,
                                result->seconds),
                ">= 10,000"});
      return absl::OkStatus();
    }
    rates.push_back(result->events_per_second);
    redelivered += result->redelivered;
    std::cerr << absl::StrFormat("durable run %d: %.0f events/s\n", run + 1,
                                 result->events_per_second);
  }
  PrintRow({kScenario,
            absl::StrCat("acknowledged events/s (", FormatCount(backlog),
                         " backlog, max_outstanding 1000)"),
            FormatCount(Median(rates)), ">= 10,000"});
  PrintRow({kScenario, "redeliveries (all runs)",
            FormatCount(static_cast<double>(redelivered)), "0"});
  return absl::OkStatus();
}

}  // namespace paymento::bridge::bench
