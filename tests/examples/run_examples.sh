#!/usr/bin/env bash
# Runs the example subscribers in examples/python and examples/node against
# the real binary. Each example, on its own durable subscription, must print
# exactly the matching events posted so far and acknowledge them. A run that
# stops at --count must leave the rest for the next run, and a second run on
# the same subscription must get only the event posted after the first run.
#
# usage: tests/examples/run_examples.sh BUILD_DIR
#
# Needs /usr/bin/python3 with python3-grpcio and python3-grpc-tools, and
# Node.js with npm; scripts/install-deps.sh installs them. Runs `npm ci` in
# examples/node, so it needs the npm registry, and regenerates
# examples/python/gen/.
set -uo pipefail

if [[ $# -ne 1 || ! -x "$1/paymento-bridge" ]]; then
  echo "usage: $0 BUILD_DIR, where BUILD_DIR/paymento-bridge is the built binary" >&2
  exit 2
fi
binary="$(cd "$1" && pwd)/paymento-bridge"
repo="$(cd "$(dirname "$0")/../.." && pwd)"
# Debian's python3, which has python3-grpcio, even when a version manager's
# python3 comes first on the PATH.
python=/usr/bin/python3

# Only this script's own settings reach the binary and the examples.
while read -r variable; do unset "$variable"; done < <(compgen -e | grep '^PAYMENTO_')

# Seconds each example run may take; a run normally takes about a second.
subscriber_timeout=20

# Made-up test values.
webhook_secret="examples-test-webhook-secret"
client_token="examples-test-client-token"
admin_token="examples-test-admin-token"

passed=0
failed=0
bridge_pid=""
subscriber_pid=""
work="$(mktemp -d "${TMPDIR:-/tmp}/paymento-bridge-examples-XXXXXX")"

pass() {
  echo "PASS: $1"
  passed=$((passed + 1))
}

fail() {
  echo "FAIL: $1"
  failed=$((failed + 1))
}

# shellcheck disable=SC2317 # Run by the EXIT trap.
cleanup() {
  if [[ -n "$subscriber_pid" ]]; then kill "$subscriber_pid" 2>/dev/null; fi
  if [[ -n "$bridge_pid" ]]; then
    kill -TERM "$bridge_pid" 2>/dev/null
    for _ in $(seq 100); do
      kill -0 "$bridge_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$bridge_pid" 2>/dev/null
    wait "$bridge_pid" 2>/dev/null
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Prints the summary line and exits with 0 when nothing failed.
finish() {
  echo "$passed passed, $failed failed"
  if [[ $failed -eq 0 ]]; then exit 0; fi
  exit 1
}

# --- Prerequisites -------------------------------------------------------

if ! "$python" -c 'import grpc, grpc_tools' 2>"$work/python-check.err"; then
  fail "python3-grpcio or python3-grpc-tools missing from $python: run scripts/install-deps.sh ($(tail -n 1 "$work/python-check.err"))"
  finish
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  fail "node or npm missing: run scripts/install-deps.sh"
  finish
fi
if "$repo/examples/python/generate_stubs.sh" >"$work/stubs.log" 2>&1; then
  pass "Python stubs generated from proto/"
else
  fail "examples/python/generate_stubs.sh failed: $(cat "$work/stubs.log")"
  finish
fi
if (cd "$repo/examples/node" && npm ci --no-audit --no-fund --loglevel=error) \
    >"$work/npm.log" 2>&1; then
  pass "npm ci in examples/node"
else
  fail "npm ci in examples/node failed: $(cat "$work/npm.log")"
  finish
fi

# --- The bridge ----------------------------------------------------------

# Three TCP ports on 127.0.0.1 that were free a moment ago, held together so
# that they differ.
read -r http_port grpc_port admin_port < <("$python" -c '
import socket
sockets = [socket.socket() for _ in range(3)]
for s in sockets:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in sockets))
')
grpc_address="127.0.0.1:$grpc_port"
webhook_url="http://127.0.0.1:$http_port/webhook"

PAYMENTO_WEBHOOK_SECRET="$webhook_secret" \
PAYMENTO_BRIDGE_GRPC_TOKEN="$client_token" \
PAYMENTO_BRIDGE_ADMIN_TOKEN="$admin_token" \
  "$binary" serve \
  --http-listen="127.0.0.1:$http_port" \
  --grpc-listen="$grpc_address" \
  --admin-listen="127.0.0.1:$admin_port" \
  --store="sqlite://$work/events.db" \
  --log-format=text >"$work/bridge.log" 2>&1 &
bridge_pid=$!

ready=false
deadline=$((SECONDS + 20))
while ((SECONDS < deadline)); do
  if ! kill -0 "$bridge_pid" 2>/dev/null; then break; fi
  if "$python" -c '
import sys, urllib.request
with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/readyz", timeout=1) as response:
    sys.exit(response.status != 200)
' "$admin_port" 2>/dev/null; then
    ready=true
    break
  fi
  sleep 0.1
done
if $ready; then
  pass "bridge ready on $grpc_address"
else
  if kill -0 "$bridge_pid" 2>/dev/null; then
    fail "bridge not ready within 20 s; its output:"
  else
    fail "bridge exited during start-up; its output:"
  fi
  cat "$work/bridge.log"
  finish
fi

# send_event TYPE ID: posts one signed sample webhook.
send_event() {
  if PAYMENTO_WEBHOOK_SECRET="$webhook_secret" "$binary" send-test \
      --type "$1" --id "$2" --url "$webhook_url" >>"$work/send-test.log" 2>&1; then
    return 0
  fi
  fail "send-test --type $1 --id $2 failed: $(tail -n 2 "$work/send-test.log")"
  return 1
}

# run_subscriber LANGUAGE OUTPUT_BASE FLAG...: runs one example with a time
# limit, its output in OUTPUT_BASE.out and .err, and returns its exit status.
run_subscriber() {
  local language=$1 output=$2
  shift 2
  local command
  case $language in
    python) command=("$python" "$repo/examples/python/subscriber.py") ;;
    node) command=(node "$repo/examples/node/subscriber.js") ;;
  esac
  timeout "$subscriber_timeout" "${command[@]}" --address "$grpc_address" "$@" \
    >"$output.out" 2>"$output.err" &
  subscriber_pid=$!
  wait "$subscriber_pid"
  local status=$?
  subscriber_pid=""
  return $status
}

