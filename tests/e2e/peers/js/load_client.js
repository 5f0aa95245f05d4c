#!/usr/bin/env node
// @grpc/grpc-js twin of peers/load_client.py: steady gRPC load for socklb's
// rebalancing tests and benchmarks.
//
// Opens --channels independent channels (each its own grpc.Client with its
// own subchannel pool, so its own TCP connection; pick_first unless
// --lb-policy) to --target and runs --concurrency callers (async loops) on
// each. Each caller makes a SayHello call every 1/--rate seconds for
// --duration seconds (caller j offset by j/(K*rate)), or back to back with
// --closed-loop. Prints "STARTED" once every caller has made its first call,
// then at the end one JSON line:
//
//   {"records": [[start, end, channel, pod or null, status, client_port], ...]}
//
// start/end are wall-clock seconds; status is "OK" or the gRPC status code
// name ("UNAVAILABLE", ...); client_port is the port the server saw.
// Raw bytes on the wire (no protobuf): the request is the JSON load_client.py
// sends ({} by default), the reply the greeter's JSON.
'use strict';

const { parseArgs } = require('node:util');
const { performance } = require('node:perf_hooks');
const grpc = require('@grpc/grpc-js');

const METHOD = '/sample.service.HelloWorld/SayHello';
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

function usage(msg) {
  process.stderr.write(`load_client.js: ${msg}\n` +
    'usage: load_client.js --target T [--channels N] [--rate R] [--duration S]\n' +
    '       [--deadline S] [--closed-loop] [--concurrency K] [--request-bytes N]\n' +
    '       [--reply-bytes N] [--lb-policy P]\n');
  process.exit(2);
}

function parse(argv) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        target: { type: 'string' },
        channels: { type: 'string', default: '1' },
        rate: { type: 'string', default: '5' },
        duration: { type: 'string', default: '10' },
        deadline: { type: 'string', default: '5' },
        'closed-loop': { type: 'boolean', default: false },
        concurrency: { type: 'string', default: '1' },
        'request-bytes': { type: 'string', default: '0' },
        'reply-bytes': { type: 'string', default: '0' },
        'lb-policy': { type: 'string' },
      },
    }));
  } catch (e) {
    usage(e.message);
  }
  const num = (name, isInt) => {
    const v = Number(values[name]);
    if (!Number.isFinite(v) || (isInt && !Number.isInteger(v))) usage(`bad --${name}: ${values[name]}`);
    return v;
  };
  const o = {
    target: values.target,
    channels: num('channels', true),
    rate: num('rate'),
    duration: num('duration'),
    deadline: num('deadline'),
    closedLoop: values['closed-loop'],
    concurrency: num('concurrency', true),
    requestBytes: num('request-bytes', true),
    replyBytes: num('reply-bytes', true),
    lbPolicy: values['lb-policy'],
  };
  if (!o.target) usage('--target is required');
  if (o.channels < 1 || o.concurrency < 1) usage('--channels and --concurrency must be at least 1');
  if (!o.closedLoop && o.rate <= 0) usage('--rate must be > 0');
  if (o.requestBytes < 0 || o.replyBytes < 0) usage('--request-bytes and --reply-bytes must not be negative');
  return o;
}

// {} by default, else the same JSON load_client.py sends.
function requestBody(o) {
  const fields = [];
  if (o.replyBytes) fields.push(`"reply_bytes": ${o.replyBytes}`);
  if (o.requestBytes) fields.push(`"pad": "${'x'.repeat(o.requestBytes)}"`);
  return Buffer.from(`{${fields.join(', ')}}`);
}

function channelOptions(o) {
  const opts = {
    // Without it grpc-js shares one subchannel (one TCP connection) among
    // all clients with the same target and options.
    'grpc.use_local_subchannel_pool': 1,
    'grpc.enable_http_proxy': 0,
    // No TXT lookups for a service config: C-core does none by default.
    'grpc.service_config_disable_resolution': 1,
  };
  if (o.lbPolicy) {
    opts['grpc.service_config'] = JSON.stringify({ loadBalancingConfig: [{ [o.lbPolicy]: {} }] });
  }
  if (o.replyBytes || o.requestBytes) {
    opts['grpc.max_receive_message_length'] = MAX_MESSAGE_BYTES;
    opts['grpc.max_send_message_length'] = MAX_MESSAGE_BYTES;
  }
  return opts;
}

