// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest). Needs a C compiler (cc) and the kernel UAPI headers.
//
// The TypeScript mirror of bpf/net_tc_filter.h must agree with the C compiler on every
// struct size, field offset and constant: this compiles a program that prints them. Then every
// codec of layouts.ts runs on buffers built from that table (see below).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as L from '../../../native-bridge/layouts.js';
import { LAYOUTS, NTF, SYS_LAYOUTS } from '../../../native-bridge/layouts.js';
import type { Layout } from '../../../native-bridge/layouts.js';
import koffi from 'koffi';
import { packageRoot } from '../../../electron/engine/paths.js';
import { MapBatchOpts, TcHook, TcOpts, TestRunOpts } from '../../../native-bridge/libbpf.js';

const CONSTANTS: Record<keyof typeof NTF, string> = {
  UID_ANY: 'NTF_UID_ANY',
  CG_ANY: 'NTF_CG_ANY',
  CG_LEVELS: 'NTF_CG_LEVELS',
  SCHEDULE_SEGMENTS: 'NTF_SCHEDULE_SEGMENTS',
  SCHEDULE_ENTRIES: 'NTF_SCHEDULE_ENTRIES',
  TZ_TRANSITIONS: 'NTF_TZ_TRANSITIONS',
  WEEK_SEC: 'NTF_WEEK_SEC',
  VERDICT_ALLOW: 'NTF_VERDICT_ALLOW',
  VERDICT_DROP: 'NTF_VERDICT_DROP',
  VERDICT_WOULD_DROP: 'NTF_VERDICT_WOULD_DROP',
  REASON_ENDPOINT: 'NTF_REASON_ENDPOINT',
  REASON_NOT_LISTED: 'NTF_REASON_NOT_LISTED',
  REASON_DEFAULT_ALLOW: 'NTF_REASON_DEFAULT_ALLOW',
  REASON_DEFAULT_DENY: 'NTF_REASON_DEFAULT_DENY',
  REASON_UNOWNED_ALLOW: 'NTF_REASON_UNOWNED_ALLOW',
  REASON_UNOWNED_DENY: 'NTF_REASON_UNOWNED_DENY',
  REASON_ESSENTIAL: 'NTF_REASON_ESSENTIAL',
  REASON_IFACE_NOT_LISTED: 'NTF_REASON_IFACE_NOT_LISTED',
  REASON_ROUTING_HEADER: 'NTF_REASON_ROUTING_HEADER',
  IFINDEX_ANY: 'NTF_IFINDEX_ANY',
  RH_MAX: 'NTF_RH_MAX',
  LPM4_ENTRIES: 'NTF_LPM4_ENTRIES',
  LPM6_ENTRIES: 'NTF_LPM6_ENTRIES',
  SET_ENTRIES: 'NTF_SET_ENTRIES',
  IFACE_ENTRIES: 'NTF_IFACE_ENTRIES',
  IFACE_SLOTS: 'NTF_IFACE_SLOTS',
  CGROUP_ENTRIES: 'NTF_CGROUP_ENTRIES',
  LOG_OFF: 'NTF_LOG_OFF',
  LOG_SAMPLE: 'NTF_LOG_SAMPLE',
  LOG_ALL: 'NTF_LOG_ALL',
  EVENT_UNOWNED: 'NTF_EVENT_UNOWNED',
  EVENT_NEW_FLOW: 'NTF_EVENT_NEW_FLOW',
  EVENT_ROUTED: 'NTF_EVENT_ROUTED',
  EVENT_UID_UNRECORDED: 'NTF_EVENT_UID_UNRECORDED',
  AF_INET: 'NTF_AF_INET',
  AF_INET6: 'NTF_AF_INET6',
  ATTACH_QDISC_OURS: 'NTF_ATTACH_QDISC_OURS',
  SK_RECORDED: 'NTF_SK_RECORDED',
  CACHE_TIMED: 'NTF_CACHE_TIMED',
  MAX_ENDPOINT_ID: 'NTF_MAX_ENDPOINT_ID',
  L2_UNKNOWN: 'NTF_L2_UNKNOWN',
};