# printed_ids OUTPUT_BASE: prints the "id" field of every JSON line of
# OUTPUT_BASE.out on one line, or an error when a line is not a JSON event.
printed_ids() {
  "$python" -c '
import json, sys
ids = []
for line in open(sys.argv[1]):
    try:
        ids.append(json.loads(line)["id"])
    except (ValueError, KeyError):
        ids.append("<not a JSON event: " + line.strip()[:80] + ">")
print(*ids)
' "$1.out"
}

# expect_events LABEL OUTPUT_BASE STATUS EXPECTED_IDS: checks that a run
# exited 0 and printed exactly EXPECTED_IDS, in order.
expect_events() {
  local label=$1 output=$2 status=$3 expected=$4
  local ids
  ids="$(printed_ids "$output")"
  if [[ $status -eq 124 ]]; then
    fail "$label: timed out after $subscriber_timeout s with [$ids] printed, expected [$expected]"
  elif [[ $status -ne 0 ]]; then
    fail "$label: exit status $status, expected 0; stderr: $(tail -n 3 "$output.err")"
  elif [[ "$ids" != "$expected" ]]; then
    fail "$label: printed [$ids], expected [$expected]"
  else
    pass "$label: printed [$ids]"
  fi
}

# expect_acknowledged SUBSCRIPTION ID...: checks with `paymento-bridge get`
# that each event's delivery to SUBSCRIPTION is acknowledged.
expect_acknowledged() {
  local subscription=$1
  shift
  local id state
  for id in "$@"; do
    state="$(PAYMENTO_BRIDGE_GRPC_TOKEN="$client_token" "$binary" get "$id" \
        --grpc-address "$grpc_address" 2>&1 | "$python" -c '
import json, sys
text = sys.stdin.read()
try:
    status = json.loads(text)
except ValueError:
    sys.exit("get failed: " + text.strip())
states = [d.get("state") for d in status.get("deliveries", [])
          if d.get("subscription") == sys.argv[1]]
print(states[0] if states else "no delivery")
' "$subscription" 2>&1)"
    if [[ "$state" == "DELIVERY_STATE_ACKNOWLEDGED" ]]; then
      pass "$id acknowledged on $subscription"
    else
      fail "$id on $subscription: $state, expected DELIVERY_STATE_ACKNOWLEDGED"
    fi
  done
}

