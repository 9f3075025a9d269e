// SPDX-License-Identifier: Apache-2.0
// Environment: Node (main process and CLI). No Electron import.
//
// The engine owns the loaded tc program and its maps: it loads or adopts the pinned state,
// attaches to interfaces, applies policies atomically, drains decision events and reads
// counters, and unloads everything on request. One engine per pin directory (flock).
import {
  closeSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  statfsSync,
  unlinkSync,
} from 'node:fs';
import {
  BpfMap,
  BpfObject,
  bootTimeNs,
  chmodNoFollow,
  closeFd,
  decodeAttach,
  decodeCounters,
  decodeEvent,
  decodeIfaceCfg,
  decodeBudgetKey,
  decodeBudgetVal,
  decodeIfaceKey,
  decodeLpmKey,
  decodeSetKey,
  decodeState,
  encodeAttach,
  encodeConfig,
  LinkEvents,
  encodeIfaceCfg,
  encodeIfaceKey,
  encodeLpmKey,
  encodeSetKey,
  encodeCgroupKey,
  encodeClock,
  encodeSchedule,
  encodeScheduleKey,
  encodeSetVal,
  decodeSetVal,
  decodeClock,
  decodeSchedule,
  decodeScheduleKey,
  decodeCgroupKey,
  encodeState,
  ifIndexToName,
  ifNameToIndex,
  linkHeaderLen,
  lockHolder,
  pinFd,
  LAYOUTS,
  lib,
  NTF,
  progFdById,
  progInfo,
  progRun,
  REASON_NAMES,
  RingBuffer,
  tcAttach,
  tcDetach,
  tcHookCreate,
  tcHookDestroy,
  tcQuery,
  tryLockDir,
  u32Buf,
} from '../../native-bridge/index.js';
import type {
  Counters,
  PackedEntries,
  PolicyState,
  RawEvent,
  TcFilterId,
} from '../../native-bridge/index.js';
import { formatAddr } from '../policy/addr.js';
import { monotonicToWallNs, readFlows, verdictName } from './flows.js';
import type { FlowRow, Verdict } from './flows.js';
import { protoName } from './proto.js';
import { compilePolicy, stabilizeSetIds } from '../policy/compile.js';
import { RangeIndex, rangeEdits } from '../policy/incremental.js';
import type { LpmChange } from '../policy/incremental.js';
import {
  CgroupNames,
  cgroup2Mount,
  locate,
  NO_CGROUP2,
  systemCgroupTree,
  watchDirs,
} from '../policy/cgroups.js';
import { CgroupWatch } from './cgroup-watch.js';
import { hostTzTable } from '../policy/when.js';
import { taiMinusUtcNs } from '../../native-bridge/clock.js';
import {
  BPF_CGROUP_INET_SOCK_CREATE,
  BPF_LINK_TYPE_CGROUP,
  linkCgroup,
  linkInfo,
  updateLink,
} from '../../native-bridge/link.js';
import type { CompileLimits } from '../policy/compile.js';
import { dhcpPortsPrivileged, listInterfaces } from './links.js';
import type { CompiledPolicy, ResolvedCgroupEntry, ResolvedPolicy } from '../policy/types.js';
import { ingressQdiscKind, otherFiltersPresent } from './tcshow.js';
import { defaultObjectPath } from './paths.js';
import { FILTER_ID_HANDLE } from './filterid.js';
import { assertSameDir, checkPin, checkPinDir } from './pintrust.js';
import { patchTrieOrder } from './trieorder.js';
import { TrieRecord } from './trierecord.js';
import type { RecordMap } from './trierecord.js';
import type { PinDirTrust } from './pintrust.js';

export const DEFAULT_PIN_DIR = '/sys/fs/bpf/net-tc-filter';

/** Events taken from the ring buffer per drain call: small enough that one call never holds
 * the event loop for long (measured in docs/benchmarks.md), large enough for 400k events/s. */
export const DRAIN_BATCH = 4096;

/** How often the engine hosts call tickInterfaces: the delay between a link event and the new
 * interface being guarded. Reading an empty netlink socket is one syscall. */
export const LINK_POLL_MS = 10;
/** The full interface check (configured names, our filters still in place, the DHCP ports),
 * also without a link event. */
export const RECONCILE_INTERVAL_MS = 1000;

/** Per sending user: one user's flood at line rate cannot crowd another user's decisions out of
 * the ring buffer (4 MiB, ~58,000 events). 1,000/s per user, bursts of two seconds' worth. */
export const DEFAULT_EVENTS_PER_USER = 1000;
const EVENT_BURST_SECONDS = 2;
const BPF_FS_MAGIC = 0xcafe4a11;

/** Our filter's place on each interface's clsact egress hook. Priority 1 runs before
 * filters added with tc's default priorities, so an earlier filter cannot wave packets past us. */
export const FILTER_ID: TcFilterId = { handle: FILTER_ID_HANDLE, priority: 1 };

/** Maps kept in bpffs so enforcement and state outlive the process. */
export const PINNED_MAPS = [
  'ntf_state',
  'ntf_lpm4',
  'ntf_lpm6',
  'ntf_sets',
  'ntf_ifaces',
  'ntf_flows',
  'ntf_counters',
  'ntf_events',
  'ntf_budget',
  'ntf_attach',
  'ntf_sync_inner',
  'ntf_sync',
  'ntf_cgroups',
  'ntf_sk',
  'ntf_schedules',
  'ntf_clock',
  'ntf_ifslots',
] as const;
const PROG_NAME = 'ntf_egress';
/** The program that records who creates each socket, and the pin of its link to the root of the
 * cgroup v2 hierarchy (it stays attached while the pin exists). */
const SOCK_PROG = 'ntf_sock_create';
export const SOCK_LINK = 'ntf_sock_link';
/** Every pin the engine makes in its pin directory: the maps, the tc program, the link. */
export const PIN_NAMES: readonly string[] = [...PINNED_MAPS, PROG_NAME, SOCK_LINK];
/** The syscall program through which the engine writes ntf_state. */
const SET_STATE_PROG = 'ntf_set_state';

/** A trial (apply --confirm): the kernel program goes back to the policy before it at the
 * deadline unless it is confirmed. */
/** A unit:/cgroup: entry's cgroup changed (a unit restarted, started or stopped). */
export interface CgroupMove {
  kind: 'unit' | 'cgroup';
  name: string;
  /** The cgroup ids before and now (undefined: none). */
  from: number | undefined;
  to: number | undefined;
  path: string | undefined;
}

export interface TrialInfo {
  /** The trial policy's epoch. */
  epoch: number;
  /** The epoch of the policy the kernel goes back to. */
  previousEpoch: number;
  /** CLOCK_BOOTTIME ns (the kernel's clock for the deadline). */
  deadlineNs: bigint;
  /** The deadline in wall-clock ms. */
  deadline: number;
  /** Seconds until the deadline (0 when past). */
  secondsLeft: number;
  /** The deadline passed: the kernel enforces the previous policy (user space has not caught up). */
  expired: boolean;
}

/** What a trial came to. `at`: wall-clock ms (for the kernel: its deadline). */
export type TrialReverted = {
  type: 'reverted';
  by: 'kernel' | 'revert';
  epoch: number;
  previousEpoch: number;
  at: number;
};
export type TrialOutcome = { type: 'confirmed'; epoch: number; at: number } | TrialReverted;

/** The trial a policy state describes (also one whose deadline passed), or undefined. */
export function trialOf(
  s: PolicyState,
  nowBootNs: bigint = bootTimeNs(),
  nowWall = Date.now(),
): TrialInfo | undefined {
  if (s.trialDeadlineNs === 0n) return undefined;
  const leftNs = s.trialDeadlineNs - nowBootNs;
  return {
    epoch: Number(s.epoch),
    previousEpoch: Number(s.fallbackEpoch),
    deadlineNs: s.trialDeadlineNs,
    deadline: nowWall + Number(leftNs / 1_000_000n),
    secondsLeft: leftNs > 0n ? Math.ceil(Number(leftNs) / 1e9) : 0,
    expired: leftNs <= 0n,
  };
}

/** The epoch the kernel program uses under a state (the trial's deadline passed: the previous). */
export function effectiveEpoch(s: PolicyState, nowBootNs: bigint = bootTimeNs()): number {
  return Number(s.trialDeadlineNs !== 0n && nowBootNs >= s.trialDeadlineNs ? s.fallbackEpoch : s.epoch);
}

/** An apply, confirm or revert that a trial's state does not allow. */
/** A confirm that came after the kernel went back. */
export function tooLate(r: TrialReverted): TrialStateError {
  return new TrialStateError(
    `too late: the trial of policy ${r.epoch} ended at ${new Date(r.at).toISOString()} and the kernel went back to policy ${r.previousEpoch}`,
    undefined,
  );
}

export class TrialStateError extends Error {
  constructor(
    message: string,
    readonly trial: TrialInfo | undefined,
  ) {
    super(message);
    this.name = 'TrialStateError';
  }
}

/** How a pending trial reads in messages. */
export function trialText(t: TrialInfo): string {
  return t.expired
    ? `the trial of policy ${t.epoch} ended at ${new Date(t.deadline).toISOString()}: the kernel went back to policy ${t.previousEpoch}`
    : `policy ${t.epoch} is on trial: policy ${t.previousEpoch} returns in ${t.secondsLeft} s unless confirmed`;
}

/** Which pinned state an epoch belongs to: epochs start again at 1 when the state is created
 * anew, map ids are unique until the next boot. */
export function stateIdentity(stateMap: BpfMap): string {
  const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  return `${boot}/${stateMap.info.id}`;
}

export class EngineLockedError extends Error {
  constructor(
    readonly pinDir: string,
    readonly holder: { pid: number; command: string } | undefined,
  ) {
    super(
      holder
        ? `${pinDir} is owned by another instance: pid ${holder.pid} (${holder.command}); stop it first`
        : `${pinDir} is owned by another instance`,
    );
    this.name = 'EngineLockedError';
  }
}

export interface EngineOptions {
  pinDir?: string;
  objectPath?: string;
  /** Ring buffer bytes (power of two, >= page size). Only for freshly created state. */
  ringBytes?: number;
  flowEntries?: number;
  /** Range entries (each trie: ntf_lpm4, ntf_lpm6) and user-set entries (ntf_sets) one policy may
   * use. The maps hold two generations, so they are created with twice as many. Only for freshly
   * created state: pinned maps keep the size they were created with (limits() reads it).
   * Defaults: half of NTF.LPM4_ENTRIES, NTF.LPM6_ENTRIES, NTF.SET_ENTRIES. */
  rangeEntries?: number;
  setEntries?: number;
  /** Reported decisions per sending user per second on average (the kernel counts the rest as
   * suppressed, per user); 0 = no budget. Default DEFAULT_EVENTS_PER_USER. */
  eventsPerUser?: number;
}

