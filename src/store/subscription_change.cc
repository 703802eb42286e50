#include "src/store/subscription_change.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace paymento::bridge {
namespace {

// Payload: "<kind> <subscription> <fields>", where the fields depend on the
// kind: "<lease>,<lease>,..." for settled and released,
// "<deadline ms> <lease>,..." for extended, "<cursor> <epoch>" for seek and
// nothing for redrive and delete. A lease is written as its ack id.
struct KindName {
  SubscriptionChange::Kind kind;
  const char* name;
};

constexpr KindName kKindNames[] = {
    {SubscriptionChange::Kind::kSettled, "settled"},
    {SubscriptionChange::Kind::kReleased, "released"},
    {SubscriptionChange::Kind::kExtended, "extended"},
    {SubscriptionChange::Kind::kSeek, "seek"},
    {SubscriptionChange::Kind::kRedrive, "redrive"},
    {SubscriptionChange::Kind::kDelete, "delete"},
};

const char* KindToName(SubscriptionChange::Kind kind) {
  for (const KindName& entry : kKindNames) {
    if (entry.kind == kind) return entry.name;
  }
  return "";
}

std::optional<SubscriptionChange::Kind> KindFromName(absl::string_view name) {
  for (const KindName& entry : kKindNames) {
    if (name == entry.name) return entry.kind;
  }
  return std::nullopt;
}

bool HasLeases(SubscriptionChange::Kind kind) {
  return kind == SubscriptionChange::Kind::kSettled ||
         kind == SubscriptionChange::Kind::kReleased ||
         kind == SubscriptionChange::Kind::kExtended;
}

bool ParseLeases(absl::string_view text, std::vector<LeaseId>& leases) {
  for (absl::string_view id : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    std::optional<LeaseId> lease = ParseAckId(id);
    if (!lease) return false;
    leases.push_back(*lease);
  }
  return true;
}

}  // namespace

std::string FormatAckId(const LeaseId& lease) {
  return absl::StrCat(lease.sequence, ".", lease.generation);
}

std::optional<LeaseId> ParseAckId(absl::string_view id) {
  std::pair<absl::string_view, absl::string_view> parts =
      absl::StrSplit(id, absl::MaxSplits('.', 1));
  LeaseId lease;
  if (!absl::SimpleAtoi(parts.first, &lease.sequence) ||
      !absl::SimpleAtoi(parts.second, &lease.generation)) {
    return std::nullopt;
  }
  return lease;
}

std::vector<std::string> EncodeSubscriptionChange(
    const SubscriptionChange& change, size_t max_bytes) {
  std::string head =
      absl::StrCat(KindToName(change.kind), " ", change.subscription);
  if (change.kind == SubscriptionChange::Kind::kSeek) {
    return {absl::StrCat(head, " ", change.cursor, " ", change.epoch)};
  }
  if (!HasLeases(change.kind)) return {head};
  if (change.kind == SubscriptionChange::Kind::kExtended) {
    absl::StrAppend(&head, " ", absl::ToInt64Milliseconds(change.deadline));
  }
  absl::StrAppend(&head, " ");

  std::vector<std::string> payloads;
  std::string payload = head;
  for (const LeaseId& lease : change.leases) {
    std::string id = FormatAckId(lease);
    if (payload.size() > head.size() &&
        payload.size() + id.size() + 1 > max_bytes) {
      payloads.push_back(std::move(payload));
      payload = head;
    }
    if (payload.size() > head.size()) payload.push_back(',');
    payload.append(id);
  }
  payloads.push_back(std::move(payload));
  return payloads;
}

std::optional<SubscriptionChange> DecodeSubscriptionChange(
    absl::string_view payload) {
  std::vector<absl::string_view> fields = absl::StrSplit(payload, ' ');
  if (fields.size() < 2 || fields[1].empty()) return std::nullopt;
  std::optional<SubscriptionChange::Kind> kind = KindFromName(fields[0]);
  if (!kind) return std::nullopt;
  SubscriptionChange change;
  change.kind = *kind;
  change.subscription = std::string(fields[1]);

  switch (change.kind) {
    case SubscriptionChange::Kind::kSettled:
    case SubscriptionChange::Kind::kReleased:
      if (fields.size() != 3 || !ParseLeases(fields[2], change.leases)) {
        return std::nullopt;
      }
      return change;
    case SubscriptionChange::Kind::kExtended: {
      int64_t milliseconds = 0;
      if (fields.size() != 4 || !absl::SimpleAtoi(fields[2], &milliseconds) ||
          !ParseLeases(fields[3], change.leases)) {
        return std::nullopt;
      }
      change.deadline = absl::Milliseconds(milliseconds);
      return change;
    }
    case SubscriptionChange::Kind::kSeek:
      if (fields.size() != 4 || !absl::SimpleAtoi(fields[2], &change.cursor) ||
          !absl::SimpleAtoi(fields[3], &change.epoch)) {
        return std::nullopt;
      }
      return change;
    case SubscriptionChange::Kind::kRedrive:
    case SubscriptionChange::Kind::kDelete:
      if (fields.size() != 2) return std::nullopt;
      return change;
    case SubscriptionChange::Kind::kResync:
      break;
  }
  return std::nullopt;
}

}  // namespace paymento::bridge
