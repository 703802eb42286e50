#!/usr/bin/env bash
# Builds the libFuzzer targets in this directory with Clang's address and
# undefined-behaviour sanitizers, then runs each one for SECONDS starting from
# its checked-in corpus under corpus/<target>/.
#
# Usage: tests/fuzz/run_fuzzers.sh BUILD_DIR SECONDS
#
# Everything is written under BUILD_DIR/fuzz: the generated protobuf code,
# the objects, the fuzzer binaries, a working copy of each corpus (new inputs
# go there, never into the repository) and crash artifacts. Objects and
# binaries that are newer than their sources are reused. Exits non-zero
# when a target fails to build or a fuzzer reports a crash, a leak, a timeout
# or undefined behaviour.
#
# When clang++ cannot link a fuzzer, the script installs clang and
# libclang-rt-14-dev, or with FUZZ_SKIP_WITHOUT_CLANG=1 (as the CTest test
# fuzz_smoke sets it) exits 77 with the reason instead.
set -euo pipefail

if [[ $# -ne 2 || ! "$2" =~ ^[0-9]+$ ]]; then
  echo "usage: $0 BUILD_DIR SECONDS" >&2
  exit 2
fi

readonly FUZZ_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly ROOT="$(cd "${FUZZ_DIR}/../.." && pwd)"
mkdir -p "$1/fuzz"
readonly OUT="$(cd "$1/fuzz" && pwd)"
readonly SECONDS_PER_TARGET="$2"
readonly TARGETS=(verifier_fuzzer webhook_normalizer_fuzzer gateway_normalizer_fuzzer)
readonly SANITIZERS="-fsanitize=address,undefined -fno-sanitize-recover=all"
readonly CXXFLAGS="-std=c++17 -O1 -g -fno-omit-frame-pointer ${SANITIZERS}"

# Installs Debian's clang and its libFuzzer runtime when clang++ cannot link
# a fuzzer yet.
ensure_clang() {
  local probe="${OUT}/probe.cc"
  echo 'extern "C" int LLVMFuzzerTestOneInput(const char*, unsigned long) { return 0; }' >"${probe}"
  if command -v clang++ >/dev/null &&
     clang++ -fsanitize=fuzzer,address,undefined "${probe}" -o "${OUT}/probe" 2>/dev/null; then
    return
  fi
  if [[ "${FUZZ_SKIP_WITHOUT_CLANG:-0}" == 1 ]]; then
    echo "skipped: clang++ cannot link a libFuzzer target; install clang and" \
      "libclang-rt-14-dev (scripts/install-deps.sh does)" >&2
    exit 77
  fi
  echo "clang++ cannot build a fuzzer; installing clang and libclang-rt-14-dev" >&2
  if [[ "$(id -u)" -ne 0 ]]; then
    echo "not root: run 'apt-get install clang libclang-rt-14-dev' first" >&2
    exit 1
  fi
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q clang libclang-rt-14-dev
}

generate_proto() {
  local proto="${ROOT}/proto/paymento/bridge/v1/event.proto"
  local generated="${OUT}/gen/paymento/bridge/v1/event.pb.cc"
  [[ -f "${generated}" && ! "${proto}" -nt "${generated}" ]] && return
  mkdir -p "${OUT}/gen"
  protoc --proto_path="${ROOT}/proto" --cpp_out="${OUT}/gen" "${proto}"
}

# Returns the object file that compile() writes for a source.
object_for() {
  echo "${OUT}/obj/$(echo "${1#"${ROOT}"/}" | tr / _).o"
}

# Compiles one source into its object, instrumented for the fuzzer but
# without libFuzzer's main. An object newer than its source and every header
# it includes (from the dependency file clang writes beside it) is kept.
compile() {
  local source="$1"
  local object
  object="$(object_for "${source}")"
  if [[ -f "${object}" && -f "${object}.d" ]] && up_to_date "${object}"; then
    return
  fi
  # shellcheck disable=SC2086
  clang++ ${CXXFLAGS} -fsanitize=fuzzer-no-link -I"${ROOT}" -I"${OUT}/gen" \
    -MMD -MF "${object}.d" -c "${source}" -o "${object}"
}

# True when no file that the object's dependency file lists is newer.
up_to_date() {
  local object="$1"
  local dependency
  for dependency in $(sed -e 's/^[^:]*://' -e 's/\\$//' "${object}.d"); do
    [[ "${dependency}" -nt "${object}" ]] && return 1
  done
  return 0
}

# Runs the given commands, each a single string, at most one per core at a
# time. Fails when any of them fails.
run_parallel() {
  local jobs
  jobs="$(nproc)"
  local pids=()
  local command
  for command in "$@"; do
    eval "${command}" &
    pids+=("$!")
    if [[ "${#pids[@]}" -ge "${jobs}" ]]; then
      wait "${pids[0]}"
      pids=("${pids[@]:1}")
    fi
  done
  local pid
  for pid in "${pids[@]}"; do
    wait "${pid}"
  done
}

# Links one fuzzer unless its binary is newer than its source and objects.
link() {
  local target="$1"
  shift
  local binary="${OUT}/${target}"
  local input
  local stale=0
  [[ -f "${binary}" ]] || stale=1
  for input in "${FUZZ_DIR}/${target}.cc" "$@"; do
    [[ "${input}" -nt "${binary}" ]] && stale=1
  done
  [[ "${stale}" -eq 0 ]] && return
  echo "building ${target}"
  local libraries
  libraries="$(pkg-config --libs absl_status absl_statusor absl_strings \
    absl_str_format absl_time absl_synchronization absl_raw_hash_set \
    absl_hash protobuf libcrypto)"
  # shellcheck disable=SC2086
  clang++ ${CXXFLAGS} -fsanitize=fuzzer -I"${ROOT}" -I"${OUT}/gen" \
    "${FUZZ_DIR}/${target}.cc" "$@" ${libraries} -o "${binary}"
}

build() {
  local library_sources=(
    "${OUT}/gen/paymento/bridge/v1/event.pb.cc"
    "${ROOT}/src/verification/freshness.cc"
    "${ROOT}/src/verification/secret_set.cc"
    "${ROOT}/src/verification/signature_verifier.cc"
    "${ROOT}/src/normalization/event_types.cc"
    "${ROOT}/src/normalization/gateway_callback_normalizer.cc"
    "${ROOT}/src/normalization/json_fields.cc"
    "${ROOT}/src/normalization/timestamps.cc"
    "${ROOT}/src/normalization/webhook_fields.cc"
    "${ROOT}/src/normalization/webhook_normalizer.cc"
  )
  mkdir -p "${OUT}/obj"
  local objects=()
  local commands=()
  local source
  for source in "${library_sources[@]}"; do
    objects+=("$(object_for "${source}")")
    commands+=("compile '${source}'")
  done
  run_parallel "${commands[@]}"

  commands=()
  local target
  for target in "${TARGETS[@]}"; do
    commands+=("link ${target} ${objects[*]}")
  done
  run_parallel "${commands[@]}"
}

run() {
  local target="$1"
  local corpus="${OUT}/corpus/${target}"
  mkdir -p "${corpus}" "${OUT}/artifacts"
  echo "running ${target} for ${SECONDS_PER_TARGET}s"
  if ! "${OUT}/${target}" -max_total_time="${SECONDS_PER_TARGET}" \
      -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="${OUT}/artifacts/${target}-" \
      "${corpus}" "${FUZZ_DIR}/corpus/${target}" >"${OUT}/${target}.log" 2>&1; then
    tail -n 60 "${OUT}/${target}.log" >&2
    echo "FAILED: ${target}; log in ${OUT}/${target}.log, inputs in ${OUT}/artifacts" >&2
    return 1
  fi
  grep -E '^stat::number_of_executed_units' "${OUT}/${target}.log" || true
  echo "passed: ${target}"
}

main() {
  ensure_clang
  generate_proto
  build
  local failed=0
  local target
  for target in "${TARGETS[@]}"; do
    run "${target}" || failed=1
  done
  if [[ "${failed}" -ne 0 ]]; then
    echo "fuzzing found failures" >&2
    exit 1
  fi
  echo "all fuzzers passed"
}

main
