// SPDX-License-Identifier: Apache-2.0
// Environment: Node (main process and CLI). No Electron import.
//
// Byte layouts of the structs in bpf/net_tc_filter.h, with encoders and decoders, and of the few
// kernel structs the bridge reads (SYS_LAYOUTS).
// LAYOUTS is the one place that knows an offset: every codec below reads and writes through it
// (readFields/writeFields, or offsets taken from it once at load for the per-record decoders).
// tests/unit/native-bridge/layouts.spec.ts checks every size, offset and field size here against
// the header as the C compiler lays it out, and runs every codec on buffers built field by field
// from this table, so neither can drift from the other silently.

export type FieldType = 'u8' | 'u16' | 'u32' | 'u64' | `bytes${number}`;
type FieldSpec = readonly [offset: number, type: FieldType];

export interface Field {
  offset: number;
  type: FieldType;
}

export interface Layout {
  /** The C struct name. */
  struct: string;
  size: number;
  fields: Readonly<Record<string, Field>>;
}

/** A layout whose field names and types TypeScript knows. */
export interface TypedLayout<F extends Record<string, FieldSpec>> extends Layout {
  fields: { readonly [K in keyof F]: { readonly offset: number; readonly type: F[K][1] } };
}

function layout<const F extends Record<string, FieldSpec>>(
  struct: string,
  size: number,
  fields: F,
): TypedLayout<F> {
  return {
    struct,
    size,
    fields: Object.freeze(
      Object.fromEntries(Object.entries(fields).map(([k, [offset, type]]) => [k, { offset, type }])),
    ) as TypedLayout<F>['fields'],
  };
}