# --- First run: the events posted so far ---------------------------------

# The subscription.renewed event does not match 'payment_link.*'.
send_event payment_link.paid evt_example_paid_1
send_event subscription.renewed evt_example_renewed_1
send_event payment_link.failed evt_example_failed_1
send_event payment_link.paid evt_example_paid_2
first_ids="evt_example_paid_1 evt_example_failed_1 evt_example_paid_2"

for language in python node; do
  subscription="examples-$language"

  run_subscriber "$language" "$work/$language-no-token" \
    --subscription "$subscription" --types 'payment_link.*' --count 3
  status=$?
  if [[ $status -ne 0 ]] && grep -q UNAUTHENTICATED "$work/$language-no-token.err"; then
    pass "$language without --token: UNAUTHENTICATED, exit status $status"
  else
    fail "$language without --token: exit status $status, expected UNAUTHENTICATED; stderr: $(tail -n 3 "$work/$language-no-token.err")"
  fi

  run_subscriber "$language" "$work/$language-first" \
    --subscription "$subscription" --types 'payment_link.*' --count 3 \
    --token "$client_token"
  expect_events "$language first run" "$work/$language-first" $? "$first_ids"
  # shellcheck disable=SC2086 # One argument per id.
  expect_acknowledged "$subscription" $first_ids

  # A run that stops at --count leaves later deliveries unacknowledged, even
  # those it already received, so the next run gets them.
  run_subscriber "$language" "$work/$language-partial" \
    --subscription "$subscription-partial" --types 'payment_link.*' \
    --count 2 --token "$client_token"
  expect_events "$language stop at --count 2" "$work/$language-partial" $? \
    "evt_example_paid_1 evt_example_failed_1"
  run_subscriber "$language" "$work/$language-rest" \
    --subscription "$subscription-partial" --types 'payment_link.*' \
    --count 1 --token "$client_token"
  expect_events "$language rest after --count 2" "$work/$language-rest" $? \
    "evt_example_paid_2"
done

# Both print the event's timestamps as protobuf's JSON mapping does.
received_times="$("$python" -c '
import json, sys
times = []
for path in sys.argv[1:]:
    with open(path) as output:
        times.append(json.loads(output.readline()).get("received_at"))
print(*times)
' "$work/python-first.out" "$work/node-first.out" 2>&1)"
read -r python_time node_time extra <<<"$received_times"
if [[ -z "$extra" && "$python_time" == "$node_time" &&
      "$python_time" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}(\.[0-9]+)?Z$ ]]; then
  pass "python and node print received_at as $python_time"
else
  fail "received_at printed as [$received_times], expected one RFC 3339 time twice"
fi

# --- Second run: only the event posted since -----------------------------

send_event payment_link.expired evt_example_expired_1

for language in python node; do
  # The token comes from the environment this time.
  PAYMENTO_BRIDGE_GRPC_TOKEN="$client_token" run_subscriber "$language" \
    "$work/$language-second" --subscription "examples-$language" \
    --types 'payment_link.*' --count 1
  expect_events "$language second run" "$work/$language-second" $? \
    "evt_example_expired_1"
done

finish
