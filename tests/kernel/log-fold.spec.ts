// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest), as root. run's decision log folds a flow's repeats (--log-interval),
// and the folded counts add up to what the kernel counted.
import { afterEach, describe, expect, it } from 'vitest';
import { BOB, cleanup, decisions, setup, stop, udp } from './harness.js';
import type { Env } from './harness.js';
import type { EngineProcess } from '../../electron/demo/sandbox.js';

const POLICY = `endpoints:
  - one:
      iface: [ntf0]
      range: [192.0.2.1/32]
      allow: [alice]
interfaces:
  ntf0: { default: allow }
`;
/** Ethernet + IPv4 + UDP headers + the probe's 16-byte payload. */
const FRAME = 14 + 20 + 8 + 16;

let env: Env | undefined;
afterEach(async () => {
  await cleanup(env);
  env = undefined;
});

type Line = Record<string, unknown>;
const bobTo192 = (lines: Line[]) =>
  decisions(
    lines,
    (d) => d.uid === BOB && d.dst === '192.0.2.1' && d.proto === 'udp' && d.verdict === 'drop',
  );
const sum = (lines: Line[], k: string) => lines.reduce((s, l) => s + Number(l[k]), 0);

/** Waits until the kernel counted `dropped` drops and run has taken every event the kernel sent
 * from the ring (its per-second stats line). */
async function drained(e: EngineProcess, dropped: number): Promise<void> {
  await e.waitFor(
    (l) => l.type === 'stats' && Number(l.dropped) >= dropped && l.decisions === l.events,
    20_000,
  );
}

function droppedOfFlow(env: Env): number {
  const s = JSON.parse(env.cli(['status', '--json', '--flows', '--pin-dir', env.pinDir]).stdout) as {
    flows: Array<Record<string, unknown>>;
  };
  return sum(
    s.flows.filter((f) => f.uid === BOB && f.dst === '192.0.2.1' && f.proto === 'udp'),
    'droppedPackets',
  );
}

describe("run's decision log folds repeats", () => {
  it('--log-interval 3600: one line for the flow until exit, then the rest in one line; counts exact', async () => {
    env = await setup();
    const e = await env.run(POLICY, ['--log-interval', '3600', '--stats-interval', '1']);
    expect(udp(env, BOB, '192.0.2.1', 200)).toMatchObject({ sent: 200, received: 0 });
    await drained(e, 200);
    const before = bobTo192(e.lines);
    expect(before).toHaveLength(1);
    expect(before[0]).toMatchObject({ count: 1, bytes: FRAME, reason: 'not-listed', endpoint: null });
    expect(before[0]).not.toHaveProperty('firstTime');
    expect(e.ofType('stats').pop()).toMatchObject({ dropped: 200, lost: 0 });

    const lines = await stop(e);
    const flow = bobTo192(lines);
    expect(flow).toHaveLength(2);
    expect(flow[1]).toMatchObject({ count: 199, bytes: 199 * FRAME, user: 'bob', dport: 7 });
    expect(Date.parse(String(flow[1]?.firstTime))).toBeLessThanOrEqual(Date.parse(String(flow[1]?.time)));
    expect(sum(flow, 'count')).toBe(200);
    expect(droppedOfFlow(env)).toBe(200); // the kernel's own count for the flow
    // Every decision received is in exactly one line, and the stats line says how they were printed.
    const stats = lines.filter((l) => l.type === 'stats').pop() as Line;
    const all = lines.filter((l) => l.type === 'decision');
    expect(stats).toMatchObject({ dropped: 200, lost: 0, decisions: sum(all, 'count'), lines: all.length });
    expect(stats.folded).toBe(
      Number(stats.decisions) - all.filter((l) => l.count === 1 && !l.firstTime).length,
    );
    expect(stats.folded).toBeGreaterThanOrEqual(199);
    // The exit line follows the flushed one.
    expect(lines.findIndex((l) => l.type === 'exit')).toBeGreaterThan(lines.indexOf(flow[1] as Line));
  });

  it('--log-interval 0: every decision is printed', async () => {
    env = await setup();
    const e = await env.run(POLICY, ['--log-interval', '0']);
    expect(udp(env, BOB, '192.0.2.1', 200)).toMatchObject({ sent: 200, received: 0 });
    const lines = await stop(e);
    const flow = bobTo192(lines);
    expect(flow).toHaveLength(200);
    expect(flow.every((l) => l.count === 1 && l.firstTime === undefined)).toBe(true);
    expect(lines.filter((l) => l.type === 'stats').pop()).toMatchObject({ dropped: 200, folded: 0 });
  });

  it('a flood: two lines whose counts, with the events lost or over budget, equal the drops the kernel counted', async () => {
    env = await setup();
    const e = await env.run(POLICY, ['--log-interval', '3600']);
    const n = 20_000;
    expect(env.sb.probe(BOB, ['flood', '192.0.2.1', '7', String(n)], 60_000)).toEqual({ sent: n });
    const lines = await stop(e);
    const stats = lines.filter((l) => l.type === 'stats').pop() as {
      dropped: number;
      lost: number;
      suppressed?: Record<string, number>;
    };
    const flow = bobTo192(lines);
    expect(flow).toHaveLength(2);
    expect(stats.dropped).toBe(n);
    // Reported (and folded), lost in a full ring, or over bob's event budget (counted, not sent).
    expect(sum(flow, 'count') + stats.lost + (stats.suppressed?.bob ?? 0)).toBe(n);
    expect(droppedOfFlow(env)).toBe(n);
  });

  it('--log-interval 1 under steady traffic: about one line a second, every decision counted', async () => {
    env = await setup();
    const e = await env.run(POLICY, ['--log-interval', '1']);
    const n = 3000; // paced, 1 per ms: about 3 s
    const t0 = Date.now();
    expect(env.sb.probe(BOB, ['udp', '192.0.2.1', '7', String(n), '300', '1'], 60_000)).toMatchObject({
      sent: n,
      received: 0,
    });
    const seconds = (Date.now() - t0) / 1000;
    const lines = await stop(e);
    const flow = bobTo192(lines);
    expect(sum(flow, 'count')).toBe(n);
    expect(flow.length).toBeGreaterThanOrEqual(3);
    expect(flow.length).toBeLessThanOrEqual(Math.ceil(seconds) + 2); // first + one per second + exit
    expect(flow.slice(1).every((l) => typeof l.firstTime === 'string')).toBe(true);
  });
});