export const LAYOUTS = {
  lpm4Key: layout('ntf_lpm4_key', 16, {
    prefixlen: [0, 'u32'],
    gen: [4, 'u32'],
    ifindex: [8, 'u32'],
    addr: [12, 'bytes4'],
  }),
  lpm6Key: layout('ntf_lpm6_key', 28, {
    prefixlen: [0, 'u32'],
    gen: [4, 'u32'],
    ifindex: [8, 'u32'],
    addr: [12, 'bytes16'],
  }),
  setKey: layout('ntf_set_key', 16, {
    gen: [0, 'u32'],
    set_id: [4, 'u32'],
    uid: [8, 'u32'],
    cg: [12, 'u32'],
  }),
  cgroupKey: layout('ntf_cgroup_key', 16, { gen: [0, 'u32'], id: [8, 'u64'] }),
  setVal: layout('ntf_set_val', 8, { endpoint_id: [0, 'u32'], schedule_id: [4, 'u32'] }),
  scheduleKey: layout('ntf_schedule_key', 8, { gen: [0, 'u32'], id: [4, 'u32'] }),
  segment: layout('ntf_segment', 12, { start: [0, 'u32'], end: [4, 'u32'], endpoint_id: [8, 'u32'] }),
  schedule: layout('ntf_schedule', 4 + 12 * 64, { count: [0, 'u32'], seg: [4, 'bytes768'] }),
  tz: layout('ntf_tz', 16, { from_utc_sec: [0, 'u64'], offset_sec: [8, 'u32'] }),
  clock: layout('ntf_clock', 16 + 16 * 64, {
    tai_minus_utc_ns: [0, 'u64'],
    count: [8, 'u32'],
    tz: [16, 'bytes1024'],
  }),
  sk: layout('ntf_sk', 8, { uid: [0, 'u32'], flags: [4, 'u32'] }),
  ifaceKey: layout('ntf_iface_key', 8, { gen: [0, 'u32'], ifindex: [4, 'u32'] }),
  ifaceCfg: layout('ntf_iface_cfg', 12, {
    default_allow: [0, 'u8'],
    unowned_allow: [1, 'u8'],
    essentials: [2, 'u8'],
    log_allowed: [3, 'u8'],
    l2_len: [4, 'u8'],
    dhcp_unicast: [5, 'u8'],
    audit: [6, 'u8'],
    present: [7, 'u8'],
    cg_levels: [8, 'u32'],
  }),
  state: layout('ntf_state', 24, {
    epoch: [0, 'u64'],
    trial_deadline_ns: [8, 'u64'],
    fallback_epoch: [16, 'u64'],
  }),
  flowKey: layout('ntf_flow_key', 40, {
    ifindex: [0, 'u32'],
    uid: [4, 'u32'],
    family: [8, 'u8'],
    proto: [9, 'u8'],
    dport: [10, 'u16'],
    unowned: [12, 'u8'],
    daddr: [16, 'bytes16'],
    cgroup: [32, 'u64'],
  }),
  flowVal: layout('ntf_flow_val', 96, {
    cached: [0, 'u64'],
    first_ns: [8, 'u64'],
    last_ns: [16, 'u64'],
    last_event_ns: [24, 'u64'],
    allowed_packets: [32, 'u64'],
    allowed_bytes: [40, 'u64'],
    dropped_packets: [48, 'u64'],
    dropped_bytes: [56, 'u64'],
    would_drop_packets: [64, 'u64'],
    would_drop_bytes: [72, 'u64'],
    sport: [80, 'u16'],
    timed_ns: [88, 'u64'],
  }),
  counters: layout('ntf_counters', 120, {
    allowed_packets: [0, 'u64'],
    allowed_bytes: [8, 'u64'],
    dropped_packets: [16, 'u64'],
    dropped_bytes: [24, 'u64'],
    unowned_packets: [32, 'u64'],
    nonip_packets: [40, 'u64'],
    essential_packets: [48, 'u64'],
    events_sent: [56, 'u64'],
    events_lost: [64, 'u64'],
    flow_cache_hits: [72, 'u64'],
    events_suppressed: [80, 'u64'],
    flows_created: [88, 'u64'],
    would_drop_packets: [96, 'u64'],
    would_drop_bytes: [104, 'u64'],
    uid_unrecorded_packets: [112, 'u64'],
  }),
  config: layout('ntf_config', 24, {
    overflow_uid: [0, 'u32'],
    event_interval_ns: [8, 'u64'],
    event_burst_ns: [16, 'u64'],
  }),
  budgetKey: layout('ntf_budget_key', 8, { uid: [0, 'u32'], unowned: [4, 'u32'] }),
  budgetVal: layout('ntf_budget_val', 16, { tat: [0, 'u64'], suppressed: [8, 'u64'] }),
  event: layout('ntf_event', 80, {
    ts_ns: [0, 'u64'],
    ifindex: [8, 'u32'],
    uid: [12, 'u32'],
    len: [16, 'u32'],
    endpoint_id: [20, 'u32'],
    sport: [24, 'u16'],
    dport: [26, 'u16'],
    family: [28, 'u8'],
    proto: [29, 'u8'],
    verdict: [30, 'u8'],
    reason: [31, 'u8'],
    flags: [32, 'u8'],
    saddr: [36, 'bytes16'],
    daddr: [52, 'bytes16'],
    cgroup: [72, 'u64'],
  }),
  attach: layout('ntf_attach', 24, { ifindex: [0, 'u32'], flags: [4, 'u32'], ifname: [8, 'bytes16'] }),
} as const satisfies Record<string, Layout>;

/**
 * Kernel and libc structs the bridge reads or fills, with the fields it uses (checked by the same
 * test against <linux/bpf.h>, <linux/netlink.h>, <net/if.h> and <time.h>). The two bpf_*_info
 * structs grow with the kernel: their size here is the bytes we read (the test checks the header's
 * struct is at least that), the kernel fills what it has of the buffer it is given.
 */
export const SYS_LAYOUTS = {
  mapInfo: layout('bpf_map_info', 40, {
    type: [0, 'u32'],
    id: [4, 'u32'],
    key_size: [8, 'u32'],
    value_size: [12, 'u32'],
    max_entries: [16, 'u32'],
    map_flags: [20, 'u32'],
    name: [24, 'bytes16'],
  }),
  progInfo: layout('bpf_prog_info', 80, {
    type: [0, 'u32'],
    id: [4, 'u32'],
    tag: [8, 'bytes8'],
    name: [64, 'bytes16'],
  }),
  sockaddrNl: layout('sockaddr_nl', 12, { nl_family: [0, 'u16'], nl_pid: [4, 'u32'], nl_groups: [8, 'u32'] }),
  ifreq: layout('ifreq', 40, { ifr_name: [0, 'bytes16'], 'ifr_hwaddr.sa_family': [16, 'u16'] }),
  timespec: layout('timespec', 16, { tv_sec: [0, 'u64'], tv_nsec: [8, 'u64'] }),
} as const satisfies Record<string, Layout>;

