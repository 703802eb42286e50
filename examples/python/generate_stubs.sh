#!/usr/bin/env bash
# Generates the Python message classes and gRPC stubs of the bridge's API
# from proto/ into examples/python/gen/, with Debian's python3-grpc-tools.
set -euo pipefail
cd "$(dirname "$0")/../.."
rm -rf examples/python/gen
mkdir -p examples/python/gen
/usr/bin/python3 -m grpc_tools.protoc -I proto \
  --python_out=examples/python/gen --grpc_python_out=examples/python/gen \
  proto/paymento/bridge/v1/event.proto \
  proto/paymento/bridge/v1/event_service.proto
