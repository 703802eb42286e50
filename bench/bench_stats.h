// Summary statistics and the result rows that every scenario prints.
#ifndef PAYMENTO_BRIDGE_BENCH_BENCH_STATS_H_
#define PAYMENTO_BRIDGE_BENCH_BENCH_STATS_H_

#include <cstdint>
#include <string>
#include <vector>

namespace paymento::bridge::bench {

// Returns the `quantile` (0 to 1) of `samples` by the nearest-rank method,
// or 0 when there are none. Sorts `samples` in place.
int64_t Percentile(std::vector<int64_t>& samples, double quantile);

// Returns the median of `values`, the mean of the middle two for an even
// count, or 0 when there are none.
double Median(std::vector<double> values);

// One line of the result table. `value` is already formatted.
struct ResultRow {
  std::string scenario;
  std::string figure;
  std::string value;
  std::string target;
};

// Prints `row` to stdout as "ROW<TAB>scenario<TAB>figure<TAB>value<TAB>target",
// the form that scripts/bench.sh collects into its table.
void PrintRow(const ResultRow& row);

// Formats a count or rate with thousands separators: 20000.4 -> "20,000".
std::string FormatCount(double value);

// Formats nanoseconds as milliseconds with two decimals: "0.87 ms".
std::string FormatMilliseconds(int64_t nanoseconds);

// Formats bytes as MiB with one decimal: "123.4 MiB".
std::string FormatMebibytes(int64_t bytes);

// Joins the per-run values for a note: "[20,512 19,870 20,101]".
std::string FormatRuns(const std::vector<double>& values);

}  // namespace paymento::bridge::bench

#endif  // PAYMENTO_BRIDGE_BENCH_BENCH_STATS_H_
