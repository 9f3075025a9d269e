// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest), as root. Each test performs an attack an unprivileged user could
// make on the filter and checks that it no longer works; where the attack needs a path that
// exists without the filter, a control first shows that path works.
import { afterEach, describe, expect, it } from 'vitest';
import { ALICE, BOB, cleanup, decisions, setup, stop } from './harness.js';
import type { Env } from './harness.js';
import { addLateLink, filtered, flood, sockprobe, sysctl, upLateLink, waitUntil } from './attacks.js';

let env: Env | undefined;
afterEach(async () => {
  await cleanup(env);
  env = undefined;
});

const IMDS_VIA_NTF0 = `endpoints:
  - imds:
      iface: [ntf0]
      range: [169.254.169.254/32, fd00:ec2::254/128]
      allow: [alice]
interfaces:
  ntf0: { default: allow }
`;

describe('the second network card (SO_BINDTODEVICE)', () => {
  it('guards a range on every interface, including one that appears later; unguarded traffic there passes', async () => {
    env = await setup(2);
    // IPv6 reaches the metadata address through ntf1 once ntf1 has a default route.
    env.sb.execClient(['ip', '-6', 'route', 'add', 'default', 'via', '2001:db8:3::1', 'dev', 'ntf1']);
    // Control: without the filter, the denied user reaches the service through the other card.
    expect(sockprobe(env, BOB, ['-d', 'ntf1', '169.254.169.254', '7'])).toMatchObject({ received: 3 });
    expect(sockprobe(env, BOB, ['-d', 'ntf1', 'fd00:ec2::254', '7'])).toMatchObject({ received: 3 });

    const e = await env.run(IMDS_VIA_NTF0);
    expect(sockprobe(env, BOB, ['-d', 'ntf1', '169.254.169.254', '7'])).toMatchObject({ received: 0 });
    expect(sockprobe(env, BOB, ['-d', 'ntf1', 'fd00:ec2::254', '7'])).toMatchObject({ received: 0 });
    // The endpoint's iface says through which interfaces its users may reach it: not ntf1.
    expect(sockprobe(env, ALICE, ['-d', 'ntf1', '169.254.169.254', '7'])).toMatchObject({ received: 0 });
    expect(sockprobe(env, ALICE, ['169.254.169.254', '7'])).toMatchObject({ received: 3 });
    // Everything else on an interface no endpoint names passes untouched.
    expect(sockprobe(env, BOB, ['203.0.113.1', '7'])).toMatchObject({ received: 3 });
    expect(sockprobe(env, BOB, ['2001:db8:3::1', '7'])).toMatchObject({ received: 3 });

    // An interface that appears later is guarded as soon as the kernel reports it (its netlink
    // link event), before it is even up: the attach needs no apply, the ifindex-0 settings
    // already cover it. Only then is it brought up for bob, who waits bound to its name.
    const from = e.lines.length;
    addLateLink(env, 'ntf2', { up: false });
    const guarding = await e.waitFor((l) => l.type === 'guarding', 5000, from);
    expect(guarding).toMatchObject({ interfaces: ['ntf2'] });
    expect(filtered(env, 'ntf2')).toBe(true);
    expect(e.lines.slice(from).filter((l) => l.type === 'applied')).toEqual([]); // no apply needed
    upLateLink(env, 'ntf2');
    expect(sockprobe(env, BOB, ['-d', 'ntf2', '169.254.169.254', '7'])).toMatchObject({ received: 0 });

    const lines = await stop(e);
    const onOther = decisions(
      lines,
      (d) => d.uid === BOB && d.verdict === 'drop' && d.reason === 'iface-not-listed',
    );
    expect(new Set(onOther.map((d) => `${d.iface as string} ${d.dst as string}`))).toEqual(
      new Set(['ntf1 169.254.169.254', 'ntf1 fd00:ec2::254', 'ntf2 169.254.169.254']),
    );
    // What passes untouched on ntf1 is not even reported.
    expect(decisions(lines, (d) => d.iface === 'ntf1' && d.dst === '203.0.113.1')).toEqual([]);
  });
});

