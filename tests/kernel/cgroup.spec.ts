// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest), as root. unit:/cgroup: entries on the real kernel: real processes
// under real uids, moved into real cgroups of the cgroup v2 hierarchy (created under its mount for
// the test, removed afterwards), sending real traffic in a namespace sandbox. The socket's cgroup
// counts, not the task's; a unit that restarts (its cgroup removed and made again, with a new id)
// is followed while traffic flows.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { ALICE, BOB, cleanup, decisions, setup, stop } from './harness.js';
import type { Env } from './harness.js';
import { CGROUP_ROOT as ROOT, TestCgroups } from './cgroups.js';

const TAG = `ntft${process.pid % 100000}`;
/** A slice of the test's own, at the top of the hierarchy (where systemd puts system.slice). */
const cg = new TestCgroups(TAG);
const SLICE = cg.slice;
const UNIT = `backup-${TAG}.service`;
const UNIT_PATH = `${SLICE}/${UNIT}`;
const WEB = `${SLICE}/web-${TAG}.service`;
const OTHER = `${SLICE}/other-${TAG}.service`;

let env: Env | undefined;
const children: ChildProcess[] = [];

/** Makes the cgroup (and its parents) below the hierarchy's root. */
const mkcg = (path: string): string => cg.mk(path);

afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await cleanup(env);
  env = undefined;
  cg.remove();
});

/** The probe (udp echo to the sandbox's peer, port 7) as `uid`, started inside cgroup `path`. */
function udpIn(path: string, uid: number, host = '192.0.2.1', count = 3): { sent: number; received: number } {
  return cg.probe((env as Env).sb, path, uid, ['udp', host, '7', String(count), '400']) as {
    sent: number;
    received: number;
  };
}

/** A sender that makes its socket at once, sends, then waits (for the test to move it to another
 * cgroup) and sends again from the same socket. */
const MOVER = `
import { createSocket } from 'node:dgram';
import { createInterface } from 'node:readline';
const [host, mode] = process.argv.slice(2);
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const say = (o) => process.stdout.write(JSON.stringify(o) + String.fromCharCode(10));
if (mode === 'loop') {
  // Told to go once it is in the new cgroup: a socket made there at once, one datagram every
  // millisecond until one is answered (bounded), and when that was.
  say({ ready: true });
  await lines.next();
  const s = createSocket('udp4');
  let got = 0;
  let sent = 0;
  s.on('message', () => got++);
  await new Promise((r) => s.bind(0, r));
  for (let i = 0; i < 5000 && got === 0; i++) { s.send('x', 7, host); sent++; await new Promise((r) => setTimeout(r, 1)); }
  say({ firstReplyAt: got ? Date.now() : null, sent, received: got });
  process.exit(0);
}
const sock = createSocket('udp4');
let received = 0;
sock.on('message', () => received++);
const burst = (n) => new Promise((r) => { for (let i = 0; i < n; i++) sock.send('x', 7, host); setTimeout(r, 400); });
sock.bind(0, async () => {
  await burst(2);
  say({ phase: 1, received });
  await lines.next();
  await burst(2);
  say({ phase: 2, received });
  process.exit(0);
});
`;

