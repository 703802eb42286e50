#include "src/cli/sample_event.h"

#include <random>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"

namespace paymento::bridge {
namespace {

std::string Iso8601(absl::Time time) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", time, absl::UTCTimeZone());
}

}  // namespace

const std::vector<std::string>& DocumentedEventTypes() {
  static const auto* types = new std::vector<std::string>{
      "payment_link.paid",       "payment_link.failed",
      "payment_link.expired",    "payment_link.deferred",
      "subscription.renewed",    "subscription.reminder_sent",
      "subscription.grace_expired"};
  return *types;
}

std::string NewTestEventId() {
  std::random_device device;
  std::mt19937_64 generator(device());
  return absl::StrFormat("evt_test_%016x", generator());
}

std::string SampleWebhookBody(absl::string_view type,
                              absl::string_view event_id,
                              absl::Time created_at) {
  bool paid = type == "payment_link.paid" || type == "subscription.renewed";
  bool scheduled = absl::StartsWith(type, "subscription.");
  // Paymento documents only these three link statuses; unpaid links that
  // failed or expired are shown as scheduled.
  std::string link_status = "scheduled";
  if (paid) link_status = "paid";
  if (type == "payment_link.deferred") link_status = "deferred";
  nlohmann::ordered_json body;
  body["event"] = {{"id", std::string(event_id)},
                   {"type", std::string(type)},
                   {"createdAt", Iso8601(created_at)},
                   {"apiVersion", "v1"}};
  body["paymentLink"] = {
      {"id", "pl_test_0001"},
      {"title", "Test order"},
      {"description", "Sample event sent by paymento-bridge send-test"},
      {"status", link_status},
      {"type", scheduled ? "scheduled" : "one_time"},
      {"createdAt", Iso8601(created_at - absl::Hours(1))},
      {"paidAt", paid ? nlohmann::ordered_json(Iso8601(created_at))
                      : nlohmann::ordered_json(nullptr)},
      {"url", "https://app.paymento.io/pay/pl_test_0001"}};
  body["customer"] = {
      {"email", "jane.doe@example.com"},
      {"name", "Jane Doe"},
      {"metadata", {{"order_id", "order-1001"}, {"payment_id", "pay-2002"}}}};
  body["merchant"] = {{"id", "mrc_test_0001"}, {"name", "Example Store"}};
  return body.dump();
}

}  // namespace paymento::bridge
