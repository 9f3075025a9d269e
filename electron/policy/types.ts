// SPDX-License-Identifier: Apache-2.0
// Environment: Node (main process and CLI). No Electron import.
//
// The policy model. Three stages, each produced by one module:
//   YAML text --(yaml.ts: parse)--> Policy          (what the admin wrote, with source positions)
//   Policy    --(resolve.ts)------> ResolvedPolicy  (names → uids, every configured interface's settings)
//   Resolved  --(compile.ts)------> CompiledPolicy  (map entries for the kernel, see bpf/net_tc_filter.h)

/** Where something stands in a source file (1-based line and column). */
export interface SourcePos {
  file: string;
  line: number;
  col: number;
}

/** A problem found in input, with its position when it has one. */
export interface Diagnostic {
  severity: 'error' | 'warning';
  message: string;
  pos?: SourcePos;
}

export type Verdict = 'allow' | 'deny';
export type LogAllowed = 'off' | 'sample' | 'all';
/** enforce: drops what the policy denies. audit: decides the same, drops nothing, reports would-drops. */
export type InterfaceMode = 'enforce' | 'audit';
export const INTERFACE_MODES: readonly InterfaceMode[] = ['enforce', 'audit'];

/** The account part of an entry: a user name, a uid or `@group`. */
export type AccountRef =
  { kind: 'user'; name: string } | { kind: 'uid'; uid: number } | { kind: 'group'; name: string };

export type AllowEntry =
  | { kind: 'user'; name: string; text: string; pos?: SourcePos }
  | { kind: 'uid'; uid: number; text: string; pos?: SourcePos }
  | { kind: 'group'; name: string; text: string; pos?: SourcePos }
  | { kind: 'any'; text: string; pos?: SourcePos }
  /** `unit:NAME` (a systemd system unit: its cgroup and everything below), `… as ACCOUNT` limits it
   * to the unit's processes running as that account. `unit` is the full name ("backup.service"). */
  | { kind: 'unit'; unit: string; as?: AccountRef; text: string; pos?: SourcePos }
  /** `cgroup:PATH` (a cgroup v2 directory below the hierarchy's root, and everything below it). */
  | { kind: 'cgroup'; path: string; as?: AccountRef; text: string; pos?: SourcePos };

/** One destination range, normalised (host bits cleared). */
export interface Range {
  family: 4 | 6;
  /** Network byte order; 4 bytes for IPv4, 16 for IPv6. Host bits are zero. */
  addr: Uint8Array;
  /** 0..32 or 0..128. */
  prefix: number;
  /** What the file said, kept for export (e.g. "169.254.169.254/32" or "fd00:ec2::254"). */
  text: string;
  pos?: SourcePos;
}

/** One `when:` time window (when.ts parses it): on these days (bit 0 = Monday … bit 6 = Sunday),
 * from `start` to `end` seconds of the local day; end < start crosses midnight into the next day. */
export interface Window {
  /** As written, kept for export ("Mon-Fri 08:00-18:00"). */
  text: string;
  days: number;
  start: number;
  /** 1..86400 (24:00). */
  end: number;
  pos?: SourcePos;
}

/** [start, end) seconds of the local week, Monday 00:00 = 0 … 604800 (when.ts weekSegments). */
export interface WeekSegment {
  start: number;
  end: number;
}

export interface Endpoint {
  name: string;
  iface: string[];
  range: Range[];
  allow: AllowEntry[];
  /** Time windows; absent: always open. Outside them the endpoint grants nothing. */
  when?: Window[];
  pos?: SourcePos;
}

export interface InterfaceSettings {
  /** deny: traffic no endpoint allows is dropped (the original tool). allow: only endpoint ranges are guarded. */
  default: Verdict;
  /** Packets with no local socket (forwarded/routed). */
  unowned: Verdict;
  /** Always pass DHCPv4/v6 client traffic, IPv6 neighbour discovery and MLD. */
  essentials: boolean;
  /** audit: the program decides as in enforce mode but drops nothing (would-drop). */
  mode: InterfaceMode;
}

export const DEFAULT_INTERFACE_SETTINGS: Readonly<InterfaceSettings> = Object.freeze({
  default: 'deny',
  unowned: 'deny',
  essentials: true,
  mode: 'enforce',
});

/** What the admin wrote. Optional extension keys stay undefined when absent so export can omit them. */
export interface Policy {
  endpoints: Endpoint[];
  /** Only the interfaces and keys written under `interfaces:`. */
  interfaces: Record<string, Partial<InterfaceSettings>>;
  logging: { allowed?: LogAllowed };
}

/** Reserved uid value meaning "any user" (`*`). (uid_t)-1 is never a real uid. */
export const UID_ANY = 0xffffffff;