/** printf statements for the size, field offsets and field sizes of each layout. */
function layoutBody(layouts: Layout[]): string[] {
  const body: string[] = [];
  for (const l of layouts) {
    body.push(`printf("${l.struct} %zu\\n", sizeof(struct ${l.struct}));`);
    for (const [f] of Object.entries(l.fields)) {
      body.push(`printf("${l.struct}.${f} %zu\\n", offsetof(struct ${l.struct}, ${f}));`);
      body.push(`printf("${l.struct}.${f}#size %zu\\n", sizeof(((struct ${l.struct} *)0)->${f}));`);
    }
  }
  return body;
}

function cLayouts(): Record<string, number> {
  const body = layoutBody(Object.values(LAYOUTS));
  for (const [k, c] of Object.entries(CONSTANTS))
    body.push(`printf("${k} %llu\\n", (unsigned long long)(${c}));`);
  return cPrint(['<linux/types.h>', '"net_tc_filter.h"'], body);
}

/** Checks a layout against the compiler's numbers; `atLeast`: the C struct may be larger. */
function expectLayout(l: Layout, c: Record<string, number>, atLeast = false): void {
  if (atLeast) expect(c[l.struct]).toBeGreaterThanOrEqual(l.size);
  else expect(l.size).toBe(c[l.struct]);
  for (const [f, { offset, type }] of Object.entries(l.fields)) {
    expect({ field: f, offset }).toEqual({ field: f, offset: c[`${l.struct}.${f}`] });
    const size = type.startsWith('bytes') ? Number(type.slice(5)) : SIZES[type];
    expect({ field: f, size }).toEqual({ field: f, size: c[`${l.struct}.${f}#size`] });
    expect(offset + (size ?? 0)).toBeLessThanOrEqual(l.size);
  }
}

