#!/usr/bin/env bash
# Checks that scripts/bench.sh rejects each invalid argument before it
# builds or runs anything: the expected exit status and a message that
# names the value, within seconds (a build would take minutes).
set -uo pipefail
bench="$(cd "$(dirname "$0")/.." && pwd)/scripts/bench.sh"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/paymento-bridge-test-$$-XXXXXX")
trap 'rm -rf "$scratch"' EXIT
failures=0

# expect STATUS FRAGMENT ARGS...
expect() {
  local status=$1 fragment=$2
  shift 2
  local output code
  output=$(timeout 30 "$bench" "$@" 2>&1 >/dev/null)
  code=$?
  if [[ $code -ne $status || $output != *"$fragment"* ]]; then
    echo "FAIL: bench.sh $*: exit $code (expected $status), output:" >&2
    echo "$output" >&2
    failures=$((failures + 1))
  fi
}

expect 2 'invalid --runs="0"' --runs=0
expect 2 'invalid --runs="abc"' --runs=abc
expect 2 'invalid --scenario="bogus"' --scenario=bogus
expect 2 '--scenario=disk is given twice' --scenario=disk --scenario=disk
expect 2 '--build-dir= needs a directory' --build-dir=
expect 2 "--scenario needs its value after '=', as in --scenario=VALUE" \
  --scenario disk
expect 2 "--runs needs its value after '='" --runs 3
expect 2 'unknown argument "--fast"' --fast
expect 2 '--postgres runs only the ingress and end-to-end scenarios' \
  --postgres --scenario=replay
expect 1 "$scratch/absent/paymento-bridge is missing" \
  --build-dir="$scratch/absent" --scenario=disk

if [[ $failures -ne 0 ]]; then
  echo "$failures case(s) failed" >&2
  exit 1
fi
echo "every invalid argument was rejected"
