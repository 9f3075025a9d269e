// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest unit tests). No Electron import.
//
// Compilation to map entries: hand-written cases, a randomized comparison of the compiled entries
// (as the kernel would read them) against the policy's brute-force meaning, and the size promise
// (10,000 ranges shared by 100 users cost 10,000 trie entries per interface, one more copy for the
// interfaces no endpoint names, and one user set).
//
// A guarded range is guarded on every interface: each configured interface has an entry for every
// distinct prefix of every endpoint, and ifindex 0 (NTF.IFINDEX_ANY) holds them all once more for
// every other interface. Only endpoints naming an interface give it users; a prefix none of them
// covers has set id SET_NONE (dropped 'iface-not-listed').

import ipaddr from 'ipaddr.js';
import { describe, expect, it } from 'vitest';
import { compilePolicy, diffCompiled, stabilizeSetIds } from '../../../electron/policy/compile.js';
import { compiledEvaluate, referenceEvaluate } from '../../../electron/policy/evaluate.js';
import type { Decision, Packet } from '../../../electron/policy/evaluate.js';
import { LOG_ALLOWED_CODE, SET_NONE, UID_ANY } from '../../../electron/policy/types.js';
import { IFINDEX, Rng, UID_POOL, maskBytes, randomAddr, randomPolicy } from './random.js';
import type {
  CompiledPolicy,
  InterfaceSettings,
  Range,
  ResolvedEndpoint,
  ResolvedPolicy,
} from '../../../electron/policy/types.js';

// ---- builders ----

function bytesOf(addr: string): { family: 4 | 6; bytes: Uint8Array } {
  const a = ipaddr.parse(addr);
  return { family: a.kind() === 'ipv4' ? 4 : 6, bytes: Uint8Array.from(a.toByteArray()) };
}

/** "10.0.0.0/8" or a single address. Host bits are cleared, as the resolver does. */
function range(text: string): Range {
  const [addr, len] = text.includes('/') ? text.split('/') : [text, undefined];
  const { family, bytes } = bytesOf(addr as string);
  const prefix = len === undefined ? bytes.length * 8 : Number(len);
  return { family, addr: maskBytes(bytes, prefix), prefix, text };
}

function endpoint(
  id: number,
  name: string,
  ifaces: string[],
  ranges: string[],
  uids: number[],
  any = false,
): ResolvedEndpoint {
  return { id, name, ifaces, ranges: ranges.map(range), uids: [...uids].sort((a, b) => a - b), any };
}

function settings(s: Partial<InterfaceSettings> = {}): InterfaceSettings {
  return { default: 'deny', unowned: 'deny', essentials: true, mode: 'enforce', ...s };
}

function policy(
  endpoints: ResolvedEndpoint[],
  ifaceSettings: Record<string, Partial<InterfaceSettings>> = {},
): ResolvedPolicy {
  const interfaces = new Map<string, InterfaceSettings>();
  for (const e of endpoints) for (const i of e.ifaces) interfaces.set(i, settings(ifaceSettings[i]));
  for (const [i, s] of Object.entries(ifaceSettings)) interfaces.set(i, settings(s));
  return { endpoints, interfaces, logAllowed: 'sample' };
}

const ifindexOf = (name: string): number | undefined => IFINDEX[name];
/** An interface that exists on the system but that no policy here configures. */
const UNCONFIGURED_IFINDEX = 99;

/** A packet on `ifname`; a name not in IFINDEX (e.g. wlan0) is the unconfigured ifindex 99. */
function pkt(ifname: string, addr: string, uid: number | null): Packet {
  const { family, bytes } = bytesOf(addr);
  return { ifindex: IFINDEX[ifname] ?? UNCONFIGURED_IFINDEX, family, daddr: bytes, uid };
}

const ALICE = 1000;
const BOB = 1001;
const CAROL = 1002;

/** Compiles p, checks that both evaluators agree on the packet, and returns the decision. */
function verdict(p: ResolvedPolicy, packet: Packet): Decision {
  const { compiled } = compilePolicy(p, ifindexOf);
  const got = compiledEvaluate(compiled, packet);
  expect(got).toEqual(referenceEvaluate(p, ifindexOf, packet));
  return got;
}

const allow = (endpointId: number): Decision => ({ verdict: 'allow', reason: 'endpoint', endpointId });
const NOT_LISTED: Decision = { verdict: 'drop', reason: 'not-listed', endpointId: 0 };
const DEFAULT_DENY: Decision = { verdict: 'drop', reason: 'default-deny', endpointId: 0 };
const DEFAULT_ALLOW: Decision = { verdict: 'allow', reason: 'default-allow', endpointId: 0 };
const UNOWNED_DENY: Decision = { verdict: 'drop', reason: 'unowned-deny', endpointId: 0 };
const UNOWNED_ALLOW: Decision = { verdict: 'allow', reason: 'unowned-allow', endpointId: 0 };
const PASS: Decision = { verdict: 'pass', reason: 'not-configured', endpointId: 0 };
const IFACE_NOT_LISTED: Decision = { verdict: 'drop', reason: 'iface-not-listed', endpointId: 0 };

/** The real user sets the trie refers to (SET_NONE is not a set). */
function distinctSetIds(c: CompiledPolicy): Set<number> {
  return new Set(c.lpm.filter((e) => e.setId !== SET_NONE).map((e) => e.setId));
}

/** Trie entries as `ifindex|addr/prefix→setId`, in output order ('-' for SET_NONE). */
function lpmText(c: CompiledPolicy, ifindex?: number): string[] {
  return c.lpm
    .filter((e) => ifindex === undefined || e.ifindex === ifindex)
    .map((e) => {
      const a = e.family === 4 ? e.addr.join('.') : ipaddr.fromByteArray([...e.addr]).toString();
      return `${e.ifindex}|${a}/${e.prefix}→${e.setId === SET_NONE ? '-' : e.setId}`;
    });
}

/** The settings of ifindex 0 whenever the policy guards a range: pass unguarded, nobody guarded. */
const ANY_IFACE = (logAllowed: number, audit = false) => ({
  ifindex: 0,
  name: '',
  defaultAllow: true,
  unownedAllow: false,
  essentials: true,
  logAllowed,
  audit,
});

// ---- hand-written cases ----