export interface ResolvedEndpoint {
  /** 1-based position in the config; reported by the kernel with each allowed decision. */
  id: number;
  name: string;
  ifaces: string[];
  ranges: Range[];
  /** Sorted, unique numeric uids (users, uids and group members). */
  uids: number[];
  /** True when `*` is listed. */
  any: boolean;
  /** `when:` windows: their texts and their union over the local week (absent: always open). */
  when?: { windows: string[]; segments: WeekSegment[] };
  /** The unit:/cgroup: entries, in the order written (absent: none). */
  cgroups?: ResolvedCgroupEntry[];
}

/** A unit:/cgroup: entry with the cgroup it stands for now. */
export interface ResolvedCgroupEntry {
  /** The entry as written ("unit:backup.service as alice"). */
  text: string;
  /** What to look for again when the cgroup changes (a unit restarts in a new cgroup). */
  kind: 'unit' | 'cgroup';
  /** The unit's full name, or the cgroup's path below the hierarchy's root. */
  name: string;
  /** Now: the cgroup's path, id (its directory's inode number) and depth (the root is 0);
   * undefined when there is none (the unit is not running, the directory does not exist). */
  now: CgroupNode | undefined;
  /** The accounts it is limited to (`as`); undefined: any account. */
  uids: number[] | undefined;
}

export interface CgroupNode {
  path: string;
  id: number;
  level: number;
}

export interface ResolvedPolicy {
  endpoints: ResolvedEndpoint[];
  /** Every configured interface (named by an endpoint or under `interfaces:`) with complete settings. */
  interfaces: Map<string, InterfaceSettings>;
  logAllowed: LogAllowed;
}

export const LOG_ALLOWED_CODE: Record<LogAllowed, number> = { off: 0, sample: 1, all: 2 };

export interface CompiledLpmEntry {
  ifindex: number;
  family: 4 | 6;
  /** Prefix length of the address part only (0..32 / 0..128). */
  prefix: number;
  addr: Uint8Array;
  setId: number;
}

export interface CompiledSetEntry {
  setId: number;
  /** A uid, or UID_ANY. */
  uid: number;
  /** A cgroup slot (CompiledCgroup.slot), or NTF.CG_ANY (whatever cgroup). */
  cg: number;
  /** The schedule (CompiledSchedule.id) saying which endpoint grants when, for entries whose
   * endpoints have time windows; absent: `endpointId` grants at all times. */
  schedule?: number;
  /** Endpoint id reported when this entry allows a packet. */
  endpointId: number;
}

export interface CompiledIface {
  ifindex: number;
  name: string;
  defaultAllow: boolean;
  unownedAllow: boolean;
  essentials: boolean;
  logAllowed: number;
  /** Audit mode: would-drops pass (ntf_iface_cfg.audit). */
  audit: boolean;
}

/** Set id of a guarded prefix that no endpoint guarding it lets through the interface: nobody
 * may reach it there (the kernel drops with reason iface-not-listed, without a set lookup). */
export const SET_NONE = 0;

/** One cgroup the policy's unit:/cgroup: entries name, by slot (1..). Entries with the same kind and
 * name share a slot. `id` undefined: no such cgroup now (nothing in ntf_cgroups for it). */
export interface CompiledCgroup {
  slot: number;
  kind: 'unit' | 'cgroup';
  name: string;
  id: number | undefined;
  level: number | undefined;
}

/** When which endpoint grants (ntf_schedules): sorted [start, end) seconds of the local week
 * (Monday 00:00 = 0), each with its endpoint; outside them nothing is granted. */
export interface CompiledSchedule {
  id: number;
  segments: Array<{ start: number; end: number; endpointId: number }>;
}

/** Generation-free map contents; the engine adds the generation when it writes them. */
export interface CompiledPolicy {
  /** Entries with ifindex IFINDEX_ANY (0) are the guarded ranges on every interface no endpoint names. */
  lpm: CompiledLpmEntry[];
  sets: CompiledSetEntry[];
  ifaces: CompiledIface[];
  /** Settings for every interface without settings of its own (ifindex 0): only guarded ranges
   * are checked there. Undefined when the policy guards nothing. */
  anyIface: CompiledIface | undefined;
  /** Endpoint id → name, for reporting. */
  endpointNames: Map<number, string>;
  /** The cgroups unit:/cgroup: entries name (slots from 1). */
  cgroups: CompiledCgroup[];
  /** ntf_iface_cfg.cg_levels: the levels to look up (0: the policy names no cgroup). */
  cgLevels: number;
  /** Time windows: the schedules set entries refer to (ids from 1); empty: none. */
  schedules: CompiledSchedule[];
}
