#!/usr/bin/python3
"""Durable subscriber for paymento-bridge.

Prints each event of a durable subscription as one JSON line on stdout and
acknowledges every response's deliveries once they are printed, so an event
that was printed but not acknowledged is delivered again.

Generate the stubs first with examples/python/generate_stubs.sh. Runs on
Debian 12's python3-grpcio and python3-protobuf.
"""

import argparse
import os
import pathlib
import sys

import grpc
from google.protobuf import json_format

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent / "gen"))
try:
    from paymento.bridge.v1 import event_service_pb2 as api
    from paymento.bridge.v1 import event_service_pb2_grpc as api_grpc
except ImportError as error:
    sys.exit(f"{error}: run examples/python/generate_stubs.sh first")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", default="127.0.0.1:50051",
                        help="gRPC address of the bridge, host:port")
    parser.add_argument("--subscription", required=True,
                        help="durable subscription name, created on first use")
    parser.add_argument("--types", default="",
                        help="comma-separated types or prefixes such as "
                             "'payment_link.*'; empty means every type")
    parser.add_argument("--from", dest="start", default="earliest",
                        choices=["earliest", "latest"],
                        help="where a new subscription starts; ignored once "
                             "the subscription exists (default: earliest)")
    parser.add_argument("--count", type=int, default=0,
                        help="exit after this many events; 0 runs until "
                             "interrupted")
    parser.add_argument("--token",
                        default=os.environ.get("PAYMENTO_BRIDGE_GRPC_TOKEN"),
                        help="bearer token of the gRPC API (default: "
                             "$PAYMENTO_BRIDGE_GRPC_TOKEN)")
    args = parser.parse_args()
    if args.count < 0:
        parser.error(f"invalid --count {args.count}: use 0 or more")
    return args


def subscribe(args):
    """Print and acknowledge events up to --count, and return how many."""
    metadata = []
    if args.token:
        metadata.append(("authorization", f"Bearer {args.token}"))
    request = api.SubscribeRequest(
        subscription=args.subscription,
        event_types=[t.strip() for t in args.types.split(",") if t.strip()],
        position=f"START_POSITION_{args.start.upper()}",
    )
    received = 0
    with grpc.insecure_channel(args.address) as channel:
        stub = api_grpc.EventServiceStub(channel)
        stream = stub.Subscribe(request, metadata=metadata)
        # A response without deliveries is a heartbeat. Deliveries past
        # --count stay unacknowledged, and the bridge returns their leases
        # when the stream closes.
        for response in stream:
            limit = args.count - received if args.count else None
            deliveries = response.deliveries[:limit]
            for delivery in deliveries:
                print(json_format.MessageToJson(
                    delivery.event, preserving_proto_field_name=True,
                    indent=None), flush=True)
            received += len(deliveries)
            if deliveries:
                stub.Acknowledge(
                    api.AcknowledgeRequest(
                        subscription=args.subscription,
                        ack_ids=[delivery.ack_id for delivery in deliveries]),
                    metadata=metadata, timeout=10)
            if args.count and received >= args.count:
                stream.cancel()
                break
    return received


def main():
    args = parse_args()
    try:
        received = subscribe(args)
    except grpc.RpcError as error:
        sys.exit(f"{error.code().name}: {error.details()} "
                 f"(address {args.address})")
    except KeyboardInterrupt:
        sys.exit(130)
    if not args.count or received < args.count:
        sys.exit(f"the bridge closed the stream after {received} events")


if __name__ == "__main__":
    main()