// Constants from bpf/net_tc_filter.h (checked against the header by the same test).
export const NTF = {
  UID_ANY: 0xffffffff,
  CG_ANY: 0,
  CG_LEVELS: 16,
  SCHEDULE_SEGMENTS: 64,
  SCHEDULE_ENTRIES: 65536,
  TZ_TRANSITIONS: 64,
  WEEK_SEC: 604800,
  VERDICT_ALLOW: 1,
  VERDICT_DROP: 2,
  VERDICT_WOULD_DROP: 3,
  REASON_ENDPOINT: 1,
  REASON_NOT_LISTED: 2,
  REASON_DEFAULT_ALLOW: 3,
  REASON_DEFAULT_DENY: 4,
  REASON_UNOWNED_ALLOW: 5,
  REASON_UNOWNED_DENY: 6,
  REASON_ESSENTIAL: 7,
  REASON_IFACE_NOT_LISTED: 8,
  REASON_ROUTING_HEADER: 9,
  IFINDEX_ANY: 0,
  RH_MAX: 8,
  LPM4_ENTRIES: 8388608,
  LPM6_ENTRIES: 8388608,
  SET_ENTRIES: 1048576,
  IFACE_ENTRIES: 2048,
  IFACE_SLOTS: 16384,
  CGROUP_ENTRIES: 65536,
  LOG_OFF: 0,
  LOG_SAMPLE: 1,
  LOG_ALL: 2,
  EVENT_UNOWNED: 0x1,
  EVENT_NEW_FLOW: 0x2,
  EVENT_ROUTED: 0x4,
  EVENT_UID_UNRECORDED: 0x8,
  AF_INET: 2,
  AF_INET6: 10,
  ATTACH_QDISC_OURS: 0x1,
  SK_RECORDED: 0x1,
  CACHE_TIMED: 0x8,
  MAX_ENDPOINT_ID: 0xffffff,
  L2_UNKNOWN: 0xff,
} as const;

export const REASON_NAMES: Record<number, string> = {
  [NTF.REASON_ENDPOINT]: 'endpoint',
  [NTF.REASON_NOT_LISTED]: 'not-listed',
  [NTF.REASON_DEFAULT_ALLOW]: 'default-allow',
  [NTF.REASON_DEFAULT_DENY]: 'default-deny',
  [NTF.REASON_UNOWNED_ALLOW]: 'unowned-allow',
  [NTF.REASON_UNOWNED_DENY]: 'unowned-deny',
  [NTF.REASON_ESSENTIAL]: 'essential',
  [NTF.REASON_IFACE_NOT_LISTED]: 'iface-not-listed',
  [NTF.REASON_ROUTING_HEADER]: 'routing-header',
};

// ---- reading and writing fields by name (little-endian host: x86_64 and arm64) ----

type ValueOf<T extends FieldType> = T extends 'u64'
  ? bigint
  : T extends 'u8' | 'u16' | 'u32'
    ? number
    : Uint8Array;

/** A struct's fields by their C names, as stored: u64 as bigint, byte arrays as Uint8Array. */
export type RawStruct<L extends Layout> = {
  -readonly [K in keyof L['fields']]: ValueOf<L['fields'][K]['type']>;
};

/** Bytes a field of this type takes. */
export function fieldSize(type: FieldType): number {
  switch (type) {
    case 'u8':
      return 1;
    case 'u16':
      return 2;
    case 'u32':
      return 4;
    case 'u64':
      return 8;
    default:
      return Number(type.slice('bytes'.length));
  }
}

/** A copy of `len` bytes (a plain Uint8Array, not a view of `b`). */
function copyBytes(b: Buffer, at: number, len: number): Uint8Array {
  return new Uint8Array(b.subarray(at, at + len));
}

/** Every field of the struct at `off` in `b`. */
export function readFields<L extends Layout>(l: L, b: Buffer, off = 0): RawStruct<L> {
  if (b.length < off + l.size)
    throw new RangeError(`struct ${l.struct}: ${b.length - off} bytes, needs ${l.size}`);
  const out: Record<string, number | bigint | Uint8Array> = {};
  for (const [name, { offset, type }] of Object.entries(l.fields)) {
    const at = off + offset;
    switch (type) {
      case 'u8':
        out[name] = b.readUInt8(at);
        break;
      case 'u16':
        out[name] = b.readUInt16LE(at);
        break;
      case 'u32':
        out[name] = b.readUInt32LE(at);
        break;
      case 'u64':
        out[name] = b.readBigUInt64LE(at);
        break;
      default:
        out[name] = copyBytes(b, at, fieldSize(type));
    }
  }
  return out as RawStruct<L>;
}

