// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest), as root. Real kernel, real program, real processes under real uids.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { stateDirFor } from '../../electron/engine/statedir.js';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PIN_NAMES } from '../../electron/engine/engine.js';
import { BpfMap } from '../../native-bridge/map.js';
import { LAYOUTS, NTF } from '../../native-bridge/layouts.js';
import { packageRoot } from '../../electron/engine/paths.js';
import {
  ALICE,
  BOB,
  CAROL,
  DAVE,
  NOBODY,
  cleanup,
  cliPath,
  decisions,
  http,
  pinsLeft,
  setup,
  stop,
  udp,
} from './harness.js';
import type { Env } from './harness.js';

const IMDS4 = 'http://169.254.169.254/latest/meta-data/';
const IMDS6 = 'http://[fd00:ec2::254]/latest/meta-data/';

const SIMPLE = `endpoints:
  - imds:
      iface: [ntf0]
      range: [169.254.169.254/32]
      allow: [alice]
interfaces:
  ntf0: { default: allow }
`;

let env: Env | undefined;
afterEach(async () => {
  await cleanup(env);
  env = undefined;
});

describe('policy semantics on the real kernel', () => {
  it('enforces the original config unchanged (only testuser reaches the metadata service; all else denied)', async () => {
    env = await setup();
    const seed = readFileSync(join(packageRoot(), 'conf/net-tc-filter.yml'), 'utf8').replace(/eth0/g, 'ntf0');
    const e = await env.run(seed);
    expect(http(env, ALICE, IMDS4)).toMatchObject({ ok: true, status: 200 }); // alice is "testuser"'s uid
    expect(http(env, BOB, IMDS4)).toMatchObject({ ok: false });
    // default deny: other destinations are cut for everyone not listed, listed users included
    expect(udp(env, ALICE, '192.0.2.1')).toMatchObject({ sent: 3, received: 0 });
    expect(udp(env, ALICE, '169.254.169.254')).toMatchObject({ sent: 3, received: 3 });
    const lines = await stop(e);
    const drops = decisions(lines, (d) => d.verdict === 'drop' && d.uid === BOB);
    expect(drops.length).toBeGreaterThan(0);
    expect(drops[0]).toMatchObject({
      iface: 'ntf0',
      user: 'bob',
      proto: 'tcp',
      dst: '169.254.169.254',
      dport: 80,
      reason: 'not-listed',
      endpoint: null,
    });
    const allowed = decisions(lines, (d) => d.verdict === 'allow' && d.uid === ALICE && d.proto === 'tcp');
    expect(allowed[0]).toMatchObject({ endpoint: 'imdsv2', reason: 'endpoint', dst: '169.254.169.254' });
  });

  it('guards IPv4 and IPv6 alike', async () => {
    env = await setup();
    await env.run(`endpoints:
  - imds:
      iface: [ntf0]
      range: [169.254.169.254/32, fd00:ec2::254/128]
      allow: [alice]
interfaces:
  ntf0: { default: allow }
`);
    expect(http(env, ALICE, IMDS6)).toMatchObject({ ok: true });
    expect(http(env, BOB, IMDS6)).toMatchObject({ ok: false });
    expect(udp(env, BOB, 'fd00:ec2::254')).toMatchObject({ received: 0 });
    expect(udp(env, BOB, '2001:db8:1::1')).toMatchObject({ received: 3 }); // unguarded, default allow
    expect(udp(env, BOB, '192.0.2.1')).toMatchObject({ received: 3 });
  });

  it('combines overlapping endpoints as a union', async () => {
    env = await setup();
    await env.run(`endpoints:
  - wide:
      iface: [ntf0]
      range: [192.0.2.0/24]
      allow: [alice]
  - narrow:
      iface: [ntf0]
      range: [192.0.2.1/32]
      allow: [bob]
interfaces:
  ntf0: { default: allow }
`);
    // 192.0.2.1 is covered by both: alice (wide) and bob (narrow) may both reach it
    expect(udp(env, ALICE, '192.0.2.1')).toMatchObject({ received: 3 });
    expect(udp(env, BOB, '192.0.2.1')).toMatchObject({ received: 3 });
    expect(udp(env, CAROL, '192.0.2.1')).toMatchObject({ received: 0 });
  });

  it('scopes endpoints to their interfaces', async () => {
    env = await setup(2);
    await env.run(`endpoints:
  - a:
      iface: [ntf0]
      range: [192.0.2.0/24]
      allow: [alice]
  - b:
      iface: [ntf1]
      range: [203.0.113.0/24]
      allow: [bob]
`);
    expect(udp(env, ALICE, '192.0.2.1')).toMatchObject({ received: 3 });
    expect(udp(env, BOB, '192.0.2.1')).toMatchObject({ received: 0 });
    expect(udp(env, BOB, '203.0.113.1')).toMatchObject({ received: 3 });
    expect(udp(env, ALICE, '203.0.113.1')).toMatchObject({ received: 0 });
  });

  it('applies default allow and default deny to unguarded destinations', async () => {
    env = await setup(2);
    await env.run(`endpoints:
  - a:
      iface: [ntf0, ntf1]
      range: [192.0.2.1/32]
      allow: [alice]
interfaces:
  ntf1: { default: allow }
`);
    expect(udp(env, BOB, '198.51.100.1')).toMatchObject({ received: 0 }); // ntf0: deny
    expect(udp(env, BOB, '203.0.113.1')).toMatchObject({ received: 3 }); // ntf1: allow
    expect(udp(env, BOB, '192.0.2.1')).toMatchObject({ received: 0 }); // guarded either way
  });

  it('keeps IPv6 neighbour discovery working under deny with essentials, and not without', async () => {
    env = await setup();
    const policy = (essentials: boolean) => `endpoints:
  - v6:
      iface: [ntf0]
      range: [2001:db8:1::1/128]
      allow: [alice]
interfaces:
  ntf0: { default: deny, essentials: ${essentials} }
`;
    let e = await env.run(policy(true));
    env.sb.execClient(['ip', '-6', 'neigh', 'flush', 'dev', 'ntf0']);
    expect(udp(env, ALICE, '2001:db8:1::1')).toMatchObject({ received: 3 });
    const lines = await stop(e);
    expect(decisions(lines, (d) => d.reason === 'essential' && d.proto === 'icmpv6').length).toBeGreaterThan(
      0,
    );

    e = await env.run(policy(false));
    env.sb.execClient(['ip', '-6', 'neigh', 'flush', 'dev', 'ntf0']);
    expect(udp(env, ALICE, '2001:db8:1::1')).toMatchObject({ received: 0 }); // solicitations (uid 0) dropped
    const lines2 = await stop(e);
    expect(
      decisions(lines2, (d) => d.proto === 'icmpv6' && d.verdict === 'drop' && d.uid === 0).length,
    ).toBeGreaterThan(0);
  });

  it('supports "*" and @group (primary and supplementary members)', async () => {
    env = await setup();
    await env.run(`endpoints:
  - anyone:
      iface: [ntf0]
      range: [192.0.2.1/32]
      allow: ["*"]
  - ops:
      iface: [ntf0]
      range: [198.51.100.1/32]
      allow: ["@ops"]
`);
    expect(udp(env, BOB, '192.0.2.1')).toMatchObject({ received: 3 });
    expect(udp(env, NOBODY, '192.0.2.1')).toMatchObject({ received: 3 });
    expect(udp(env, CAROL, '198.51.100.1')).toMatchObject({ received: 3 }); // primary group ops
    expect(udp(env, DAVE, '198.51.100.1')).toMatchObject({ received: 3 }); // listed member of ops
    expect(udp(env, BOB, '198.51.100.1')).toMatchObject({ received: 0 });
  });

  it('tells a real uid 65534 apart from packets without a socket (forwarded)', async () => {
    env = await setup();
    env.sb.addLan();
    const e = await env.run(`endpoints:
  - nobody-may:
      iface: [ntf0]
      range: [192.0.2.1/32]
      allow: ["${NOBODY}"]
interfaces:
  ntf0: { default: deny, unowned: deny }
`);
    expect(udp(env, NOBODY, '192.0.2.1')).toMatchObject({ received: 3 });
    expect(env.sb.probeLan(['udp', '192.0.2.1', '7', '3', '400'])).toMatchObject({ sent: 3, received: 0 });
    // Forwarded DHCP-looking traffic (a routed container's root can bind port 68) does not
    // borrow the essentials exemption.
    env.sb.probeLan(['udp', '192.0.2.1', '67', '2', '200', '0', '68']);
    const lines = await stop(e);
    const dhcp = decisions(lines, (d) => d.src === '198.18.0.2' && d.sport === 68);
    expect(dhcp).toHaveLength(2);
    for (const d of dhcp) expect(d).toMatchObject({ uid: null, verdict: 'drop', reason: 'unowned-deny' });
    const fwd = decisions(lines, (d) => d.src === '198.18.0.2' && d.dport === 7);
    expect(fwd.length).toBeGreaterThanOrEqual(3);
    for (const d of fwd)
      expect(d).toMatchObject({ uid: null, user: '(unowned)', verdict: 'drop', reason: 'unowned-deny' });
    const own = decisions(lines, (d) => d.uid === NOBODY && d.dst === '192.0.2.1');
    expect(own[0]).toMatchObject({ user: 'nobody', verdict: 'allow', endpoint: 'nobody-may' });

    await env.run(`endpoints:
  - nobody-may:
      iface: [ntf0]
      range: [192.0.2.1/32]
      allow: ["${NOBODY}"]
interfaces:
  ntf0: { default: deny, unowned: allow }
`);
    expect(env.sb.probeLan(['udp', '192.0.2.1', '7', '3', '400'])).toMatchObject({ sent: 3, received: 3 });
  });
});

