// SPDX-License-Identifier: Apache-2.0
// Environment: Node, as root (benchmark), inside the sandbox's network namespace (nsenter).
//
// Event drain: a flood of dropped packets (each one reported) consumed exactly as
// `net-tc-filter run` does (a 100 ms timer, at most DRAIN_BATCH records per call, immediately
// again via setImmediate when a call filled up), while the event loop's delay is sampled.
//   live-raw / live-decisions: consumer and flood at once (records only, or also turned into
//     decisions as the CLI does); the rate is then the producer's unless the consumer falls
//     behind, which shows as lost events.
//   backlog: the ring is filled first with nobody reading, then drained: the consumer's own
//     capacity. Prints one JSON object.
import { spawn } from 'node:child_process';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { DRAIN_BATCH as BATCH, Engine } from '../electron/engine/engine.js';
import { benchAccounts, BOB, mainDst, policyYaml, resolveBench } from './lib.js';

export interface DrainArgs {
  flood: string;
  seconds: number;
  pinDir: string;
  mode: 'live-raw' | 'live-decisions' | 'backlog';
  ringBytes: number;
  passwd: string;
  group: string;
}

const a = JSON.parse(process.argv[2] ?? '{}') as DrainArgs;
const resolved = resolveBench(policyYaml(1, 1, [4]), benchAccounts(a));

function flood(): Promise<number> {
  const child = spawn(
    'setpriv',
    [
      `--reuid=${BOB}`,
      `--regid=${BOB}`,
      '--clear-groups',
      a.flood,
      '-s',
      '64',
      '-t',
      String(a.seconds),
      mainDst(4, 1),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  return new Promise((resolve) => child.on('close', () => resolve(Number(out.trim().split(' ')[1]))));
}

// Every drop reported: no per-user event budget (the default, 1,000/s, would cap the flood's
// events at that).
const e = Engine.open({ pinDir: a.pinDir, ringBytes: a.ringBytes, eventsPerUser: 0 });
try {
  e.apply(resolved);
  const before = e.counters();
  const h = monitorEventLoopDelay({ resolution: 1 });
  const decode = a.mode === 'live-decisions';
  let consumed = 0;
  let running = true;
  let timer: NodeJS.Timeout | undefined;
  let lastNonEmpty = 0;
  const tick = () => {
    timer = undefined;
    if (!running) return;
    const batch = e.drainRaw(BATCH);
    if (decode) for (const r of batch) e.toDecision(r);
    consumed += batch.length;
    if (batch.length > 0) lastNonEmpty = performance.now();
    if (batch.length >= BATCH) setImmediate(tick);
    else timer = setTimeout(tick, 100);
  };

  let sent: number;
  let t0: number;
  if (a.mode === 'backlog') {
    sent = await flood(); // nobody reads: the ring fills, the rest is lost
    t0 = performance.now();
    h.enable();
    tick();
  } else {
    t0 = performance.now();
    h.enable();
    tick();
    sent = await flood();
  }
  // Let the consumer catch up with what is still in the ring (bounded: 10 s).
  for (let i = 0; i < 200; i++) {
    if (consumed >= Number(e.counters().events_sent - before.events_sent)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const elapsed = ((a.mode === 'backlog' ? lastNonEmpty : performance.now()) - t0) / 1000;
  running = false;
  clearTimeout(timer);
  h.disable();
  const c = e.counters();
  process.stdout.write(
    `${JSON.stringify({
      sent,
      events: Number(c.events_sent - before.events_sent),
      lost: Number(c.events_lost - before.events_lost),
      consumed,
      eventsPerSec: consumed / elapsed,
      loopDelayP99Ms: h.percentile(99) / 1e6,
      loopDelayMaxMs: h.max / 1e6,
    })}\n`,
  );
} finally {
  e.close({ unload: true });
}