// Wall-clock seconds with sub-millisecond resolution.
const now = () => (performance.timeOrigin + performance.now()) / 1000;
const sleep = (s) => new Promise((resolve) => setTimeout(resolve, Math.max(0, s * 1000)));
const identity = (b) => b;

// The port in the server's view of the peer, "ipv4:IP:PORT".
function clientPort(peer) {
  if (!peer) return null;
  const p = Number.parseInt(peer.slice(peer.lastIndexOf(':') + 1), 10);
  return Number.isNaN(p) ? null : p;
}

let badReplyReported = false;

function oneCall(client, body, o) {
  return new Promise((resolve) => {
    const start = now();
    client.makeUnaryRequest(METHOD, identity, identity, body, new grpc.Metadata(),
      { deadline: Date.now() + o.deadline * 1000 }, (err, reply) => {
        const end = now();
        if (err) {
          resolve([start, end, null, grpc.status[err.code] || String(err.code), null]);
          return;
        }
        let r;
        try {
          r = JSON.parse(reply.toString('utf8'));
        } catch (e) {
          r = null;
        }
        if (!r || typeof r.pod !== 'string') {
          if (!badReplyReported) {
            badReplyReported = true;
            process.stderr.write(`load_client.js: bad reply ${JSON.stringify(reply.subarray(0, 80).toString())}\n`);
          }
          resolve([start, end, null, 'INTERNAL', null]);
          return;
        }
        resolve([start, end, r.pod, 'OK', clientPort(r.peer)]);
      });
  });
}

// When call k of a caller is due, or null once it is done (load_client.py's
// next_due).
function nextDue(first, k, o, stopAt) {
  if (o.closedLoop) {
    const t = now();
    return t < stopAt ? t : null;
  }
  const due = first + k / o.rate;
  return due < stopAt ? due : null;
}

async function runCaller(idx, j, client, body, o, records, onStarted, first, stopAt) {
  if (!o.closedLoop && o.concurrency > 1) first += j / (o.concurrency * o.rate);
  let k = 0;
  for (let due; (due = nextDue(first, k, o, stopAt)) !== null; k++) {
    await sleep(due - now());
    const rec = await oneCall(client, body, o);
    records.push([rec[0], rec[1], idx, ...rec.slice(2)]);
    if (k === 0) onStarted();
  }
  if (k === 0) onStarted(); // no call fitted in --duration: do not hold STARTED back
}

function withTimeout(promise, seconds) {
  let timer;
  return Promise.race([promise, new Promise((resolve) => { timer = setTimeout(resolve, seconds * 1000); })])
    .finally(() => clearTimeout(timer));
}

async function main() {
  const o = parse(process.argv.slice(2));
  const body = requestBody(o);
  const records = [];
  const stopAt = now() + o.duration;
  let pending = o.channels * o.concurrency;
  let allStarted;
  const startedPromise = new Promise((resolve) => { allStarted = resolve; });
  const onStarted = () => { if (--pending === 0) allStarted(); };

  const clients = [];
  const callers = [];
  for (let i = 0; i < o.channels; i++) {
    const client = new grpc.Client(o.target, grpc.credentials.createInsecure(), channelOptions(o));
    clients.push(client);
    const first = now();
    for (let j = 0; j < o.concurrency; j++) {
      callers.push(runCaller(i, j, client, body, o, records, onStarted, first, stopAt));
    }
  }
  await withTimeout(startedPromise, o.duration);
  process.stdout.write('STARTED\n');
  await withTimeout(Promise.all(callers), o.duration + o.deadline + 5);
  for (const c of clients) c.close();
  records.sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]);
  process.stdout.write(JSON.stringify({ records }) + '\n', () => process.exit(0));
}

main().catch((e) => {
  process.stderr.write(`load_client.js: ${e.stack || e}\n`);
  process.exit(1);
});
