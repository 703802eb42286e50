#!/usr/bin/env bash
# Installs what is missing, builds, and runs paymento-bridge on the embedded
# SQLite store in data/, with a development webhook secret unless one is set.
# Extra arguments go to `paymento-bridge serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh -DPAYMENTO_BRIDGE_BUILD_TESTS=OFF
if [[ -z "${PAYMENTO_WEBHOOK_SECRET:-}" && -z "${PAYMENTO_WEBHOOK_SECRET_FILE:-}" ]]; then
  export PAYMENTO_WEBHOOK_SECRET=dev-secret-change-me
  echo "run-dev: using the development secret \"dev-secret-change-me\"" >&2
fi
# The development secret is public, so the ingress listens on loopback
# unless the environment or the command line names another address.
export PAYMENTO_BRIDGE_HTTP_LISTEN="${PAYMENTO_BRIDGE_HTTP_LISTEN:-127.0.0.1:8080}"
exec build/paymento-bridge serve --log-format=text "$@"
