#!/usr/bin/env bash
# Installs what is missing, builds, and runs paymento-bridge on the embedded
# SQLite store in data/, with a development webhook secret unless one is set.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh -DPAYMENTO_BRIDGE_BUILD_TESTS=OFF
if [[ -z "${PAYMENTO_WEBHOOK_SECRET:-}" && -z "${PAYMENTO_WEBHOOK_SECRET_FILE:-}" ]]; then
  export PAYMENTO_WEBHOOK_SECRET=dev-secret-change-me
  echo "run-dev: using the development secret \"dev-secret-change-me\"" >&2
fi
exec build/paymento-bridge serve --log-format=text "$@"