export interface ApplyResult {
  epoch: number;
  attached: Array<{ name: string; ifindex: number; mode: 'enforce' | 'audit' }>;
  /** The other interfaces: the program checks only the guarded ranges there. */
  guardOnly: Array<{ name: string; ifindex: number }>;
  /** Interfaces where the program could not be attached: guarded ranges are NOT guarded there. */
  unguarded: Array<{ name: string; error: string }>;
  /** Unicast DHCP client packets are exempt (binding UDP 68/546 needs privilege on this host). */
  dhcpUnicast: boolean;
  detached: Array<{ name: string; ifindex: number }>;
  /** Configured interfaces that do not exist now; attached when they appear. */
  missing: string[];
  lpmEntries: number;
  setEntries: number;
  /** Map entries written or deleted (both generations). */
  changes: number;
  /** The policy differed from the enforced one only in ranges and was recompiled from it, only
   * where a changed range lies (incremental.ts), instead of compiled whole. */
  incremental: boolean;
  /** Set when tidying up after the flip failed (the new policy is enforced anyway). */
  mirrorError: string | undefined;
  /** Policy entries the kernel held that this engine did not write (added, changed or deleted
   * behind its back since its last apply), one description each; all were put right. */
  unexpected: string[];
  /** Milliseconds until the new policy was active (flip), and until old entries were gone. */
  activeMs: number;
  totalMs: number;
  /** Set for a trial apply: the previous policy comes back at its deadline unless confirmed. */
  trial?: TrialInfo;
  /** A trial that had ended (the kernel reverted it) before this apply, now settled. */
  settled?: TrialOutcome;
}

export interface ApplyOptions {
  /** A trial: unless confirm() runs within this many seconds the kernel goes back. */
  trialSeconds?: number;
}

/** Interfaces that appeared and were attached at once (no apply needed: the ifindex-0 settings
 * cover them), and those that could not be. */
export interface GuardedNow {
  guarded: string[];
  unguarded: Array<{ name: string; error: string }>;
}

export interface Decision {
  /** Wall-clock milliseconds. */
  time: number;
  iface: string;
  ifindex: number;
  /** null for packets without a local socket. */
  uid: number | null;
  family: 4 | 6;
  proto: string;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  bytes: number;
  verdict: Verdict;
  reason: string;
  endpointId: number;
  newFlow: boolean;
  /** `dst` is an address from the packet's IPv6 routing header (the packet would reach it), not
   * the IPv6 header's destination. */
  routed: boolean;
  /** The sending socket's cgroup v2 id (0: none known, e.g. unowned). */
  cgroupId: number;
  /** The uid is the one recorded when the socket was created; false: the socket has no record
   * (it is older than the program, or the kernel made it) and the uid is its current owner. */
  uidRecorded: boolean;
}

export interface AttachmentStatus {
  ifindex: number;
  name: string;
  qdiscOurs: boolean;
  /** Program id tc reports at our handle/priority, undefined when our filter is gone. */
  progId: number | undefined;
}

/** Root-only, as systemd mounts it: with the kernel's default (1777) any user can plant the pin
 * directory (electron/engine/pintrust.ts). */
const MOUNT_HINT = 'mount -t bpf -o mode=0700 bpf /sys/fs/bpf';

function assertBpffs(dir: string): void {
  const parent = dir.replace(/\/[^/]+\/?$/, '') || '/';
  const probe = existsSync(dir) ? dir : parent;
  let type: number;
  try {
    type = Number(statfsSync(probe).type);
  } catch (err) {
    throw new Error(`${probe}: ${(err as Error).message}; mount bpffs with: ${MOUNT_HINT}`, {
      cause: err,
    });
  }
  if (type !== BPF_FS_MAGIC) {
    throw new Error(`${probe} is not a bpffs mount; mount it with: ${MOUNT_HINT}`);
  }
}

/** The maps whose keys carry the policy generation, and where in the key it sits. */
const POLICY_MAPS = {
  ntf_lpm4: LAYOUTS.lpm4Key.fields.gen.offset,
  ntf_lpm6: LAYOUTS.lpm6Key.fields.gen.offset,
  ntf_sets: LAYOUTS.setKey.fields.gen.offset,
  ntf_ifaces: LAYOUTS.ifaceKey.fields.gen.offset,
  ntf_cgroups: LAYOUTS.cgroupKey.fields.gen.offset,
  ntf_schedules: LAYOUTS.scheduleKey.fields.gen.offset,
  // Keyed by the generation itself (a u32).
  ntf_clock: 0,
} as const;
type PolicyMap = keyof typeof POLICY_MAPS;

/**
 * A generation's entries per map: key bytes with the generation field zeroed → value bytes,
 * both as latin1 strings (usable as Map keys, compared with ===). Generation-free, so one
 * description serves both generations and comparing two is cheap.
 */
type GenState = Record<PolicyMap, RecordMap>;

const POLICY_MAP_NAMES = Object.keys(POLICY_MAPS) as PolicyMap[];

function emptyGen(): GenState {
  return Object.fromEntries(
    POLICY_MAP_NAMES.map((n): [PolicyMap, RecordMap] => [n, new Map<string, string>()]),
  ) as GenState;
}

/**
 * Policy maps holding more entries than this (both generations together) are not read back before
 * each write: reading a trie costs about 0.7 µs per entry in the kernel (2.8 s for the 4 M entries of
 * a million pairs), so there the engine trusts what it wrote. Smaller maps are read every time
 * (entries written behind the engine's back are reported and put right); every map is read when
 * the engine does not know it (after adopting pinned state). docs/datapath.md "Policy size".
 */
export const VERIFY_ENTRIES = 65_536;

/** A trie record's entries in the order the kernel lists them (trieorder.ts), generation field
 * zeroed: known once the record was read back and found exact, or derived from such a record and
 * a range change. Records are not changed once made, except a trie too large to be read back
 * (recompileInPlace), whose order is then forgotten. */
const TRIE_ORDER = new WeakMap<RecordMap, PackedEntries>();

/** A trie record made from another by a range change (recompileInPlace): the record it was made
 * from and the change, for its order (trieOrder). */
const TRIE_PATCHED = new WeakMap<
  RecordMap,
  { from: RecordMap; dels: Buffer[]; ups: Array<readonly [Buffer, Buffer]> }
>();

/** The order of a trie record: known, or derived from the record it was made from. */
function trieOrder(m: RecordMap, keySize: number, valueSize: number): PackedEntries | undefined {
  const known = TRIE_ORDER.get(m);
  if (known) return known;
  const p = TRIE_PATCHED.get(m);
  const base = p && TRIE_ORDER.get(p.from);
  if (!p || !base) return undefined;
  TRIE_PATCHED.delete(m);
  const o = patchTrieOrder(base, keySize, valueSize, p.dels, p.ups);
  if (o) TRIE_ORDER.set(m, o);
  return o;
}

/** Whether a map whose two generations hold these many entries is not read back (VERIFY_ENTRIES). */
function trustedSize(entries: number, otherEntries: number): boolean {
  return entries + otherEntries > VERIFY_ENTRIES;
}

export class Engine {
  readonly pinDir: string;
  readonly adopted: boolean;
  readonly programId: number;
  private readonly obj: BpfObject;
  private readonly lockFd: number;
  private readonly maps: Record<(typeof PINNED_MAPS)[number], BpfMap>;
  private readonly progFd: number;
  private readonly setStateFd: number;
  /**
   * Pins are made group read-write: the directory is shared through the group net-tc-filter, as
   * the launcher prepares it (root:net-tc-filter, 2770; checkPinDir). Setgid gives every pin made
   * in it the directory's group; pins are created 0600, so the engine makes its own 0660 there:
   * the daemon and the desktop app, different uids in that group without CAP_DAC_OVERRIDE, can
   * then open each other's pins.
   */
  private readonly sharedPins: boolean;
  /** Found by syncGen since the last apply returned. */
  private unexpected: string[] = [];
  /** What each generation holds, when known (after a scan or a completed sync). */
  private mirror: [GenState | undefined, GenState | undefined] = [undefined, undefined];
  private ring: RingBuffer | undefined;
  private pending: RawEvent[] = [];
  private readonly monoOffsetNs: bigint;
  private desired: ResolvedPolicy | undefined;
  /** Link events (undefined: not opened yet; null: netlink unavailable). */
  private links: LinkEvents | null | undefined;
  private lastReconcile = 0;
  /** What the last apply found of the system, for reconcileInterfaces. */
  private lastApplied:
    | {
        interfaces: string;
        dhcpUnicast: boolean;
        guardOnly: Array<{ name: string; ifindex: number }>;
        unguarded: string[];
        /** Every interface the policy wants the program on. */
        wanted: Set<number>;
      }
    | undefined;
  private compiled: CompiledPolicy | undefined;
  /**
   * The enforced policy's prefix tables, for applying a range change without a whole compile
   * (incremental.ts); kept only while both generations hold `compiled` (after an apply outside a
   * trial) and dropped whenever `compiled` changes another way.
   */
  private index: RangeIndex | undefined;
  /** The ifindex of each configured interface when `compiled` was made, and the missing ones. */
  private compiledFor: { ifindexes: string; missing: string[] } | undefined;
  /** During a trial this engine applied: the policy before it, what the kernel goes back to. */
  private previous: { desired: ResolvedPolicy | undefined; compiled: CompiledPolicy | undefined } | undefined;
  private closed = false;

  private constructor(pinDir: string, obj: BpfObject, lockFd: number, adopted: boolean, sharedPins: boolean) {
    this.pinDir = pinDir;
    this.sharedPins = sharedPins;
    this.obj = obj;
    this.lockFd = lockFd;
    this.adopted = adopted;
    this.maps = Object.fromEntries(PINNED_MAPS.map((n) => [n, obj.map(n)])) as Engine['maps'];
    this.progFd = obj.programFd(PROG_NAME);
    this.setStateFd = obj.programFd(SET_STATE_PROG);
    this.programId = progInfo(this.progFd).id;
    this.monoOffsetNs = monotonicToWallNs();
  }

  /**
   * Loads the program, creating the pinned maps or adopting the ones an earlier run left
   * (enforcement then continues without a gap: our filter is replaced in place).
   */
  static open(opts: EngineOptions = {}): Engine {
    const pinDir = opts.pinDir ?? DEFAULT_PIN_DIR;
    assertBpffs(pinDir);
    // Trusted before anything is created, opened or locked in it (a planted directory is refused
    // even while its planter holds an flock on it).
    checkPinDir(pinDir, { allowMissing: true });
    mkdirSync(pinDir, { recursive: true, mode: 0o700 });
    const trust = checkPinDir(pinDir) as PinDirTrust;
    const lockFd = tryLockDir(pinDir);
    if (lockFd === undefined) throw new EngineLockedError(pinDir, lockHolder(pinDir));
    let obj: BpfObject | undefined;
    try {
      assertSameDir(trust, lockFd);
      const shared = trust.shared;
      // Every pin load() would reuse: ours or root's, never a planted one.
      for (const name of PINNED_MAPS) checkPin(trust, name);
      obj = BpfObject.openFile(opts.objectPath ?? defaultObjectPath());
      const eventsPerUser = opts.eventsPerUser ?? DEFAULT_EVENTS_PER_USER;
      const rodata = encodeConfig({
        overflowUid: Number(readFileSync('/proc/sys/kernel/overflowuid', 'utf8').trim()),
        eventsPerUser,
        eventBurst: eventsPerUser * EVENT_BURST_SECONDS,
      });
      const maxEntries: Record<string, number> = {};
      if (opts.ringBytes) maxEntries.ntf_events = opts.ringBytes;
      if (opts.flowEntries) maxEntries.ntf_flows = opts.flowEntries;
      if (opts.rangeEntries) maxEntries.ntf_lpm4 = maxEntries.ntf_lpm6 = 2 * opts.rangeEntries;
      if (opts.setEntries) maxEntries.ntf_sets = 2 * opts.setEntries;
      const reused = obj.load({ rodata, maxEntries, reusePinsFrom: pinDir, pinnedMaps: PINNED_MAPS });
      for (const name of PINNED_MAPS) {
        if (reused.includes(name)) continue;
        obj.map(name).pin(`${pinDir}/${name}`);
        if (shared) chmodNoFollow(`${pinDir}/${name}`, 0o660);
      }
      const engine = new Engine(pinDir, obj, lockFd, reused.includes('ntf_state'), shared);
      // Policy maps created just now are empty: nothing to read back before the first apply.
      if (!POLICY_MAP_NAMES.some((n) => reused.includes(n))) {
        const empty = emptyGen(); // one object for both: the diffs of the first apply are shared
        engine.mirror = [empty, empty];
      }
      // Pins of a version before ntf_ifslots: its copy of the settings, before our program reads it.
      if (reused.includes('ntf_ifaces') && !reused.includes('ntf_ifslots')) {
        const gens = engine.readGens(['ntf_ifaces']);
        for (const g of [0, 1]) engine.syncIfaceSlots(g, new Map(), gens[g]?.ntf_ifaces ?? new Map());
      }
      engine.adoptAttachments();
      engine.pinProgram();
      engine.recordSockets(trust);
      return engine;
    } catch (err) {
      obj?.close();
      closeSync(lockFd);
      throw err;
    }
  }