/**
 * The struct with the given fields written, the rest (fields not given, padding) zero. Integers
 * out of their field's range and byte arrays longer than their field throw.
 */
export function writeFields<L extends Layout>(l: L, values: Partial<RawStruct<L>>): Buffer {
  const b = Buffer.alloc(l.size);
  for (const [name, v] of Object.entries(values) as Array<[string, number | bigint | Uint8Array]>) {
    const f = l.fields[name];
    if (!f) throw new Error(`struct ${l.struct} has no field ${name}`);
    switch (f.type) {
      case 'u8':
        b.writeUInt8(v as number, f.offset);
        break;
      case 'u16':
        b.writeUInt16LE(v as number, f.offset);
        break;
      case 'u32':
        b.writeUInt32LE(v as number, f.offset);
        break;
      case 'u64':
        b.writeBigUInt64LE(v as bigint, f.offset);
        break;
      default: {
        const bytes = v as Uint8Array;
        const room = fieldSize(f.type);
        if (bytes.length > room)
          throw new RangeError(`struct ${l.struct}.${name}: ${bytes.length} bytes, room for ${room}`);
        b.set(bytes, f.offset);
      }
    }
  }
  return b;
}

/** Each field's offset by name: for decoders that run per record, taken once at load. */
function offsets<L extends Layout>(l: L): { readonly [K in keyof L['fields']]: number } {
  return Object.fromEntries(Object.entries(l.fields).map(([k, f]) => [k, f.offset])) as {
    [K in keyof L['fields']]: number;
  };
}

/** A u64 that a double holds exactly (ids, inode numbers), without a BigInt: lo + hi·2³². */
function u64Number(b: Buffer, at: number): number {
  return b.readUInt32LE(at) + b.readUInt32LE(at + 4) * 0x1_0000_0000;
}

// ---- codecs ----

/** The bits LPM matching covers before the address: prefixlen counts every bit after itself. */
function lpmHeadBits(l: typeof LAYOUTS.lpm4Key | typeof LAYOUTS.lpm6Key): number {
  return (l.fields.addr.offset - l.fields.prefixlen.offset - fieldSize(l.fields.prefixlen.type)) * 8;
}

export function encodeLpmKey(
  gen: number,
  ifindex: number,
  family: 4 | 6,
  prefix: number,
  addr: Uint8Array,
): Buffer {
  const l = family === 4 ? LAYOUTS.lpm4Key : LAYOUTS.lpm6Key;
  return writeFields<Layout>(l, { prefixlen: lpmHeadBits(l) + prefix, gen, ifindex, addr });
}

export interface LpmKey {
  gen: number;
  ifindex: number;
  family: 4 | 6;
  prefix: number;
  addr: Uint8Array;
}

export function decodeLpmKey(b: Buffer, family: 4 | 6): LpmKey {
  const l = family === 4 ? LAYOUTS.lpm4Key : LAYOUTS.lpm6Key;
  const r = readFields(l, b);
  return { prefix: r.prefixlen - lpmHeadBits(l), gen: r.gen, ifindex: r.ifindex, family, addr: r.addr };
}

/** struct ntf_set_key: (generation, user set, uid or NTF.UID_ANY, cgroup slot or NTF.CG_ANY). */
export interface SetKey {
  gen: number;
  setId: number;
  uid: number;
  cg: number;
}

/** @param cg the policy's cgroup slot (1..), or NTF.CG_ANY */
export function encodeSetKey(gen: number, setId: number, uid: number, cg: number = NTF.CG_ANY): Buffer {
  return writeFields(LAYOUTS.setKey, { gen, set_id: setId, uid: uid >>> 0, cg: cg >>> 0 });
}

export function decodeSetKey(b: Buffer): SetKey {
  const r = readFields(LAYOUTS.setKey, b);
  return { gen: r.gen, setId: r.set_id, uid: r.uid, cg: r.cg };
}

