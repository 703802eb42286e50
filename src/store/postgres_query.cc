#include "src/store/postgres_query.h"

#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace paymento::bridge {

std::string PgWhere::Bind(PgParam param) {
  params_.push_back(std::move(param));
  return absl::StrCat("$", params_.size());
}

void PgWhere::Add(absl::string_view condition_prefix, PgParam value) {
  std::string placeholder = Bind(std::move(value));
  conditions_.push_back(absl::StrCat(condition_prefix, placeholder));
}

void PgWhere::AddTypes(const TypeFilter& filter, absl::string_view column) {
  if (filter.MatchesAll()) return;
  std::vector<std::string> terms;
  for (const std::string& type : filter.exact_types()) {
    terms.push_back(absl::StrCat(column, " = ", Bind(PgParam::Text(type))));
  }
  for (const std::string& prefix : filter.prefixes()) {
    terms.push_back(absl::StrCat(column, " LIKE ",
                                 Bind(PgParam::Text(LikePrefix(prefix)))));
  }
  conditions_.push_back(absl::StrCat("(", absl::StrJoin(terms, " OR "), ")"));
}

std::string PgWhere::Sql() const {
  return conditions_.empty() ? "TRUE" : absl::StrJoin(conditions_, " AND ");
}

// Backslash is LIKE's default escape character in PostgreSQL.
std::string LikePrefix(absl::string_view prefix) {
  std::string escaped;
  for (char c : prefix) {
    if (c == '%' || c == '_' || c == '\\') escaped.push_back('\\');
    escaped.push_back(c);
  }
  escaped.push_back('%');
  return escaped;
}

int64_t RowLimit(int limit) {
  return limit < 0 ? std::numeric_limits<int64_t>::max() : limit;
}

absl::StatusOr<v1::Event> ParseEvent(absl::string_view blob) {
  v1::Event event;
  if (!event.ParseFromArray(blob.data(), static_cast<int>(blob.size()))) {
    return absl::DataLossError("stored event does not parse");
  }
  return event;
}

absl::StatusOr<std::vector<v1::Event>> ParseEvents(const PgResult& rows,
                                                   int column) {
  std::vector<v1::Event> events;
  events.reserve(rows.rows());
  for (int row = 0; row < rows.rows(); ++row) {
    absl::StatusOr<v1::Event> event = ParseEvent(rows.Bytes(row, column));
    if (!event.ok()) return event.status();
    events.push_back(*std::move(event));
  }
  return events;
}

}  // namespace paymento::bridge