  /**
   * Attaches the socket-creation program to the root of the cgroup v2 hierarchy (or swaps it
   * into the link an earlier run pinned), so that every socket created from now on carries the
   * uid that created it. Without a cgroup v2 hierarchy sockets keep today's lookup (their
   * current owner); `socketRecords` says why.
   */
  private recordSockets(trust: PinDirTrust): void {
    const root = cgroup2Mount();
    if (root === undefined) {
      this.socketRecords = { root: undefined, note: NO_CGROUP2 };
      return;
    }
    const progFd = this.obj.programFd(SOCK_PROG);
    const path = `${this.pinDir}/${SOCK_LINK}`;
    if (checkPin(trust, SOCK_LINK)) {
      const fd = lib().bpf_obj_get(path) as number;
      if (fd >= 0) {
        try {
          if (linkInfo(fd).type === BPF_LINK_TYPE_CGROUP) {
            updateLink(fd, progFd);
            this.socketRecords = { root };
            return;
          }
        } finally {
          closeFd(fd);
        }
      }
      unlinkSync(path);
    }
    const fd = linkCgroup(progFd, root, BPF_CGROUP_INET_SOCK_CREATE);
    try {
      pinFd(fd, path);
      if (this.sharedPins) chmodNoFollow(path, 0o660);
    } finally {
      closeFd(fd);
    }
    this.socketRecords = { root };
  }

  /** Where sockets are recorded at creation (the cgroup v2 root the program is attached to);
   * `root` undefined: nowhere, `note` says why. */
  socketRecords: { root: string | undefined; note?: string } = { root: undefined };

  private pinProgram(): void {
    const path = `${this.pinDir}/${PROG_NAME}`;
    if (existsSync(path)) unlinkSync(path);
    pinFd(this.progFd, path);
    if (this.sharedPins) chmodNoFollow(path, 0o660);
  }

  /** Swaps the running program on every interface an earlier run attached to (no gap). The
   * record's ifindex is what counts: an interface may have been renamed since. */
  private adoptAttachments(): void {
    for (const [k, v] of this.maps.ntf_attach.entries()) {
      const rec = decodeAttach(v);
      const name = ifIndexToName(rec.ifindex);
      // Gone, or our filter was removed: forget the record; the next apply attaches again
      // where the policy wants it.
      if (name === undefined || tcQuery(rec.ifindex, name, FILTER_ID) === undefined) {
        this.maps.ntf_attach.delete(k);
        continue;
      }
      tcAttach(rec.ifindex, name, this.progFd, FILTER_ID, true);
      if (name !== rec.ifname) this.maps.ntf_attach.update(k, encodeAttach({ ...rec, ifname: name }));
    }
  }

  /** The interfaces we are attached to, according to the pinned records. */
  attachments(): AttachmentStatus[] {
    return this.maps.ntf_attach.entries().map(([, v]) => {
      const a = decodeAttach(v);
      const name = ifIndexToName(a.ifindex) ?? a.ifname; // renamed since? the index is what counts
      return {
        ifindex: a.ifindex,
        name,
        qdiscOurs: (a.flags & NTF.ATTACH_QDISC_OURS) !== 0,
        progId: tcQuery(a.ifindex, name, FILTER_ID),
      };
    });
  }

  /** Identifies the pinned state the epochs belong to (history entries carry it). */
  get stateId(): string {
    return stateIdentity(this.maps.ntf_state);
  }

  /** The policy state as the kernel holds it. */
  policyState(): PolicyState {
    const v = this.maps.ntf_state.lookup(u32Buf(0));
    return v ? decodeState(v) : { epoch: 0n, trialDeadlineNs: 0n, fallbackEpoch: 0n };
  }

  /** The last epoch written (a trial's own epoch, also once its deadline passed). */
  epoch(): number {
    return Number(this.policyState().epoch);
  }

  /** The epoch the kernel enforces now (after a trial's deadline: the previous one). */
  effectiveEpoch(): number {
    return effectiveEpoch(this.policyState());
  }

  /** The pending trial, or one whose deadline passed and is not settled yet. */
  trial(): TrialInfo | undefined {
    return trialOf(this.policyState());
  }

  /** Writes the policy state with whole 8-byte stores in a fixed order (the program
   * ntf_set_state; a map update is a memcpy, see struct ntf_state). */
  private writeState(s: PolicyState): void {
    const r = progRun(this.setStateFd, encodeState(s));
    if (r !== 0) throw new Error(`ntf_set_state returned ${r}: ntf_state has no element 0`);
  }

  /**
   * Settles a trial whose deadline passed: the kernel went back to the previous policy by itself;
   * the state is brought to say so (a new epoch of the previous policy's generation) and the trial's
   * generation mirrors the previous one again. Returns what happened, or undefined.
   */
  settle(): TrialReverted | undefined {
    this.assertOpen();
    const t = this.trial();
    return t?.expired ? this.goBack('kernel', t) : undefined;
  }

  /** Keeps the policy on trial. */
  confirm(): TrialOutcome {
    this.assertOpen();
    const settled = this.settle();
    if (settled) throw tooLate(settled);
    const s = this.policyState();
    if (s.trialDeadlineNs === 0n) throw new TrialStateError('no trial is pending', undefined);
    // The deadline goes, the fallback stays: a reader mixing old and new fields past the deadline
    // goes back, which is what a confirm a moment too late would have met anyway.
    this.writeState({ ...s, trialDeadlineNs: 0n });
    this.previous = undefined;
    this.mirrorActive();
    this.detachUnwanted();
    return { type: 'confirmed', epoch: Number(s.epoch), at: Date.now() };
  }

  /** Goes back to the policy before the trial now. */
  revert(): TrialOutcome {
    this.assertOpen();
    const settled = this.settle();
    if (settled) return settled;
    const t = this.trial();
    if (!t) throw new TrialStateError('no trial is pending', undefined);
    return this.goBack('revert', t);
  }

  /**
   * The previous policy, for good: epoch fallback + 2 has the previous policy's generation and was
   * never used, so no verdict cached under the trial (epoch fallback + 1) is valid again. Two writes
   * so that a reader mixing old and new fields never sees the trial without its passed deadline:
   * {N+2, 1 (past), N} (any mix goes back to N or N+2: the same generation), then {N+2, 0, N}.
   */
  private goBack(by: 'kernel' | 'revert', t: TrialInfo): TrialReverted {
    const n = BigInt(t.previousEpoch);
    this.writeState({ epoch: n + 2n, trialDeadlineNs: 1n, fallbackEpoch: n });
    this.writeState({ epoch: n + 2n, trialDeadlineNs: 0n, fallbackEpoch: n });
    if (this.previous) {
      this.desired = this.previous.desired;
      this.compiled = this.previous.compiled;
      this.index = undefined;
      this.compiledFor = undefined;
      this.previous = undefined;
    }
    this.mirrorActive();
    return {
      type: 'reverted',
      by,
      epoch: t.epoch,
      previousEpoch: t.previousEpoch,
      at: by === 'kernel' ? t.deadline : Date.now(),
    };
  }

  /** Once no program run can use the other generation any more, makes it mirror the active one
   * (so the next apply is a small diff again). Failure only leaves the spare copy stale. */
  private mirrorActive(): void {
    const active = this.effectiveEpoch() & 1;
    try {
      this.syncPrograms();
      this.syncGen(active ^ 1, this.mirror[active] ?? this.readGen(active));
    } catch {
      this.mirror[active ^ 1] = undefined; // rescanned by the next apply
    }
  }

  private cgroupWatch: CgroupWatch | undefined;
  /** Names the cgroup ids of decisions and flows (paths below the cgroup v2 root). */
  readonly cgroupNames = new CgroupNames();

  /** The policies in the kernel's generations now, each with the generations that hold it. */
  private livePolicies(): Array<{
    gens: number[];
    compiled: CompiledPolicy;
    resolved: ResolvedPolicy | undefined;
  }> {
    if (!this.compiled) return [];
    const s = this.policyState();
    const cur = Number(s.epoch & 1n);
    if (s.trialDeadlineNs === 0n)
      return [{ gens: [cur, cur ^ 1], compiled: this.compiled, resolved: this.desired }];
    const out = [{ gens: [cur], compiled: this.compiled, resolved: this.desired }];
    if (this.previous?.compiled)
      out.push({ gens: [cur ^ 1], compiled: this.previous.compiled, resolved: this.previous.desired });
    return out;
  }

  /**
   * Follows the cgroups the policy's unit:/cgroup: entries name; call every LINK_POLL_MS. A unit
   * that restarted runs in a new cgroup with a new id: it is written into ntf_cgroups of every
   * generation in use, in place — a slot means what it meant, so no new policy number is needed
   * —, the new id first, then the old one goes. A cgroup that turns up at a level the program does
   * not look at takes a new apply of the policy (outside a trial). Undefined: nothing moved.
   */
  tickCgroups(now = performance.now()): { moved: CgroupMove[]; applied?: ApplyResult } | undefined {
    // Most policies name no cgroup: then nothing to read, not even the policy state.
    const named = (c: CompiledPolicy | undefined) => (c?.cgroups.length ?? 0) > 0;
    const live =
      named(this.compiled) || named(this.previous?.compiled)
        ? this.livePolicies().filter((l) => named(l.compiled))
        : [];
    if (live.length === 0) {
      this.cgroupWatch?.close();
      this.cgroupWatch = undefined;
      return undefined;
    }
    const tree = systemCgroupTree();
    if (typeof tree === 'string') return undefined;
    this.cgroupWatch ??= new CgroupWatch(tree);
    if (!this.cgroupWatch.due(now)) return undefined;
    const moved: CgroupMove[] = [];
    let relevel = false;
    const entries: ResolvedCgroupEntry[] = [];
    for (const l of live) {
      const resolvedEntries = (l.resolved?.endpoints ?? []).flatMap((e) => e.cgroups ?? []);
      entries.push(...resolvedEntries);
      for (const g of l.compiled.cgroups) {
        const at = locate(tree, g.kind, g.name);
        if (at?.id === g.id) continue;
        for (const e of resolvedEntries) if (e.kind === g.kind && e.name === g.name) e.now = at;
        if (at && (l.compiled.cgLevels & (1 << at.level)) === 0) {
          relevel = true;
          continue;
        }
        for (const gen of l.gens) this.moveCgroup(gen, g.slot, g.id, at?.id);
        moved.push({ kind: g.kind, name: g.name, from: g.id, to: at?.id, path: at?.path });
        g.id = at?.id;
        g.level = at?.level;
      }
    }
    this.cgroupWatch.arm(watchDirs(tree, entries));
    const applied =
      relevel && this.desired && this.trial() === undefined ? this.apply(this.desired) : undefined;
    return moved.length > 0 || applied ? { moved, ...(applied ? { applied } : {}) } : undefined;
  }