/** Runs a C program made of `body` (statements printing "name value" lines) and parses them. */
function cPrint(includes: string[], body: string[]): Record<string, number> {
  const lines = [
    '#include <stdio.h>',
    '#include <stddef.h>',
    ...includes.map((h) => `#include ${h}`),
    'int main(void) {',
    ...body,
    'return 0; }',
  ];
  const dir = mkdtempSync(join(tmpdir(), 'ntf-layout-'));
  try {
    writeFileSync(join(dir, 'l.c'), lines.join('\n'));
    execFileSync('cc', ['-I', join(packageRoot(), 'bpf'), '-o', join(dir, 'l'), join(dir, 'l.c')]);
    const out = execFileSync(join(dir, 'l'), { encoding: 'utf8' });
    return Object.fromEntries(
      out
        .trim()
        .split('\n')
        .map((s) => [s.split(' ')[0], Number(s.split(' ')[1])]),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const SIZES: Record<string, number> = { u8: 1, u16: 2, u32: 4, u64: 8 };

describe('native-bridge layouts match bpf/net_tc_filter.h', () => {
  const c = cLayouts();
  for (const l of Object.values(LAYOUTS)) {
    it(`struct ${l.struct}`, () => expectLayout(l, c));
  }
  it('constants', () => {
    for (const [k, v] of Object.entries(NTF)) expect({ k, v }).toEqual({ k, v: c[k] });
  });
});

describe('SYS_LAYOUTS match the kernel and libc headers', () => {
  const c = cPrint(
    ['<linux/bpf.h>', '<sys/socket.h>', '<linux/netlink.h>', '<net/if.h>', '<time.h>'],
    layoutBody(Object.values(SYS_LAYOUTS)),
  );
  const growing = new Set<Layout>([SYS_LAYOUTS.mapInfo, SYS_LAYOUTS.progInfo]);
  for (const l of Object.values(SYS_LAYOUTS))
    it(`struct ${l.struct}`, () => expectLayout(l, c, growing.has(l)));
});

// The option structs libbpf.ts declares for koffi (their `sz` tells libbpf which fields we know).
describe('libbpf option structs match /usr/include/bpf', () => {
  const structs = {
    bpf_tc_hook: TcHook,
    bpf_tc_opts: TcOpts,
    bpf_map_batch_opts: MapBatchOpts,
    bpf_test_run_opts: TestRunOpts,
  };
  const members = (t: unknown) =>
    Object.keys(
      (koffi.type(t as Parameters<typeof koffi.type>[0]) as unknown as { members: object }).members,
    );
  const body: string[] = [];
  for (const [name, t] of Object.entries(structs)) {
    body.push(`printf("${name} %zu\\n", sizeof(struct ${name}));`);
    for (const m of members(t)) body.push(`printf("${name}.${m} %zu\\n", offsetof(struct ${name}, ${m}));`);
  }
  const c = cPrint(['<bpf/libbpf.h>', '<bpf/bpf.h>'], body);
  for (const [name, t] of Object.entries(structs))
    it(`struct ${name}`, () => {
      expect(koffi.sizeof(t)).toBe(c[name]);
      for (const m of members(t))
        expect({ m, offset: koffi.offsetof(t, m) }).toEqual({ m, offset: c[`${name}.${m}`] });
    });
});

// ---- every codec against the table ----
//
// The buffers here are built field by field from LAYOUTS with this file's own writer, padding
// filled with 0xa5 and every field a different value: a codec that reads or writes any byte
// the table does not give the field fails (an encoder's output must equal the table-built
// buffer byte for byte, padding zero).

type Raw = Record<string, number | bigint | Uint8Array>;
const PAD = 0xa5;

function width(type: string): number {
  return type.startsWith('bytes') ? Number(type.slice(5)) : (SIZES[type] ?? 0);
}

/** The struct `raw` describes (fields it leaves out: 0), padding `pad`. */
function build(l: Layout, raw: Raw, pad = 0): Buffer {
  const b = Buffer.alloc(l.size, pad);
  for (const [name, { offset, type }] of Object.entries(l.fields)) {
    b.fill(0, offset, offset + width(type));
    const v = raw[name];
    if (v === undefined) continue;
    if (type === 'u8') b.writeUInt8(v as number, offset);
    else if (type === 'u16') b.writeUInt16LE(v as number, offset);
    else if (type === 'u32') b.writeUInt32LE(v as number, offset);
    else if (type === 'u64') b.writeBigUInt64LE(v as bigint, offset);
    else b.set(v as Uint8Array, offset);
  }
  return b;
}

/** Different values for every field (mulberry32 from `seed`; u8 fields: distinct by position). */
function sample(l: Layout, seed: number, over: Raw = {}): Raw {
  let s = seed * 0x9e3779b9;
  const next = () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  };
  const raw: Raw = {};
  Object.entries(l.fields).forEach(([name, { type }], i) => {
    if (type === 'u8') raw[name] = (0x11 * (i + 1) + seed) & 0xff;
    else if (type === 'u16') raw[name] = next() & 0xffff;
    else if (type === 'u32') raw[name] = next();
    else if (type === 'u64') raw[name] = (BigInt(next()) << 32n) | BigInt(next());
    else raw[name] = Uint8Array.from({ length: width(type) }, () => next() & 0xff);
  });
  return { ...raw, ...over };
}

/** Buffers of `l` for three seeds, each with `over` applied. */
function samples(l: Layout, over: Raw = {}): Array<{ raw: Raw; buf: Buffer }> {
  return [1, 2, 3].map((seed) => {
    const raw = sample(l, seed, over);
    return { raw, buf: build(l, raw, PAD) };
  });
}

/** One field 1 and the others 0, for each field named (flags decoded as booleans). */
function oneHot(names: string[]): Raw[] {
  return names.map((n) => Object.fromEntries(names.map((m) => [m, m === n ? 1 : 0])));
}

const u32 = (r: Raw, k: string) => r[k] as number;
const u64 = (r: Raw, k: string) => r[k] as bigint;
const bytes = (r: Raw, k: string, n?: number) => Uint8Array.from((r[k] as Uint8Array).subarray(0, n));

const IFACE_FLAGS = ['default_allow', 'unowned_allow', 'essentials', 'dhcp_unicast', 'audit'];

const SPECS: Record<string, () => void> = {
  encodeLpmKey() {
    const v4 = Uint8Array.of(192, 0, 2, 0);
    const v6 = Uint8Array.from({ length: 16 }, (_, i) => 0x20 + i);
    expect(L.encodeLpmKey(7, 3, 4, 24, v4)).toEqual(
      build(LAYOUTS.lpm4Key, { prefixlen: 64 + 24, gen: 7, ifindex: 3, addr: v4 }),
    );
    expect(L.encodeLpmKey(1, 0, 6, 48, v6)).toEqual(
      build(LAYOUTS.lpm6Key, { prefixlen: 64 + 48, gen: 1, ifindex: 0, addr: v6 }),
    );
    expect(() => L.encodeLpmKey(0, 0, 4, 32, v6)).toThrow(/ntf_lpm4_key\.addr: 16 bytes, room for 4/);
  },
  decodeLpmKey() {
    for (const [family, l] of [
      [4, LAYOUTS.lpm4Key],
      [6, LAYOUTS.lpm6Key],
    ] as const)
      for (const { raw, buf } of samples(l))
        expect(L.decodeLpmKey(buf, family)).toEqual({
          prefix: u32(raw, 'prefixlen') - 64,
          gen: u32(raw, 'gen'),
          ifindex: u32(raw, 'ifindex'),
          family,
          addr: bytes(raw, 'addr'),
        });
  },
  encodeSetKey() {
    const l = LAYOUTS.setKey;
    expect(L.encodeSetKey(1, 5, NTF.UID_ANY)).toEqual(
      build(l, { gen: 1, set_id: 5, uid: 0xffffffff, cg: NTF.CG_ANY }),
    );
    expect(L.encodeSetKey(0, 9, 1000, 3)).toEqual(build(l, { gen: 0, set_id: 9, uid: 1000, cg: 3 }));
  },
  decodeSetKey() {
    for (const { raw, buf } of samples(LAYOUTS.setKey))
      expect(L.decodeSetKey(buf)).toEqual({
        gen: u32(raw, 'gen'),
        setId: u32(raw, 'set_id'),
        uid: u32(raw, 'uid'),
        cg: u32(raw, 'cg'),
      });
  },
  encodeCgroupKey() {
    const l = LAYOUTS.cgroupKey;
    expect(L.encodeCgroupKey(1, 123_456_789_012)).toEqual(build(l, { gen: 1, id: 123_456_789_012n }));
    expect(L.encodeCgroupKey(0, Number.MAX_SAFE_INTEGER)).toEqual(
      build(l, { gen: 0, id: BigInt(Number.MAX_SAFE_INTEGER) }),
    );
    for (const bad of [2 ** 53, -1, 1.5, NaN])
      expect(() => L.encodeCgroupKey(0, bad)).toThrow(/not a safe non-negative integer/);
  },
  decodeCgroupKey() {
    for (const { raw, buf } of samples(LAYOUTS.cgroupKey))
      expect(L.decodeCgroupKey(buf)).toEqual({ gen: u32(raw, 'gen'), id: Number(u64(raw, 'id')) });
  },
  encodeSetVal() {
    expect(L.encodeSetVal({ endpointId: 7, scheduleId: 3 })).toEqual(
      build(LAYOUTS.setVal, { endpoint_id: 7, schedule_id: 3 }),
    );
  },
  decodeSetVal() {
    for (const { raw, buf } of samples(LAYOUTS.setVal))
      expect(L.decodeSetVal(buf)).toEqual({
        endpointId: u32(raw, 'endpoint_id'),
        scheduleId: u32(raw, 'schedule_id'),
      });
  },
  encodeScheduleKey() {
    expect(L.encodeScheduleKey(1, 9)).toEqual(build(LAYOUTS.scheduleKey, { gen: 1, id: 9 }));
  },
  decodeScheduleKey() {
    for (const { raw, buf } of samples(LAYOUTS.scheduleKey))
      expect(L.decodeScheduleKey(buf)).toEqual({ gen: u32(raw, 'gen'), id: u32(raw, 'id') });
  },
  encodeSchedule() {
    const segs = [
      { start: 0, end: 10, endpointId: 1 },
      { start: 28_800, end: 64_800, endpointId: 2 },
    ];
    const seg = Buffer.alloc(LAYOUTS.segment.size * NTF.SCHEDULE_SEGMENTS);
    segs.forEach((x, i) =>
      build(LAYOUTS.segment, { start: x.start, end: x.end, endpoint_id: x.endpointId }).copy(
        seg,
        i * LAYOUTS.segment.size,
      ),
    );
    expect(L.encodeSchedule(segs)).toEqual(build(LAYOUTS.schedule, { count: 2, seg }));
    expect(() =>
      L.encodeSchedule(Array(NTF.SCHEDULE_SEGMENTS + 1).fill({ start: 0, end: 1, endpointId: 1 })),
    ).toThrow(/at most 64 segments/);
  },
  decodeSchedule() {
    const segs = [{ start: 5, end: 6, endpointId: 3 }];
    expect(L.decodeSchedule(L.encodeSchedule(segs))).toEqual(segs);
  },
  encodeClock() {
    const tz = Buffer.alloc(LAYOUTS.tz.size * NTF.TZ_TRANSITIONS);
    build(LAYOUTS.tz, { from_utc_sec: BigInt.asUintN(64, -5n), offset_sec: -18_000 >>> 0 }).copy(tz, 0);
    expect(
      L.encodeClock({ taiMinusUtcNs: 37_000_000_000n, tz: [{ fromUtcSec: -5, offsetSec: -18_000 }] }),
    ).toEqual(build(LAYOUTS.clock, { tai_minus_utc_ns: 37_000_000_000n, count: 1, tz }));
  },
  decodeClock() {
    const c = { taiMinusUtcNs: -1n, tz: [{ fromUtcSec: 1_800_000_000, offsetSec: 3600 }] };
    expect(L.decodeClock(L.encodeClock(c))).toEqual(c);
  },
  decodeSk() {
    for (const { raw, buf } of samples(LAYOUTS.sk))
      expect(L.decodeSk(buf)).toEqual({ uid: u32(raw, 'uid'), flags: u32(raw, 'flags') });
  },
  encodeIfaceKey() {
    expect(L.encodeIfaceKey(1, 42)).toEqual(build(LAYOUTS.ifaceKey, { gen: 1, ifindex: 42 }));
  },
  decodeIfaceKey() {
    for (const { raw, buf } of samples(LAYOUTS.ifaceKey))
      expect(L.decodeIfaceKey(buf)).toEqual({ gen: u32(raw, 'gen'), ifindex: u32(raw, 'ifindex') });
  },
  encodeIfaceCfg() {
    const l = LAYOUTS.ifaceCfg;
    for (const flags of oneHot(IFACE_FLAGS)) {
      const c = {
        defaultAllow: flags.default_allow === 1,
        unownedAllow: flags.unowned_allow === 1,
        essentials: flags.essentials === 1,
        dhcpUnicast: flags.dhcp_unicast === 1,
        audit: flags.audit === 1,
        logAllowed: NTF.LOG_SAMPLE,
        l2Len: 14,
      };
      const want = { ...flags, log_allowed: NTF.LOG_SAMPLE, l2_len: 14, present: 1 };
      expect(L.encodeIfaceCfg(c)).toEqual(build(l, { ...want, cg_levels: 0 }));
      expect(L.encodeIfaceCfg({ ...c, cgLevels: 0x8001 })).toEqual(build(l, { ...want, cg_levels: 0x8001 }));
    }
  },
  decodeIfaceCfg() {
    const l = LAYOUTS.ifaceCfg;
    for (const over of [{}, ...oneHot(IFACE_FLAGS)])
      for (const { raw, buf } of samples(l, over))
        expect(L.decodeIfaceCfg(buf)).toEqual({
          defaultAllow: raw.default_allow === 1,
          unownedAllow: raw.unowned_allow === 1,
          essentials: raw.essentials === 1,
          logAllowed: raw.log_allowed,
          l2Len: raw.l2_len,
          dhcpUnicast: raw.dhcp_unicast === 1,
          audit: raw.audit === 1,
          cgLevels: raw.cg_levels,
        });
  },
  encodeConfig() {
    const l = LAYOUTS.config;
    expect(L.encodeConfig({ overflowUid: 65534, eventsPerUser: 1000, eventBurst: 2 })).toEqual(
      build(l, { overflow_uid: 65534, event_interval_ns: 1_000_000n, event_burst_ns: 2_000_000n }),
    );
    expect(L.encodeConfig({ overflowUid: -1, eventsPerUser: 0, eventBurst: 5 })).toEqual(
      build(l, { overflow_uid: 0xffffffff, event_interval_ns: 0n, event_burst_ns: 0n }),
    );
  },
  encodeState() {
    expect(L.encodeState({ epoch: 5n, trialDeadlineNs: 2n ** 63n + 1n, fallbackEpoch: 4n })).toEqual(
      build(LAYOUTS.state, { epoch: 5n, trial_deadline_ns: 2n ** 63n + 1n, fallback_epoch: 4n }),
    );
  },
  decodeState() {
    for (const { raw, buf } of samples(LAYOUTS.state))
      expect(L.decodeState(buf)).toEqual({
        epoch: u64(raw, 'epoch'),
        trialDeadlineNs: u64(raw, 'trial_deadline_ns'),
        fallbackEpoch: u64(raw, 'fallback_epoch'),
      });
  },
  decodeFlowKey() {
    const l = LAYOUTS.flowKey;
    for (const over of [
      {},
      { family: NTF.AF_INET },
      { family: NTF.AF_INET6, unowned: 1 },
      { unowned: 0 },
    ] as Raw[])
      for (const { raw, buf } of samples(l, over))
        expect(L.decodeFlowKey(buf)).toEqual({
          ifindex: u32(raw, 'ifindex'),
          uid: u32(raw, 'uid'),
          family: raw.family,
          proto: raw.proto,
          dport: raw.dport,
          unowned: raw.unowned === 1,
          daddr: bytes(raw, 'daddr', raw.family === NTF.AF_INET ? 4 : undefined),
          cgroup: Number(u64(raw, 'cgroup')),
        });
  },
  decodeFlowVal() {
    for (const { raw, buf } of samples(LAYOUTS.flowVal)) {
      const c = u64(raw, 'cached');
      expect(L.decodeFlowVal(buf)).toEqual({
        epoch32: Number(c >> 32n),
        endpointId: Number((c >> 8n) & 0xffffffn),
        reason: Number((c >> 4n) & 0xfn),
        verdict: Number(c & 0x7n), // bit 3: NTF_CACHE_TIMED
        firstNs: u64(raw, 'first_ns'),
        lastNs: u64(raw, 'last_ns'),
        allowedPackets: u64(raw, 'allowed_packets'),
        allowedBytes: u64(raw, 'allowed_bytes'),
        droppedPackets: u64(raw, 'dropped_packets'),
        droppedBytes: u64(raw, 'dropped_bytes'),
        wouldDropPackets: u64(raw, 'would_drop_packets'),
        wouldDropBytes: u64(raw, 'would_drop_bytes'),
        sport: raw.sport,
      });
    }
  },
  decodeCounters() {
    const l = LAYOUTS.counters;
    expect(L.COUNTER_NAMES).toEqual(Object.keys(l.fields));
    const cpus = samples(l);
    const buf = Buffer.concat(cpus.map((c) => c.buf));
    expect(L.decodeCounters(buf, cpus.length)).toEqual(
      Object.fromEntries(
        Object.keys(l.fields).map((n) => [n, cpus.reduce((sum, c) => sum + u64(c.raw, n), 0n)]),
      ),
    );
  },
  decodeBudgetKey() {
    for (const over of [{ unowned: 0 }, { unowned: 1 }])
      for (const { raw, buf } of samples(LAYOUTS.budgetKey, over))
        expect(L.decodeBudgetKey(buf)).toEqual({ uid: u32(raw, 'uid'), unowned: raw.unowned === 1 });
  },
  decodeBudgetVal() {
    for (const { raw, buf } of samples(LAYOUTS.budgetVal))
      expect(L.decodeBudgetVal(buf)).toEqual({ tatNs: u64(raw, 'tat'), suppressed: u64(raw, 'suppressed') });
  },
  decodeEvent() {
    const l = LAYOUTS.event;
    for (const over of [{}, { family: NTF.AF_INET }, { family: NTF.AF_INET6 }] as Raw[])
      for (const { raw, buf } of samples(l, over)) {
        // The record in the middle of three, its neighbours padding: `off` is honoured.
        const ring = Buffer.concat([Buffer.alloc(l.size, PAD), buf, Buffer.alloc(l.size, PAD)]);
        const n = raw.family === NTF.AF_INET ? 4 : undefined;
        expect(L.decodeEvent(ring, l.size)).toEqual({
          tsNs: u64(raw, 'ts_ns'),
          ifindex: u32(raw, 'ifindex'),
          uid: u32(raw, 'uid'),
          len: u32(raw, 'len'),
          endpointId: u32(raw, 'endpoint_id'),
          sport: raw.sport,
          dport: raw.dport,
          family: raw.family,
          proto: raw.proto,
          verdict: raw.verdict,
          reason: raw.reason,
          flags: raw.flags,
          saddr: bytes(raw, 'saddr', n),
          daddr: bytes(raw, 'daddr', n),
          cgroup: Number(u64(raw, 'cgroup')),
        });
        expect(L.decodeEvent(buf)).toEqual(L.decodeEvent(ring, l.size));
      }
  },
  encodeAttach() {
    const l = LAYOUTS.attach;
    expect(L.encodeAttach({ ifindex: 3, flags: NTF.ATTACH_QDISC_OURS, ifname: 'eth0' })).toEqual(
      build(l, { ifindex: 3, flags: NTF.ATTACH_QDISC_OURS, ifname: Buffer.from('eth0') }),
    );
    // 15 bytes of room before the NUL: whole characters only.
    expect(L.encodeAttach({ ifindex: 1, flags: 0, ifname: 'é'.repeat(10) })).toEqual(
      build(l, { ifindex: 1, flags: 0, ifname: Buffer.from('é'.repeat(7)) }),
    );
  },
  decodeAttach() {
    const l = LAYOUTS.attach;
    for (const name of ['', 'veth-ntf0', 'x'.repeat(16)]) {
      const ifname = Buffer.alloc(16);
      ifname.write(name);
      for (const { raw, buf } of samples(l, { ifname }))
        expect(L.decodeAttach(buf)).toEqual({
          ifindex: u32(raw, 'ifindex'),
          flags: u32(raw, 'flags'),
          ifname: name,
        });
    }
  },
};

describe('every codec reads and writes exactly the fields of LAYOUTS', () => {
  it('each exported encoder and decoder has a check here', () => {
    const codecs = Object.keys(L).filter((k) => /^(en|de)code[A-Z]/.test(k));
    expect(codecs.sort()).toEqual(Object.keys(SPECS).sort());
  });
  for (const [name, check] of Object.entries(SPECS)) it(name, check);

  it('decoders invert encoders', () => {
    const v4 = Uint8Array.of(10, 1, 2, 0);
    expect(L.decodeLpmKey(L.encodeLpmKey(3, 7, 4, 24, v4), 4)).toEqual({
      gen: 3,
      ifindex: 7,
      family: 4,
      prefix: 24,
      addr: v4,
    });
    expect(L.decodeSetKey(L.encodeSetKey(1, 2, NTF.UID_ANY, 4))).toEqual({
      gen: 1,
      setId: 2,
      uid: NTF.UID_ANY,
      cg: 4,
    });
    expect(L.decodeCgroupKey(L.encodeCgroupKey(1, 4242))).toEqual({ gen: 1, id: 4242 });
    expect(L.decodeIfaceKey(L.encodeIfaceKey(0, 9))).toEqual({ gen: 0, ifindex: 9 });
    const cfg = {
      defaultAllow: true,
      unownedAllow: false,
      essentials: true,
      logAllowed: NTF.LOG_ALL,
      l2Len: NTF.L2_UNKNOWN,
      dhcpUnicast: true,
      audit: false,
      cgLevels: 0b110,
    };
    expect(L.decodeIfaceCfg(L.encodeIfaceCfg(cfg))).toEqual(cfg);
    const state = { epoch: 9n, trialDeadlineNs: 123n, fallbackEpoch: 8n };
    expect(L.decodeState(L.encodeState(state))).toEqual(state);
    const attach = { ifindex: 4, flags: NTF.ATTACH_QDISC_OURS, ifname: 'wg0' };
    expect(L.decodeAttach(L.encodeAttach(attach))).toEqual(attach);
  });

  it('writeFields refuses what does not fit the struct', () => {
    expect(() => L.writeFields(LAYOUTS.attach, { ifname: new Uint8Array(17) })).toThrow(
      /ntf_attach\.ifname: 17 bytes, room for 16/,
    );
    expect(() => L.writeFields(LAYOUTS.ifaceCfg, { audit: 256 })).toThrow(RangeError);
    expect(() => L.writeFields(LAYOUTS.sk, { nope: 1 } as never)).toThrow(/ntf_sk has no field nope/);
  });
});
