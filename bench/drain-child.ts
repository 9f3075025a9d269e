// SPDX-License-Identifier: Apache-2.0
// Environment: Node, as root (benchmark), inside the sandbox's network namespace (nsenter).
//
// Event drain: a flood of dropped packets (each one reported) consumed exactly as
// `net-tc-filter run` does (timer + immediate re-run when a batch fills), while the event
// loop's delay is sampled. Prints one JSON object.
import { spawn } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { DRAIN_BATCH as BATCH, Engine } from '../electron/engine/engine.js';
import { BOB, DST, resolvedPolicy } from './lib.js';

const [flood, seconds = '3', pinDir = '/sys/fs/bpf/ntf-bench-drain', decode = 'raw'] = process.argv.slice(2);
const e = Engine.open({ pinDir, ringBytes: 1 << 25 });
try {
  e.apply(resolvedPolicy(1, 1, 4));
  const before = e.counters();
  const h = monitorEventLoopDelay({ resolution: 1 });
  let consumed = 0;
  let running = true;
  let timer: NodeJS.Timeout | undefined;
  const tick = () => {
    if (!running) return;
    const batch = e.drainRaw(BATCH);
    if (decode === 'decisions') for (const r of batch) e.toDecision(r);
    consumed += batch.length;
    if (batch.length >= BATCH) setImmediate(tick);
    else timer = setTimeout(tick, 100);
  };
  const t0 = performance.now();
  h.enable();
  tick();
  const child = spawn(
    'setpriv',
    [`--reuid=${BOB}`, `--regid=${BOB}`, '--clear-groups', flood as string, DST[4], '9', seconds],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  await new Promise((r) => child.on('close', r));
  // Let the consumer catch up with what is still in the ring.
  for (let i = 0; i < 100; i++) {
    const c = e.counters();
    if (consumed >= Number(c.events_sent - before.events_sent)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const elapsed = (performance.now() - t0) / 1000;
  running = false;
  clearTimeout(timer);
  h.disable();
  const c = e.counters();
  process.stdout.write(
    `${JSON.stringify({
      sent: Number(out.trim().split(' ')[0]),
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