  /** ntf_cgroups of generation `gen`: slot `slot` is the cgroup `to` now, no longer `from`. */
  private moveCgroup(gen: number, slot: number, from: number | undefined, to: number | undefined): void {
    const mirror = this.mirror[gen]?.ntf_cgroups;
    if (to !== undefined) {
      this.maps.ntf_cgroups.update(encodeCgroupKey(gen, to), u32Buf(slot));
      mirror?.set(encodeCgroupKey(0, to).toString('latin1'), u32Buf(slot).toString('latin1'));
    }
    if (from !== undefined && from !== to) {
      this.maps.ntf_cgroups.delete(encodeCgroupKey(gen, from));
      mirror?.delete(encodeCgroupKey(0, from).toString('latin1'));
    }
  }

  /** The policy last applied by this engine (undefined after adopt until the first apply). */
  policy(): { resolved: ResolvedPolicy; compiled: CompiledPolicy } | undefined {
    return this.desired && this.compiled ? { resolved: this.desired, compiled: this.compiled } : undefined;
  }

  /** Attaches our filter; returns whether the clsact qdisc was created for it. */
  private attach(ifindex: number, name: string): boolean {
    const key = u32Buf(ifindex);
    const prior = this.maps.ntf_attach.lookup(key);
    const existing = tcQuery(ifindex, name, FILTER_ID);
    // A filter at our place that this pin directory did not put there belongs to someone else:
    // another program, another net-tc-filter instance (another --pin-dir), or an orphan whose
    // pins were deleted by hand. Replacing it would make two owners fight over the interface.
    if (existing !== undefined && existing !== this.programId && !prior) {
      throw new Error(
        `${name}: ${foreignFilter(existing)} occupies egress handle 0x${FILTER_ID.handle.toString(16)} priority ` +
          `${FILTER_ID.priority}; not replacing it. Remove it with its owner's unload, or: ` +
          `tc filter del dev ${name} egress handle 0x${FILTER_ID.handle.toString(16)} prio ${FILTER_ID.priority} bpf`,
      );
    }
    const created = tcHookCreate(ifindex, name);
    if (!created) {
      const kind = ingressQdiscKind(name);
      if (kind !== 'clsact') {
        throw new Error(
          `${name}: a '${kind ?? 'unknown'}' qdisc holds the ingress/clsact slot; an egress filter attached ` +
            `there would not see outgoing packets. Replace it with clsact (tc qdisc del dev ${name} ingress; ` +
            `tc qdisc add dev ${name} clsact) and move its filters, then apply again`,
        );
      }
    }
    const ours = created || (prior ? (decodeAttach(prior).flags & NTF.ATTACH_QDISC_OURS) !== 0 : false);
    this.maps.ntf_attach.update(
      key,
      encodeAttach({ ifindex, ifname: name, flags: ours ? NTF.ATTACH_QDISC_OURS : 0 }),
    );
    tcAttach(ifindex, name, this.progFd, FILTER_ID, true);
    return created;
  }

  private detach(ifindex: number, name: string, qdiscOurs: boolean): void {
    tcDetach(ifindex, name, FILTER_ID);
    if (qdiscOurs && !otherFiltersPresent(name)) tcHookDestroy(ifindex, name);
    this.maps.ntf_attach.delete(u32Buf(ifindex));
  }

  private readGen(gen: number): GenState {
    return this.readGens(POLICY_MAP_NAMES)[gen === 1 ? 1 : 0] as GenState;
  }

  /** Both generations of the given maps, in one pass over each map. Where a generation of a map
   * holds exactly what `expected` says, the result is that record itself (the same Map object:
   * nothing is copied, and the caller can tell a verified record from a difference). A trie whose
   * record's order is known (TRIE_ORDER) is compared as bytes, without a string per entry. */
  private readGens(
    names: readonly PolicyMap[],
    expected: readonly [GenState | undefined, GenState | undefined] = [undefined, undefined],
  ): [Partial<GenState>, Partial<GenState>] {
    const out: [Partial<GenState>, Partial<GenState>] = [{}, {}];
    for (const name of names) {
      const off = POLICY_MAPS[name];
      const e = [expected[0]?.[name], expected[1]?.[name]] as const;
      const map = this.maps[name];
      const { keys, values, count } = map.entriesPacked();
      const ks = map.info.keySize;
      const vs = map.valueBytes;
      const trie = name === 'ntf_lpm4' || name === 'ntf_lpm6';
      // A trie lists generation 0, then 1 (the generation is the first field of its data): each
      // generation's block, generation field zeroed as in the records (only to compare with, or
      // keep as the order of, a record).
      let n0 = 0;
      while (trie && n0 < count && keys.readUInt32LE(n0 * ks + off) === 0) n0++;
      let n1 = n0;
      while (trie && n1 < count && keys.readUInt32LE(n1 * ks + off) === 1) n1++;
      const blocks =
        trie && n1 === count && (e[0] || e[1])
          ? ([0, 1] as const).map((g) => {
              const [a, b] = g === 0 ? [0, n0] : [n0, n1];
              const k = Buffer.from(keys.subarray(a * ks, b * ks));
              for (let at = off; at < k.length; at += ks) k.writeUInt32LE(0, at);
              return { keys: k, values: Buffer.from(values.subarray(a * vs, b * vs)), count: b - a };
            })
          : undefined;
      const done = [false, false];
      for (const g of [0, 1] as const) {
        const eg = e[g];
        const known = eg && trieOrder(eg, ks, vs);
        const block = blocks?.[g];
        if (known && block && block.keys.equals(known.keys) && block.values.equals(known.values)) {
          out[g][name] = eg;
          done[g] = true;
        }
      }
      if (done[0] && done[1]) continue;
      const ks0: [string[], string[]] = [[], []];
      const vs0: [string[], string[]] = [[], []];
      const same = [e[0] !== undefined, e[1] !== undefined];
      for (let i = 0, k = 0, v = 0; i < count; i++, k += ks, v += vs) {
        const g = keys.readUInt32LE(k + off);
        if ((g !== 0 && g !== 1) || done[g]) continue;
        keys.writeUInt32LE(0, k + off);
        const key = keys.toString('latin1', k, k + ks);
        const value = values.toString('latin1', v, v + vs);
        if (same[g] && e[g]?.get(key) !== value) same[g] = false;
        ks0[g].push(key);
        vs0[g].push(value);
      }
      for (const g of [0, 1] as const) {
        if (done[g]) continue;
        const eg = e[g];
        const block = blocks?.[g];
        if (same[g] && eg !== undefined && eg.size === ks0[g].length) {
          out[g][name] = eg;
          // As the kernel lists it: the next read compares bytes.
          if (block) TRIE_ORDER.set(eg, block);
        } else {
          const m = new Map<string, string>();
          for (let i = 0; i < ks0[g].length; i++) m.set(ks0[g][i] as string, vs0[g][i] as string);
          out[g][name] = m;
        }
      }
    }
    return out;
  }

  /** Learns the generations this engine does not know (after adopting pinned state), reading each
   * map once for both. */
  private learnMirrors(): void {
    if (this.mirror[0] && this.mirror[1]) return;
    const read = this.readGens(POLICY_MAP_NAMES);
    this.mirror[0] ??= read[0] as GenState;
    this.mirror[1] ??= read[1] as GenState;
  }

  /** What both generations hold, in one pass over each map read back from the kernel, except
   * for the maps above VERIFY_ENTRIES, where the engine's own records stand for them. */
  private haveGens(): [GenState, GenState] {
    const [m0, m1] = this.mirror;
    const trusted = (n: PolicyMap) =>
      m0 !== undefined && m1 !== undefined && trustedSize(m0[n].size, m1[n].size);
    const read = this.readGens(
      POLICY_MAP_NAMES.filter((n) => !trusted(n)),
      this.mirror,
    );
    const gen = (g: 0 | 1) =>
      Object.fromEntries(
        POLICY_MAP_NAMES.map((n) => [n, trusted(n) ? (this.mirror[g] as GenState)[n] : read[g][n]]),
      ) as GenState;
    return [gen(0), gen(1)];
  }

  /** The map contents a compiled policy needs (generation-free). */
  private static want(
    c: CompiledPolicy,
    l2Len: (ifname: string) => number,
    dhcpUnicast: boolean,
    /** The trie entries, when known already (a range change applied in place): c.lpm is not read. */
    tries?: Pick<GenState, 'ntf_lpm4' | 'ntf_lpm6'>,
  ): GenState {
    const u32 = (v: number) => u32Buf(v).toString('latin1');
    // Millions of entries: each trie's record is a TrieRecord (flat arrays, no string per entry),
    // sized for the entries up front; encodeLpmKey runs once per interface, family and length, for
    // the key up to the address (the address is the key's last field).
    const n = { 4: 0, 6: 0 };
    if (!tries) for (const e of c.lpm) n[e.family]++;
    const out: GenState = {
      ntf_lpm4: tries?.ntf_lpm4 ?? new TrieRecord(LAYOUTS.lpm4Key.size, n[4]),
      ntf_lpm6: tries?.ntf_lpm6 ?? new TrieRecord(LAYOUTS.lpm6Key.size, n[6]),
      ntf_sets: new Map(),
      ntf_ifaces: new Map(),
      ntf_cgroups: new Map(),
      ntf_schedules: new Map(),
      ntf_clock: new Map(),
    };
    const heads = new Map<number, Uint8Array>();
    const rec = { 4: out.ntf_lpm4, 6: out.ntf_lpm6 } as { 4: TrieRecord; 6: TrieRecord };
    for (const e of tries ? [] : c.lpm) {
      const hk = e.ifindex * 512 + (e.family === 4 ? 0 : 256) + e.prefix;
      let head = heads.get(hk);
      if (head === undefined) {
        const l = e.family === 4 ? LAYOUTS.lpm4Key : LAYOUTS.lpm6Key;
        const bytes = e.family === 4 ? 4 : 16;
        if (l.fields.addr.offset + bytes !== l.size) throw new Error(`${l.struct}: the address is not last`);
        head = Uint8Array.from(
          encodeLpmKey(0, e.ifindex, e.family, e.prefix, new Uint8Array(bytes)).subarray(
            0,
            l.fields.addr.offset,
          ),
        );
        heads.set(hk, head);
      }
      rec[e.family].setParts(head, e.addr, e.setId);
    }
    const setVals = new Map<number, string>();
    for (const x of c.sets) {
      const vk = x.endpointId * 131_072 + (x.schedule ?? 0);
      let v = setVals.get(vk);
      if (v === undefined)
        setVals.set(
          vk,
          (v = encodeSetVal({ endpointId: x.endpointId, scheduleId: x.schedule ?? 0 }).toString('latin1')),
        );
      out.ntf_sets.set(encodeSetKey(0, x.setId, x.uid, x.cg).toString('latin1'), v);
    }
    // Time windows: the schedules, and the clock and zone they are read in (docs/datapath.md).
    for (const s of c.schedules)
      out.ntf_schedules.set(
        encodeScheduleKey(0, s.id).toString('latin1'),
        encodeSchedule(s.segments).toString('latin1'),
      );
    if (c.schedules.length > 0) {
      const tz = hostTzTable(Math.floor(Date.now() / 1000));
      out.ntf_clock.set(u32(0), encodeClock({ taiMinusUtcNs: taiMinusUtcNs(), tz }).toString('latin1'));
    }
    for (const g of c.cgroups)
      if (g.id !== undefined) out.ntf_cgroups.set(encodeCgroupKey(0, g.id).toString('latin1'), u32(g.slot));
    const cgLevels = c.cgLevels;
    for (const i of c.ifaces) {
      const cfg = encodeIfaceCfg({ ...i, l2Len: l2Len(i.name), dhcpUnicast, cgLevels });
      out.ntf_ifaces.set(encodeIfaceKey(0, i.ifindex).toString('latin1'), cfg.toString('latin1'));
    }
    if (c.anyIface) {
      // Many kinds of interface share these settings: headers are read with the helper.
      const cfg = encodeIfaceCfg({ ...c.anyIface, l2Len: NTF.L2_UNKNOWN, dhcpUnicast, cgLevels });
      out.ntf_ifaces.set(encodeIfaceKey(0, c.anyIface.ifindex).toString('latin1'), cfg.toString('latin1'));
    }
    return out;
  }

