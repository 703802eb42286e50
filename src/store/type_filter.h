// TypeFilter: matches event type strings against the patterns clients give
// in SubscribeRequest.event_types and ListEventsRequest.event_types.
//
// A pattern is an exact type ("payment_link.paid") or a prefix pattern ending
// in ".*" ("subscription.*" matches "subscription.renewed"). "*" matches every
// type, and so does an empty pattern list. Two filters are equal when they
// hold the same set of patterns, whatever their order or repetition.
#ifndef PAYMENTO_BRIDGE_SRC_STORE_TYPE_FILTER_H_
#define PAYMENTO_BRIDGE_SRC_STORE_TYPE_FILTER_H_

#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace paymento::bridge {

class TypeFilter {
 public:
  // Fails with INVALID_ARGUMENT on an empty pattern, a "*" that is not at the
  // end after a ".", or characters outside printable ASCII.
  static absl::StatusOr<TypeFilter> Create(
      const std::vector<std::string>& patterns);

  bool Matches(absl::string_view type) const;
  bool MatchesAll() const { return match_all_; }

  const std::set<std::string>& exact_types() const { return exact_; }
  // Prefixes including their trailing ".", for example "subscription.".
  const std::set<std::string>& prefixes() const { return prefixes_; }

  // The patterns as a sorted, de-duplicated list.
  std::vector<std::string> Patterns() const;

  bool operator==(const TypeFilter& other) const {
    return match_all_ == other.match_all_ && exact_ == other.exact_ &&
           prefixes_ == other.prefixes_;
  }

 private:
  TypeFilter() = default;

  bool match_all_ = true;
  std::set<std::string> exact_;
  std::set<std::string> prefixes_;
};

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_STORE_TYPE_FILTER_H_
