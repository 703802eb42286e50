#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: the C++ unit and
# integration tests through CTest, then the Helm chart checks.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh -DPAYMENTO_BRIDGE_BUILD_TESTS=ON

# A throwaway PostgreSQL server for the PostgreSQL store's tests, which read
# PAYMENTO_BRIDGE_TEST_POSTGRES_URL; stopped and removed however this ends.
postgres_dir=$(mktemp -d)
trap 'scripts/test-postgres.sh stop "$postgres_dir"' EXIT
scripts/test-postgres.sh start "$postgres_dir"
source "$postgres_dir/env"
(cd build && ctest --output-on-failure --timeout 300 -j 2)

# The Helm chart: lint, render with every value set, and check the result.
scripts/fetch-helm.sh .tools/bin
/usr/bin/python3 tests/helm/test_chart.py --helm .tools/bin/helm \
  --promtool /usr/bin/promtool