  /** Makes generation `gen` hold exactly `want`, writing only the difference. Returns the
   * number of entries written or deleted. `patch`: the difference of the maps it names from what
   * the generation held, when known (a range change applied in place), for the maps not read back. */
  private syncGen(gen: number, want: GenState, patch?: TriePatch, read?: GenState): number {
    // What the kernel holds, not what we believe it holds: whoever could open the pins may have
    // written entries since our last apply. Those are reported and, like everything else not in
    // `want`, removed (maps above VERIFY_ENTRIES: what this engine wrote, see haveGens). `read`:
    // this generation as read earlier in the same apply (one pass over the maps serves both).
    const have = read ?? (this.haveGens()[gen === 1 ? 1 : 0] as GenState);
    const expected = this.mirror[gen];
    this.mirror[gen] = undefined; // unknown until this completes
    if (expected) this.unexpected.push(...unexpectedEntries(gen, have, expected));
    let changes = 0;
    for (const [name, off] of Object.entries(POLICY_MAPS) as Array<[PolicyMap, number]>) {
      const h = have[name];
      const w = want[name];
      const m = this.maps[name];
      // The second sync of an apply brings the other generation from the same contents to the
      // same contents (both mirrored the policy before, or both were empty): the same difference,
      // computed and packed once.
      const known = DIFFS.get(w);
      // A range change applied in place: its patch, where this generation holds the record the
      // patch starts from (a trie not read back: the record itself, changed where it stands; one
      // read back: the kernel held exactly the record, readGens).
      const p = patch && (name === 'ntf_lpm4' || name === 'ntf_lpm6') ? patch[name] : undefined;
      const given = p && (h === w || h === p.from) ? p : undefined;
      const ks = m.info.keySize;
      const vs = m.valueBytes;
      let d: Diff;
      if (given) {
        d = stringDiff(
          h,
          given.dels,
          given.ups,
          given.ups.map((k) => w.get(k) as string),
          ks,
          vs,
        );
      } else if (known && (known.from === h || (known.from.size === 0 && h.size === 0))) {
        d = known;
      } else if (w instanceof TrieRecord && (h instanceof TrieRecord || h.size === 0)) {
        // Two trie records (or an empty generation): compared and packed as bytes.
        const r =
          h instanceof TrieRecord
            ? TrieRecord.diff(h, w)
            : { dels: { keys: Buffer.alloc(0), count: 0 }, ups: w.packed() };
        d = {
          from: h,
          dels: r.dels.count,
          ups: r.ups.count,
          packs: { dels: r.dels.keys, ups: r.ups.keys, vals: r.ups.values },
        };
      } else {
        const dels: string[] = [];
        const ups: string[] = [];
        const vals: string[] = [];
        for (const k of h.keys()) if (!w.has(k)) dels.push(k);
        for (const [k, v] of w)
          if (h.get(k) !== v) {
            ups.push(k);
            vals.push(v);
          }
        d = stringDiff(h, dels, ups, vals, ks, vs);
      }
      DIFFS.set(w, d);
      // Deletes first: they make room in a nearly full map. Keys and values go to the kernel
      // packed, one buffer each (no Buffer per entry), the generation written into each key.
      m.deletePacked(withGen(d.packs.dels, ks, off, gen), d.dels);
      m.updatePacked(withGen(d.packs.ups, ks, off, gen), d.packs.vals, d.ups);
      changes += d.dels + d.ups;
    }
    this.syncIfaceSlots(gen, have.ntf_ifaces, want.ntf_ifaces);
    this.mirror[gen] = want;
    return changes;
  }

  /**
   * Brings generation `gen` of ntf_ifslots, the program's copy of the interface settings
   * (ifindex < NTF.IFACE_SLOTS, docs/datapath.md), from `have` to `want` (ntf_ifaces contents),
   * reading each slot it touches first. Part of syncGen: the same generation, before the flip.
   */
  private syncIfaceSlots(gen: number, have: RecordMap, want: RecordMap): void {
    const m = this.maps.ntf_ifslots;
    const none = Buffer.alloc(m.valueBytes);
    const slots = new Map<number, Buffer>();
    const slotOf = (k: string) => decodeIfaceKey(Buffer.from(k, 'latin1')).ifindex;
    for (const k of have.keys()) slots.set(slotOf(k), none);
    for (const [k, v] of want) {
      const b = Buffer.from(v, 'latin1');
      b[LAYOUTS.ifaceCfg.fields.present.offset] = 1; // also in what an older engine wrote (its pad)
      slots.set(slotOf(k), b);
    }
    const ups: Array<[Buffer, Buffer]> = [];
    for (const [ifindex, v] of slots) {
      if (ifindex >= NTF.IFACE_SLOTS) continue; // the program reads the hash for these
      const key = u32Buf(gen * NTF.IFACE_SLOTS + ifindex);
      if (!m.lookup(key)?.equals(v)) ups.push([key, v]);
    }
    m.updateMany(ups);
  }

  /** Waits until no program run that read the old epoch is still in flight (see ntf_sync). */
  private syncPrograms(): void {
    this.maps.ntf_sync.update(u32Buf(0), u32Buf(this.maps.ntf_sync_inner.fd));
  }

  /**
   * `resolved` compiled from the enforced policy when it differs only in the ranges of its
   * endpoints (incremental.ts), with the changed trie entries made to the record both generations
   * share (`undo` puts it back if the apply fails before the flip); undefined otherwise (also
   * whenever the recompile would fail: the whole compile then says why).
   */
  private recompileInPlace(
    resolved: ResolvedPolicy,
    ifindexes: string,
  ):
    | {
        compiled: CompiledPolicy;
        index: RangeIndex;
        tries: Pick<GenState, 'ntf_lpm4' | 'ntf_lpm6'>;
        patch: TriePatch;
        undo: () => void;
      }
    | undefined {
    const index = this.index;
    this.index = undefined; // changed below: valid again only once this apply completes
    const shared = this.mirror[0];
    if (!index || !shared || this.mirror[1] !== shared || !this.desired || !this.compiled) return undefined;
    if (this.compiledFor?.ifindexes !== ifindexes) return undefined;
    const edits = rangeEdits(this.desired, resolved);
    if (!edits) return undefined;
    const keyOf = (c: Omit<LpmChange, 'setId'>) =>
      encodeLpmKey(0, c.ifindex, c.family, c.prefix, c.addr).toString('latin1');
    const mapOf = (family: 4 | 6) => (family === 4 ? 'ntf_lpm4' : 'ntf_lpm6');
    let r: ReturnType<RangeIndex['recompile']>;
    try {
      r = index.recompile(
        this.compiled,
        resolved,
        edits,
        (ifindex, family, prefix, addr) => {
          const v = shared[mapOf(family)].get(keyOf({ ifindex, family, prefix, addr }));
          return v === undefined ? undefined : Buffer.from(v, 'latin1').readUInt32LE(0);
        },
        this.limits(),
      );
    } catch {
      return undefined;
    }
    if (!r) return undefined;
    const patch: TriePatch = {
      ntf_lpm4: { from: shared.ntf_lpm4, dels: [], ups: [] },
      ntf_lpm6: { from: shared.ntf_lpm6, dels: [], ups: [] },
    };
    const ups = { ntf_lpm4: new Map<string, string>(), ntf_lpm6: new Map<string, string>() };
    for (const c of r.changes) {
      const name = mapOf(c.family);
      const k = keyOf(c);
      if (c.setId === undefined) patch[name].dels.push(k);
      else {
        patch[name].ups.push(k);
        ups[name].set(k, u32Buf(c.setId).toString('latin1'));
      }
    }
    // A trie not read back before and after (haveGens) is changed where it stands: the record is
    // then all the engine knows of it, and a million entries are not copied. A smaller one is
    // copied, so that the record stays what the kernel held until syncGen has read the kernel
    // back and compared the two.
    const before: Array<[RecordMap, string, string | undefined]> = [];
    const changed = (name: 'ntf_lpm4' | 'ntf_lpm6'): RecordMap => {
      const m = shared[name];
      let size = m.size - patch[name].dels.length;
      for (const k of ups[name].keys()) if (!m.has(k)) size++;
      const m2 =
        trustedSize(m.size, m.size) && trustedSize(size, size)
          ? m
          : m instanceof TrieRecord
            ? m.clone()
            : new Map(m);
      for (const k of patch[name].dels) {
        if (m2 === m) before.push([m, k, m.get(k)]);
        m2.delete(k);
      }
      for (const [k, v] of ups[name]) {
        if (m2 === m) before.push([m, k, m.get(k)]);
        m2.set(k, v);
      }
      // The order the kernel will list the copy in follows from the record's and the patch, once
      // the record's is known (readGens): the next read back compares bytes. A record changed
      // where it stands has none any more.
      if (m2 === m) TRIE_ORDER.delete(m);
      else
        TRIE_PATCHED.set(m2, {
          from: m,
          dels: patch[name].dels.map((k) => Buffer.from(k, 'latin1')),
          ups: [...ups[name]].map(([k, v]) => [Buffer.from(k, 'latin1'), Buffer.from(v, 'latin1')] as const),
        });
      return m2;
    };
    const tries = { ntf_lpm4: changed('ntf_lpm4'), ntf_lpm6: changed('ntf_lpm6') };
    const undo = () => {
      for (const [m, k, v] of before.reverse()) {
        if (v === undefined) m.delete(k);
        else m.set(k, v);
      }
    };
    return { compiled: r.compiled, index, tries, patch, undo };
  }

