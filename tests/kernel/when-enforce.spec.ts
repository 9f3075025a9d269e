// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest), as root. Time windows enforced by the kernel program on real
// traffic, in a zone that is not UTC (Asia/Kolkata, UTC+05:30, a half-hour offset): a window that
// contains now lets bob through, one that does not refuses him, and an edge a few seconds away
// closes an established flow on time (no cached verdict outlives it) with `run` stopped, i.e. no
// user space is running at the edge.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { BOB, cleanup, decisions, setup, stop, udp } from './harness.js';
import type { Env } from './harness.js';

let env: Env | undefined;
const savedTz = process.env.TZ;
afterEach(async () => {
  await cleanup(env);
  env = undefined;
  if (savedTz === undefined) delete process.env.TZ;
  else process.env.TZ = savedTz;
});

/** Asia/Kolkata is UTC+05:30 all year. */
const KOLKATA = 19_800;
const two = (n: number) => String(n).padStart(2, '0');
/** The local time of day of a UTC second, HH:MM:SS. */
const tod = (utcSec: number) => {
  const x = (((utcSec + KOLKATA) % 86_400) + 86_400) % 86_400;
  return `${two(Math.floor(x / 3600))}:${two(Math.floor(x / 60) % 60)}:${two(x % 60)}`;
};

const policy = (window: string) => `endpoints:
  - office:
      iface: [ntf0]
      range: [192.0.2.1/32]
      allow: [bob]
      when: ['${window}']
interfaces:
  ntf0: { default: allow }
`;

/** One socket, one datagram every 100 ms for `ms`, each answer's time (an established flow). */
const STEADY = `
import { createSocket } from 'node:dgram';
const [host, ms] = process.argv.slice(2);
const s = createSocket('udp4');
const answers = [];
let sent = 0;
s.on('message', () => answers.push(Date.now()));
s.bind(0, async () => {
  const t0 = Date.now();
  while (Date.now() - t0 < Number(ms)) { s.send('x', 7, host); sent++; await new Promise((r) => setTimeout(r, 100)); }
  await new Promise((r) => setTimeout(r, 300));
  process.stdout.write(JSON.stringify({ start: t0, sent, answers }) + String.fromCharCode(10));
  process.exit(0);
});
`;

async function steady(ms: number): Promise<{ start: number; sent: number; answers: number[] }> {
  const sb = (env as Env).sb;
  const script = sb.writeFile('steady.mjs', STEADY);
  const [cmd, ...args] = sb.clientArgv(BOB, [process.execPath, script, '192.0.2.1', String(ms)]);
  const p = spawn(cmd as string, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const timer = setTimeout(() => p.kill('SIGKILL'), ms + 15_000);
  try {
    const r = await createInterface({ input: p.stdout })[Symbol.asyncIterator]().next();
    if (r.done) throw new Error('the sender ended without a result');
    return JSON.parse(r.value as string) as { start: number; sent: number; answers: number[] };
  } finally {
    clearTimeout(timer);
  }
}

describe('time windows in the kernel', () => {
  it('a window that contains now lets bob through; one that does not refuses him (not-listed)', async () => {
    process.env.TZ = 'Asia/Kolkata'; // the engine's zone: it inherits the environment
    const now = Math.floor(Date.now() / 1000);
    env = await setup();
    const open = await env.run(policy(`daily ${tod(now - 3600)}-${tod(now + 7200)}`));
    expect(udp(env, BOB, '192.0.2.1')).toMatchObject({ sent: 3, received: 3 });
    const openLines = await stop(open);
    expect(decisions(openLines, (d) => d.uid === BOB)[0]).toMatchObject({
      verdict: 'allow',
      endpoint: 'office',
    });

    const closed = await env.run(policy(`daily ${tod(now + 3 * 3600)}-${tod(now + 4 * 3600)}`));
    expect(udp(env, BOB, '192.0.2.1')).toMatchObject({ sent: 3, received: 0 });
    const closedLines = await stop(closed);
    expect(decisions(closedLines, (d) => d.uid === BOB).map((d) => d.reason)).toEqual([
      'not-listed',
      'not-listed',
      'not-listed',
    ]);
  });

  it('an edge a few seconds away closes an established flow on time, with no user space running', async () => {
    process.env.TZ = 'Asia/Kolkata';
    env = await setup();
    // The window closes at the start of the second 4–5 s from now.
    const edge = Math.floor(Date.now() / 1000) + 5;
    const e = await env.run(policy(`daily ${tod(edge - 3600)}-${tod(edge)}`));
    // The filter stays pinned and enforcing after run stops (docs/datapath.md "Lifetime").
    e.signal('SIGKILL');
    await e.exited;
    const hits = () =>
      Number(
        (
          JSON.parse(env?.cli(['status', '--json', '--pin-dir', env.pinDir]).stdout ?? '{}') as {
            counters: Record<string, string>;
          }
        ).counters.flow_cache_hits,
      );
    const hits0 = hits();
    const r = await steady(9000);
    const hits1 = hits();
    const edgeMs = edge * 1000;
    const before = r.answers.filter((t) => t < edgeMs);
    const after = r.answers.filter((t) => t >= edgeMs);
    expect(r.start).toBeLessThan(edgeMs - 2000); // it began well inside the window
    expect(before.length).toBeGreaterThan(10); // answered while open
    // Closed on time: nothing answered later than one round trip after the edge.
    expect(after.filter((t) => t > edgeMs + 150)).toEqual([]);
    expect(r.sent).toBeGreaterThan(before.length + 20); // it kept sending after the edge
    // Timed verdicts are cached within their second (ten datagrams a second: most are hits).
    expect(hits1 - hits0).toBeGreaterThan(r.sent / 2);
  });
});