/** struct ntf_cgroup_key: (generation, cgroup v2 id); the value is the cgroup's slot (u32). */
export interface CgroupKey {
  gen: number;
  /** The cgroup v2 id: the inode number of the cgroup's directory. */
  id: number;
}

export function encodeCgroupKey(gen: number, id: number): Buffer {
  if (!Number.isSafeInteger(id) || id < 0)
    throw new RangeError(`cgroup id ${id}: not a safe non-negative integer`);
  return writeFields(LAYOUTS.cgroupKey, { gen, id: BigInt(id) });
}

export function decodeCgroupKey(b: Buffer): CgroupKey {
  const r = readFields(LAYOUTS.cgroupKey, b);
  return { gen: r.gen, id: Number(r.id) };
}

/** struct ntf_set_val: the endpoint that grants, or (scheduleId ≠ 0) the schedule saying which
 * endpoint grants when. */
export interface SetVal {
  endpointId: number;
  scheduleId: number;
}

export function encodeSetVal(v: SetVal): Buffer {
  return writeFields(LAYOUTS.setVal, { endpoint_id: v.endpointId, schedule_id: v.scheduleId });
}

export function decodeSetVal(b: Buffer): SetVal {
  const r = readFields(LAYOUTS.setVal, b);
  return { endpointId: r.endpoint_id, scheduleId: r.schedule_id };
}

export function encodeScheduleKey(gen: number, id: number): Buffer {
  return writeFields(LAYOUTS.scheduleKey, { gen, id });
}

export function decodeScheduleKey(b: Buffer): { gen: number; id: number } {
  return readFields(LAYOUTS.scheduleKey, b);
}

/** One [start, end) of the local week (seconds from Monday 00:00) and the endpoint granting then. */
export interface ScheduleSegment {
  start: number;
  end: number;
  endpointId: number;
}

/** struct ntf_schedule: at most NTF.SCHEDULE_SEGMENTS segments, sorted by start. */
export function encodeSchedule(segments: readonly ScheduleSegment[]): Buffer {
  if (segments.length > NTF.SCHEDULE_SEGMENTS)
    throw new RangeError(
      `a schedule holds at most ${NTF.SCHEDULE_SEGMENTS} segments, not ${segments.length}`,
    );
  const seg = Buffer.alloc(fieldSize(LAYOUTS.schedule.fields.seg.type));
  segments.forEach((x, i) =>
    writeFields(LAYOUTS.segment, { start: x.start, end: x.end, endpoint_id: x.endpointId }).copy(
      seg,
      i * LAYOUTS.segment.size,
    ),
  );
  return writeFields(LAYOUTS.schedule, { count: segments.length, seg });
}

export function decodeSchedule(b: Buffer): ScheduleSegment[] {
  const r = readFields(LAYOUTS.schedule, b);
  const seg = Buffer.from(r.seg);
  const out: ScheduleSegment[] = [];
  for (let i = 0; i < Math.min(r.count, NTF.SCHEDULE_SEGMENTS); i++) {
    const x = readFields(LAYOUTS.segment, seg, i * LAYOUTS.segment.size);
    out.push({ start: x.start, end: x.end, endpointId: x.endpoint_id });
  }
  return out;
}

/** struct ntf_clock: the TAI−UTC offset and the host zone's transitions (UTC second → offset). */
export interface ClockVal {
  taiMinusUtcNs: bigint;
  tz: ReadonlyArray<{ fromUtcSec: number; offsetSec: number }>;
}

export function encodeClock(c: ClockVal): Buffer {
  if (c.tz.length > NTF.TZ_TRANSITIONS)
    throw new RangeError(
      `the clock holds at most ${NTF.TZ_TRANSITIONS} zone transitions, not ${c.tz.length}`,
    );
  const tz = Buffer.alloc(fieldSize(LAYOUTS.clock.fields.tz.type));
  c.tz.forEach((t, i) =>
    writeFields(LAYOUTS.tz, {
      from_utc_sec: BigInt.asUintN(64, BigInt(t.fromUtcSec)),
      offset_sec: t.offsetSec >>> 0,
    }).copy(tz, i * LAYOUTS.tz.size),
  );
  return writeFields(LAYOUTS.clock, {
    tai_minus_utc_ns: BigInt.asUintN(64, c.taiMinusUtcNs),
    count: c.tz.length,
    tz,
  });
}