describe('link layers', () => {
  it('reads headers right on a device without a link-layer header (tun), IPv4 and IPv6', async () => {
    env = await setup();
    // A tun device with no reader: packets still pass the egress hook before being discarded.
    env.sb.execClient(['ip', 'tuntap', 'add', 'dev', 'ntft0', 'mode', 'tun']);
    env.sb.execClient(['ip', 'addr', 'add', '198.18.1.1/24', 'dev', 'ntft0']);
    env.sb.execClient(['ip', 'addr', 'add', '2001:db8:9::1/64', 'dev', 'ntft0', 'nodad']);
    env.sb.execClient(['ip', 'link', 'set', 'ntft0', 'up']);
    const e = await env.run(`endpoints:
  - tunnel:
      iface: [ntft0]
      range: [198.18.1.2/32, 2001:db8:9::2/128]
      allow: [alice]
logging:
  allowed: all
`);
    udp(env, ALICE, '198.18.1.2', 2);
    udp(env, BOB, '198.18.1.2', 2);
    udp(env, ALICE, '2001:db8:9::2', 2);
    udp(env, BOB, '2001:db8:9::2', 2);
    const lines = await stop(e);
    const on = (uid: number, dst: string) =>
      decisions(lines, (d) => d.uid === uid && d.dst === dst && d.proto === 'udp');
    expect(on(ALICE, '198.18.1.2')).toHaveLength(2);
    expect(on(ALICE, '198.18.1.2')[0]).toMatchObject({
      iface: 'ntft0',
      dport: 7,
      verdict: 'allow',
      src: '198.18.1.1',
    });
    expect(on(BOB, '198.18.1.2').map((d) => d.verdict)).toEqual(['drop', 'drop']);
    expect(on(ALICE, '2001:db8:9::2')[0]).toMatchObject({ dport: 7, verdict: 'allow', src: '2001:db8:9::1' });
    expect(on(BOB, '2001:db8:9::2').map((d) => d.verdict)).toEqual(['drop', 'drop']);
  });
});