  /**
   * Applies a policy whole or not at all. The inactive generation is brought to the new policy
   * (only the entries that differ are written), one map update flips the epoch, and once no
   * packet can still be using the old generation it is brought to the same policy, so both
   * generations mirror each other and the next change is again a small diff.
   */
  apply(resolved: ResolvedPolicy, opts: ApplyOptions = {}): ApplyResult {
    this.assertOpen();
    const t0 = performance.now();
    const settled = this.settle();
    const pending = this.trial();
    if (pending)
      throw new TrialStateError(
        `${trialText(pending)}; a second apply during a trial is refused: run 'net-tc-filter confirm' to keep it or 'net-tc-filter revert' to go back first`,
        pending,
      );
    const dhcpUnicast = dhcpPortsPrivileged();
    const l2Len = (name: string) => linkHeaderLen(name) ?? NTF.L2_UNKNOWN;
    const ifindexes = ifindexesOf(resolved);
    // A range change outside a trial: recompiled in place, else the whole policy is compiled.
    const inPlace = opts.trialSeconds ? undefined : this.recompileInPlace(resolved, ifindexes);
    let compiled: CompiledPolicy;
    let want: GenState;
    let missing: string[];
    let prefixes: ReturnType<typeof compilePolicy>['prefixes'];
    if (inPlace) {
      compiled = inPlace.compiled;
      want = Engine.want(compiled, l2Len, dhcpUnicast, inPlace.tries);
      missing = this.compiledFor?.missing ?? [];
    } else {
      const result = compilePolicy(resolved, ifNameToIndex, this.limits(), { index: !opts.trialSeconds });
      // Reuse the set ids of the enforced policy so that a small change stays a small diff.
      compiled = stabilizeSetIds(result.compiled, this.compiled);
      want = Engine.want(compiled, l2Len, dhcpUnicast);
      missing = result.missingIfaces;
      prefixes = result.prefixes;
    }
    try {
      this.checkCapacity(compiled);
    } catch (err) {
      inPlace?.undo();
      throw err;
    }
    const epoch = this.epoch();
    const cur = epoch & 1;
    const nxt = cur ^ 1;
    const before = new Map(this.attachments().map((a) => [a.ifindex, a]));
    const newlyAttached: Array<{ name: string; ifindex: number; created: boolean }> = [];
    const configured = new Set(compiled.ifaces.map((i) => i.ifindex));
    // A guarded range is guarded on every interface: the others get the program too, and its
    // settings for ifindex 0 (only guarded ranges checked there).
    const links = listInterfaces();
    const guardOnly = compiled.anyIface ? links.filter((l) => !configured.has(l.ifindex)) : [];
    const unguarded: Array<{ name: string; error: string }> = [];
    let changes: number;
    /** Both generations as the apply found them: read once, for the spare one's sync and, after
     * the flip, the other's (the engine writes neither in between). */
    let held: [GenState, GenState];
    try {
      for (const i of compiled.ifaces) {
        if (before.get(i.ifindex)?.progId === this.programId) continue;
        const created = this.attach(i.ifindex, i.name);
        if (!before.has(i.ifindex)) newlyAttached.push({ name: i.name, ifindex: i.ifindex, created });
      }
      for (const l of guardOnly) {
        if (before.get(l.ifindex)?.progId === this.programId) continue;
        try {
          const created = this.attach(l.ifindex, l.name);
          if (!before.has(l.ifindex)) newlyAttached.push({ ...l, created });
        } catch (err) {
          // Not a reason to refuse the policy (the interface is no worse off than before), but
          // never silent: reported with every apply and retried every reconcile.
          unguarded.push({ name: l.name, error: (err as Error).message });
        }
      }
      this.learnMirrors();
      held = this.haveGens();
      changes = this.syncGen(nxt, want, inPlace?.patch, held[nxt]);
    } catch (err) {
      // Nothing of the new policy is active: the inactive generation is left for the next
      // apply to rewrite (it is rescanned), and interfaces attached for it are released.
      inPlace?.undo();
      for (const a of newlyAttached) {
        try {
          this.detach(a.ifindex, a.name, a.created);
        } catch {
          // Best effort; the program passes traffic on interfaces without settings anyway.
        }
      }
      throw err;
    }

    const trialSeconds = opts.trialSeconds;
    // The flip: the epoch is one aligned 8-byte store. A trial also sets its deadline and the
    // epoch to go back to (in the same update; see struct ntf_state for why a mix is safe).
    this.writeState(
      trialSeconds
        ? {
            epoch: BigInt(epoch + 1),
            trialDeadlineNs: bootTimeNs() + BigInt(Math.round(trialSeconds * 1e9)),
            fallbackEpoch: BigInt(epoch),
          }
        : { epoch: BigInt(epoch + 1), trialDeadlineNs: 0n, fallbackEpoch: 0n },
    );
    // From here on the new policy is enforced: record it first, so that nothing below can
    // leave the engine believing (and later re-applying) the old one.
    if (trialSeconds) this.previous = { desired: this.desired, compiled: this.compiled };
    this.desired = resolved;
    this.compiled = compiled;
    this.compiledFor = { ifindexes, missing };
    const activeMs = performance.now() - t0;
    this.lastApplied = {
      interfaces: interfaceSet(links),
      dhcpUnicast,
      guardOnly,
      unguarded: unguarded.map((u) => u.name),
      wanted: new Set([...configured, ...guardOnly.map((l) => l.ifindex)]),
    };
    // The steps below only tidy up; a failure is reported, never thrown. During a trial the
    // previous policy's generation and interfaces stay as they are: the kernel may go back to them.
    let mirrorError: string | undefined;
    let detached: Array<{ name: string; ifindex: number }> = [];
    if (!trialSeconds) {
      try {
        this.syncPrograms();
        changes += this.syncGen(cur, want, inPlace?.patch, held[cur]);
      } catch (err) {
        // Only the spare copy is stale; the next apply rescans it.
        this.mirror[cur] = undefined;
        mirrorError = (err as Error).message;
      }
      const d = this.detachUnwanted();
      detached = d.detached;
      if (d.error) mirrorError = `${mirrorError ? `${mirrorError}; ` : ''}${d.error}`;
      // Both generations hold the policy now: the next range change can be applied in place.
      if (mirrorError === undefined)
        this.index = inPlace?.index ?? (prefixes && RangeIndex.build(prefixes, compiled));
    }
    return {
      ...(trialSeconds ? { trial: this.trial() } : {}),
      ...(settled ? { settled } : {}),
      epoch: epoch + 1,
      attached: compiled.ifaces.map((i) => ({
        name: i.name,
        ifindex: i.ifindex,
        mode: i.audit ? ('audit' as const) : ('enforce' as const),
      })),
      guardOnly: guardOnly.filter((l) => !unguarded.some((u) => u.name === l.name)),
      unguarded,
      dhcpUnicast,
      detached,
      missing,
      lpmEntries: inPlace ? inPlace.index.entries() : compiled.lpm.length,
      setEntries: compiled.sets.length,
      changes,
      incremental: inPlace !== undefined,
      mirrorError,
      unexpected: this.takeUnexpected(),
      activeMs,
      totalMs: performance.now() - t0,
    };
  }

  /** Detaches from the interfaces the enforced policy no longer wants (known after an apply). */
  private detachUnwanted(): { detached: Array<{ name: string; ifindex: number }>; error?: string } {
    const wanted = this.lastApplied?.wanted;
    const detached: Array<{ name: string; ifindex: number }> = [];
    if (!wanted) return { detached };
    try {
      for (const a of this.attachments()) {
        if (wanted.has(a.ifindex)) continue;
        this.detach(a.ifindex, a.name, a.qdiscOurs);
        detached.push({ name: a.name, ifindex: a.ifindex });
      }
    } catch (err) {
      return { detached, error: `detaching an interface no longer configured: ${(err as Error).message}` };
    }
    return { detached };
  }

  private takeUnexpected(): string[] {
    const out = this.unexpected;
    this.unexpected = [];
    if (out.length <= MAX_UNEXPECTED_SHOWN) return out;
    return [...out.slice(0, MAX_UNEXPECTED_SHOWN), `and ${out.length - MAX_UNEXPECTED_SHOWN} more`];
  }

  /** What one generation may use of the maps as they were created (both generations stay
   * populated, so each may use half); the compiler stops as soon as a policy needs more. */
  private limits(): CompileLimits {
    const half = (name: 'ntf_lpm4' | 'ntf_lpm6' | 'ntf_sets') =>
      Math.floor(this.maps[name].info.maxEntries / 2);
    return { lpm4: half('ntf_lpm4'), lpm6: half('ntf_lpm6'), sets: half('ntf_sets') };
  }

  private checkCapacity(c: CompiledPolicy): void {
    const cap = Math.floor(this.maps.ntf_ifaces.info.maxEntries / 2);
    const n = c.ifaces.length + (c.anyIface ? 1 : 0);
    if (n > cap)
      throw new Error(`the policy configures ${n} interfaces; ntf_ifaces holds ${cap} per generation`);
  }

  /**
   * Re-applies the desired policy when a configured interface appeared, disappeared or was
   * re-created with a new index. Returns the apply result when something changed.
   */
  reconcileInterfaces(): ApplyResult | GuardedNow | undefined {
    if (!this.desired || !this.compiled || !this.lastApplied) return undefined;
    const links = listInterfaces();
    const quick = this.guardNewInterfaces(links);
    if (quick) return quick;
    // During a trial the policy maps stay as they are (the kernel may go back to the previous
    // generation): interfaces that appear are attached above, the rest waits for the outcome.
    if (this.policyState().trialDeadlineNs !== 0n) return undefined;
    const attachedNow = new Map(this.compiled.ifaces.map((i) => [i.name, i.ifindex]));
    let changed = false;
    for (const name of this.desired.interfaces.keys()) {
      if (ifNameToIndex(name) !== attachedNow.get(name)) changed = true;
    }
    // An interface appeared or went (it is guarded from the moment it is attached), or binding
    // the DHCP client ports stopped or started needing privilege.
    if (!changed && this.compiled.anyIface && interfaceSet(links) !== this.lastApplied.interfaces)
      changed = true;
    if (!changed && dhcpPortsPrivileged() !== this.lastApplied.dhcpUnicast) changed = true;
    if (!changed) {
      // Our filter may have been removed (e.g. `tc qdisc del`): put it back.
      const failed = new Set(this.lastApplied.unguarded);
      for (const i of [...this.compiled.ifaces, ...this.lastApplied.guardOnly]) {
        if (failed.has(i.name)) continue; // retried when the set of interfaces changes
        if (tcQuery(i.ifindex, i.name, FILTER_ID) !== this.programId) changed = true;
      }
    }
    return changed ? this.apply(this.desired) : undefined;
  }

  /**
   * The engine hosts' interface loop, called every LINK_POLL_MS: at once when the kernel reported
   * a link event (netlink), else every RECONCILE_INTERVAL_MS, reconcileInterfaces runs.
   */
  tickInterfaces(now = performance.now()): ApplyResult | GuardedNow | undefined {
    if (this.links === undefined) {
      try {
        this.links = LinkEvents.open();
      } catch {
        this.links = null; // no netlink: the periodic check alone
      }
    }
    const event = this.links?.poll() ?? false;
    if (!event && now - this.lastReconcile < RECONCILE_INTERVAL_MS) return undefined;
    this.lastReconcile = now;
    return this.reconcileInterfaces();
  }

