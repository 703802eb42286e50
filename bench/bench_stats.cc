#include "bench/bench_stats.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace paymento::bridge::bench {

int64_t Percentile(std::vector<int64_t>& samples, double quantile) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  double rank = std::ceil(quantile * static_cast<double>(samples.size()));
  size_t index = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
  return samples[std::min(index, samples.size() - 1)];
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t middle = values.size() / 2;
  if (values.size() % 2 == 1) return values[middle];
  return (values[middle - 1] + values[middle]) / 2;
}

void PrintRow(const ResultRow& row) {
  std::printf("ROW\t%s\t%s\t%s\t%s\n", row.scenario.c_str(), row.figure.c_str(),
              row.value.c_str(), row.target.c_str());
  std::fflush(stdout);
}

std::string FormatCount(double value) {
  int64_t rounded = static_cast<int64_t>(std::llround(value));
  std::string digits = absl::StrCat(rounded < 0 ? -rounded : rounded);
  std::string grouped;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) grouped.push_back(',');
    grouped.push_back(digits[i]);
  }
  return rounded < 0 ? absl::StrCat("-", grouped) : grouped;
}

std::string FormatMilliseconds(int64_t nanoseconds) {
  return absl::StrFormat("%.2f ms", static_cast<double>(nanoseconds) / 1e6);
}

std::string FormatMebibytes(int64_t bytes) {
  return absl::StrFormat("%.1f MiB",
                         static_cast<double>(bytes) / (1024.0 * 1024.0));
}

std::string FormatRuns(const std::vector<double>& values) {
  std::vector<std::string> parts;
  for (double value : values) parts.push_back(absl::StrFormat("%.6g", value));
  return absl::StrCat("[", absl::StrJoin(parts, " "), "]");
}

}  // namespace paymento::bridge::bench
