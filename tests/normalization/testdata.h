// Reads the sample bodies in tests/testdata for the normalization tests.
#ifndef PAYMENTO_BRIDGE_TESTS_NORMALIZATION_TESTDATA_H_
#define PAYMENTO_BRIDGE_TESTS_NORMALIZATION_TESTDATA_H_

#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"

namespace paymento::bridge {

// Returns the bytes of tests/testdata/`name`, or "" when it cannot be read.
inline std::string ReadTestdata(const std::string& name) {
  std::ifstream in(absl::StrCat(PAYMENTO_BRIDGE_TESTDATA_DIR, "/", name),
                   std::ios::binary);
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

}  // namespace paymento::bridge

#endif  // PAYMENTO_BRIDGE_TESTS_NORMALIZATION_TESTDATA_H_
