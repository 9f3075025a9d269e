// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest unit tests). No Electron import.
//
// Issue item 7: 636 KB of YAML (128 nested IPv6 prefixes × 700 uids) made 5.78 M set entries, a
// 568 MB heap and 2.9 s of compiling. Compilation now stops as soon as the output exceeds the
// maps' capacity (half of each map: both generations stay populated), with an error naming the
// limit. No wall-time assertions here; the work done is counted instead.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ipaddr from 'ipaddr.js';
import { describe, expect, it } from 'vitest';
import { CapacityError, compilePolicy, DEFAULT_LIMITS } from '../../../electron/policy/compile.js';
import type { CompileLimits } from '../../../electron/policy/compile.js';
import { hasErrors, loadPolicyFile } from '../../../electron/policy/load.js';
import type { AccountDb } from '../../../electron/policy/resolve.js';
import { MAX_POLICY_BYTES } from '../../../electron/policy/yaml.js';
import { NTF } from '../../../native-bridge/layouts.js';
import type {
  InterfaceSettings,
  Range,
  ResolvedEndpoint,
  ResolvedPolicy,
} from '../../../electron/policy/types.js';

const ENDPOINTS = 128;
const UIDS_PER_ENDPOINT = 700;
/** Five digits each, as in the reported file: 10000 … 99599. */
const FIRST_UID = 10_000;
/** Set entries the hostile policy would need: prefix k is covered by endpoints 1..k. */
const HOSTILE_SET_ENTRIES = (UIDS_PER_ENDPOINT * ENDPOINTS * (ENDPOINTS + 1)) / 2;

const ifindexOf = (name: string): number | undefined => ({ eth0: 1, eth1: 2 })[name];
const NO_ACCOUNTS: AccountDb = { users: new Map(), uidToName: new Map(), groups: new Map() };
const UNLIMITED: CompileLimits = { lpm4: Infinity, lpm6: Infinity, sets: Infinity };

/** 2001:db8:ffff:…:ffff cut to `prefix` bits: prefix k contains prefix k+1. */
function nestedRange(prefix: number): Range {
  const bytes = Uint8Array.from(ipaddr.parse('2001:db8:ffff:ffff:ffff:ffff:ffff:ffff').toByteArray());
  for (let i = prefix; i < 128; i++) bytes[i >> 3] = (bytes[i >> 3] ?? 0) & ~(0x80 >> (i & 7));
  return { family: 6, addr: bytes, prefix, text: `${ipaddr.fromByteArray([...bytes]).toString()}/${prefix}` };
}

function uidsOf(k: number): number[] {
  return Array.from({ length: UIDS_PER_ENDPOINT }, (_, j) => FIRST_UID + (k - 1) * UIDS_PER_ENDPOINT + j);
}

/** Endpoint k (1-based) guards the nested prefix of length k for its own 700 uids. */
function hostilePolicy(count = ENDPOINTS, ifaces = ['eth0']): ResolvedPolicy {
  const endpoints: ResolvedEndpoint[] = [];
  for (let k = 1; k <= count; k++) {
    endpoints.push({ id: k, name: `e${k}`, ifaces, ranges: [nestedRange(k)], uids: uidsOf(k), any: false });
  }
  const settings: InterfaceSettings = { default: 'deny', unowned: 'deny', essentials: true, mode: 'enforce' };
  return { endpoints, interfaces: new Map(ifaces.map((i) => [i, settings])), logAllowed: 'off' };
}

function hostileYaml(): string {
  const out = ['endpoints:'];
  for (let k = 1; k <= ENDPOINTS; k++) {
    out.push(`  - e${k}:`, '      iface: [eth0]', `      range: [${nestedRange(k).text}]`);
    out.push(`      allow: [${uidsOf(k).join(', ')}]`);
  }
  return out.join('\n') + '\n';
}

/** Replaces every endpoint's uid list with one that counts the elements the compiler reads. */
function countingUidReads(p: ResolvedPolicy): { reads: () => number } {
  let n = 0;
  for (const e of p.endpoints) {
    e.uids = new Proxy(e.uids, {
      get(target, key, receiver) {
        if (typeof key === 'string' && /^[0-9]+$/.test(key)) n++;
        return Reflect.get(target, key, receiver) as unknown;
      },
    });
  }
  return { reads: () => n };
}

function capacityError(f: () => unknown): CapacityError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(CapacityError);
    return e as CapacityError;
  }
  throw new Error('expected a CapacityError, but compilation succeeded');
}