/** Starts MOVER in cgroup `path` as `uid`; returns the process and a reader of its JSON lines. */
function mover(path: string, uid: number, mode: 'move' | 'loop') {
  const sb = (env as Env).sb;
  const script = sb.writeFile('mover.mjs', MOVER);
  const [cmd, ...args] = cg.enter(path, sb.clientArgv(uid, [process.execPath, script, '192.0.2.1', mode]));
  const p = spawn(cmd as string, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(p);
  const lines = createInterface({ input: p.stdout as NodeJS.ReadableStream })[Symbol.asyncIterator]();
  const next = async (): Promise<Record<string, unknown>> => {
    const r = await lines.next();
    if (r.done) throw new Error('the sender ended early');
    return JSON.parse(r.value as string) as Record<string, unknown>;
  };
  return { p, next };
}

const POLICY = `endpoints:
  - backup:
      iface: [ntf0]
      range: [192.0.2.1/32]
      allow: ['unit:${UNIT}', 'cgroup:${WEB} as alice']
interfaces:
  ntf0: { default: allow }
`;

describe.runIf(ROOT !== undefined || process.env.CI === 'true')('unit: and cgroup: entries', () => {
  it('finds the cgroup v2 hierarchy', () => {
    expect(ROOT).toBeDefined();
    expect(statSync(join(ROOT as string, 'cgroup.procs')).isFile()).toBe(true);
  });

  it('a unit and everything below it, a cgroup limited to one account; the socket’s cgroup counts, not the task’s', async () => {
    env = await setup();
    mkcg(`${UNIT_PATH}/worker`);
    mkcg(WEB);
    mkcg(OTHER);
    const e = await env.run(POLICY);

    // The unit's processes, whoever they run as; also in a cgroup below the unit's.
    expect(udpIn(UNIT_PATH, BOB)).toMatchObject({ sent: 3, received: 3 });
    expect(udpIn(`${UNIT_PATH}/worker`, BOB)).toMatchObject({ sent: 3, received: 3 });
    // Outside it: the same user is refused.
    expect(udpIn(OTHER, BOB)).toMatchObject({ sent: 3, received: 0 });
    expect(udpIn('/', BOB)).toMatchObject({ sent: 3, received: 0 });
    // "as alice": only alice's processes in that cgroup.
    expect(udpIn(WEB, ALICE)).toMatchObject({ sent: 3, received: 3 });
    expect(udpIn(WEB, BOB)).toMatchObject({ sent: 3, received: 0 });
    expect(udpIn(OTHER, ALICE)).toMatchObject({ sent: 3, received: 0 });

    // A socket made in the unit keeps counting as the unit's after its process left it ...
    const out = mover(UNIT_PATH, BOB, 'move');
    expect(await out.next()).toMatchObject({ phase: 1, received: 2 });
    writeFileSync(join(ROOT as string, OTHER, 'cgroup.procs'), String(out.p.pid));
    out.p.stdin?.write('go\n');
    expect(await out.next()).toMatchObject({ phase: 2, received: 4 });
    // ... and one made outside gains nothing when its process moves into the unit.
    const into = mover(OTHER, BOB, 'move');
    expect(await into.next()).toMatchObject({ phase: 1, received: 0 });
    writeFileSync(join(ROOT as string, UNIT_PATH, 'cgroup.procs'), String(into.p.pid));
    into.p.stdin?.write('go\n');
    expect(await into.next()).toMatchObject({ phase: 2, received: 0 });

    // Every decision names the sending socket's cgroup and unit, as well as its user.
    const status = JSON.parse(env.cli(['status', '--json', '--flows', '--pin-dir', env.pinDir]).stdout) as {
      flows: Array<Record<string, unknown>>;
    };
    const lines = await stop(e);
    const bob = decisions(lines, (d) => d.uid === BOB && d.dst === '192.0.2.1');
    expect(bob.filter((d) => d.verdict === 'allow')[0]).toMatchObject({
      endpoint: 'backup',
      user: 'bob',
      unit: UNIT,
      cgroup: UNIT_PATH,
    });
    expect(bob.filter((d) => d.verdict === 'drop').map((d) => d.unit)).toContain(`other-${TAG}.service`);
    expect(status.flows.filter((f) => f.cgroup === `${UNIT_PATH}/worker`)).toEqual([
      expect.objectContaining({ uid: BOB, unit: UNIT, verdict: 'allow', allowedPackets: 3 }),
    ]);
  });

  it('follows a unit that restarts: its new cgroup is matched while traffic flows', async () => {
    env = await setup();
    mkcg(UNIT_PATH);
    mkcg(OTHER);
    const e = await env.run(POLICY);
    expect(udpIn(UNIT_PATH, BOB)).toMatchObject({ received: 3 });
    const before = statSync(join(ROOT as string, UNIT_PATH)).ino;

    // The unit's next process waits, started already, outside the unit.
    const next = mover(OTHER, BOB, 'loop');
    expect(await next.next()).toEqual({ ready: true });
    // The restart: the unit's cgroup goes (its processes exited) and is made again, new id.
    rmdirSync(join(ROOT as string, UNIT_PATH));
    const gone = await e.waitFor((l) => l.type === 'cgroup' && l.id === null, 5000);
    expect(gone).toMatchObject({ entry: `unit:${UNIT}`, was: Number(before) });
    const from = e.lines.length;
    const made = Date.now();
    mkcg(UNIT_PATH);
    // The new process goes in and sends at once, from a socket made in the new cgroup.
    writeFileSync(join(ROOT as string, UNIT_PATH, 'cgroup.procs'), String(next.p.pid));
    next.p.stdin?.write('go\n');
    const after = statSync(join(ROOT as string, UNIT_PATH)).ino;
    expect(after).not.toBe(before);
    const first = await next.next();
    expect(first.received).toBeGreaterThan(0);
    const moved = await e.waitFor((l) => l.type === 'cgroup' && l.id !== null, 5000, from);
    expect(moved).toMatchObject({ entry: `unit:${UNIT}`, path: UNIT_PATH, id: Number(after) });
    // Until then its datagrams were dropped (not listed) and not cached: the first answered one
    // came right after. Measured, not asserted (docs/datapath.md "Services and containers").
    process.stdout.write(
      `unit matched again ${Number(first.firstReplyAt) - made} ms after its cgroup was made (${String(first.sent)} datagrams sent by then)\n`,
    );
    const lines = await stop(e);
    const early = decisions(lines, (d) => d.uid === BOB && d.unit === UNIT && d.verdict === 'drop');
    expect(early.every((d) => d.reason === 'not-listed')).toBe(true);
  });
});