  /**
   * The quick path for what happens most: interfaces appeared that no endpoint names, and nothing
   * else changed. The program's settings for ifindex 0 already apply to them, so attaching is all
   * it takes (no apply): a new interface is guarded as soon as its link event is read.
   */
  private guardNewInterfaces(now: Link[]): GuardedNow | undefined {
    const last = this.lastApplied;
    const c = this.compiled;
    if (!last || !c?.anyIface || !this.desired) return undefined;
    const known = new Set(last.interfaces.split(','));
    const fresh = now.filter((l) => !known.has(linkKey(l)));
    const stillThere = new Set(now.map(linkKey));
    if (fresh.length === 0 || [...known].some((k) => k !== '' && !stillThere.has(k))) return undefined;
    // A configured name among them needs its own entries: the full apply.
    if (fresh.some((l) => this.desired?.interfaces.has(l.name))) return undefined;
    const guarded: string[] = [];
    const failed: Array<{ name: string; error: string }> = [];
    for (const l of fresh) {
      try {
        this.attach(l.ifindex, l.name);
        guarded.push(l.name);
        last.guardOnly.push(l);
        last.wanted.add(l.ifindex);
      } catch (err) {
        failed.push({ name: l.name, error: (err as Error).message });
        last.unguarded.push(l.name);
      }
    }
    last.interfaces = interfaceSet(now);
    return { guarded, unguarded: failed };
  }

  /** Starts consuming the ring buffer into an internal queue drained by `drain()`. */
  private ensureRing(): RingBuffer {
    this.ring ??= new RingBuffer(this.maps.ntf_events.fd, LAYOUTS.event.size, (rec) => {
      this.pending.push(decodeEvent(rec));
    });
    return this.ring;
  }

  /** Takes at most `max` decision events from the kernel, oldest first. */
  drainRaw(max: number): RawEvent[] {
    this.assertOpen();
    this.pending = [];
    this.ensureRing().consume(max);
    const out = this.pending;
    this.pending = [];
    return out;
  }

  /** Handler exceptions inside the ring-buffer callback (counted, never silent). */
  ringErrors(): number {
    return this.ring?.handlerErrors ?? 0;
  }

  toDecision(e: RawEvent): Decision {
    const family = e.family === NTF.AF_INET ? 4 : 6;
    return {
      time: Number((e.tsNs + this.monoOffsetNs) / 1_000_000n),
      iface: this.ifaceName(e.ifindex),
      ifindex: e.ifindex,
      uid: e.flags & NTF.EVENT_UNOWNED ? null : e.uid,
      family,
      proto: protoName(e.proto),
      src: formatAddr(family, e.saddr),
      dst: formatAddr(family, e.daddr),
      sport: e.sport,
      dport: e.dport,
      bytes: e.len,
      verdict: verdictName(e.verdict),
      reason: REASON_NAMES[e.reason] ?? String(e.reason),
      endpointId: e.endpointId,
      newFlow: (e.flags & NTF.EVENT_NEW_FLOW) !== 0,
      routed: (e.flags & NTF.EVENT_ROUTED) !== 0,
      cgroupId: e.cgroup,
      uidRecorded: (e.flags & (NTF.EVENT_UID_UNRECORDED | NTF.EVENT_UNOWNED)) === 0,
    };
  }

  endpointName(id: number): string | null {
    return id === 0 ? null : (this.compiled?.endpointNames.get(id) ?? `#${id}`);
  }

  counters(): Counters {
    const v = this.maps.ntf_counters.lookup(u32Buf(0));
    if (!v) throw new Error('ntf_counters has no element 0');
    return decodeCounters(v, v.length / LAYOUTS.counters.size);
  }

  /** Events the kernel did not report because their sender was over its budget, per sender
   * (uid, or null for packets without a socket), most first. */
  suppressedBySender(): Array<{ uid: number | null; events: bigint }> {
    return readSuppressed(this.maps.ntf_budget);
  }

  /** The flow table: entries now, its size, and how many entries the kernel evicted to make
   * room (LRU; evicted flows lose their per-flow counters, the global counters stay exact). */
  flowTable(): FlowTableStatus {
    return flowTableStatus(this.maps.ntf_flows, this.counters());
  }

  /** The flow counters (snapshot), most recently seen first. */
  flows(): FlowRow[] {
    return readFlows(this.maps.ntf_flows, (i) => this.ifaceName(i), this.monoOffsetNs, this.cgroupNames);
  }

  private ifaceName(ifindex: number): string {
    return (
      this.compiled?.ifaces.find((i) => i.ifindex === ifindex)?.name ??
      this.lastApplied?.guardOnly.find((l) => l.ifindex === ifindex)?.name ??
      ifIndexToName(ifindex) ??
      `if${ifindex}`
    );
  }

  /** Interface settings of the active generation, as the kernel holds them. */
  activeInterfaces(): Array<{ ifindex: number; cfg: ReturnType<typeof decodeIfaceCfg> }> {
    const gen = this.effectiveEpoch() & 1;
    return this.maps.ntf_ifaces
      .entries()
      .map(([k, v]) => ({ key: decodeIfaceKey(k), v }))
      .filter(({ key }) => key.gen === gen)
      .map(({ key, v }) => ({ ifindex: key.ifindex, cfg: decodeIfaceCfg(v) }));
  }

  /** LPM entries of the active generation (for status and tests). */
  activeRanges(): ReturnType<typeof decodeLpmKey>[] {
    const gen = this.effectiveEpoch() & 1;
    return [
      ...this.maps.ntf_lpm4.keys().map((k) => decodeLpmKey(k, 4)),
      ...this.maps.ntf_lpm6.keys().map((k) => decodeLpmKey(k, 6)),
    ].filter((k) => k.gen === gen);
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('engine is closed');
  }

  /**
   * Releases this process's hold. Enforcement continues from the pinned state unless
   * `unload` is set, in which case every filter, qdisc we created and pin is removed.
   */
  close(opts: { unload?: boolean } = {}): void {
    if (this.closed) return;
    this.closed = true;
    this.ring?.close();
    this.links?.close();
    try {
      // Only where our program still runs (an interface whose index now names another one, or
      // whose filter someone replaced, is not ours to clean up).
      if (opts.unload)
        removeAll(
          this.pinDir,
          // (The engine's own namespace: the name is the interface's now.)
          this.attachments().filter((a) => recordState(a.name, a.name, a.progId, this.programId) === 'ours'),
          this.sharedPins,
        );
    } finally {
      this.obj.close();
      closeSync(this.lockFd);
    }
  }

  /**
   * Compares a policy with what the kernel enforces now (the active generation's map contents),
   * without writing anything. Set ids are numbering only (they depend on the order of earlier
   * applies), so ranges are compared by the users and endpoints their set holds. When they are
   * equal the policy is adopted as this engine's own (what reconcileInterfaces re-applies and
   * endpointName reports), with the kernel's set ids, so the next apply is again a small diff.
   */
  compareEnforced(resolved: ResolvedPolicy): EnforcedComparison {
    this.assertOpen();
    const result = compilePolicy(resolved, ifNameToIndex, this.limits());
    const have = this.readGen(this.effectiveEpoch() & 1);
    const want = Engine.want(
      result.compiled,
      (name) => linkHeaderLen(name) ?? NTF.L2_UNKNOWN,
      dhcpPortsPrivileged(),
    );
    // set id → its members ("uid:endpoint" of each entry, sorted): what a set id stands for.
    // A set's meaning: per uid and cgroup slot, the endpoint or the schedule's contents (schedule
    // ids, like set ids, are numbers of one compile).
    const members = (g: GenState) => {
      const schedules = new Map<number, string>();
      for (const [k, v] of g.ntf_schedules)
        schedules.set(
          decodeScheduleKey(Buffer.from(k, 'latin1')).id,
          decodeSchedule(Buffer.from(v, 'latin1'))
            .map((x) => `${x.start}-${x.end}:${x.endpointId}`)
            .join(' '),
        );
      const out = new Map<number, string[]>();
      for (const [k, v] of g.ntf_sets) {
        const { setId: id, uid, cg } = decodeSetKey(Buffer.from(k, 'latin1'));
        const val = decodeSetVal(Buffer.from(v, 'latin1'));
        const list = out.get(id) ?? [];
        const when = val.scheduleId ? `@${schedules.get(val.scheduleId) ?? `missing ${val.scheduleId}`}` : '';
        list.push(`${uid}/${cg}:${val.endpointId}${when}`);
        out.set(id, list);
      }
      return new Map([...out].map(([id, l]) => [id, l.sort().join(',')]));
    };
    const haveSets = members(have);
    const wantSets = members(want);
    const ranges = (g: GenState, sets: Map<number, string>) => {
      const out = new Map<string, string>();
      for (const name of ['ntf_lpm4', 'ntf_lpm6'] as const)
        for (const [k, v] of g[name]) {
          const id = Buffer.from(v, 'latin1').readUInt32LE(0);
          out.set(`${name}|${k}`, sets.get(id) ?? `missing set ${id}`);
        }
      return out;
    };
    const count = (a: RecordMap, b: RecordMap) => {
      let onlyWant = 0;
      let onlyHave = 0;
      let changed = 0;
      for (const [k, v] of b) {
        if (!a.has(k)) onlyWant++;
        else if (a.get(k) !== v) changed++;
      }
      for (const k of a.keys()) if (!b.has(k)) onlyHave++;
      return { onlySaved: onlyWant, onlyEnforced: onlyHave, changed };
    };
    const r = count(ranges(have, haveSets), ranges(want, wantSets));
    const i = count(have.ntf_ifaces, want.ntf_ifaces);
    // The cgroups the slots stand for (a unit restarted since: the running engine follows it).
    const g = count(have.ntf_cgroups, want.ntf_cgroups);
    const equal = [r, i, g].every((c) => c.onlySaved + c.onlyEnforced + c.changed === 0);
    if (equal) {
      const idOf = new Map([...haveSets].map(([id, text]) => [text, id]));
      const to = (id: number) => idOf.get(wantSets.get(id) ?? '') ?? id;
      this.desired = resolved;
      this.index = undefined;
      this.compiledFor = { ifindexes: ifindexesOf(resolved), missing: result.missingIfaces };
      this.compiled = {
        ...result.compiled,
        lpm: result.compiled.lpm.map((e) => ({ ...e, setId: to(e.setId) })),
        sets: result.compiled.sets.map((x) => ({ ...x, setId: to(x.setId) })),
      };
    }
    return { equal, ranges: r, interfaces: i, missing: result.missingIfaces };
  }
}

/** What differs between a policy and the kernel's active generation (Engine.compareEnforced). */
export interface EnforcedComparison {
  equal: boolean;
  /** Guarded ranges (per interface): only in the compared policy, only in the kernel, or with
   * other users or endpoints. */
  ranges: { onlySaved: number; onlyEnforced: number; changed: number };
  /** Interface settings (default, unowned, essentials, logging). */
  interfaces: { onlySaved: number; onlyEnforced: number; changed: number };
  /** Interfaces of the policy that do not exist now (not compared). */
  missing: string[];
}

/** Descriptions of unexpected entries kept in an ApplyResult (the count of the rest follows). */
const MAX_UNEXPECTED_SHOWN = 20;

/** The entries of generation `gen` that differ from what the engine last wrote there. */
/** The last difference computed towards each wanted map contents (syncGen). */
/** The ifindex of each interface a policy configures, now (null: absent), as one string. */
function ifindexesOf(p: ResolvedPolicy): string {
  return JSON.stringify([...p.interfaces.keys()].map((n) => ifNameToIndex(n) ?? null));
}

