#!/usr/bin/env bash
# Builds the libFuzzer targets in this directory with Clang's address and
# undefined-behaviour sanitizers, then runs each one for SECONDS starting from
# its checked-in corpus under corpus/<target>/.
#
# Usage: tests/fuzz/run_fuzzers.sh BUILD_DIR SECONDS
#
# Everything is written under BUILD_DIR/fuzz: the generated protobuf code,
# the objects, the fuzzer binaries, a working copy of each corpus (new inputs
# go there, never into the repository) and crash artifacts. Exits non-zero
# when a target fails to build or a fuzzer reports a crash, a leak, a timeout
# or undefined behaviour.
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
  echo "clang++ cannot build a fuzzer; installing clang and libclang-rt-14-dev" >&2
  if [[ "$(id -u)" -ne 0 ]]; then
    echo "not root: run 'apt-get install clang libclang-rt-14-dev' first" >&2
    exit 1
  fi
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q clang libclang-rt-14-dev
}

generate_proto() {
  mkdir -p "${OUT}/gen"
  protoc --proto_path="${ROOT}/proto" --cpp_out="${OUT}/gen" \
    "${ROOT}/proto/paymento/bridge/v1/event.proto"
}

# Compiles one source into an object under ${OUT}/obj, instrumented for the
# fuzzer but without libFuzzer's main.
compile() {
  local source="$1"
  local object="${OUT}/obj/$(echo "${source#"${ROOT}"/}" | tr / _).o"
  mkdir -p "${OUT}/obj"
  # shellcheck disable=SC2086
  clang++ ${CXXFLAGS} -fsanitize=fuzzer-no-link -I"${ROOT}" -I"${OUT}/gen" \
    -c "${source}" -o "${object}"
  echo "${object}"
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
    "${ROOT}/src/normalization/webhook_normalizer.cc"
  )
  local objects=()
  local source
  for source in "${library_sources[@]}"; do
    objects+=("$(compile "${source}")")
  done

  local libraries
  libraries="$(pkg-config --libs absl_status absl_statusor absl_strings \
    absl_str_format absl_time absl_synchronization absl_raw_hash_set \
    absl_hash protobuf libcrypto)"
  local target
  for target in "${TARGETS[@]}"; do
    echo "building ${target}"
    # shellcheck disable=SC2086
    clang++ ${CXXFLAGS} -fsanitize=fuzzer -I"${ROOT}" -I"${OUT}/gen" \
      "${FUZZ_DIR}/${target}.cc" "${objects[@]}" ${libraries} \
      -o "${OUT}/${target}"
  done
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