describe('the DHCP exemption', () => {
  const DENY = `endpoints:
  - imds:
      iface: [ntf0]
      range: [169.254.169.254/32, fd00:ec2::254/128]
      allow: [alice]
`;

  it('is no tunnel when unprivileged users may bind the DHCP client ports', async () => {
    env = await setup();
    sysctl(env.sb.client, 'net.ipv4.ip_unprivileged_port_start=0');
    // Control: the denied user binds 68/546 and is answered from port 67/547 anywhere.
    expect(sockprobe(env, BOB, ['-s', '68', '192.0.2.1', '67'])).toMatchObject({ received: 3 });
    expect(sockprobe(env, BOB, ['-s', '546', 'fd00:ec2::254', '547'])).toMatchObject({ received: 3 });

    const e = await env.run(DENY);
    for (const [sport, host, port] of [
      ['68', '192.0.2.1', '67'],
      ['68', '169.254.169.254', '67'],
      ['546', 'fd00:ec2::254', '547'],
      ['546', '2001:db8:1::1', '547'],
    ] as const) {
      expect(sockprobe(env, BOB, ['-s', sport, host, port]), `${host}:${port}`).toMatchObject({
        received: 0,
      });
    }
    // Said at apply: what the exemption then allows.
    expect(
      e.lines.some((l) => l.type === 'warning' && /ip_unprivileged_port_start/.test(String(l.message))),
    ).toBe(true);
    // What a DHCP client sends in every state but renewal still passes: the limited broadcast and
    // All_DHCP_Relay_Agents_and_Servers.
    sockprobe(env, BOB, ['-s', '68', '-b', '-d', 'ntf0', '-w', '100', '255.255.255.255', '67']);
    sockprobe(env, BOB, ['-s', '546', '-d', 'ntf0', '-w', '100', 'ff02::1:2', '547']);

    // Back to the default (ports below 1024 need privilege): unicast renewals are exempt again,
    // picked up without a reload; a guarded range never is, whoever sends.
    sysctl(env.sb.client, 'net.ipv4.ip_unprivileged_port_start=1024');
    expect(
      await waitUntil(
        () => sockprobe(env as Env, 0, ['-s', '68', '-w', '200', '192.0.2.1', '67']).received > 0,
        5000,
      ),
    ).toBe(true);
    expect(sockprobe(env, 0, ['-s', '68', '169.254.169.254', '67'])).toMatchObject({ received: 0 });
    expect(sockprobe(env, 0, ['-s', '546', 'fd00:ec2::254', '547'])).toMatchObject({ received: 0 });

    const lines = await stop(e);
    const bob = decisions(lines, (d) => d.uid === BOB);
    const verdictOf = (dst: string) =>
      new Set(bob.filter((d) => d.dst === dst).map((d) => `${d.verdict as string}:${d.reason as string}`));
    expect(verdictOf('192.0.2.1')).toEqual(new Set(['drop:default-deny']));
    expect(verdictOf('169.254.169.254')).toEqual(new Set(['drop:not-listed']));
    expect(verdictOf('fd00:ec2::254')).toEqual(new Set(['drop:not-listed']));
    expect(verdictOf('255.255.255.255')).toEqual(new Set(['allow:essential']));
    expect(verdictOf('ff02::1:2')).toEqual(new Set(['allow:essential']));
    const root = decisions(lines, (d) => d.uid === 0 && d.dport === 67);
    expect(root.some((d) => d.dst === '192.0.2.1' && d.reason === 'essential')).toBe(true);
    expect(root.filter((d) => d.dst === '169.254.169.254').map((d) => d.reason)).toContain('not-listed');
  });
});