export function decodeClock(b: Buffer): ClockVal {
  const r = readFields(LAYOUTS.clock, b);
  const tzb = Buffer.from(r.tz);
  const tz: Array<{ fromUtcSec: number; offsetSec: number }> = [];
  for (let i = 0; i < Math.min(r.count, NTF.TZ_TRANSITIONS); i++) {
    const x = readFields(LAYOUTS.tz, tzb, i * LAYOUTS.tz.size);
    tz.push({ fromUtcSec: Number(BigInt.asIntN(64, x.from_utc_sec)), offsetSec: x.offset_sec | 0 });
  }
  return { taiMinusUtcNs: BigInt.asIntN(64, r.tai_minus_utc_ns), tz };
}

/** struct ntf_sk: what the program recorded about a socket at its creation. */
export interface SockRecord {
  /** The creating task's uid. */
  uid: number;
  /** NTF.SK_* bits. */
  flags: number;
}

export function decodeSk(b: Buffer): SockRecord {
  return readFields(LAYOUTS.sk, b);
}

/** struct ntf_iface_key: (generation, ifindex or NTF.IFINDEX_ANY). */
export interface IfaceKey {
  gen: number;
  ifindex: number;
}

export function encodeIfaceKey(gen: number, ifindex: number): Buffer {
  return writeFields(LAYOUTS.ifaceKey, { gen, ifindex });
}

export function decodeIfaceKey(b: Buffer): IfaceKey {
  return readFields(LAYOUTS.ifaceKey, b);
}

export interface IfaceCfg {
  defaultAllow: boolean;
  unownedAllow: boolean;
  essentials: boolean;
  logAllowed: number;
  /** Link-layer header length (14, 0) or NTF.L2_UNKNOWN. */
  l2Len: number;
  /** Unicast DHCP client packets are essential too (binding UDP 68/546 needs privilege). */
  dhcpUnicast: boolean;
  /** Audit mode: decide, drop nothing (would-drop). */
  audit: boolean;
  /** Bit i: the policy names a cgroup at level i of the hierarchy (root: 0). */
  cgLevels: number;
}

/** encodeIfaceCfg's input: cgLevels defaults to 0 (no cgroup entries). */
export type IfaceCfgInput = Omit<IfaceCfg, 'cgLevels'> & { cgLevels?: number };

export function encodeIfaceCfg(c: IfaceCfgInput): Buffer {
  return writeFields(LAYOUTS.ifaceCfg, {
    default_allow: c.defaultAllow ? 1 : 0,
    unowned_allow: c.unownedAllow ? 1 : 0,
    essentials: c.essentials ? 1 : 0,
    log_allowed: c.logAllowed,
    l2_len: c.l2Len,
    dhcp_unicast: c.dhcpUnicast ? 1 : 0,
    audit: c.audit ? 1 : 0,
    present: 1,
    cg_levels: (c.cgLevels ?? 0) >>> 0,
  });
}

export function decodeIfaceCfg(b: Buffer): IfaceCfg {
  const r = readFields(LAYOUTS.ifaceCfg, b);
  return {
    defaultAllow: r.default_allow === 1,
    unownedAllow: r.unowned_allow === 1,
    essentials: r.essentials === 1,
    logAllowed: r.log_allowed,
    l2Len: r.l2_len,
    dhcpUnicast: r.dhcp_unicast === 1,
    audit: r.audit === 1,
    cgLevels: r.cg_levels,
  };
}

/** The program's load-time settings (struct ntf_config, its .rodata). */
export interface ProgramConfig {
  overflowUid: number;
  /** Reported events per sending user per second on average; 0 = unlimited. */
  eventsPerUser: number;
  /** Events a sender may report in a burst above that rate. */
  eventBurst: number;
}

export function encodeConfig(c: ProgramConfig): Buffer {
  const interval = c.eventsPerUser > 0 ? BigInt(Math.max(1, Math.round(1e9 / c.eventsPerUser))) : 0n;
  return writeFields(LAYOUTS.config, {
    overflow_uid: c.overflowUid >>> 0,
    event_interval_ns: interval,
    event_burst_ns: interval * BigInt(Math.max(1, Math.round(c.eventBurst))),
  });
}

/** A u32 map value (set ids, endpoint ids, cgroup slots) or a u32 array-map key. */
export function u32Buf(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0, 0);
  return b;
}