describe('compile limits', () => {
  it('default limits are half of each kernel map', () => {
    expect(DEFAULT_LIMITS).toEqual({
      lpm4: NTF.LPM4_ENTRIES / 2,
      lpm6: NTF.LPM6_ENTRIES / 2,
      sets: NTF.SET_ENTRIES / 2,
    });
    expect(DEFAULT_LIMITS.sets).toBe(524_288);
    expect(Object.isFrozen(DEFAULT_LIMITS)).toBe(true);
  });

  it('rejects 128 nested IPv6 prefixes × 700 uids (5.78 M set entries) early, naming the limit', () => {
    expect(HOSTILE_SET_ENTRIES).toBe(5_779_200);
    const p = hostilePolicy();
    const counter = countingUidReads(p);
    const heapBefore = process.memoryUsage().heapUsed;
    const err = capacityError(() => compilePolicy(p, ifindexOf));
    const heapGrowth = process.memoryUsage().heapUsed - heapBefore;

    expect(err.map).toBe('sets');
    expect(err.limit).toBe(524_288);
    expect(err.name).toBe('CapacityError');
    expect(err.message).toMatch(/more than 524288 user-set entries/);
    // It stopped near the limit: every uid read goes into at most one set entry, and the full
    // compile would read all 5.78 M.
    expect(counter.reads()).toBeGreaterThan(DEFAULT_LIMITS.sets / 2);
    expect(counter.reads()).toBeLessThanOrEqual(2 * DEFAULT_LIMITS.sets + UIDS_PER_ENDPOINT);
    // Loosely: the unbounded compile grew the heap by 568 MB.
    expect(heapGrowth).toBeLessThan(150 * 1024 * 1024);
  });

  it('compiles the same shape just under the limit, and fails one endpoint later', () => {
    // 38 nested prefixes: 700 × (1 + … + 38) = 518,700 entries ≤ 524,288; 39: 546,000.
    const fits = compilePolicy(hostilePolicy(38), ifindexOf).compiled;
    expect(fits.sets).toHaveLength(518_700);
    expect(fits.lpm).toHaveLength(2 * 38); // eth0 and ifindex 0
    const err = capacityError(() => compilePolicy(hostilePolicy(39), ifindexOf));
    expect([err.map, err.limit]).toEqual(['sets', 524_288]);
  });

  it('stops at a small custom set limit, before building more than the limit', () => {
    // Exactly enough: 700 × (1 + 2 + 3 + 4) = 7,000.
    const four = (sets: number) => compilePolicy(hostilePolicy(4), ifindexOf, { ...UNLIMITED, sets });
    expect(four(7000).compiled.sets).toHaveLength(7000);
    expect([capacityError(() => four(6999)).map, capacityError(() => four(6999)).limit]).toEqual([
      'sets',
      6999,
    ]);

    const p = hostilePolicy();
    const counter = countingUidReads(p);
    const err = capacityError(() => compilePolicy(p, ifindexOf, { ...UNLIMITED, sets: 1000 }));
    expect(err.map).toBe('sets');
    expect(err.limit).toBe(1000);
    expect(err.message).toMatch(/more than 1000 user-set entries/);
    expect(counter.reads()).toBeLessThanOrEqual(2 * 1000 + UIDS_PER_ENDPOINT);
  });

  // KNOWN BUG (reported, not fixed): SetTable.setIdFor checks the limit while it builds a
  // mapping, before it knows whether the mapping is new. A second cover with the same mapping
  // (here: bob's narrow endpoint lists only users the wide one lists first) is counted again,
  // so a policy that needs exactly `limit` entries is rejected. Remove `.fails` once fixed.
  it('accepts a policy that needs exactly the set limit when covers share a mapping', () => {
    const users = Array.from({ length: 100 }, (_, i) => 2000 + i);
    const v4 = (a: number[], prefix: number): Range => ({
      family: 4,
      addr: Uint8Array.from(a),
      prefix,
      text: '',
    });
    const settings: InterfaceSettings = {
      default: 'deny',
      unowned: 'deny',
      essentials: true,
      mode: 'enforce',
    };
    const p: ResolvedPolicy = {
      endpoints: [
        { id: 1, name: 'wide', ifaces: ['eth0'], ranges: [v4([10, 0, 0, 0], 8)], uids: users, any: false },
        {
          id: 2,
          name: 'narrow',
          ifaces: ['eth0'],
          ranges: [v4([10, 1, 0, 0], 16)],
          uids: users.slice(0, 10),
          any: false,
        },
      ],
      interfaces: new Map([['eth0', settings]]),
      logAllowed: 'off',
    };
    // Both prefixes map every user to endpoint 1: one set of 100 entries.
    expect(compilePolicy(p, ifindexOf, UNLIMITED).compiled.sets).toHaveLength(100);
    expect(compilePolicy(p, ifindexOf, { ...UNLIMITED, sets: 100 }).compiled.sets).toHaveLength(100);
  });

  it('counts trie entries over every interface, ifindex 0 included', () => {
    // 128 IPv6 prefixes on eth0, eth1 and ifindex 0: 384 entries; 2 IPv4 ones: 6.
    const p = hostilePolicy(ENDPOINTS, ['eth0', 'eth1']);
    for (const e of p.endpoints) e.uids = [e.id]; // few set entries: only the tries are large
    p.endpoints.push({
      id: ENDPOINTS + 1,
      name: 'v4',
      ifaces: ['eth0'],
      ranges: [
        { family: 4, addr: Uint8Array.from([10, 0, 0, 0]), prefix: 8, text: '10.0.0.0/8' },
        { family: 4, addr: Uint8Array.from([192, 0, 2, 0]), prefix: 24, text: '192.0.2.0/24' },
      ],
      uids: [],
      any: true,
    });
    const limits = { lpm4: 6, lpm6: 384, sets: Infinity };
    const { compiled } = compilePolicy(p, ifindexOf, limits);
    expect(compiled.lpm.filter((e) => e.family === 6)).toHaveLength(384);
    expect(compiled.lpm.filter((e) => e.family === 4)).toHaveLength(6);

    const v6 = capacityError(() => compilePolicy(p, ifindexOf, { ...limits, lpm6: 383 }));
    expect([v6.map, v6.limit]).toEqual(['lpm6', 383]);
    expect(v6.message).toMatch(/more than 383 IPv6 range entries/);
    const v4 = capacityError(() => compilePolicy(p, ifindexOf, { ...limits, lpm4: 5 }));
    expect([v4.map, v4.limit]).toEqual(['lpm4', 5]);
    expect(v4.message).toMatch(/more than 5 IPv4 range entries/);
  });

  it('rejects more IPv4 ranges than the trie holds, naming the knob', () => {
    // 50,000 /32s on 2 interfaces and ifindex 0: 150,000 > 131,072 (maps of 262,144 entries).
    const limits = { ...DEFAULT_LIMITS, lpm4: 131_072 };
    const ranges: Range[] = Array.from({ length: 50_000 }, (_, i) => ({
      family: 4,
      addr: Uint8Array.from([10, (i >> 16) & 255, (i >> 8) & 255, i & 255]),
      prefix: 32,
      text: `r${i}`,
    }));
    const settings: InterfaceSettings = {
      default: 'deny',
      unowned: 'deny',
      essentials: true,
      mode: 'enforce',
    };
    const p: ResolvedPolicy = {
      endpoints: [{ id: 1, name: 'many', ifaces: ['eth0', 'eth1'], ranges, uids: [1000], any: false }],
      interfaces: new Map([
        ['eth0', settings],
        ['eth1', settings],
      ]),
      logAllowed: 'off',
    };
    const err = capacityError(() => compilePolicy(p, ifindexOf, limits));
    expect([err.map, err.limit]).toEqual(['lpm4', 131_072]);
    expect(err.message).toMatch(/more than 131072 IPv4 range entries.*raise it with --range-entries N/);
    // With eth1 absent, eth0 and ifindex 0 fit; the default limits hold them all.
    const eth0Only = compilePolicy(p, (n) => (n === 'eth0' ? 1 : undefined), limits);
    expect(eth0Only.compiled.lpm).toHaveLength(100_000);
    expect(compilePolicy(p, ifindexOf).compiled.lpm).toHaveLength(150_000);
    expect(DEFAULT_LIMITS.lpm4).toBe(4_194_304);
  });

  it('loads the 636 KB hostile file through the real path, and compiling it fails on capacity', () => {
    const text = hostileYaml();
    const bytes = Buffer.byteLength(text);
    expect(bytes).toBeGreaterThan(600_000);
    expect(bytes).toBeLessThan(MAX_POLICY_BYTES); // the input cap lets it through
    const dir = mkdtempSync(join(tmpdir(), 'ntf-capacity-'));
    try {
      const file = join(dir, 'hostile.yml');
      writeFileSync(file, text);
      const loaded = loadPolicyFile(file, NO_ACCOUNTS);
      expect(hasErrors(loaded.diagnostics), JSON.stringify(loaded.diagnostics.slice(0, 3))).toBe(false);
      const resolved = loaded.resolved;
      expect(resolved).toBeDefined();
      if (!resolved) return;
      expect(resolved.endpoints).toHaveLength(ENDPOINTS);
      expect(resolved.endpoints.map((e) => e.uids.length)).toEqual(Array(ENDPOINTS).fill(UIDS_PER_ENDPOINT));
      expect(resolved.endpoints.map((e) => e.ranges[0]?.prefix)).toEqual(
        Array.from({ length: ENDPOINTS }, (_, i) => i + 1),
      );
      const err = capacityError(() => compilePolicy(resolved, ifindexOf));
      expect([err.map, err.limit]).toEqual(['sets', 524_288]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