describe('reporting', () => {
  it("samples allowed decisions (a flow's first packet, then one a second at most); first and last seen span the traffic", async () => {
    env = await setup();
    const e = await env.run(`endpoints:
  - one:
      iface: [ntf0]
      range: [192.0.2.1/32]
      allow: [alice]
interfaces:
  ntf0: { default: allow }
logging:
  allowed: sample
`);
    const t0 = Date.now();
    expect(udp(env, ALICE, '192.0.2.1', 20)).toEqual({ sent: 20, received: 20 });
    await new Promise((r) => setTimeout(r, 1300));
    expect(udp(env, ALICE, '192.0.2.1', 20)).toEqual({ sent: 20, received: 20 });
    const t1 = Date.now();
    const status = JSON.parse(env.cli(['status', '--json', '--flows', '--pin-dir', env.pinDir]).stdout) as {
      flows: Array<{ uid: number; dst: string; allowedPackets: number; firstSeen: number; lastSeen: number }>;
    };
    const lines = await stop(e);
    // Two bursts 1.3 s apart: the first packet of each is reported, the other 38 are not.
    expect(
      decisions(lines, (d) => d.uid === ALICE && d.dst === '192.0.2.1' && d.verdict === 'allow'),
    ).toHaveLength(2);
    const flow = status.flows.find((f) => f.uid === ALICE && f.dst === '192.0.2.1');
    expect(flow?.allowedPackets).toBe(40);
    // The coarse clock lags the precise one by up to a tick (a few ms); the wall clock conversion
    // by as much again.
    expect(Number(flow?.firstSeen)).toBeGreaterThanOrEqual(t0 - 50);
    expect(Number(flow?.lastSeen)).toBeGreaterThanOrEqual(Number(flow?.firstSeen) + 1300 - 50);
    expect(Number(flow?.lastSeen)).toBeLessThanOrEqual(t1 + 50);
  });

  it('reports exactly the packets sent: events, flow and global counters agree with the traffic', async () => {
    env = await setup();
    const e = await env.run(`endpoints:
  - one:
      iface: [ntf0]
      range: [192.0.2.1/32]
      allow: [alice]
interfaces:
  ntf0: { default: allow }
logging:
  allowed: all
`);
    const before = await env.sb.peerCounts();
    const a = udp(env, ALICE, '192.0.2.1', 40);
    const b = udp(env, BOB, '192.0.2.1', 25);
    expect(a).toEqual({ sent: 40, received: 40 });
    expect(b).toEqual({ sent: 25, received: 0 });
    const after = await env.sb.peerCounts();
    expect(after.udpDatagrams - before.udpDatagrams).toBe(40);
    const lines = await stop(e);
    const udpTo = (uid: number, verdict: string) =>
      decisions(
        lines,
        (d) => d.uid === uid && d.proto === 'udp' && d.dst === '192.0.2.1' && d.verdict === verdict,
      );
    expect(udpTo(ALICE, 'allow')).toHaveLength(40);
    expect(udpTo(BOB, 'drop')).toHaveLength(25);
    const stats = lines.filter((l) => l.type === 'stats').pop();
    expect(stats).toMatchObject({ dropped: 25, lost: 0 });
    const status = JSON.parse(env.cli(['status', '--json', '--flows', '--pin-dir', env.pinDir]).stdout) as {
      counters: Record<string, string>;
      flows: Array<Record<string, unknown>>;
    };
    expect(Number(status.counters.dropped_packets)).toBe(25);
    const flow = (uid: number) =>
      status.flows.filter((f) => f.uid === uid && f.proto === 'udp' && f.dst === '192.0.2.1');
    expect(flow(ALICE)).toEqual([
      expect.objectContaining({
        iface: 'ntf0',
        dport: 7,
        allowedPackets: 40,
        droppedPackets: 0,
        verdict: 'allow',
      }),
    ]);
    expect(flow(BOB)).toEqual([
      expect.objectContaining({
        dport: 7,
        allowedPackets: 0,
        droppedPackets: 25,
        verdict: 'drop',
        reason: 'not-listed',
      }),
    ]);
    // bytes are the frame as tc sees it: Ethernet + IPv4 + UDP headers + the 16-byte payload
    expect(flow(ALICE)[0]?.allowedBytes).toBe(40 * (14 + 20 + 8 + 16));
  });

  it('counts lost events when a tiny ring buffer overflows under a flood', async () => {
    env = await setup();
    const e = await env.run(
      `endpoints:
  - one:
      iface: [ntf0]
      range: [192.0.2.1/32]
      allow: [alice]
interfaces:
  ntf0: { default: allow }
`,
      ['--ring-bytes', '4096'],
    );
    const n = 20_000;
    expect(env.sb.probe(BOB, ['flood', '192.0.2.1', '7', String(n)], 60_000)).toEqual({ sent: n });
    const lines = await stop(e);
    const stats = lines.filter((l) => l.type === 'stats').pop() as {
      dropped: number;
      lost: number;
      suppressed: Record<string, number>;
    };
    const reported = decisions(lines, (d) => d.uid === BOB && d.verdict === 'drop').length;
    expect(stats.dropped).toBe(n);
    expect(stats.lost).toBeGreaterThan(0);
    // Every drop is reported, counted as lost (ring full) or as over bob's event budget.
    expect(reported + stats.lost + (stats.suppressed.bob ?? 0)).toBe(n);
  });
});

