#!/usr/bin/env bash
# Builds paymento-bridge and its benchmarks in Release mode, runs every
# benchmark scenario against the real binary on 127.0.0.1, and prints one
# table of the results. BENCHMARKS.md explains the scenarios and records a
# run.
#
# Usage: scripts/bench.sh [--smoke] [--runs=N] [--scenario=NAME]...
#                         [--build-dir=DIR] [--postgres[=URL]] [--pause-watch]
#   --smoke          every scenario scaled down to about a second, one run
#   --runs=N         runs per scenario; figures are medians (default 3)
#   --scenario=NAME  run only NAME (repeatable): disk, steps, store,
#                    ingress, end-to-end, durable, replay, idle-streams
#   --build-dir=DIR  use the binaries already built in DIR instead of
#                    building; PAYMENTO_BENCH_BUILD_DIR sets it too
#   --postgres[=URL] run the ingress and end-to-end scenarios on PostgreSQL
#                    instead of SQLite, once with one bridge replica and
#                    once with two. Without URL: the server in
#                    PAYMENTO_BRIDGE_TEST_POSTGRES_URL when set, else a
#                    throwaway server from scripts/test-postgres.sh. Each
#                    run uses a schema of its own and drops it.
#   --pause-watch    also count pauses of the whole machine during the
#                    ingress and end-to-end loads, with one realtime thread
#                    per CPU; their wake-ups slow those figures
#
# Temporary stores go under $TMPDIR (default /tmp); the full replay scenario
# needs about 2 GB there. Progress goes to stderr, the table to stdout.
set -euo pipefail
cd "$(dirname "$0")/.."

smoke=0
runs=3
build_dir="${PAYMENTO_BENCH_BUILD_DIR:-}"
postgres=0
postgres_url=""
pause_watch=0
scenarios=()
for arg in "$@"; do
  case "$arg" in
    --smoke) smoke=1 ;;
    --runs=*) runs="${arg#--runs=}" ;;
    --scenario=*) scenarios+=("${arg#--scenario=}") ;;
    --build-dir=*)
      build_dir="${arg#--build-dir=}"
      if [[ -z "$build_dir" ]]; then
        echo "bench.sh: --build-dir= needs a directory, such as" \
          "--build-dir=build-bench" >&2
        exit 2
      fi
      ;;
    --postgres) postgres=1 ;;
    --postgres=*) postgres=1; postgres_url="${arg#--postgres=}" ;;
    --pause-watch) pause_watch=1 ;;
    -h|--help)
      awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
      exit 0
      ;;
    --runs|--scenario|--build-dir)
      echo "bench.sh: $arg needs its value after '=', as in $arg=VALUE;" \
        "see scripts/bench.sh --help" >&2
      exit 2
      ;;
    *)
      echo "bench.sh: unknown argument \"$arg\"; see scripts/bench.sh --help" >&2
      exit 2
      ;;
  esac
done
# The arguments are checked before the build, which takes minutes.
if ! [[ "$runs" =~ ^[1-9][0-9]{0,3}$ ]]; then
  echo "bench.sh: invalid --runs=\"$runs\": use a whole number from 1 to 9999" >&2
  exit 2
fi
seen=" "
for scenario in "${scenarios[@]}"; do
  if [[ $seen == *" $scenario "* ]]; then
    echo "bench.sh: --scenario=$scenario is given twice; give each" \
      "scenario once" >&2
    exit 2
  fi
  seen+="$scenario "
  case "$scenario" in
    disk|steps|store|ingress|end-to-end|durable|replay|idle-streams) ;;
    *)
      echo "bench.sh: invalid --scenario=\"$scenario\": use disk, steps," \
        "store, ingress, end-to-end, durable, replay or idle-streams" >&2
      exit 2
      ;;
  esac
done
if [[ $smoke -eq 1 && $runs -ne 3 ]]; then
  echo "bench.sh: --smoke makes one run of each scenario; --runs=$runs is" \
    "ignored" >&2
fi