describe('an IPv6 routing header', () => {
  it('is judged by the guarded address it lists, with a real SRH processed by the far end', async () => {
    env = await setup();
    // The far end processes segment routing headers: 2001:db8:1::1 hands the packet on to the
    // next segment, fd00:ec2::254 (its own address).
    sysctl(env.sb.server, 'net.ipv6.conf.all.seg6_enabled=1');
    sysctl(env.sb.server, 'net.ipv6.conf.ntf0p.seg6_enabled=1');
    const viaSrh = ['-r', '2001:db8:1::1', 'fd00:ec2::254', '7'];
    // Control: without the filter, the segment routing header carries the packet to the service.
    expect(sockprobe(env, BOB, viaSrh)).toMatchObject({ received: 3 });

    const e = await env.run(IMDS_VIA_NTF0);
    expect(sockprobe(env, BOB, viaSrh)).toMatchObject({ received: 0 });
    expect(sockprobe(env, ALICE, viaSrh)).toMatchObject({ received: 3 });
    // A header listing more addresses than the program checks is refused, whoever sends it.
    const long = Array.from({ length: 9 }, () => '2001:db8:1::1').join(',');
    expect(sockprobe(env, ALICE, ['-r', long, '2001:db8:2::1', '7'])).toMatchObject({ received: 0 });

    const lines = await stop(e);
    const bob = decisions(lines, (d) => d.uid === BOB);
    expect(bob.length).toBeGreaterThan(0);
    // Logged as what the packet would reach, not as its first segment, and marked as such.
    expect(
      bob.every(
        (d) =>
          d.dst === 'fd00:ec2::254' && d.reason === 'not-listed' && d.verdict === 'drop' && d.routed === true,
      ),
    ).toBe(true);
    expect(decisions(lines, (d) => d.uid === ALICE && d.reason === 'routing-header').length).toBeGreaterThan(
      0,
    );
  });
});

describe('floods that hide other users', () => {
  it('reports at most a budget of events per sending user; the rest is counted per user', async () => {
    env = await setup();
    const e = await env.run(
      `endpoints:
  - imds:
      iface: [ntf0]
      range: [169.254.169.254/32]
      allow: [alice]
interfaces:
  ntf0: { default: allow }
`,
      ['--ring-bytes', '262144'],
    );
    const flood = env.sb.probeAsync(BOB, ['flood', '169.254.169.254', '7', '300000'], 60_000);
    await new Promise((r) => setTimeout(r, 1500)); // past bob's burst
    // One drop of another user during the flood.
    expect(sockprobe(env, 62003, ['-n', '1', '-w', '100', '169.254.169.254', '7'])).toMatchObject({
      received: 0,
    });
    expect(await flood).toMatchObject({ sent: 300000 });
    const lines = await stop(e);
    const stats = lines.filter((l) => l.type === 'stats').pop() as Record<string, unknown>;
    const bobReported = decisions(lines, (d) => d.uid === BOB).length;
    expect(decisions(lines, (d) => d.uid === 62003 && d.verdict === 'drop').length).toBe(1);
    expect(stats.lost).toBe(0);
    expect(stats.dropped).toBe(300001);
    // Every drop of bob's is reported or counted as suppressed for bob.
    const suppressed = stats.suppressed as Record<string, number>;
    expect(suppressed.bob).toBeGreaterThan(0);
    expect(bobReported + (suppressed.bob ?? 0)).toBe(300000);
  });

  it('counts the flow entries a churn of distinct ports evicts, and shows them', async () => {
    env = await setup();
    const e = await env.run(IMDS_VIA_NTF0);
    expect(sockprobe(env, ALICE, ['192.0.2.1', '7'])).toMatchObject({ received: 3 });
    // 100,000 distinct (destination, port) flows from bob: more than the 65,536-entry table holds.
    const dsts = env.sb.writeFile('dsts.txt', '192.0.2.1\n198.51.100.1\n');
    flood(env, BOB, ['-n', '100000', '-t', '30', '-p', '1024', '-P', '50000', '-a', dsts]);
    const st = JSON.parse(env.cli(['status', '--json', '--pin-dir', env.pinDir]).stdout) as {
      flowTable: { entries: number; capacity: number; evicted: number };
      counters: { flows_created: string };
    };
    expect(st.flowTable.capacity).toBe(65536);
    expect(Number(st.counters.flows_created)).toBeGreaterThan(65536);
    expect(st.flowTable.evicted).toBeGreaterThan(0);
    expect(st.flowTable.evicted).toBe(Number(st.counters.flows_created) - st.flowTable.entries);
    expect(env.cli(['status', '--pin-dir', env.pinDir]).stdout).toMatch(
      /flows: +\d+ of 65536 entries, \d+ evicted/,
    );
    const lines = await stop(e);
    const stats = lines.filter((l) => l.type === 'stats').pop() as Record<string, number>;
    expect(stats.flowsEvicted).toBeGreaterThan(0);
  });
});