/** struct ntf_state: the epoch and a pending trial (deadline 0: none). */
export interface PolicyState {
  epoch: bigint;
  /** CLOCK_BOOTTIME ns; 0n: no trial. */
  trialDeadlineNs: bigint;
  fallbackEpoch: bigint;
}

export function encodeState(s: PolicyState): Buffer {
  return writeFields(LAYOUTS.state, {
    epoch: s.epoch,
    trial_deadline_ns: s.trialDeadlineNs,
    fallback_epoch: s.fallbackEpoch,
  });
}

export function decodeState(b: Buffer): PolicyState {
  const r = readFields(LAYOUTS.state, b);
  return { epoch: r.epoch, trialDeadlineNs: r.trial_deadline_ns, fallbackEpoch: r.fallback_epoch };
}

export interface FlowKey {
  ifindex: number;
  uid: number;
  family: number;
  proto: number;
  dport: number;
  unowned: boolean;
  daddr: Uint8Array;
  /** The sending socket's cgroup v2 id (0: none known). */
  cgroup: number;
}

const FK = offsets(LAYOUTS.flowKey);
const FK_DADDR_LEN = fieldSize(LAYOUTS.flowKey.fields.daddr.type);

export function decodeFlowKey(b: Buffer): FlowKey {
  const family = b.readUInt8(FK.family);
  return {
    ifindex: b.readUInt32LE(FK.ifindex),
    uid: b.readUInt32LE(FK.uid),
    family,
    proto: b.readUInt8(FK.proto),
    dport: b.readUInt16LE(FK.dport),
    unowned: b.readUInt8(FK.unowned) === 1,
    daddr: copyBytes(b, FK.daddr, family === NTF.AF_INET ? 4 : FK_DADDR_LEN),
    cgroup: u64Number(b, FK.cgroup),
  };
}

export interface FlowVal {
  epoch32: number;
  endpointId: number;
  reason: number;
  verdict: number;
  firstNs: bigint;
  lastNs: bigint;
  allowedPackets: bigint;
  allowedBytes: bigint;
  droppedPackets: bigint;
  droppedBytes: bigint;
  wouldDropPackets: bigint;
  wouldDropBytes: bigint;
  /** The last packet's source port. */
  sport: number;
}

const FV = offsets(LAYOUTS.flowVal);

export function decodeFlowVal(b: Buffer): FlowVal {
  // cached (NTF_CACHE_PACK): bits 63..32 epoch, 31..8 endpoint id, 7..4 reason, 3 NTF.CACHE_TIMED,
  // 2..0 verdict.
  const lo = b.readUInt32LE(FV.cached);
  return {
    epoch32: b.readUInt32LE(FV.cached + 4),
    endpointId: lo >>> 8,
    reason: (lo >>> 4) & 0xf,
    verdict: lo & (NTF.CACHE_TIMED - 1),
    firstNs: b.readBigUInt64LE(FV.first_ns),
    lastNs: b.readBigUInt64LE(FV.last_ns),
    allowedPackets: b.readBigUInt64LE(FV.allowed_packets),
    allowedBytes: b.readBigUInt64LE(FV.allowed_bytes),
    droppedPackets: b.readBigUInt64LE(FV.dropped_packets),
    droppedBytes: b.readBigUInt64LE(FV.dropped_bytes),
    wouldDropPackets: b.readBigUInt64LE(FV.would_drop_packets),
    wouldDropBytes: b.readBigUInt64LE(FV.would_drop_bytes),
    sport: b.readUInt16LE(FV.sport),
  };
}

export type CounterName = keyof typeof LAYOUTS.counters.fields;
/** The fields of struct ntf_counters, in their order. */
export const COUNTER_NAMES = Object.keys(LAYOUTS.counters.fields) as readonly CounterName[];
export type Counters = Record<CounterName, bigint>;

const COUNTER_OFFSETS = COUNTER_NAMES.map((n) => {
  const f = LAYOUTS.counters.fields[n];
  if (f.type !== 'u64') throw new Error(`ntf_counters.${n}: decodeCounters reads u64 fields only`);
  return f.offset;
});

