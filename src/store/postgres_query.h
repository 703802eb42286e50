// Helpers shared by the PostgreSQL store's files: a WHERE clause built from
// optional filters with numbered parameters, and readers of stored events.
#ifndef PAYMENTO_BRIDGE_SRC_STORE_POSTGRES_QUERY_H_
#define PAYMENTO_BRIDGE_SRC_STORE_POSTGRES_QUERY_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "paymento/bridge/v1/event.pb.h"
#include "src/store/postgres_connection.h"
#include "src/store/type_filter.h"

namespace paymento::bridge {

// Conditions joined with AND. Values are bound as parameters $1, $2, ...
// and never spliced into the SQL, so only the clause's shape varies.
class PgWhere {
 public:
  // Adds a parameter and returns its placeholder, such as "$3".
  std::string Bind(PgParam param);
  // Adds the condition `condition_prefix` followed by the placeholder of
  // `value`, as in Add("e.sequence > ", PgParam::Int64(7)).
  void Add(absl::string_view condition_prefix, PgParam value);
  // Adds "(column = $n OR column LIKE $m ...)" for a filter that does not
  // match every type.
  void AddTypes(const TypeFilter& filter, absl::string_view column);

  std::string Sql() const;
  const std::vector<PgParam>& params() const { return params_; }

 private:
  std::vector<std::string> conditions_;
  std::vector<PgParam> params_;
};

// A LIKE pattern matching strings that start with `prefix`, its wildcards
// and escape character escaped.
std::string LikePrefix(absl::string_view prefix);

// A LIMIT value for `limit`: negative means no limit, as in SQLite.
int64_t RowLimit(int limit);

absl::StatusOr<v1::Event> ParseEvent(absl::string_view blob);
// Parses the serialized events in `column` of every row.
absl::StatusOr<std::vector<v1::Event>> ParseEvents(const PgResult& rows,
                                                   int column);

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_SRC_STORE_POSTGRES_QUERY_H_