/** The trie entries (generation-free keys) a range change deletes and writes, from the record
 * `from` (recompileInPlace). */
type TriePatch = Record<'ntf_lpm4' | 'ntf_lpm6', { from: RecordMap; dels: string[]; ups: string[] }>;

/** What syncGen writes into a map to bring it from `from` to a want: how many keys it deletes and
 * writes, packed for the kernel (generation-free: syncGen writes it in). */
interface Diff {
  from: RecordMap;
  dels: number;
  ups: number;
  packs: { dels: Buffer; ups: Buffer; vals: Buffer };
}

const DIFFS = new WeakMap<RecordMap, Diff>();

/** A Diff from keys deleted, keys written and their values as latin1 strings. */
function stringDiff(
  from: RecordMap,
  dels: string[],
  ups: string[],
  vals: string[],
  ks: number,
  vs: number,
): Diff {
  return {
    from,
    dels: dels.length,
    ups: ups.length,
    packs: { dels: packed(dels, ks), ups: packed(ups, ks), vals: packed(vals, vs) },
  };
}

/** Latin1 strings of `size` bytes each, back to back in one buffer (one write: a million-pair
 * policy packs millions). */
function packed(items: readonly string[], size: number): Buffer {
  for (const s of items)
    if (s.length !== size) throw new RangeError(`a ${s.length}-byte entry where ${size} belong`);
  return Buffer.from(items.join(''), 'latin1');
}

/** `keys` (packed, `size` bytes each) with generation `gen` at `off` of each, in place. */
function withGen(keys: Buffer, size: number, off: number, gen: number): Buffer {
  for (let at = off; at < keys.length; at += size) keys.writeUInt32LE(gen, at);
  return keys;
}

function unexpectedEntries(gen: number, have: GenState, expected: GenState): string[] {
  const out: string[] = [];
  for (const name of Object.keys(POLICY_MAPS) as PolicyMap[]) {
    const h = have[name];
    const e = expected[name];
    if (h === e) continue; // not read back, or read back and found as recorded (haveGens)
    for (const [k, v] of h) {
      const was = e.get(k);
      if (was === v) continue;
      out.push(
        `${name} generation ${gen}: ${entryText(name, k, v)} ${was === undefined ? 'was added' : `was changed (was ${valueText(name, was)})`} behind the engine's back; removed`,
      );
    }
    for (const [k, v] of e) {
      if (!h.has(k))
        out.push(
          `${name} generation ${gen}: ${entryText(name, k, v)} was deleted behind the engine's back; written again`,
        );
    }
  }
  return out;
}

function valueText(name: PolicyMap, v: string): string {
  const b = Buffer.from(v, 'latin1');
  if (name === 'ntf_sets') return `endpoint ${b.readUInt32LE(0)}`;
  if (name === 'ntf_cgroups') return `cgroup slot ${b.readUInt32LE(0)}`;
  if (name === 'ntf_schedules') return `${decodeSchedule(b).length} time segments`;
  if (name === 'ntf_clock') return `zone table of ${decodeClock(b).tz.length} transitions`;
  if (name === 'ntf_ifaces') return `settings ${b.toString('hex')}`;
  return `set ${b.readUInt32LE(0)}`;
}

/** One policy map entry in words (key with its generation field zeroed, as in GenState). */
function entryText(name: PolicyMap, k: string, v: string): string {
  const b = Buffer.from(k, 'latin1');
  switch (name) {
    case 'ntf_sets': {
      const { setId, uid, cg } = decodeSetKey(b);
      const slot = cg === NTF.CG_ANY ? '' : ` cgroup slot ${cg}`;
      return `set ${setId} uid ${uid === NTF.UID_ANY ? '*' : uid}${slot} → ${valueText(name, v)}`;
    }
    case 'ntf_ifaces':
      return `ifindex ${decodeIfaceKey(b).ifindex} ${valueText(name, v)}`;
    case 'ntf_cgroups':
      return `cgroup id ${decodeCgroupKey(b).id} → ${valueText(name, v)}`;
    case 'ntf_schedules':
      return `schedule ${decodeScheduleKey(b).id} → ${valueText(name, v)}`;
    case 'ntf_clock':
      return `clock → ${valueText(name, v)}`;
    default: {
      const fam = name === 'ntf_lpm4' ? 4 : 6;
      const l = decodeLpmKey(b, fam);
      return `ifindex ${l.ifindex} ${formatAddr(fam, l.addr)}/${l.prefix} → ${valueText(name, v)}`;
    }
  }
}

export interface FlowTableStatus {
  entries: number;
  capacity: number;
  evicted: number;
}

/** Nothing but the kernel's LRU removes flow entries (user space never deletes them), so the
 * entries inserted and not present any more are the evicted ones. */
export function flowTableStatus(flows: BpfMap, c: Counters): FlowTableStatus {
  const entries = flows.keys().length;
  return {
    entries,
    capacity: flows.info.maxEntries,
    evicted: evictedFlows(c, entries),
  };
}

export function evictedFlows(c: Counters, entriesNow: number): number {
  return Math.max(0, Number(c.flows_created) - entriesNow);
}

export function readSuppressed(budget: BpfMap): Array<{ uid: number | null; events: bigint }> {
  const out: Array<{ uid: number | null; events: bigint }> = [];
  for (const [k, v] of budget.entries()) {
    const events = decodeBudgetVal(v).suppressed;
    if (events === 0n) continue;
    const sender = decodeBudgetKey(k);
    out.push({ uid: sender.unowned ? null : sender.uid, events });
  }
  return out.sort((a, b) => (b.events > a.events ? 1 : b.events < a.events ? -1 : 0));
}

type Link = { name: string; ifindex: number };

/** An interface by index and name: what tells a new or re-created one from a known one. */
function linkKey(l: Link): string {
  return `${l.ifindex}:${l.name}`;
}

/** A list of interfaces as one comparable string. */
function interfaceSet(links: Link[]): string {
  return links.map(linkKey).join(',');
}

/** What the program at our handle is, as far as this process may know (reading another
 * program's name needs CAP_SYS_ADMIN, which the engine does not have under its unit). */
function foreignFilter(progId: number): string {
  try {
    const fd = progFdById(progId);
    try {
      return progInfo(fd).name === PROG_NAME
        ? `a filter of another net-tc-filter instance (program ${progId}, another --pin-dir, or orphaned)`
        : `another tc filter (program ${progId})`;
    } finally {
      closeFd(fd);
    }
  } catch {
    return `another tc filter (program ${progId})`;
  }
}

function removeAll(pinDir: string, attachments: AttachmentStatus[], shared: boolean): void {
  for (const a of attachments) {
    tcDetach(a.ifindex, a.name, FILTER_ID);
    if (a.qdiscOurs && !otherFiltersPresent(a.name)) tcHookDestroy(a.ifindex, a.name);
  }
  // Only our own pins: a mistyped --pin-dir must never delete other tools' objects.
  for (const f of PIN_NAMES) {
    if (existsSync(`${pinDir}/${f}`)) unlinkSync(`${pinDir}/${f}`);
  }
  // A shared directory is the administrator's (prepared by the launcher), and its parent is not
  // writable by the group: it stays, empty, for the next run.
  if (readdirSync(pinDir).length === 0 && !shared) rmdirSync(pinDir);
}

/**
 * What an attachment record describes now. `ours`: the filter at our place runs our program
 * (`progId` undefined: unknown, the program pin is gone). `gone`: no filter there any more on the
 * same interface — nothing to detach, and the clsact qdisc is left alone (that it is ours cannot be
 * checked any more, and an empty clsact is harmless; deleting someone else's is not). `stranger`:
 * another filter, or the index now names another interface (another network namespace, or the
 * index was reused).
 */
function recordState(
  recordedName: string,
  nameNow: string,
  running: number | undefined,
  progId: number | undefined,
): 'ours' | 'gone' | 'stranger' {
  if (running !== undefined) return progId === undefined || running === progId ? 'ours' : 'stranger';
  return recordedName === nameNow ? 'gone' : 'stranger';
}

/** The id of the program pinned in a trusted directory, when there is one. */
function pinnedProgramId(pinDir: string, trust: PinDirTrust): number | undefined {
  if (!checkPin(trust, PROG_NAME)) return undefined;
  const fd = lib().bpf_obj_get(`${pinDir}/${PROG_NAME}`) as number;
  if (fd < 0) return undefined;
  try {
    return progInfo(fd).id;
  } finally {
    closeFd(fd);
  }
}

export interface UnloadReport {
  pinDir: string;
  detached: string[];
  removedPins: number;
  found: boolean;
}

/** Removes everything a (possibly dead) engine left at pinDir. Refuses while another process holds it. */
export function unload(pinDir: string = DEFAULT_PIN_DIR, opts: { force?: boolean } = {}): UnloadReport {
  if (existsSync(pinDir)) assertBpffs(pinDir);
  // A planted directory is refused here too: its ntf_attach would say which interfaces to detach
  // from and which qdiscs to delete.
  const trust = checkPinDir(pinDir, { allowMissing: true });
  if (!trust) return { pinDir, detached: [], removedPins: 0, found: false };
  const lockFd = tryLockDir(pinDir);
  if (lockFd === undefined) throw new EngineLockedError(pinDir, lockHolder(pinDir));
  try {
    assertSameDir(trust, lockFd);
    const attachments: AttachmentStatus[] = [];
    const attachPin = `${pinDir}/ntf_attach`;
    // The records name interfaces by index, which means another interface in another network
    // namespace (unload run from the wrong one) or after the interface went and its index was
    // reused: detach only where the filter at our place runs the pinned program.
    const progId = pinnedProgramId(pinDir, trust);
    const strangers: string[] = [];
    if (checkPin(trust, 'ntf_attach')) {
      const m = BpfMap.fromPin(attachPin);
      try {
        for (const [, v] of m.entries()) {
          const a = decodeAttach(v);
          // By ifindex: the interface may have been renamed since we attached.
          const name = ifIndexToName(a.ifindex);
          if (name === undefined) continue;
          const running = tcQuery(a.ifindex, name, FILTER_ID);
          const state = recordState(a.ifname, name, running, progId);
          if (state === 'stranger') strangers.push(`${a.ifname} (index ${a.ifindex} is ${name} here)`);
          if (state !== 'ours') continue;
          attachments.push({
            ifindex: a.ifindex,
            name,
            qdiscOurs: (a.flags & NTF.ATTACH_QDISC_OURS) !== 0,
            progId: running,
          });
        }
      } finally {
        m.close();
      }
    }
    // None of the recorded interfaces is ours here: most likely the wrong network namespace.
    // Removing the pins now would orphan the filters where they really are.
    if (strangers.length > 0 && attachments.length === 0 && !opts.force) {
      throw new Error(
        `${pinDir}: none of the interfaces it attached to is here (${strangers.join(', ')}): run unload in ` +
          'the network namespace where the filter was started (e.g. nsenter --net=/run/netns/NAME), or, if ' +
          'that namespace is gone, unload --force (removes the pins, detaches nothing here)',
      );
    }
    const pins = readdirSync(pinDir).length;
    removeAll(pinDir, attachments, trust.shared);
    return { pinDir, detached: attachments.map((a) => a.name), removedPins: pins, found: true };
  } finally {
    closeSync(lockFd);
  }
}