/** Sums a per-CPU counters value (one struct per possible CPU, each LAYOUTS.counters.size). */
export function decodeCounters(b: Buffer, cpus: number): Counters {
  const out = {} as Counters;
  for (let i = 0; i < COUNTER_NAMES.length; i++) {
    const at = COUNTER_OFFSETS[i] ?? 0;
    let sum = 0n;
    for (let cpu = 0; cpu < cpus; cpu++) sum += b.readBigUInt64LE(cpu * LAYOUTS.counters.size + at);
    out[COUNTER_NAMES[i] as CounterName] = sum;
  }
  return out;
}

/** struct ntf_budget_key: a sender of events (uid, or unowned traffic). */
export interface BudgetKey {
  uid: number;
  unowned: boolean;
}

export function decodeBudgetKey(b: Buffer): BudgetKey {
  const r = readFields(LAYOUTS.budgetKey, b);
  return { uid: r.uid, unowned: r.unowned !== 0 };
}

/** struct ntf_budget_val: a sender's event budget (theoretical arrival time) and what it cost. */
export interface BudgetVal {
  tatNs: bigint;
  /** Events not reported because the sender was over its budget. */
  suppressed: bigint;
}

export function decodeBudgetVal(b: Buffer): BudgetVal {
  const r = readFields(LAYOUTS.budgetVal, b);
  return { tatNs: r.tat, suppressed: r.suppressed };
}

export interface RawEvent {
  tsNs: bigint;
  ifindex: number;
  uid: number;
  len: number;
  endpointId: number;
  sport: number;
  dport: number;
  family: number;
  proto: number;
  verdict: number;
  reason: number;
  flags: number;
  saddr: Uint8Array;
  daddr: Uint8Array;
  /** The sending socket's cgroup v2 id (0: none known). */
  cgroup: number;
}

const EV = offsets(LAYOUTS.event);
const EV_ADDR_LEN = fieldSize(LAYOUTS.event.fields.saddr.type);

/** The event at `off` in `b` (ring buffer records: LAYOUTS.event.size each). */
export function decodeEvent(b: Buffer, off = 0): RawEvent {
  const family = b.readUInt8(off + EV.family);
  const n = family === NTF.AF_INET ? 4 : EV_ADDR_LEN;
  return {
    tsNs: b.readBigUInt64LE(off + EV.ts_ns),
    ifindex: b.readUInt32LE(off + EV.ifindex),
    uid: b.readUInt32LE(off + EV.uid),
    len: b.readUInt32LE(off + EV.len),
    endpointId: b.readUInt32LE(off + EV.endpoint_id),
    sport: b.readUInt16LE(off + EV.sport),
    dport: b.readUInt16LE(off + EV.dport),
    family,
    proto: b.readUInt8(off + EV.proto),
    verdict: b.readUInt8(off + EV.verdict),
    reason: b.readUInt8(off + EV.reason),
    flags: b.readUInt8(off + EV.flags),
    saddr: copyBytes(b, off + EV.saddr, n),
    daddr: copyBytes(b, off + EV.daddr, n),
    cgroup: u64Number(b, off + EV.cgroup),
  };
}

export interface AttachRecord {
  ifindex: number;
  flags: number;
  ifname: string;
}

const ATTACH_IFNAME = LAYOUTS.attach.fields.ifname;

/** `s` as the bytes of a NUL-terminated string in a char array of `type`: at most its size - 1
 * bytes of UTF-8, cut before a character that does not fit whole (names may be any UTF-8). */
export function cStringBytes(s: string, type: FieldType): Uint8Array {
  const b = Buffer.alloc(fieldSize(type) - 1);
  return b.subarray(0, b.write(s, 'utf8'));
}

export function encodeAttach(a: AttachRecord): Buffer {
  return writeFields(LAYOUTS.attach, {
    ifindex: a.ifindex,
    flags: a.flags,
    ifname: cStringBytes(a.ifname, ATTACH_IFNAME.type),
  });
}

export function decodeAttach(b: Buffer): AttachRecord {
  const r = readFields(LAYOUTS.attach, b);
  return {
    ifindex: r.ifindex,
    flags: r.flags,
    ifname: cString(b, ATTACH_IFNAME.offset, fieldSize(ATTACH_IFNAME.type), 'utf8'),
  };
}

/** A NUL-terminated C string of at most `len` bytes at `off`. */
export function cString(b: Buffer, off: number, len: number, encoding: BufferEncoding = 'latin1'): string {
  const s = b.subarray(off, off + len);
  const nul = s.indexOf(0);
  return s.subarray(0, nul < 0 ? len : nul).toString(encoding);
}