if [[ ${#scenarios[@]} -eq 0 ]]; then
  if [[ $postgres -eq 1 ]]; then
    scenarios=(ingress end-to-end)
  else
    scenarios=(disk steps store ingress end-to-end durable replay
      idle-streams)
  fi
fi

if [[ $pause_watch -eq 1 && " ${scenarios[*]} " != *" ingress "* &&
      " ${scenarios[*]} " != *" end-to-end "* ]]; then
  echo "bench.sh: --pause-watch applies to the ingress and end-to-end" \
    "scenarios only; it is ignored" >&2
fi

if [[ $postgres -eq 1 ]]; then
  for scenario in "${scenarios[@]}"; do
    if [[ $scenario != ingress && $scenario != end-to-end ]]; then
      echo "bench.sh: --postgres runs only the ingress and end-to-end" \
        "scenarios, not $scenario" >&2
      exit 2
    fi
  done
fi

if [[ -z "$build_dir" ]]; then
  build_dir=build-bench
  jobs=$(nproc 2>/dev/null || echo 2)
  cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release >&2
  cmake --build "$build_dir" -j "$jobs" \
    --target paymento-bridge paymento-bench bare-httplib-server >&2
fi
for binary in paymento-bridge paymento-bench bare-httplib-server; do
  if [[ ! -x "$build_dir/$binary" ]]; then
    echo "bench.sh: $build_dir/$binary is missing; build it, or run" \
      "scripts/bench.sh without --build-dir" >&2
    exit 1
  fi
done
build_dir=$(cd "$build_dir" && pwd)

bench_args=(
  "--bridge=$build_dir/paymento-bridge"
  "--bare_server=$build_dir/bare-httplib-server"
)
if [[ $smoke -eq 1 ]]; then
  bench_args+=(--smoke --runs=1)
else
  bench_args+=("--runs=$runs")
fi
if [[ $pause_watch -eq 1 ]]; then
  bench_args+=(--pause_watch)
fi

pg_dir=""
rows=$(mktemp)
cleanup() {
  rm -f "$rows" "$rows.out"
  if [[ -n $pg_dir ]]; then
    scripts/test-postgres.sh stop "$pg_dir" >&2 || true
  fi
}
trap cleanup EXIT

# Each deployment is a list of extra paymento-bench arguments.
deployments=("")
if [[ $postgres -eq 1 ]]; then
  if [[ -z $postgres_url ]]; then
    postgres_url="${PAYMENTO_BRIDGE_TEST_POSTGRES_URL:-}"
  fi
  if [[ -z $postgres_url ]]; then
    pg_dir=$(mktemp -d)
    scripts/test-postgres.sh start "$pg_dir" >&2
    # shellcheck disable=SC1091
    source "$pg_dir/env"
    postgres_url=$PAYMENTO_BRIDGE_TEST_POSTGRES_URL
  fi
  deployments=("--postgres_url=$postgres_url --replicas=1"
               "--postgres_url=$postgres_url --replicas=2")
fi

failed=()
for scenario in "${scenarios[@]}"; do
  for deployment in "${deployments[@]}"; do
    # The URL may hold a password: only the replica count is printed.
    echo "bench.sh: running $scenario${deployment:+ ${deployment##* }}" >&2
    start=$SECONDS
    # shellcheck disable=SC2086
    if ! "$build_dir/paymento-bench" "--scenario=$scenario" \
        "${bench_args[@]}" $deployment >"$rows.out"; then
      failed+=("$scenario")
      printf 'ROW\t%s\tscenario\tfailed (see the messages above)\t-\n' \
        "$scenario" >>"$rows.out"
    fi
    grep '^ROW' "$rows.out" >>"$rows" || true
    echo "bench.sh: $scenario took $((SECONDS - start)) s" >&2
  done
done
rm -f "$rows.out"

echo
echo "| scenario | figure | value | target |"
echo "| --- | --- | --- | --- |"
awk -F '\t' '{ printf "| %s | %s | %s | %s |\n", $2, $3, $4, $5 }' "$rows"

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "bench.sh: failed scenarios: ${failed[*]}" >&2
  exit 1
fi
