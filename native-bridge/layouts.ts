// SPDX-License-Identifier: Apache-2.0
// Environment: Node (main process and CLI). No Electron import.
//
// Byte layouts of the structs in bpf/net_tc_filter.h, with encoders and decoders.
// tests/unit/native-bridge/layouts.spec.ts checks every size and offset here against
// the BTF of the built object, so the two cannot drift apart silently.

type FieldType = 'u8' | 'u16' | 'u32' | 'u64' | `bytes${number}`;

export interface Layout {
  /** The C struct name. */
  struct: string;
  size: number;
  fields: Record<string, { offset: number; type: FieldType }>;
}

function layout(struct: string, size: number, fields: Record<string, [number, FieldType]>): Layout {
  return {
    struct,
    size,
    fields: Object.fromEntries(Object.entries(fields).map(([k, [offset, type]]) => [k, { offset, type }])),
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
  flowVal: layout('ntf_flow_val', 88, {
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

// Constants from bpf/net_tc_filter.h (checked against the header by the same test).
export const NTF = {
  UID_ANY: 0xffffffff,
  CG_ANY: 0,
  CG_LEVELS: 16,
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
  LPM4_ENTRIES: 262144,
  LPM6_ENTRIES: 262144,
  SET_ENTRIES: 1048576,
  IFACE_ENTRIES: 2048,
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

// ---- encoders (little-endian host: x86_64 and arm64) ----

export function encodeLpmKey(
  gen: number,
  ifindex: number,
  family: 4 | 6,
  prefix: number,
  addr: Uint8Array,
): Buffer {
  const l = family === 4 ? LAYOUTS.lpm4Key : LAYOUTS.lpm6Key;
  const b = Buffer.alloc(l.size);
  b.writeUInt32LE(64 + prefix, 0);
  b.writeUInt32LE(gen, 4);
  b.writeUInt32LE(ifindex, 8);
  b.set(addr, 12);
  return b;
}

/** @param cg the policy's cgroup slot (1..), or NTF.CG_ANY */
export function encodeSetKey(gen: number, setId: number, uid: number, cg: number = NTF.CG_ANY): Buffer {
  const b = Buffer.alloc(LAYOUTS.setKey.size);
  b.writeUInt32LE(gen, 0);
  b.writeUInt32LE(setId, 4);
  b.writeUInt32LE(uid >>> 0, 8);
  b.writeUInt32LE(cg >>> 0, 12);
  return b;
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
  const b = Buffer.alloc(LAYOUTS.cgroupKey.size);
  b.writeUInt32LE(gen, 0);
  b.writeBigUInt64LE(BigInt(id), 8);
  return b;
}

export function decodeCgroupKey(b: Buffer): CgroupKey {
  return { gen: b.readUInt32LE(0), id: Number(b.readBigUInt64LE(8)) };
}

/** struct ntf_sk: what the program recorded about a socket at its creation. */
export interface SockRecord {
  /** The creating task's uid. */
  uid: number;
  /** NTF.SK_* bits. */
  flags: number;
}

export function decodeSk(b: Buffer): SockRecord {
  return { uid: b.readUInt32LE(0), flags: b.readUInt32LE(4) };
}

export function encodeIfaceKey(gen: number, ifindex: number): Buffer {
  const b = Buffer.alloc(LAYOUTS.ifaceKey.size);
  b.writeUInt32LE(gen, 0);
  b.writeUInt32LE(ifindex, 4);
  return b;
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
  const b = Buffer.alloc(LAYOUTS.ifaceCfg.size);
  b.set([
    c.defaultAllow ? 1 : 0,
    c.unownedAllow ? 1 : 0,
    c.essentials ? 1 : 0,
    c.logAllowed,
    c.l2Len,
    c.dhcpUnicast ? 1 : 0,
    c.audit ? 1 : 0,
  ]);
  b.writeUInt32LE((c.cgLevels ?? 0) >>> 0, 8);
  return b;
}

export function decodeIfaceCfg(b: Buffer): IfaceCfg {
  return {
    defaultAllow: b[0] === 1,
    unownedAllow: b[1] === 1,
    essentials: b[2] === 1,
    logAllowed: b[3] ?? 0,
    l2Len: b[4] ?? NTF.L2_UNKNOWN,
    dhcpUnicast: b[5] === 1,
    audit: b[6] === 1,
    cgLevels: b.readUInt32LE(8),
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
  const b = Buffer.alloc(LAYOUTS.config.size);
  b.writeUInt32LE(c.overflowUid >>> 0, 0);
  const interval = c.eventsPerUser > 0 ? BigInt(Math.max(1, Math.round(1e9 / c.eventsPerUser))) : 0n;
  b.writeBigUInt64LE(interval, 8);
  b.writeBigUInt64LE(interval * BigInt(Math.max(1, Math.round(c.eventBurst))), 16);
  return b;
}

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
  const b = Buffer.alloc(LAYOUTS.state.size);
  b.writeBigUInt64LE(s.epoch, 0);
  b.writeBigUInt64LE(s.trialDeadlineNs, 8);
  b.writeBigUInt64LE(s.fallbackEpoch, 16);
  return b;
}

export function decodeState(b: Buffer): PolicyState {
  return {
    epoch: b.readBigUInt64LE(0),
    trialDeadlineNs: b.readBigUInt64LE(8),
    fallbackEpoch: b.readBigUInt64LE(16),
  };
}

// ---- decoders ----

export interface LpmKey {
  gen: number;
  ifindex: number;
  family: 4 | 6;
  prefix: number;
  addr: Uint8Array;
}

export function decodeLpmKey(b: Buffer, family: 4 | 6): LpmKey {
  const n = family === 4 ? 4 : 16;
  return {
    prefix: b.readUInt32LE(0) - 64,
    gen: b.readUInt32LE(4),
    ifindex: b.readUInt32LE(8),
    family,
    addr: Uint8Array.from(b.subarray(12, 12 + n)),
  };
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

export function decodeFlowKey(b: Buffer): FlowKey {
  const family = b[8] ?? 0;
  return {
    ifindex: b.readUInt32LE(0),
    uid: b.readUInt32LE(4),
    family,
    proto: b[9] ?? 0,
    dport: b.readUInt16LE(10),
    unowned: b[12] === 1,
    daddr: Uint8Array.from(b.subarray(16, family === NTF.AF_INET ? 20 : 32)),
    cgroup: b.readUInt32LE(32) + b.readUInt32LE(36) * 2 ** 32,
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

export function decodeFlowVal(b: Buffer): FlowVal {
  const cached = b.readBigUInt64LE(0);
  return {
    epoch32: Number(cached >> 32n),
    endpointId: Number((cached >> 8n) & 0xffffffn),
    reason: Number((cached >> 4n) & 0xfn),
    verdict: Number(cached & 0xfn),
    firstNs: b.readBigUInt64LE(8),
    lastNs: b.readBigUInt64LE(16),
    allowedPackets: b.readBigUInt64LE(32),
    allowedBytes: b.readBigUInt64LE(40),
    droppedPackets: b.readBigUInt64LE(48),
    droppedBytes: b.readBigUInt64LE(56),
    wouldDropPackets: b.readBigUInt64LE(64),
    wouldDropBytes: b.readBigUInt64LE(72),
    sport: b.readUInt16LE(80),
  };
}

export const COUNTER_NAMES = [
  'allowed_packets',
  'allowed_bytes',
  'dropped_packets',
  'dropped_bytes',
  'unowned_packets',
  'nonip_packets',
  'essential_packets',
  'events_sent',
  'events_lost',
  'flow_cache_hits',
  'events_suppressed',
  'flows_created',
  'would_drop_packets',
  'would_drop_bytes',
  'uid_unrecorded_packets',
] as const;
export type Counters = Record<(typeof COUNTER_NAMES)[number], bigint>;

/** Sums a per-CPU counters value (one struct per possible CPU; all fields are u64 in order). */
export function decodeCounters(b: Buffer, cpus: number): Counters {
  const out = Object.fromEntries(COUNTER_NAMES.map((n) => [n, 0n])) as Counters;
  for (let cpu = 0; cpu < cpus; cpu++) {
    const base = cpu * LAYOUTS.counters.size;
    COUNTER_NAMES.forEach((n, i) => {
      out[n] += b.readBigUInt64LE(base + i * 8);
    });
  }
  return out;
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

export function decodeEvent(b: Buffer, off = 0): RawEvent {
  const family = b[off + 28] ?? 0;
  const n = family === NTF.AF_INET ? 4 : 16;
  return {
    tsNs: b.readBigUInt64LE(off),
    ifindex: b.readUInt32LE(off + 8),
    uid: b.readUInt32LE(off + 12),
    len: b.readUInt32LE(off + 16),
    endpointId: b.readUInt32LE(off + 20),
    sport: b.readUInt16LE(off + 24),
    dport: b.readUInt16LE(off + 26),
    family,
    proto: b[off + 29] ?? 0,
    verdict: b[off + 30] ?? 0,
    reason: b[off + 31] ?? 0,
    flags: b[off + 32] ?? 0,
    saddr: Uint8Array.from(b.subarray(off + 36, off + 36 + n)),
    daddr: Uint8Array.from(b.subarray(off + 52, off + 52 + n)),
    cgroup: b.readUInt32LE(off + 72) + b.readUInt32LE(off + 76) * 2 ** 32,
  };
}

export interface AttachRecord {
  ifindex: number;
  flags: number;
  ifname: string;
}

export function encodeAttach(a: AttachRecord): Buffer {
  const b = Buffer.alloc(LAYOUTS.attach.size);
  b.writeUInt32LE(a.ifindex, 0);
  b.writeUInt32LE(a.flags, 4);
  b.write(a.ifname, 8, 15, 'utf8'); // IFNAMSIZ - 1 bytes; names may be any UTF-8
  return b;
}

export function decodeAttach(b: Buffer): AttachRecord {
  return { ifindex: b.readUInt32LE(0), flags: b.readUInt32LE(4), ifname: cString(b, 8, 16, 'utf8') };
}

/** A NUL-terminated C string of at most `len` bytes at `off`. */
export function cString(b: Buffer, off: number, len: number, encoding: BufferEncoding = 'latin1'): string {
  const s = b.subarray(off, off + len);
  const nul = s.indexOf(0);
  return s.subarray(0, nul < 0 ? len : nul).toString(encoding);
}