describe('lifecycle', () => {
  it('applies atomically: 200 alternating applies under traffic, zero wrong verdicts', async () => {
    env = await setup();
    // Both policies mean the same for alice and bob towards 192.0.2.1, through different
    // entries, and differ in 1,500 unrelated ranges each, so that any update that is not
    // atomic leaves a window of thousands of map operations in which 192.0.2.1 is unguarded
    // (bob let through by default allow) or guarded without alice's set (alice cut off).
    const filler = (second: number) =>
      Array.from({ length: 1500 }, (_, i) => `10.${second}.${i >> 8}.${i & 255}/32`).join(', ');
    const A = `endpoints:
  - wide:
      iface: [ntf0]
      range: [192.0.2.0/24, ${filler(1)}]
      allow: [alice]
interfaces:
  ntf0: { default: allow }
logging:
  allowed: all
`;
    const B = `endpoints:
  - host:
      iface: [ntf0]
      range: [192.0.2.1/32, 198.51.100.0/24, ${filler(2)}]
      allow: [alice, carol]
  - other:
      iface: [ntf0]
      range: [192.0.2.0/25]
      allow: [dave]
interfaces:
  ntf0: { default: allow, essentials: false }
logging:
  allowed: all
`;
    const config = env.sb.writeFile('live.yml', A);
    // Every decision reported (no per-user event budget): the test counts them.
    const live = await env.runFile(config, ['--events-per-user', '0']);
    // Paced so that no socket buffer overflows: every loss would be the filter's.
    const count = 8000;
    const traffic = Promise.all([
      env.sb.probeAsync(ALICE, ['udp', '192.0.2.1', '7', String(count), '1000', '2']),
      env.sb.probeAsync(BOB, ['udp', '192.0.2.1', '7', String(count), '1000', '2']),
    ]);
    let applies = 0;
    for (let i = 0; i < 200; i++) {
      writeFileSync(config, i % 2 === 0 ? B : A);
      const from = live.lines.length;
      live.signal('SIGHUP');
      await live.waitFor((l) => l.type === 'applied' || l.type === 'reload-failed', 10_000, from);
      applies++;
    }
    const [a, b] = (await traffic) as unknown as Array<{ sent: number; received: number }>;
    expect(applies).toBe(200);
    expect(live.ofType('reload-failed')).toHaveLength(0);
    expect(a).toEqual({ sent: count, received: count });
    expect(b).toEqual({ sent: count, received: 0 });
    const lines = await stop(live);
    // Every packet was reported (allowed: all), each with the right verdict.
    expect(
      decisions(lines, (d) => d.uid === BOB && d.dst === '192.0.2.1' && d.verdict === 'drop'),
    ).toHaveLength(count);
    expect(
      decisions(lines, (d) => d.uid === ALICE && d.dst === '192.0.2.1' && d.verdict === 'allow'),
    ).toHaveLength(count);
    expect(decisions(lines, (d) => d.uid === BOB && d.verdict === 'allow')).toHaveLength(0);
    expect(
      decisions(lines, (d) => d.uid === ALICE && d.dst === '192.0.2.1' && d.verdict === 'drop'),
    ).toHaveLength(0);
  });

  it('keeps enforcing after kill -9, adopts the pinned state on restart, and unload leaves nothing', async () => {
    env = await setup();
    const policy = SIMPLE;
    const first = await env.run(policy);
    const progId = (first.ofType('ready')[0] as { programId: number }).programId;
    first.signal('SIGKILL');
    await first.exited;
    // Nobody runs now: the kernel keeps enforcing from the pinned program and maps.
    expect(http(env, BOB, IMDS4)).toMatchObject({ ok: false });
    expect(http(env, ALICE, IMDS4)).toMatchObject({ ok: true });
    const st = JSON.parse(env.cli(['status', '--json', '--pin-dir', env.pinDir]).stdout) as {
      loaded: boolean;
      programId: number;
      owner?: unknown;
      interfaces: Array<{ name: string; attached: boolean; guardOnly: boolean }>;
    };
    expect(st).toMatchObject({ loaded: true, programId: progId });
    expect(st.owner).toBeUndefined();
    // ntf0 has the policy's settings; lo, which no endpoint names, is guarded too.
    expect(st.interfaces.filter((i) => !i.guardOnly)).toEqual([
      expect.objectContaining({ name: 'ntf0', attached: true }),
    ]);
    expect(st.interfaces.filter((i) => i.guardOnly)).toEqual([
      expect.objectContaining({ name: 'lo', attached: true }),
    ]);

    // Restart: adopts (replaces the program in place) and keeps the policy meanwhile.
    const second = await env.run(policy);
    expect(second.ofType('ready')[0]).toMatchObject({ adopted: true });
    // A second instance is refused while the first owns the state, and says who owns it.
    const third = env.cli(['unload', '--pin-dir', env.pinDir]);
    expect(third.code).toBe(3);
    expect(third.stderr).toMatch(/owned by another instance: pid \d+/);
    expect(http(env, BOB, IMDS4)).toMatchObject({ ok: false });
    await stop(second);

    const un = env.cli(['unload', '--pin-dir', env.pinDir]);
    expect(un.code).toBe(0);
    expect(env.sb.execClient(['tc', 'filter', 'show', 'dev', 'ntf0', 'egress']).trim()).toBe('');
    expect(env.sb.execClient(['tc', 'qdisc', 'show', 'dev', 'ntf0'])).not.toMatch(/clsact/);
    expect(env.cli(['status', '--pin-dir', env.pinDir]).code).toBe(3);
    expect(http(env, BOB, IMDS4)).toMatchObject({ ok: true });
  });

  it('adopts pins made before the settings array: the settings are copied before its program replaces the old', async () => {
    env = await setup();
    const first = await env.run(SIMPLE);
    const progId = (first.ofType('ready')[0] as { programId: number }).programId;
    first.signal('SIGKILL');
    await first.exited;
    // What a version without ntf_ifslots leaves: the same pins but that one, and settings whose
    // `present` byte was padding (0).
    rmSync(join(env.pinDir, 'ntf_ifslots'));
    const ifaces = BpfMap.fromPin(join(env.pinDir, 'ntf_ifaces'));
    try {
      for (const [k, v] of ifaces.entries()) {
        v[LAYOUTS.ifaceCfg.fields.present.offset] = 0;
        ifaces.update(k, v);
      }
    } finally {
      ifaces.close();
    }
    // confirm (no trial pending) opens the engine, which adopts the pins and replaces the program.
    env.cli(['confirm', '--pin-dir', env.pinDir]);
    const st = JSON.parse(env.cli(['status', '--json', '--pin-dir', env.pinDir]).stdout) as {
      programId: number;
    };
    expect(st.programId).not.toBe(progId);
    expect(existsSync(join(env.pinDir, 'ntf_ifslots'))).toBe(true);
    expect(http(env, BOB, IMDS4)).toMatchObject({ ok: false });
    expect(http(env, ALICE, IMDS4)).toMatchObject({ ok: true });
  });

  it('refuses to take over an interface another instance (another pin dir) filters', async () => {
    env = await setup();
    const policy = SIMPLE;
    const first = await env.run(policy);
    const other = `${env.pinDir}-other`;
    const second = env.cli(['run', '--config', env.config(policy), '--log', 'json', '--pin-dir', other]);
    try {
      expect(second.code).toBe(2);
      expect(second.stderr).toMatch(/ntf0: a filter of another net-tc-filter instance .* not replacing it/);
      expect(http(env, BOB, IMDS4)).toMatchObject({ ok: false }); // the first keeps enforcing
      expect(first.proc.exitCode).toBeNull();
      expect(pinsLeft(other.replace('/sys/fs/bpf/', ''))).toEqual([]); // the failed instance left nothing
    } finally {
      env.cli(['unload', '--pin-dir', other]);
      rmSync(stateDirFor(other), { recursive: true, force: true });
    }
  });

  it('refuses an interface whose ingress slot holds a plain ingress qdisc (an egress filter would not see egress)', async () => {
    env = await setup();
    env.sb.execClient(['tc', 'qdisc', 'add', 'dev', 'ntf0', 'ingress']);
    const r = env.cli(['run', '--config', env.config(SIMPLE), '--log', 'json', '--pin-dir', env.pinDir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/ntf0: a 'ingress' qdisc holds the ingress\/clsact slot/);
    expect(env.sb.execClient(['tc', 'filter', 'show', 'dev', 'ntf0', 'ingress']).trim()).toBe('');
    expect(pinsLeft(env.pinDir.replace('/sys/fs/bpf/', ''))).toEqual([]);
  });

  it('unload finds its filter by interface index after the interface was renamed', async () => {
    env = await setup();
    const e = await env.run(SIMPLE);
    await stop(e);
    env.sb.execClient(['ip', 'link', 'set', 'ntf0', 'down']);
    env.sb.execClient(['ip', 'link', 'set', 'ntf0', 'name', 'ntfren']);
    env.sb.execClient(['ip', 'link', 'set', 'ntfren', 'up']);
    const st = JSON.parse(env.cli(['status', '--json', '--pin-dir', env.pinDir]).stdout) as {
      interfaces: Array<{ name: string; attached: boolean; guardOnly: boolean }>;
    };
    expect(st.interfaces.filter((i) => !i.guardOnly)).toEqual([
      expect.objectContaining({ name: 'ntfren', attached: true }),
    ]);
    expect(env.cli(['unload', '--pin-dir', env.pinDir]).stdout).toMatch(/detached from (.*, )?ntfren/);
    expect(env.sb.execClient(['tc', 'filter', 'show', 'dev', 'ntfren', 'egress']).trim()).toBe('');
  });

  it('unload run in another network namespace touches nothing there and refuses, and works where the filter is', async () => {
    env = await setup();
    await stop(await env.run(SIMPLE));
    // The attachment records name interfaces by index; in the host's namespace those indexes
    // are other interfaces (lo is index 1 everywhere, with no filter of ours).
    const host = spawnSync(process.execPath, [cliPath(), 'unload', '--pin-dir', env.pinDir], {
      encoding: 'utf8',
    });
    expect(host.status).toBe(2);
    expect(host.stderr).toMatch(
      /none of the interfaces it attached to is here .*run unload in the network namespace/,
    );
    expect(pinsLeft(env.pinDir.replace('/sys/fs/bpf/', ''))).toHaveLength(1); // the pins stay
    expect(env.sb.execClient(['tc', 'filter', 'show', 'dev', 'ntf0', 'egress'])).toMatch(/handle 0x4e54/);
    const here = env.cli(['unload', '--pin-dir', env.pinDir]);
    expect(here.code).toBe(0);
    expect(env.sb.execClient(['tc', 'filter', 'show', 'dev', 'ntf0', 'egress']).trim()).toBe('');
    // When the namespace is gone, --force removes the pins and detaches nothing.
    await stop(await env.run(SIMPLE));
    const forced = spawnSync(process.execPath, [cliPath(), 'unload', '--force', '--pin-dir', env.pinDir], {
      encoding: 'utf8',
    });
    expect(forced.status, forced.stderr).toBe(0);
    expect(forced.stdout).toMatch(
      new RegExp(`removed ${PIN_NAMES.length} pins .*detached from no interface`),
    );
    expect(pinsLeft(env.pinDir.replace('/sys/fs/bpf/', ''))).toEqual([]);
  });

  it('keeps the old policy when SIGHUP brings a bad file, and reports why', async () => {
    env = await setup();
    const good = SIMPLE;
    const config = env.sb.writeFile('live.yml', good);
    const e = await env.runFile(config);
    const ready = e.ofType('ready')[0] as { epoch: number };
    writeFileSync(config, good.replace('169.254.169.254/32', '169.254.169.300/32'));
    e.signal('SIGHUP');
    const failed = (await e.waitFor((l) => l.type === 'reload-failed')) as {
      errors: Array<{ line: number; message: string }>;
    };
    expect(failed.errors[0]).toMatchObject({ line: 4 });
    expect(http(env, BOB, IMDS4)).toMatchObject({ ok: false });
    expect(http(env, ALICE, IMDS4)).toMatchObject({ ok: true });
    const st = JSON.parse(env.cli(['status', '--json', '--pin-dir', env.pinDir]).stdout) as { epoch: number };
    expect(st.epoch).toBe(ready.epoch);
    await stop(e);
  });

  it('re-attaches when an interface is removed and created again', async () => {
    env = await setup();
    const e = await env.run(`endpoints:
  - imds:
      iface: [ntf0]
      range: [192.0.2.1/32]
      allow: [alice]
interfaces:
  ntf0: { default: allow }
`);
    expect(udp(env, BOB, '192.0.2.1')).toMatchObject({ received: 0 });
    env.sb.recreateLink(0);
    const from = e.lines.length;
    await e.waitFor((l) => l.type === 'applied', 10_000, from);
    expect(udp(env, BOB, '192.0.2.1')).toMatchObject({ received: 0 });
    expect(udp(env, ALICE, '192.0.2.1')).toMatchObject({ received: 3 });
  });

  it('enforces on interfaces whose ifindex lies beyond the settings array (settings from the hash)', async () => {
    env = await setup(2);
    // ntf0 named by the policy, ntf1 by none (the settings of ifindex 0, from the array).
    env.sb.recreateLink(0, NTF.IFACE_SLOTS + 7);
    env.sb.recreateLink(1, NTF.IFACE_SLOTS * 3);
    const e = await env.run(`endpoints:
  - doc:
      iface: [ntf0]
      range: [192.0.2.1/32]
      allow: [alice]
  - elsewhere:
      iface: [ntf0]
      range: [203.0.113.1/32]
      allow: [alice]
interfaces:
  ntf0: { default: deny }
`);
    expect(udp(env, ALICE, '192.0.2.1')).toMatchObject({ received: 3 });
    expect(udp(env, BOB, '192.0.2.1')).toMatchObject({ received: 0 });
    expect(udp(env, ALICE, '198.51.100.1')).toMatchObject({ received: 0 }); // default deny
    expect(udp(env, ALICE, '203.0.113.1')).toMatchObject({ received: 0 }); // guarded, not on ntf1
    expect(udp(env, ALICE, '2001:db8:3::1')).toMatchObject({ received: 3 }); // unguarded on ntf1
    const lines = await stop(e);
    expect(decisions(lines, (d) => d.dst === '198.51.100.1')[0]).toMatchObject({
      iface: 'ntf0',
      verdict: 'drop',
      reason: 'default-deny',
    });
    expect(decisions(lines, (d) => d.dst === '203.0.113.1')[0]).toMatchObject({
      iface: 'ntf1',
      verdict: 'drop',
      reason: 'iface-not-listed',
    });
  });
});
