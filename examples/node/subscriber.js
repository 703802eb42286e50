#!/usr/bin/env node
// Durable subscriber for paymento-bridge. Prints each event of a durable
// subscription as one JSON line on stdout and acknowledges every response's
// deliveries once they are printed, so an event that was printed but not
// acknowledged is delivered again. Loads the API from proto/ at run time.
// Events are printed as @grpc/proto-loader decodes them, with timestamps as
// RFC 3339 strings as in protobuf's JSON mapping.
'use strict';

const path = require('node:path');
const { parseArgs, promisify } = require('node:util');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const usage = `usage: node subscriber.js --subscription NAME [options]

  --address HOST:PORT     gRPC address of the bridge (default 127.0.0.1:50051)
  --subscription NAME     durable subscription name, created on first use
  --types T,...           comma-separated types or prefixes such as
                          'payment_link.*'; empty means every type
  --from earliest|latest  where a new subscription starts; ignored once the
                          subscription exists (default earliest)
  --count N               exit after N events; 0 runs until interrupted
  --token TOKEN           bearer token of the gRPC API
                          (default $PAYMENTO_BRIDGE_GRPC_TOKEN)`;

const flagOptions = {
  address: { type: 'string', default: '127.0.0.1:50051' },
  subscription: { type: 'string' },
  types: { type: 'string', default: '' },
  from: { type: 'string', default: 'earliest' },
  count: { type: 'string', default: '0' },
  token: { type: 'string' },
  help: { type: 'boolean', default: false },
};

// Parses the flags. Prints the usage and exits on --help or an invalid flag.
function parseFlags() {
  let values;
  try {
    ({ values } = parseArgs({ options: flagOptions }));
  } catch (error) {
    console.error(`${error.message}\n\n${usage}`);
    process.exit(2);
  }
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  const count = Number(values.count);
  let problem = null;
  if (!values.subscription) {
    problem = 'missing --subscription';
  } else if (!['earliest', 'latest'].includes(values.from)) {
    problem = `invalid --from "${values.from}": use earliest or latest`;
  } else if (!Number.isInteger(count) || count < 0) {
    problem = `invalid --count "${values.count}": use 0 or more`;
  }
  if (problem) {
    console.error(`${problem}\n\n${usage}`);
    process.exit(2);
  }
  return {
    ...values,
    count,
    token: values.token ?? process.env.PAYMENTO_BRIDGE_GRPC_TOKEN,
  };
}

function loadEventService() {
  const definition = protoLoader.loadSync('paymento/bridge/v1/event_service.proto', {
    includeDirs: [path.join(__dirname, '..', '..', 'proto')],
    keepCase: true, // Field names as in the .proto file: ack_id, event_types.
    longs: String, // int64 fields such as sequence, as decimal strings.
    enums: String,
    bytes: String, // raw_body as base64.
  });
  return grpc.loadPackageDefinition(definition).paymento.bridge.v1.EventService;
}

// Formats a google.protobuf.Timestamp as RFC 3339 in UTC, with no fraction
// or with 3, 6 or 9 digits of it, as protobuf's JSON mapping does.
function formatTimestamp({ seconds, nanos }) {
  const whole = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  if (!nanos) return `${whole}Z`;
  let fraction = String(nanos).padStart(9, '0');
  while (fraction.endsWith('000')) fraction = fraction.slice(0, -3);
  return `${whole}.${fraction}Z`;
}

// A JSON.stringify replacer for events. Event has no Duration field, so
// every {seconds, nanos} object in one is a Timestamp.
function timestampsAsText(key, value) {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const keys = Object.keys(value);
    if (keys.length === 2 && keys.includes('seconds') && keys.includes('nanos')) {
      return formatTimestamp(value);
    }
  }
  return value;
}

// Prints and acknowledges events up to flags.count, and returns how many.
async function subscribe(flags) {
  const EventService = loadEventService();
  const client = new EventService(flags.address, grpc.credentials.createInsecure());
  const acknowledge = promisify(client.Acknowledge.bind(client));
  const metadata = new grpc.Metadata();
  if (flags.token) metadata.set('authorization', `Bearer ${flags.token}`);

  const stream = client.Subscribe({
    subscription: flags.subscription,
    event_types: flags.types.split(',').map((type) => type.trim()).filter(Boolean),
    position: `START_POSITION_${flags.from.toUpperCase()}`,
  }, metadata);
  let received = 0;
  try {
    // A response without deliveries is a heartbeat. Deliveries past --count
    // stay unacknowledged, and the bridge returns their leases when the
    // stream closes.
    for await (const response of stream) {
      const deliveries = flags.count
        ? response.deliveries.slice(0, flags.count - received)
        : response.deliveries;
      for (const delivery of deliveries) {
        console.log(JSON.stringify(delivery.event, timestampsAsText));
      }
      received += deliveries.length;
      if (deliveries.length > 0) {
        await acknowledge({
          subscription: flags.subscription,
          ack_ids: deliveries.map((delivery) => delivery.ack_id),
        }, metadata, { deadline: Date.now() + 10_000 });
      }
      if (flags.count && received >= flags.count) break;
    }
  } finally {
    stream.cancel();
    client.close();
  }
  return received;
}

async function main() {
  const flags = parseFlags();
  let received;
  try {
    received = await subscribe(flags);
  } catch (error) {
    const code = grpc.status[error.code] ?? 'ERROR';
    console.error(`${code}: ${error.details ?? error.message} (address ${flags.address})`);
    process.exit(1);
  }
  if (!flags.count || received < flags.count) {
    console.error(`the bridge closed the stream after ${received} events`);
    process.exit(1);
  }
}

main();