describe('compilePolicy: hand-written cases', () => {
  it('compiles the seed policy (imdsv2 on eth0 for one user)', () => {
    const p = policy([endpoint(1, 'imdsv2', ['eth0'], ['169.254.169.254/32'], [ALICE])]);
    const { compiled, missingIfaces } = compilePolicy(p, ifindexOf);
    expect(missingIfaces).toEqual([]);
    expect(compiled.lpm).toEqual([
      { ifindex: 1, family: 4, prefix: 32, addr: Uint8Array.from([169, 254, 169, 254]), setId: 1 },
      // The same range for every other interface, reachable by nobody there.
      { ifindex: 0, family: 4, prefix: 32, addr: Uint8Array.from([169, 254, 169, 254]), setId: SET_NONE },
    ]);
    expect(compiled.sets).toEqual([{ setId: 1, uid: ALICE, cg: 0, endpointId: 1 }]);
    expect(compiled.ifaces).toEqual([
      {
        ifindex: 1,
        name: 'eth0',
        defaultAllow: false,
        unownedAllow: false,
        essentials: true,
        logAllowed: 1,
        audit: false,
      },
    ]);
    expect(compiled.anyIface).toEqual(ANY_IFACE(1));
    expect(compiled.endpointNames).toEqual(new Map([[1, 'imdsv2']]));

    expect(verdict(p, pkt('eth0', '169.254.169.254', ALICE))).toEqual(allow(1));
    expect(verdict(p, pkt('eth0', '169.254.169.254', BOB))).toEqual(NOT_LISTED);
    expect(verdict(p, pkt('eth0', '169.254.169.254', null))).toEqual(UNOWNED_DENY);
    expect(verdict(p, pkt('eth0', '1.1.1.1', ALICE))).toEqual(DEFAULT_DENY);
    expect(verdict(p, pkt('eth0', '1.1.1.1', null))).toEqual(UNOWNED_DENY);
    // eth1 is not configured: the guarded range is still guarded there, nothing else is touched.
    expect(verdict(p, pkt('eth1', '169.254.169.254', BOB))).toEqual(IFACE_NOT_LISTED);
    expect(verdict(p, pkt('eth1', '169.254.169.254', ALICE))).toEqual(IFACE_NOT_LISTED);
    expect(verdict(p, pkt('eth1', '169.254.169.254', null))).toEqual(UNOWNED_DENY);
    expect(verdict(p, pkt('eth1', '1.1.1.1', BOB))).toEqual(PASS);
    expect(verdict(p, pkt('eth1', '1.1.1.1', null))).toEqual(PASS);
  });

  it('unites overlapping endpoints at the longest prefix', () => {
    const p = policy([
      endpoint(1, 'wide', ['eth0'], ['10.0.0.0/8'], [ALICE]),
      endpoint(2, 'narrow', ['eth0'], ['10.1.0.0/16'], [BOB]),
    ]);
    const { compiled } = compilePolicy(p, ifindexOf);
    expect(lpmText(compiled)).toEqual([
      '1|10.0.0.0/8→1',
      '1|10.1.0.0/16→2',
      '0|10.0.0.0/8→-',
      '0|10.1.0.0/16→-',
    ]);
    expect(distinctSetIds(compiled).size).toBe(2);

    expect(verdict(p, pkt('eth0', '10.1.2.3', ALICE))).toEqual(allow(1));
    expect(verdict(p, pkt('eth0', '10.1.2.3', BOB))).toEqual(allow(2));
    expect(verdict(p, pkt('eth0', '10.1.2.3', CAROL))).toEqual(NOT_LISTED);
    expect(verdict(p, pkt('eth0', '10.2.0.1', ALICE))).toEqual(allow(1));
    expect(verdict(p, pkt('eth0', '10.2.0.1', BOB))).toEqual(NOT_LISTED);
    expect(verdict(p, pkt('eth0', '11.0.0.1', ALICE))).toEqual(DEFAULT_DENY);
  });

  it('reports the lowest endpoint id that lists the user, preferring explicit listings over *', () => {
    const p = policy([
      endpoint(1, 'everyone', ['eth0'], ['10.0.0.0/8'], [], true),
      endpoint(2, 'bob-wide', ['eth0'], ['10.0.0.0/8'], [BOB]),
      endpoint(3, 'bob-narrow', ['eth0'], ['10.1.0.0/16'], [BOB, ALICE]),
      endpoint(4, 'carol', ['eth0'], ['10.1.2.0/24'], [CAROL]),
    ]);
    expect(verdict(p, pkt('eth0', '10.1.2.3', BOB))).toEqual(allow(2));
    expect(verdict(p, pkt('eth0', '10.1.2.3', ALICE))).toEqual(allow(3));
    expect(verdict(p, pkt('eth0', '10.1.2.3', CAROL))).toEqual(allow(4));
    expect(verdict(p, pkt('eth0', '10.1.2.3', 4242))).toEqual(allow(1));
    expect(verdict(p, pkt('eth0', '10.9.0.1', CAROL))).toEqual(allow(1));
    expect(verdict(p, pkt('eth0', '10.9.0.1', ALICE))).toEqual(allow(1));
  });

  it('does not depend on the order of endpoints in the array', () => {
    const a = endpoint(1, 'a', ['eth0'], ['10.0.0.0/8'], [ALICE]);
    const b = endpoint(2, 'b', ['eth0'], ['10.0.0.0/8', '10.1.0.0/16'], [ALICE, BOB]);
    const p1 = policy([a, b]);
    const p2 = policy([b, a]);
    for (const p of [p1, p2]) {
      expect(verdict(p, pkt('eth0', '10.1.2.3', ALICE))).toEqual(allow(1));
      expect(verdict(p, pkt('eth0', '10.1.2.3', BOB))).toEqual(allow(2));
    }
  });

  it('scopes the same ranges separately on two interfaces', () => {
    const p = policy([
      endpoint(1, 'on-eth0', ['eth0'], ['192.0.2.0/24'], [ALICE]),
      endpoint(2, 'on-eth1', ['eth1'], ['192.0.2.0/24'], [BOB]),
    ]);
    const { compiled } = compilePolicy(p, ifindexOf);
    expect(lpmText(compiled)).toEqual(['1|192.0.2.0/24→1', '2|192.0.2.0/24→2', '0|192.0.2.0/24→-']);
    expect(verdict(p, pkt('eth0', '192.0.2.7', ALICE))).toEqual(allow(1));
    expect(verdict(p, pkt('eth0', '192.0.2.7', BOB))).toEqual(NOT_LISTED);
    expect(verdict(p, pkt('eth1', '192.0.2.7', BOB))).toEqual(allow(2));
    expect(verdict(p, pkt('eth1', '192.0.2.7', ALICE))).toEqual(NOT_LISTED);
    expect(verdict(p, pkt('eth2', '192.0.2.7', ALICE))).toEqual(IFACE_NOT_LISTED);
    expect(verdict(p, pkt('eth2', '192.0.2.7', BOB))).toEqual(IFACE_NOT_LISTED);
    expect(verdict(p, pkt('eth2', '192.0.3.7', ALICE))).toEqual(PASS);
  });

  it('guards a range named via eth0 only on every other interface too', () => {
    const p = policy(
      [
        endpoint(1, 'imds', ['eth0'], ['169.254.169.254/32'], [ALICE]),
        endpoint(2, 'web', ['eth1'], ['192.0.2.0/24'], [BOB]),
      ],
      {
        eth1: { default: 'allow', unowned: 'allow' },
        // Configured under interfaces: only; no endpoint names it.
        eth2: { default: 'deny', unowned: 'allow' },
      },
    );
    const { compiled } = compilePolicy(p, ifindexOf);
    expect(lpmText(compiled)).toEqual([
      '1|169.254.169.254/32→1',
      '1|192.0.2.0/24→-',
      '2|169.254.169.254/32→-',
      '2|192.0.2.0/24→2',
      '3|169.254.169.254/32→-',
      '3|192.0.2.0/24→-',
      '0|169.254.169.254/32→-',
      '0|192.0.2.0/24→-',
    ]);
    expect(compiled.sets).toEqual([
      { setId: 1, uid: ALICE, cg: 0, endpointId: 1 },
      { setId: 2, uid: BOB, cg: 0, endpointId: 2 },
    ]);
    expect(compiled.anyIface).toEqual(ANY_IFACE(1));

    expect(verdict(p, pkt('eth0', '169.254.169.254', ALICE))).toEqual(allow(1));
    expect(verdict(p, pkt('eth0', '192.0.2.5', BOB))).toEqual(IFACE_NOT_LISTED);
    expect(verdict(p, pkt('eth0', '192.0.2.5', null))).toEqual(UNOWNED_DENY);
    expect(verdict(p, pkt('eth0', '1.1.1.1', ALICE))).toEqual(DEFAULT_DENY);

    // eth1 is configured, for another endpoint.
    expect(verdict(p, pkt('eth1', '169.254.169.254', ALICE))).toEqual(IFACE_NOT_LISTED);
    expect(verdict(p, pkt('eth1', '169.254.169.254', BOB))).toEqual(IFACE_NOT_LISTED);
    expect(verdict(p, pkt('eth1', '169.254.169.254', null))).toEqual(UNOWNED_ALLOW);
    expect(verdict(p, pkt('eth1', '192.0.2.5', BOB))).toEqual(allow(2));
    expect(verdict(p, pkt('eth1', '192.0.2.5', ALICE))).toEqual(NOT_LISTED);
    expect(verdict(p, pkt('eth1', '1.1.1.1', ALICE))).toEqual(DEFAULT_ALLOW);

    // eth2 has settings but no endpoint.
    expect(verdict(p, pkt('eth2', '169.254.169.254', ALICE))).toEqual(IFACE_NOT_LISTED);
    expect(verdict(p, pkt('eth2', '169.254.169.254', null))).toEqual(UNOWNED_ALLOW);
    expect(verdict(p, pkt('eth2', '1.1.1.1', ALICE))).toEqual(DEFAULT_DENY);

    // wlan0 is not configured at all: only the guarded ranges are checked.
    expect(verdict(p, pkt('wlan0', '169.254.169.254', ALICE))).toEqual(IFACE_NOT_LISTED);
    expect(verdict(p, pkt('wlan0', '192.0.2.5', BOB))).toEqual(IFACE_NOT_LISTED);
    expect(verdict(p, pkt('wlan0', '169.254.169.254', null))).toEqual(UNOWNED_DENY);
    expect(verdict(p, pkt('wlan0', '1.1.1.1', ALICE))).toEqual(PASS);
    expect(verdict(p, pkt('wlan0', '1.1.1.1', null))).toEqual(PASS);
  });

  it('unites nested prefixes per interface, across interfaces', () => {
    // The wide range via eth0 for alice, a range inside it via eth1 for bob.
    const p = policy([
      endpoint(1, 'wide', ['eth0'], ['10.0.0.0/8'], [ALICE]),
      endpoint(2, 'narrow', ['eth1'], ['10.1.0.0/16'], [BOB]),
    ]);
    const { compiled } = compilePolicy(p, ifindexOf);
    // On eth0 10.1.0.0/16 inherits the /8's users; on eth1 the /8 has none.
    expect(lpmText(compiled)).toEqual([
      '1|10.0.0.0/8→1',
      '1|10.1.0.0/16→1',
      '2|10.0.0.0/8→-',
      '2|10.1.0.0/16→2',
      '0|10.0.0.0/8→-',
      '0|10.1.0.0/16→-',
    ]);
    expect(compiled.sets).toEqual([
      { setId: 1, uid: ALICE, cg: 0, endpointId: 1 },
      { setId: 2, uid: BOB, cg: 0, endpointId: 2 },
    ]);
    expect(verdict(p, pkt('eth0', '10.1.2.3', ALICE))).toEqual(allow(1));
    expect(verdict(p, pkt('eth0', '10.1.2.3', BOB))).toEqual(NOT_LISTED);
    expect(verdict(p, pkt('eth0', '10.2.0.1', ALICE))).toEqual(allow(1));
    expect(verdict(p, pkt('eth0', '10.2.0.1', BOB))).toEqual(NOT_LISTED);
    expect(verdict(p, pkt('eth1', '10.1.2.3', BOB))).toEqual(allow(2));
    expect(verdict(p, pkt('eth1', '10.1.2.3', ALICE))).toEqual(NOT_LISTED);
    expect(verdict(p, pkt('eth1', '10.2.0.1', ALICE))).toEqual(IFACE_NOT_LISTED);
    expect(verdict(p, pkt('eth1', '10.2.0.1', BOB))).toEqual(IFACE_NOT_LISTED);
    expect(verdict(p, pkt('eth1', '10.2.0.1', null))).toEqual(UNOWNED_DENY);
    expect(verdict(p, pkt('eth1', '11.0.0.1', BOB))).toEqual(DEFAULT_DENY);
    expect(verdict(p, pkt('wlan0', '10.1.2.3', BOB))).toEqual(IFACE_NOT_LISTED);
    expect(verdict(p, pkt('wlan0', '10.2.0.1', ALICE))).toEqual(IFACE_NOT_LISTED);
    expect(verdict(p, pkt('wlan0', '11.0.0.1', ALICE))).toEqual(PASS);

    // The other way round: a real set inside a prefix nobody may reach on that interface.
    const q = policy([
      endpoint(1, 'wide', ['eth1'], ['10.0.0.0/8'], [BOB]),
      endpoint(2, 'narrow', ['eth0'], ['10.1.0.0/16'], [ALICE]),
    ]);
    const cq = compilePolicy(q, ifindexOf).compiled;
    expect(lpmText(cq, 1)).toEqual(['1|10.0.0.0/8→-', '1|10.1.0.0/16→2']);
    expect(lpmText(cq, 2)).toEqual(['2|10.0.0.0/8→1', '2|10.1.0.0/16→1']);
    expect(verdict(q, pkt('eth0', '10.1.2.3', ALICE))).toEqual(allow(2));
    expect(verdict(q, pkt('eth0', '10.1.2.3', BOB))).toEqual(NOT_LISTED);
    expect(verdict(q, pkt('eth0', '10.2.0.1', ALICE))).toEqual(IFACE_NOT_LISTED);
    expect(verdict(q, pkt('eth0', '10.2.0.1', BOB))).toEqual(IFACE_NOT_LISTED);
    expect(verdict(q, pkt('eth1', '10.1.2.3', BOB))).toEqual(allow(1));
    expect(verdict(q, pkt('eth1', '10.1.2.3', ALICE))).toEqual(NOT_LISTED);
    expect(verdict(q, pkt('eth1', '10.2.0.1', ALICE))).toEqual(NOT_LISTED);
  });

  it('lets * allow every user, and an empty allow list deny everyone', () => {
    const p = policy([
      endpoint(1, 'any', ['eth0'], ['198.51.100.0/24'], [], true),
      endpoint(2, 'nobody', ['eth0'], ['203.0.113.0/24'], []),
    ]);
    const { compiled } = compilePolicy(p, ifindexOf);
    expect(compiled.sets).toEqual([{ setId: 1, uid: UID_ANY, cg: 0, endpointId: 1 }]);
    expect(distinctSetIds(compiled)).toEqual(new Set([1, 2]));
    // "Nobody" on eth0 is a real, empty set (2), not SET_NONE: the reason differs.
    expect(lpmText(compiled)).toEqual([
      '1|198.51.100.0/24→1',
      '1|203.0.113.0/24→2',
      '0|198.51.100.0/24→-',
      '0|203.0.113.0/24→-',
    ]);
    for (const uid of [0, ALICE, 65534]) {
      expect(verdict(p, pkt('eth0', '198.51.100.1', uid))).toEqual(allow(1));
      expect(verdict(p, pkt('eth0', '203.0.113.1', uid))).toEqual(NOT_LISTED);
      // * means every user, not every interface.
      expect(verdict(p, pkt('wlan0', '198.51.100.1', uid))).toEqual(IFACE_NOT_LISTED);
      expect(verdict(p, pkt('wlan0', '203.0.113.1', uid))).toEqual(IFACE_NOT_LISTED);
    }
    expect(verdict(p, pkt('eth0', '198.51.100.1', null))).toEqual(UNOWNED_DENY);
  });

  it('applies the interface default to unguarded destinations only', () => {
    const ep = endpoint(1, 'imds', ['eth0', 'eth1'], ['169.254.169.254'], [ALICE]);
    const p = policy([ep], { eth0: { default: 'allow' }, eth1: { default: 'deny' } });
    expect(verdict(p, pkt('eth0', '1.1.1.1', BOB))).toEqual(DEFAULT_ALLOW);
    expect(verdict(p, pkt('eth0', '1.1.1.1', null))).toEqual(DEFAULT_ALLOW);
    expect(verdict(p, pkt('eth0', '169.254.169.254', BOB))).toEqual(NOT_LISTED);
    expect(verdict(p, pkt('eth0', '169.254.169.254', ALICE))).toEqual(allow(1));
    expect(verdict(p, pkt('eth1', '1.1.1.1', BOB))).toEqual(DEFAULT_DENY);
    expect(verdict(p, pkt('eth1', '169.254.169.254', ALICE))).toEqual(allow(1));
    // Elsewhere the default of ifindex 0 is allow, and the guarded range stays guarded.
    expect(verdict(p, pkt('wlan0', '1.1.1.1', BOB))).toEqual(PASS);
    expect(verdict(p, pkt('wlan0', '169.254.169.254', ALICE))).toEqual(IFACE_NOT_LISTED);
  });

  it('decides unowned packets by the interface unowned setting', () => {
    const ep = endpoint(1, 'imds', ['eth0', 'eth1'], ['169.254.169.254'], [], true);
    const p = policy([ep], { eth0: { unowned: 'allow' }, eth1: { unowned: 'deny' } });
    expect(verdict(p, pkt('eth0', '169.254.169.254', null))).toEqual(UNOWNED_ALLOW);
    expect(verdict(p, pkt('eth0', '8.8.8.8', null))).toEqual(UNOWNED_ALLOW);
    expect(verdict(p, pkt('eth1', '169.254.169.254', null))).toEqual(UNOWNED_DENY);
    expect(verdict(p, pkt('eth1', '8.8.8.8', null))).toEqual(UNOWNED_DENY);
    // Owned traffic is unaffected by the unowned setting.
    expect(verdict(p, pkt('eth0', '8.8.8.8', ALICE))).toEqual(DEFAULT_DENY);
    expect(verdict(p, pkt('eth0', '169.254.169.254', ALICE))).toEqual(allow(1));
    // Interfaces without settings deny unowned packets to guarded ranges and pass the rest.
    expect(verdict(p, pkt('wlan0', '169.254.169.254', null))).toEqual(UNOWNED_DENY);
    expect(verdict(p, pkt('wlan0', '8.8.8.8', null))).toEqual(PASS);
  });

  it('handles IPv6 ranges separately from IPv4', () => {
    const p = policy([
      endpoint(1, 'imds', ['eth0'], ['169.254.169.254/32', 'fd00:ec2::254/128'], [ALICE]),
      endpoint(2, 'doc', ['eth0'], ['2001:db8::/32'], [BOB]),
      endpoint(3, 'doc-sub', ['eth0'], ['2001:db8:1::/48'], [CAROL]),
    ]);
    const { compiled } = compilePolicy(p, ifindexOf);
    expect(lpmText(compiled)).toEqual([
      '1|169.254.169.254/32→1',
      '1|2001:db8::/32→2',
      '1|2001:db8:1::/48→3',
      '1|fd00:ec2::254/128→1',
      '0|169.254.169.254/32→-',
      '0|2001:db8::/32→-',
      '0|2001:db8:1::/48→-',
      '0|fd00:ec2::254/128→-',
    ]);
    expect(verdict(p, pkt('eth0', 'fd00:ec2::254', ALICE))).toEqual(allow(1));
    expect(verdict(p, pkt('eth0', 'fd00:ec2::254', BOB))).toEqual(NOT_LISTED);
    expect(verdict(p, pkt('eth0', 'fd00:ec2::255', ALICE))).toEqual(DEFAULT_DENY);
    expect(verdict(p, pkt('eth0', '2001:db8:1::5', BOB))).toEqual(allow(2));
    expect(verdict(p, pkt('eth0', '2001:db8:1::5', CAROL))).toEqual(allow(3));
    expect(verdict(p, pkt('eth0', '2001:db8:2::5', CAROL))).toEqual(NOT_LISTED);
    // An IPv4 /0 does not cover IPv6 destinations.
    const q = policy([endpoint(1, 'all-v4', ['eth0'], ['0.0.0.0/0'], [ALICE])], {
      eth0: { default: 'allow' },
    });
    expect(verdict(q, pkt('eth0', '2001:db8::1', BOB))).toEqual(DEFAULT_ALLOW);
    expect(verdict(q, pkt('eth0', '192.0.2.1', BOB))).toEqual(NOT_LISTED);
    expect(verdict(q, pkt('wlan0', '2001:db8::1', BOB))).toEqual(PASS);
    expect(verdict(q, pkt('wlan0', '192.0.2.1', ALICE))).toEqual(IFACE_NOT_LISTED);
  });

  it('handles /0 ranges beneath more specific ones', () => {
    const p = policy([
      endpoint(1, 'all', ['eth0'], ['0.0.0.0/0', '::/0'], [ALICE]),
      endpoint(2, 'imds', ['eth0'], ['169.254.169.254/32'], [BOB]),
    ]);
    const { compiled } = compilePolicy(p, ifindexOf);
    expect(lpmText(compiled)).toEqual([
      '1|0.0.0.0/0→1',
      '1|169.254.169.254/32→2',
      '1|::/0→1',
      '0|0.0.0.0/0→-',
      '0|169.254.169.254/32→-',
      '0|::/0→-',
    ]);
    expect(verdict(p, pkt('eth0', '8.8.8.8', ALICE))).toEqual(allow(1));
    expect(verdict(p, pkt('eth0', '8.8.8.8', BOB))).toEqual(NOT_LISTED);
    expect(verdict(p, pkt('eth0', '169.254.169.254', ALICE))).toEqual(allow(1));
    expect(verdict(p, pkt('eth0', '169.254.169.254', BOB))).toEqual(allow(2));
    expect(verdict(p, pkt('eth0', '2001:db8::1', ALICE))).toEqual(allow(1));
    expect(verdict(p, pkt('eth0', '2001:db8::1', BOB))).toEqual(NOT_LISTED);
    // /0 guarded via eth0 only: every owned packet on any other interface is dropped.
    expect(verdict(p, pkt('wlan0', '8.8.8.8', ALICE))).toEqual(IFACE_NOT_LISTED);
    expect(verdict(p, pkt('wlan0', '2001:db8::1', ALICE))).toEqual(IFACE_NOT_LISTED);
    expect(verdict(p, pkt('wlan0', '2001:db8::1', null))).toEqual(UNOWNED_DENY);
  });

  it('deduplicates identical user mappings into one set', () => {
    const uids = Array.from({ length: 100 }, (_, i) => 2000 + i);
    const ranges = Array.from({ length: 10_000 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`);
    const p = policy([endpoint(1, 'many', ['eth0', 'eth1'], ranges, uids)]);
    const { compiled } = compilePolicy(p, ifindexOf);
    expect(compiled.lpm.filter((e) => e.ifindex === 1)).toHaveLength(10_000);
    expect(compiled.lpm.filter((e) => e.ifindex === 2)).toHaveLength(10_000);
    expect(compiled.lpm.filter((e) => e.ifindex === 0)).toHaveLength(10_000);
    expect(compiled.lpm).toHaveLength(30_000);
    expect(compiled.lpm.every((e) => (e.ifindex === 0) === (e.setId === SET_NONE))).toBe(true);
    expect(distinctSetIds(compiled)).toEqual(new Set([1]));
    expect(compiled.sets).toHaveLength(100);
    expect(compiled.sets.every((s) => s.setId === 1 && s.endpointId === 1)).toBe(true);
  });

  it('shares a set between endpoints whose mappings are equal, not merely whose users are', () => {
    const p = policy([
      endpoint(1, 'a', ['eth0'], ['192.0.2.0/25'], [ALICE]),
      endpoint(2, 'b', ['eth0'], ['192.0.2.128/25'], [ALICE]),
      endpoint(3, 'c', ['eth1'], ['192.0.2.0/25'], [ALICE]),
    ]);
    const { compiled } = compilePolicy(p, ifindexOf);
    // Same user but different reported endpoints: endpoint 1's set is shared across interfaces.
    const setOf = (ifindex: number, addr: string): number | undefined =>
      compiled.lpm.find((e) => e.ifindex === ifindex && e.addr.join('.') === addr)?.setId;
    expect(setOf(1, '192.0.2.0')).toBe(1);
    expect(setOf(1, '192.0.2.128')).toBe(2);
    expect(setOf(2, '192.0.2.0')).toBe(3);
    // eth1 guards endpoint b's range too, for nobody; so does ifindex 0, for both.
    expect(setOf(2, '192.0.2.128')).toBe(SET_NONE);
    expect(setOf(0, '192.0.2.0')).toBe(SET_NONE);
    expect(setOf(0, '192.0.2.128')).toBe(SET_NONE);
    expect(compiled.sets).toEqual([
      { setId: 1, uid: ALICE, cg: 0, endpointId: 1 },
      { setId: 2, uid: ALICE, cg: 0, endpointId: 2 },
      { setId: 3, uid: ALICE, cg: 0, endpointId: 3 },
    ]);
    const q = policy([
      endpoint(1, 'a', ['eth0'], ['192.0.2.0/25', '198.51.100.0/24'], [ALICE]),
      endpoint(2, 'b', ['eth0'], ['198.51.100.0/24'], [BOB, ALICE]),
    ]);
    // 198.51.100.0/24 maps ALICE→1, BOB→2; 192.0.2.0/25 maps ALICE→1.
    expect(compilePolicy(q, ifindexOf).compiled.sets).toEqual([
      { setId: 1, uid: ALICE, cg: 0, endpointId: 1 },
      { setId: 2, uid: ALICE, cg: 0, endpointId: 1 },
      { setId: 2, uid: BOB, cg: 0, endpointId: 2 },
    ]);
  });

  it('merges duplicate ranges and clears stray host bits', () => {
    const dirty: Range = { family: 4, addr: Uint8Array.from([10, 0, 0, 7]), prefix: 24, text: '10.0.0.7/24' };
    const e1 = endpoint(1, 'a', ['eth0'], ['10.0.0.0/24', '10.0.0.0/24'], [ALICE]);
    const e2: ResolvedEndpoint = { ...endpoint(2, 'b', ['eth0'], [], [BOB]), ranges: [dirty] };
    const { compiled } = compilePolicy(policy([e1, e2]), ifindexOf);
    expect(compiled.lpm).toEqual([
      { ifindex: 1, family: 4, prefix: 24, addr: Uint8Array.from([10, 0, 0, 0]), setId: 1 },
      { ifindex: 0, family: 4, prefix: 24, addr: Uint8Array.from([10, 0, 0, 0]), setId: SET_NONE },
    ]);
    expect(compiled.sets).toHaveLength(2);
  });

  it('skips interfaces without an ifindex and reports them', () => {
    const p = policy(
      [
        endpoint(1, 'x', ['eth0', 'wg9'], ['192.0.2.1'], [ALICE]),
        // Its only interface is absent, yet its range is guarded on every other one.
        endpoint(2, 'y', ['wg9'], ['198.51.100.0/24'], [BOB]),
      ],
      { lo9: { default: 'allow' } },
    );
    const { compiled, missingIfaces } = compilePolicy(p, ifindexOf);
    expect(missingIfaces).toEqual(['wg9', 'lo9']);
    expect(compiled.ifaces.map((i) => i.name)).toEqual(['eth0']);
    expect(lpmText(compiled)).toEqual([
      '1|192.0.2.1/32→1',
      '1|198.51.100.0/24→-',
      '0|192.0.2.1/32→-',
      '0|198.51.100.0/24→-',
    ]);
    expect(compiled.sets).toEqual([{ setId: 1, uid: ALICE, cg: 0, endpointId: 1 }]);
    expect(verdict(p, pkt('eth0', '198.51.100.1', BOB))).toEqual(IFACE_NOT_LISTED);
  });

  it('rejects two interface names with one ifindex and malformed ranges', () => {
    const p = policy([endpoint(1, 'x', ['eth0', 'eth1'], ['192.0.2.1'], [ALICE])]);
    expect(() => compilePolicy(p, () => 5)).toThrow(/both have ifindex 5/);
    const bad: ResolvedEndpoint = {
      ...endpoint(1, 'x', ['eth0'], [], [ALICE]),
      ranges: [{ family: 4, addr: new Uint8Array(16), prefix: 24, text: 'bad' }],
    };
    expect(() => compilePolicy(policy([bad]), ifindexOf)).toThrow(/malformed range bad/);
  });

  it('summarises the difference between two compiled policies', () => {
    const before = policy([
      endpoint(1, 'a', ['eth0'], ['10.0.0.0/8', '192.0.2.0/24'], [ALICE]),
      endpoint(2, 'b', ['eth0'], ['198.51.100.0/24'], [BOB]),
    ]);
    const after = policy(
      [
        endpoint(1, 'a', ['eth0'], ['10.0.0.0/8', '203.0.113.0/24'], [ALICE]),
        endpoint(2, 'b', ['eth0'], ['198.51.100.0/24'], [BOB, CAROL]),
      ],
      { eth0: { default: 'allow' } },
    );
    const a = compilePolicy(before, ifindexOf).compiled;
    const b = compilePolicy(after, ifindexOf).compiled;
    expect(diffCompiled(a, a)).toEqual({
      lpmAdded: 0,
      lpmRemoved: 0,
      lpmChanged: 0,
      setsAdded: 0,
      setsRemoved: 0,
      ifacesChanged: 0,
    });
    // 203.0.113.0/24 replaces 192.0.2.0/24 on eth0 and on ifindex 0; only eth0's entry for
    // 198.51.100.0/24 changes users (ifindex 0's stays nobody's).
    expect(diffCompiled(a, b)).toEqual({
      lpmAdded: 2,
      lpmRemoved: 2,
      lpmChanged: 1,
      setsAdded: 1,
      setsRemoved: 1,
      ifacesChanged: 1,
    });

    // From a policy that guards nothing: every entry is new, ifindex 0 is a new interface, and
    // SET_NONE is no user set.
    const none = compilePolicy(policy([], { eth0: {} }), ifindexOf).compiled;
    expect(none.anyIface).toBeUndefined();
    expect(diffCompiled(none, a)).toEqual({
      lpmAdded: 6,
      lpmRemoved: 0,
      lpmChanged: 0,
      setsAdded: 2,
      setsRemoved: 0,
      ifacesChanged: 1,
    });

    // A range added via eth1 is guarded on eth0 and ifindex 0 too; eth1 guards every range.
    const viaEth1 = policy([...before.endpoints, endpoint(3, 'c', ['eth1'], ['203.0.113.0/24'], [CAROL])]);
    expect(diffCompiled(a, compilePolicy(viaEth1, ifindexOf).compiled)).toEqual({
      lpmAdded: 1 + 4 + 1,
      lpmRemoved: 0,
      lpmChanged: 0,
      setsAdded: 1,
      setsRemoved: 0,
      ifacesChanged: 1,
    });
  });

  it('audits: a drop on an audited interface is a would-drop, with the same reason; allows stay allows', () => {
    const eps = [endpoint(1, 'imds', ['eth0'], ['169.254.169.254/32'], [ALICE])];
    const WOULD = (d: Decision): Decision => ({ ...d, verdict: 'would-drop' });
    const mixed = policy(eps, { eth0: { mode: 'audit' }, eth1: { default: 'deny' } });
    expect(verdict(mixed, pkt('eth0', '169.254.169.254', ALICE))).toEqual(allow(1));
    expect(verdict(mixed, pkt('eth0', '169.254.169.254', BOB))).toEqual(WOULD(NOT_LISTED));
    expect(verdict(mixed, pkt('eth0', '192.0.2.1', BOB))).toEqual(WOULD(DEFAULT_DENY));
    expect(verdict(mixed, pkt('eth0', '192.0.2.1', null))).toEqual(WOULD(UNOWNED_DENY));
    // eth1 enforces; so do the interfaces no endpoint names (not every configured one audits).
    expect(verdict(mixed, pkt('eth1', '169.254.169.254', ALICE))).toEqual(IFACE_NOT_LISTED);
    expect(verdict(mixed, pkt('wlan0', '169.254.169.254', ALICE))).toEqual(IFACE_NOT_LISTED);
    expect(compilePolicy(mixed, ifindexOf).compiled.anyIface?.audit).toBe(false);

    const all = policy(eps, { eth0: { mode: 'audit' }, eth1: { mode: 'audit' } });
    expect(compilePolicy(all, ifindexOf).compiled.anyIface?.audit).toBe(true);
    expect(verdict(all, pkt('eth1', '169.254.169.254', ALICE))).toEqual(WOULD(IFACE_NOT_LISTED));
    expect(verdict(all, pkt('wlan0', '169.254.169.254', ALICE))).toEqual(WOULD(IFACE_NOT_LISTED));
    expect(verdict(all, pkt('wlan0', '169.254.169.254', null))).toEqual(WOULD(UNOWNED_DENY));
    expect(verdict(all, pkt('wlan0', '192.0.2.1', ALICE))).toEqual(PASS);
  });

  it('guards nothing anywhere when no endpoint has a range', () => {
    const p = policy([endpoint(1, 'empty', ['eth0'], [], [ALICE])]);
    const { compiled } = compilePolicy(p, ifindexOf);
    expect(compiled.lpm).toEqual([]);
    expect(compiled.anyIface).toBeUndefined();
    expect(verdict(p, pkt('eth0', '192.0.2.1', ALICE))).toEqual(DEFAULT_DENY);
    expect(verdict(p, pkt('wlan0', '192.0.2.1', ALICE))).toEqual(PASS);
    expect(verdict(p, pkt('wlan0', '192.0.2.1', null))).toEqual(PASS);
  });
});

// ---- property test ----

/** Interfaces packets are sent on: the three the generator configures, and one nobody names. */
const PACKET_IFINDEXES = [1, 2, 3, UNCONFIGURED_IFINDEX] as const;

function randomPacket(rng: Rng): Packet {
  const family: 4 | 6 = rng.chance(0.55) ? 4 : 6;
  return {
    ifindex: rng.pick(PACKET_IFINDEXES),
    family,
    daddr: randomAddr(rng, family),
    uid: rng.chance(0.2) ? null : rng.pick(UID_POOL),
  };
}

function contains(outer: Range, inner: Range): boolean {
  return (
    outer.family === inner.family &&
    outer.prefix <= inner.prefix &&
    maskBytes(inner.addr, outer.prefix).every((b, i) => b === outer.addr[i])
  );
}

/** True when two endpoints with no interface in common guard overlapping ranges. */
function overlapsAcrossInterfaces(p: ResolvedPolicy): boolean {
  return p.endpoints.some((a) =>
    p.endpoints.some(
      (b) =>
        a !== b &&
        !a.ifaces.some((i) => b.ifaces.includes(i)) &&
        a.ranges.some((ra) => b.ranges.some((rb) => contains(ra, rb))),
    ),
  );
}

function describePolicy(p: ResolvedPolicy): string {
  return JSON.stringify(
    {
      endpoints: p.endpoints.map((e) => ({ ...e, ranges: e.ranges.map((r) => r.text) })),
      interfaces: [...p.interfaces],
    },
    null,
    1,
  );
}

describe('compilePolicy: property', () => {
  const BASE_SEED = Number(process.env['NTF_PROPERTY_SEED'] ?? 0x5eed);
  const POLICIES = 400;
  const PACKETS = 250;

  it(`compiled entries decide every packet as the policy says (${POLICIES} policies × ${PACKETS} packets)`, () => {
    const seen = new Map<string, number>();
    /** Reasons on the interface no endpoint names (ifindex 99). */
    const seenUnconfigured = new Map<string, number>();
    /** `${verdict} ${reason}` pairs: every drop reason must also be seen as an audit would-drop. */
    const seenVerdicts = new Map<string, number>();
    let crossInterface = 0;
    for (let n = 0; n < POLICIES; n++) {
      const seed = (BASE_SEED + n) >>> 0;
      const rng = new Rng(seed);
      const { p, ifindexOf: idx } = randomPolicy(rng);
      const { compiled, missingIfaces } = compilePolicy(p, idx);
      const where = `seed ${seed} (replay: NTF_PROPERTY_SEED=${seed})\npolicy ${describePolicy(p)}`;

      expect(missingIfaces, where).toEqual([...p.interfaces.keys()].filter((k) => idx(k) === undefined));
      const lpmKeys = compiled.lpm.map((e) => `${e.ifindex}|${e.family}|${e.prefix}|${e.addr.join('.')}`);
      expect(new Set(lpmKeys).size, `duplicate lpm keys; ${where}`).toBe(lpmKeys.length);
      const setKeys = compiled.sets.map((s) => `${s.setId}|${s.uid}`);
      expect(new Set(setKeys).size, `duplicate set keys; ${where}`).toBe(setKeys.length);
      const setIds = distinctSetIds(compiled);
      expect(
        [...setIds].sort((a, b) => a - b),
        `set ids not 1..n; ${where}`,
      ).toEqual(Array.from({ length: setIds.size }, (_, i) => i + 1));
      expect(
        compiled.sets.some((s) => s.setId === SET_NONE),
        `a user set has id SET_NONE; ${where}`,
      ).toBe(false);

      // Every present interface and ifindex 0 hold exactly every endpoint's distinct prefixes;
      // ifindex 0 only for nobody.
      const guarded = new Set(
        p.endpoints.flatMap((e) => e.ranges.map((r) => `${r.family}|${r.prefix}|${r.addr.join('.')}`)),
      );
      const present = compiled.ifaces.map((i) => i.ifindex);
      const auditsEverywhere = [...p.interfaces.values()].every((s) => s.mode === 'audit');
      const anyIface =
        guarded.size > 0 ? ANY_IFACE(LOG_ALLOWED_CODE[p.logAllowed], auditsEverywhere) : undefined;
      expect(compiled.anyIface, where).toEqual(anyIface);
      for (const ifindex of guarded.size > 0 ? [...present, 0] : present) {
        const keys = compiled.lpm
          .filter((e) => e.ifindex === ifindex)
          .map((e) => `${e.family}|${e.prefix}|${e.addr.join('.')}`);
        expect(new Set(keys), `ifindex ${ifindex}; ${where}`).toEqual(guarded);
      }
      expect(compiled.lpm, where).toHaveLength(guarded.size * (present.length + (guarded.size > 0 ? 1 : 0)));
      expect(
        compiled.lpm.filter((e) => e.ifindex === 0).every((e) => e.setId === SET_NONE),
        where,
      ).toBe(true);
      if (overlapsAcrossInterfaces(p)) crossInterface++;

      for (let k = 0; k < PACKETS; k++) {
        const packet = randomPacket(rng);
        const expected = referenceEvaluate(p, idx, packet);
        const got = compiledEvaluate(compiled, packet);
        seen.set(expected.reason, (seen.get(expected.reason) ?? 0) + 1);
        const vr = `${expected.verdict} ${expected.reason}`;
        seenVerdicts.set(vr, (seenVerdicts.get(vr) ?? 0) + 1);
        if (packet.ifindex === UNCONFIGURED_IFINDEX) {
          seenUnconfigured.set(expected.reason, (seenUnconfigured.get(expected.reason) ?? 0) + 1);
          seenUnconfigured.set(vr, (seenUnconfigured.get(vr) ?? 0) + 1);
        }
        if (
          got.verdict !== expected.verdict ||
          got.reason !== expected.reason ||
          got.endpointId !== expected.endpointId
        ) {
          const pk = { ...packet, daddr: packet.daddr.join('.') };
          expect(got, `${where}\npacket ${JSON.stringify(pk)}`).toEqual(expected);
        }
      }
    }
    // The generator must reach every outcome, or agreement would prove little.
    for (const reason of [
      'endpoint',
      'not-listed',
      'default-allow',
      'default-deny',
      'unowned-allow',
      'unowned-deny',
      'iface-not-listed',
      'not-configured',
    ]) {
      expect(seen.get(reason) ?? 0, `reason ${reason} never produced`).toBeGreaterThan(100);
    }
    for (const reason of ['iface-not-listed', 'unowned-deny', 'not-configured']) {
      expect(
        seenUnconfigured.get(reason) ?? 0,
        `reason ${reason} never produced on ifindex 99`,
      ).toBeGreaterThan(100);
    }
    const onConfigured =
      (seen.get('iface-not-listed') ?? 0) - (seenUnconfigured.get('iface-not-listed') ?? 0);
    expect(onConfigured, 'iface-not-listed on configured interfaces').toBeGreaterThan(100);
    // Only these three can happen where no endpoint names the interface.
    expect([...seenUnconfigured.keys()].filter((k) => !k.includes(' ')).sort()).toEqual([
      'iface-not-listed',
      'not-configured',
      'unowned-deny',
    ]);
    // Audit mode: each drop reason both enforced and audited, on named and unnamed interfaces.
    for (const reason of ['not-listed', 'default-deny', 'unowned-deny', 'iface-not-listed']) {
      for (const v of ['drop', 'would-drop']) {
        expect(seenVerdicts.get(`${v} ${reason}`) ?? 0, `${v} ${reason} never produced`).toBeGreaterThan(50);
      }
    }
    for (const vr of ['drop iface-not-listed', 'would-drop iface-not-listed', 'would-drop unowned-deny']) {
      expect(seenUnconfigured.get(vr) ?? 0, `${vr} never produced on ifindex 99`).toBeGreaterThan(20);
    }
    // Audit never turns an allow into anything else, nor a would-drop appear with an allow reason.
    for (const k of seenVerdicts.keys()) {
      if (k.startsWith('would-drop ')) expect(k).not.toMatch(/endpoint|default-allow|unowned-allow/);
    }
    // Endpoints on different interfaces with overlapping ranges are where the per-interface
    // covers differ; the generator must produce them often.
    expect(crossInterface, 'policies with overlapping ranges on disjoint interfaces').toBeGreaterThan(
      POLICIES / 5,
    );
  });
});

// ---- size ----

describe('compilePolicy: size', () => {
  it('compiles 10,000 ranges × 100 users on 2 interfaces into 10,000 entries per interface, plus one copy for the others', () => {
    const uids = Array.from({ length: 100 }, (_, i) => 3000 + i);
    // 8,000 IPv4 /32s, 1,000 IPv4 /24s around some of them (nested), 1,000 IPv6 /64s.
    const ranges: string[] = [];
    for (let i = 0; i < 8000; i++) ranges.push(`10.${i >> 8}.${i & 255}.${(i * 7) & 255}/32`);
    for (let i = 0; i < 1000; i++) ranges.push(`10.${i >> 8}.${i & 255}.0/24`);
    for (let i = 0; i < 1000; i++) ranges.push(`2001:db8:${i.toString(16)}::/64`);
    const distinct = new Set(ranges).size;
    expect(distinct).toBe(10_000);
    const p = policy([endpoint(1, 'many', ['eth0', 'eth1'], ranges, uids)]);
    const { compiled } = compilePolicy(p, ifindexOf);
    const count = (ifindex: number, family: 4 | 6) =>
      compiled.lpm.filter((e) => e.ifindex === ifindex && e.family === family).length;
    for (const ifindex of [1, 2, 0]) {
      expect(count(ifindex, 4), `ifindex ${ifindex}`).toBe(9000);
      expect(count(ifindex, 6), `ifindex ${ifindex}`).toBe(1000);
    }
    expect(compiled.lpm).toHaveLength(3 * 10_000);
    expect(compiled.lpm.filter((e) => e.setId === SET_NONE)).toHaveLength(10_000);
    expect(distinctSetIds(compiled).size).toBe(1);
    expect(compiled.sets).toHaveLength(100);
  });

  it('compiles 100 endpoints × 100 ranges, one user each, into 101 sets and 3 × 10,001 entries', () => {
    const endpoints = Array.from({ length: 100 }, (_, e) =>
      endpoint(
        e + 1,
        `ep${e + 1}`,
        ['eth0', 'eth1'],
        Array.from({ length: 100 }, (_, r) => `10.${e}.${r}.0/24`),
        [4000 + e],
      ),
    );
    // One wide range for everyone underneath: every set then also carries UID 0 → endpoint 101.
    endpoints.push(endpoint(101, 'root-wide', ['eth0', 'eth1'], ['10.0.0.0/8'], [0]));
    const { compiled } = compilePolicy(policy(endpoints), ifindexOf);
    // eth0, eth1 and ifindex 0 each hold every range.
    for (const ifindex of [1, 2, 0]) {
      expect(
        compiled.lpm.filter((e) => e.ifindex === ifindex),
        `ifindex ${ifindex}`,
      ).toHaveLength(100 * 100 + 1);
    }
    expect(compiled.lpm).toHaveLength(3 * (100 * 100 + 1));
    expect(compiled.lpm.filter((e) => e.setId === SET_NONE)).toHaveLength(100 * 100 + 1);
    expect(distinctSetIds(compiled).size).toBe(101);
    expect(compiled.sets).toHaveLength(100 * 2 + 1);
  });
});

describe('stabilizeSetIds: property', () => {
  it('successive applies decide every packet as the newest policy says (300 policy pairs)', () => {
    // Each policy is stabilised against the one before, as the engine does on every reload;
    // empty user sets (endpoints that allow nobody) are frequent in the generator.
    let prev: CompiledPolicy | undefined;
    for (let n = 0; n < 300; n++) {
      const seed = (0xab1e + n) >>> 0;
      const rng = new Rng(seed);
      const { p, ifindexOf: idx } = randomPolicy(rng);
      const compiled = stabilizeSetIds(compilePolicy(p, idx).compiled, prev);
      const setKeys = compiled.sets.map((x) => `${x.setId}|${x.uid}`);
      expect(new Set(setKeys).size, `duplicate set keys; seed ${seed}`).toBe(setKeys.length);
      expect(
        compiled.sets.some((x) => x.setId === SET_NONE),
        `a user set renumbered to SET_NONE; seed ${seed}`,
      ).toBe(false);
      for (let k = 0; k < 100; k++) {
        const packet = randomPacket(rng);
        const got = compiledEvaluate(compiled, packet);
        const expected = referenceEvaluate(p, idx, packet);
        if (
          got.verdict !== expected.verdict ||
          got.reason !== expected.reason ||
          got.endpointId !== expected.endpointId
        ) {
          expect(got, `seed ${seed}\npolicy ${describePolicy(p)}`).toEqual(expected);
        }
      }
      prev = compiled;
    }
  });
});

describe('stabilizeSetIds', () => {
  // 50 endpoints, one user each; `extra` adds one range to endpoint e10 (a one-range change) and
  // `appended` a new endpoint with a user set of its own at the end.
  const mk = (extra: boolean, appended: boolean) => {
    const eps: ResolvedEndpoint[] = [];
    for (let i = 0; i < 50; i++) {
      const ranges = [`10.1.${i}.0/24`, ...(extra && i === 10 ? ['10.2.0.0/24'] : [])];
      eps.push(endpoint(i + 1, `e${i}`, ['eth0'], ranges, [1000 + i]));
    }
    if (appended) eps.push(endpoint(51, 'new', ['eth0'], ['10.0.0.0/32'], [999]));
    return compilePolicy(policy(eps), ifindexOf).compiled;
  };
  const key = (e: { ifindex: number; addr: Uint8Array; prefix: number }) =>
    `${e.ifindex}|${e.addr.join('.')}/${e.prefix}`;
  const changedKeys = (before: CompiledPolicy, after: CompiledPolicy) => {
    const old = new Map(before.lpm.map((e) => [key(e), e.setId]));
    return after.lpm.filter((e) => old.get(key(e)) !== e.setId).map(key);
  };

  it('keeps the ids of unchanged user sets, so a one-range change touches one entry', () => {
    const before = mk(false, false);
    const plain = mk(true, true);
    expect(changedKeys(before, plain).length).toBeGreaterThan(1); // ids shift without it
    const after = stabilizeSetIds(plain, before);
    // The two new ranges, on eth0 and on ifindex 0; nothing else.
    expect(changedKeys(before, after).sort()).toEqual([
      '0|10.0.0.0/32',
      '0|10.2.0.0/24',
      '1|10.0.0.0/32',
      '1|10.2.0.0/24',
    ]);
    // Same decisions as the unstabilised compile.
    for (const e of after.lpm) {
      for (const ifindex of [1, UNCONFIGURED_IFINDEX]) {
        for (const uid of [999, 1000, 1010, 1049, 5, null]) {
          const p = { ifindex, family: 4 as const, daddr: e.addr, uid };
          expect(compiledEvaluate(after, p)).toEqual(compiledEvaluate(plain, p));
        }
      }
    }
    expect(new Set(after.sets.map((s) => `${s.setId}:${s.uid}`)).size).toBe(after.sets.length);
  });

  it('never gives a real set the id 0 and keeps SET_NONE entries at 0', () => {
    // prev: eth1 guards 10.9.0.0/24 for nobody (SET_NONE) and holds an empty set of its own.
    // next: the empty set (no members, like SET_NONE) appears in a new place. Were SET_NONE
    // counted as a set with no members, the empty set would be matched to id 0 and its
    // 'not-listed' would become 'iface-not-listed'.
    const prev = compilePolicy(
      policy([
        endpoint(1, 'a', ['eth0'], ['10.9.0.0/24'], [ALICE]),
        endpoint(2, 'nobody', ['eth1'], ['10.8.0.0/24'], []),
      ]),
      ifindexOf,
    ).compiled;
    const nextPolicy = policy([
      endpoint(1, 'nobody', ['eth0', 'eth1'], ['10.7.0.0/24'], []),
      endpoint(2, 'a', ['eth0'], ['10.9.0.0/24'], [ALICE]),
      endpoint(3, 'b', ['eth1'], ['10.9.0.0/24', '10.6.0.0/24'], [BOB]),
    ]);
    const plain = compilePolicy(nextPolicy, ifindexOf).compiled;
    expect(prev.lpm.some((e) => e.setId === SET_NONE)).toBe(true);
    expect(plain.lpm.some((e) => e.setId === SET_NONE)).toBe(true);
    const after = stabilizeSetIds(plain, prev);

    expect(after.sets.every((s) => s.setId !== SET_NONE)).toBe(true);
    expect(after.lpm.map((e) => key(e))).toEqual(plain.lpm.map((e) => key(e)));
    after.lpm.forEach((e, i) => {
      expect(e.setId === SET_NONE, key(e)).toBe(plain.lpm[i]?.setId === SET_NONE);
    });
    // Distinct sets stay distinct.
    expect(distinctSetIds(after).size).toBe(distinctSetIds(plain).size);
    for (const ifindex of [1, 2, UNCONFIGURED_IFINDEX]) {
      for (const addr of ['10.6.0.1', '10.7.0.1', '10.8.0.1', '10.9.0.1', '10.5.0.1']) {
        for (const uid of [ALICE, BOB, null]) {
          const p: Packet = { ifindex, family: 4, daddr: bytesOf(addr).bytes, uid };
          expect(compiledEvaluate(after, p), `${ifindex} ${addr} ${uid}`).toEqual(
            referenceEvaluate(nextPolicy, ifindexOf, p),
          );
        }
      }
    }
    expect(compiledEvaluate(after, pkt('eth0', '10.7.0.1', ALICE))).toEqual(NOT_LISTED);
    expect(compiledEvaluate(after, pkt('eth0', '10.6.0.1', ALICE))).toEqual(IFACE_NOT_LISTED);
  });

  it('returns the compile unchanged without a previous policy', () => {
    const c = mk(false, false);
    expect(stabilizeSetIds(c, undefined)).toBe(c);
  });
});

// ---- property test: time windows and unit:/cgroup: entries ----

/** A small cgroup tree: ids by level, root first (what the kernel's ancestor lookups return). */
const CGROUP_NODES = [
  { path: '/', id: 1, level: 0 },
  { path: '/a.slice', id: 10, level: 1 },
  { path: '/a.slice/x.service', id: 11, level: 2 },
  { path: '/a.slice/x.service/w', id: 12, level: 3 },
  { path: '/c.slice', id: 20, level: 1 },
] as const;
const SOCKET_CGROUPS: ReadonlyArray<readonly number[] | undefined> = [
  undefined,
  [1],
  [1, 10],
  [1, 10, 11],
  [1, 10, 11, 12],
  [1, 20],
];
/** Local time = UTC + 1 h (one zone transition before every instant drawn). */
const TZ = [{ fromUtcSec: 0, offsetSec: 3600 }];

/** Sorted, disjoint [start, end) of the week, 1..3 of them. */
function randomSegments(rng: Rng): Array<{ start: number; end: number }> {
  const cuts = [
    ...new Set(
      Array.from({ length: rng.int(1, 3) * 2 }, () => rng.int(0, 7) * 86_400 + rng.int(0, 4) * 21_600),
    ),
  ].sort((a, b) => a - b);
  const out: Array<{ start: number; end: number }> = [];
  for (let i = 0; i + 1 < cuts.length; i += 2) {
    const start = cuts[i] as number;
    const end = Math.min(cuts[i + 1] as number, 604_800);
    if (end > start) out.push({ start, end });
  }
  return out.length > 0 ? out : [{ start: 0, end: 3600 }];
}

describe('compilePolicy: property with time windows and unit:/cgroup: entries', () => {
  const BASE_SEED = Number(process.env['NTF_PROPERTY_SEED'] ?? 0x71e5);
  it('compiled entries decide every packet at every time as the policy says (300 policies × 200 packets)', () => {
    const via = { schedule: 0, cgroup: 0, closedDrop: 0 };
    for (let n = 0; n < 300; n++) {
      const seed = (BASE_SEED + n) >>> 0;
      const rng = new Rng(seed);
      const { p, ifindexOf: idx } = randomPolicy(rng);
      for (const e of p.endpoints) {
        if (rng.chance(0.5)) e.when = { windows: ['(generated)'], segments: randomSegments(rng) };
        if (rng.chance(0.5))
          e.cgroups = rng.subset(CGROUP_NODES.slice(1), 1, 2).map((node) => ({
            text: `cgroup:${node.path}`,
            kind: 'cgroup' as const,
            name: node.path,
            now: { ...node },
            uids: rng.chance(0.5) ? rng.subset(UID_POOL, 1, 2).sort((a, b) => a - b) : undefined,
          }));
      }
      const { compiled } = compilePolicy(p, idx);
      const where = `seed ${seed} (replay: NTF_PROPERTY_SEED=${seed})\npolicy ${describePolicy(p)}`;
      for (let k = 0; k < 200; k++) {
        const packet = { ...randomPacket(rng), cgroups: rng.pick(SOCKET_CGROUPS) };
        const at = { nowSec: 1_800_000_000 + rng.int(0, 604_799), tz: TZ };
        const expected = referenceEvaluate(p, idx, packet, at);
        const got = compiledEvaluate(compiled, packet, at);
        if (expected.verdict === 'allow' && expected.reason === 'endpoint') {
          const e = p.endpoints.find((x) => x.id === expected.endpointId);
          if (e?.when) via.schedule++;
          if (e && packet.uid !== null && !e.uids.includes(packet.uid) && !e.any) via.cgroup++;
        }
        if (expected.reason === 'not-listed' && compiled.schedules.length > 0) via.closedDrop++;
        if (
          got.verdict !== expected.verdict ||
          got.reason !== expected.reason ||
          got.endpointId !== expected.endpointId
        ) {
          const pk = { ...packet, daddr: packet.daddr.join('.'), at: at.nowSec };
          expect(got, `${where}\npacket ${JSON.stringify(pk)}`).toEqual(expected);
        }
      }
    }
    // Agreement must have covered grants through windows and cgroups, and drops of closed ones.
    expect(via.schedule).toBeGreaterThan(200);
    expect(via.cgroup).toBeGreaterThan(200);
    expect(via.closedDrop).toBeGreaterThan(200);
  });
});
