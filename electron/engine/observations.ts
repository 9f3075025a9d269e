// SPDX-License-Identifier: Apache-2.0
// Environment: Node (CLI and engine hosts). No Electron import.
//
// What `run` observed dropped or would-drop, kept beyond the kernel's LRU flow table (65,536
// entries, evicted under churn) and across restarts, so that `propose` sees a whole day of audit
// mode. Bounded: at most MAX_OBSERVED_FLOWS flows; beyond that the least recently seen go.
// Persisted as one JSON file (OBSERVATIONS_FILE) in the engine's state directory with its file
// rules (statedir.ts readStateFile/writeStateFile: mode 0600, 0640 when shared; replaced
// atomically; symlinks refused, not followed).
//
// The kernel's counters are cumulative per flow entry. For each kernel entry (its key includes
// the ifindex) the counters last seen are kept, also on disk, and only what they grew by is
// added; an entry the kernel evicted and created again starts from 0 (its counters fell, or it
// was first seen later than the one we knew). Observed flows are keyed by interface NAME, not
// ifindex: an interface re-created under the same name gets a new index. They are also keyed by
// the sending socket's cgroup PATH (the kernel's entries by its id): a unit that restarts gets a
// new cgroup id under the same path, and its flows stay the same observations.
import { join } from 'node:path';
import type { FlowRow, FlowTarget } from './flows.js';
import { readStateFile, writeStateFile } from './statedir.js';
import type { StateDirTrust } from './statedir.js';

/** The most flows kept; the least recently seen are evicted beyond it. */
export const MAX_OBSERVED_FLOWS = 50_000;
/** The file in the state directory. */
export const OBSERVATIONS_FILE = 'observations.json';
/** A larger file is refused as corrupt (50,000 flows take about 15 MB). */
export const MAX_OBSERVATIONS_BYTES = 64 << 20;
const FORMAT_VERSION = 1;
/** A kernel entry first seen this much later than the one we knew is a new entry (the wall-clock
 * times of one entry jitter by a millisecond between reads). */
const RECREATED_SLACK_MS = 1000;

export interface ObservedFlow extends FlowTarget {
  /** The last verdict seen: drop (enforce) or would-drop (audit). */
  verdict: 'drop' | 'would-drop';
  /** The kernel's reason (REASON_NAMES); 'unknown' when the entry was only seen allowed since. */
  reason: string;
  /** Dropped plus would-drop packets and bytes, summed over every kernel entry of the flow. */
  packets: number;
  bytes: number;
  /** Wall-clock ms. */
  firstSeen: number;
  lastSeen: number;
  /** The sending socket's cgroup path below the cgroup v2 root and its systemd unit (FlowRow's);
   * null or absent: not known (files saved before, or a cgroup gone before it was named). */
  cgroup?: string | null;
  unit?: string | null;
}

/** The counters of one kernel entry as last seen. */
interface Baseline {
  firstSeen: number;
  droppedPackets: number;
  droppedBytes: number;
  wouldDropPackets: number;
  wouldDropBytes: number;
}

function flowKey(
  f: Pick<ObservedFlow, 'iface' | 'uid' | 'family' | 'proto' | 'dst' | 'dport' | 'cgroup'>,
): string {
  return `${f.iface}|${f.uid ?? '-'}|${f.cgroup ?? '-'}|${f.family}|${f.proto}|${f.dst}|${f.dport}`;
}

function kernelKey(r: FlowRow): string {
  return `${r.ifindex}|${r.uid ?? '-'}|${r.cgroupId}|${r.family}|${r.proto}|${r.dst}|${r.dport}`;
}

/** A kernel entry's key in files saved before flows had a cgroup (read once, then replaced). */
function legacyKernelKey(r: FlowRow): string {
  return `${r.ifindex}|${r.uid ?? '-'}|${r.family}|${r.proto}|${r.dst}|${r.dport}`;
}

const isNameOrNull = (v: unknown): v is string | null | undefined =>
  v === undefined || v === null || (typeof v === 'string' && v.length <= 4096);

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function readFlow(v: unknown): ObservedFlow | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  const ok =
    typeof o.iface === 'string' &&
    (o.uid === null || isCount(o.uid)) &&
    (o.family === 4 || o.family === 6) &&
    typeof o.proto === 'string' &&
    typeof o.dst === 'string' &&
    isCount(o.dport) &&
    isCount(o.sport) &&
    (o.verdict === 'drop' || o.verdict === 'would-drop') &&
    typeof o.reason === 'string' &&
    isCount(o.packets) &&
    isCount(o.bytes) &&
    isTime(o.firstSeen) &&
    isTime(o.lastSeen) &&
    isNameOrNull(o.cgroup) &&
    isNameOrNull(o.unit);
  if (!ok) return undefined;
  return {
    iface: o.iface as string,
    uid: o.uid as number | null,
    family: o.family as 4 | 6,
    proto: o.proto as string,
    dst: o.dst as string,
    dport: o.dport as number,
    sport: o.sport as number,
    verdict: o.verdict as ObservedFlow['verdict'],
    reason: o.reason as string,
    packets: o.packets as number,
    bytes: o.bytes as number,
    firstSeen: o.firstSeen as number,
    lastSeen: o.lastSeen as number,
    cgroup: (o.cgroup as string | null | undefined) ?? null,
    unit: (o.unit as string | null | undefined) ?? null,
  };
}

function readBaseline(v: unknown): [string, Baseline] | undefined {
  if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== 'string') return undefined;
  const o = v[1] as Record<string, unknown> | null;
  if (typeof o !== 'object' || o === null) return undefined;
  if (
    !isTime(o.firstSeen) ||
    !isCount(o.droppedPackets) ||
    !isCount(o.droppedBytes) ||
    !isCount(o.wouldDropPackets) ||
    !isCount(o.wouldDropBytes)
  )
    return undefined;
  return [
    v[0],
    {
      firstSeen: o.firstSeen,
      droppedPackets: o.droppedPackets,
      droppedBytes: o.droppedBytes,
      wouldDropPackets: o.wouldDropPackets,
      wouldDropBytes: o.wouldDropBytes,
    },
  ];
}

export class Observations {
  private readonly flows = new Map<string, ObservedFlow>();
  /** Kernel entry → its counters when last observed; only entries of the last observe(). */
  private kernel = new Map<string, Baseline>();
  /** Why the file was not used when it was loaded (corrupt, a symlink); undefined when it was. */
  readonly loadWarning: string | undefined;

  constructor(
    /** The checked state directory holding OBSERVATIONS_FILE (statedir.ts checkStateDir);
     * undefined: in memory only (save() refuses). */
    readonly state?: StateDirTrust,
    loadWarning?: string,
  ) {
    this.loadWarning = loadWarning;
  }

  /** Where it is saved; undefined in memory only. */
  get file(): string | undefined {
    return this.state && join(this.state.dir, OBSERVATIONS_FILE);
  }

  get size(): number {
    return this.flows.size;
  }

  /** What `dir` holds; a missing file gives an empty set, a corrupt or planted one an empty set
   * with `loadWarning` saying why (the next save replaces it). */
  static load(state: StateDirTrust): Observations {
    const file = join(state.dir, OBSERVATIONS_FILE);
    const corrupt = (why: string) =>
      new Observations(state, `${why}; starting with no observations (the next save replaces it)`);
    let text: string | undefined;
    try {
      text = readStateFile(state, file, MAX_OBSERVATIONS_BYTES);
    } catch (err) {
      // A planted file (StateTrustError) or an oversized one: not used. save() refuses the former.
      return corrupt((err as Error).message);
    }
    if (text === undefined) return new Observations(state);
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      return corrupt(`${file}: not valid JSON (${(err as Error).message})`);
    }
    const o = doc as { version?: unknown; flows?: unknown; kernel?: unknown } | null;
    if (typeof o !== 'object' || o === null || o.version !== FORMAT_VERSION)
      return corrupt(`${file}: not an observations file of version ${FORMAT_VERSION}`);
    if (!Array.isArray(o.flows) || !Array.isArray(o.kernel))
      return corrupt(`${file}: "flows" or "kernel" is not a list`);
    const obs = new Observations(state);
    for (const [i, v] of o.flows.entries()) {
      const f = readFlow(v);
      if (!f) return corrupt(`${file}: flow ${i + 1} is malformed`);
      obs.flows.set(flowKey(f), f);
    }
    for (const [i, v] of o.kernel.entries()) {
      const b = readBaseline(v);
      if (!b) return corrupt(`${file}: kernel entry ${i + 1} is malformed`);
      obs.kernel.set(b[0], b[1]);
    }
    obs.evict();
    return obs;
  }

  /**
   * Merges a snapshot of the kernel flow table (every entry, as readFlows returns it): what the
   * dropped and would-drop counters of each entry grew by since the last snapshot is added to
   * its flow. Entries absent from the snapshot are forgotten (the kernel evicted them; if they
   * come back they start from 0).
   */
  observe(rows: FlowRow[]): void {
    const next = new Map<string, Baseline>();
    for (const r of rows) {
      if (r.droppedPackets === 0 && r.wouldDropPackets === 0) continue;
      const kk = kernelKey(r);
      const base: Baseline = {
        firstSeen: r.firstSeen,
        droppedPackets: r.droppedPackets,
        droppedBytes: r.droppedBytes,
        wouldDropPackets: r.wouldDropPackets,
        wouldDropBytes: r.wouldDropBytes,
      };
      next.set(kk, base);
      let prev = this.kernel.get(kk) ?? this.kernel.get(legacyKernelKey(r));
      const recreated =
        prev !== undefined &&
        (r.droppedPackets < prev.droppedPackets ||
          r.wouldDropPackets < prev.wouldDropPackets ||
          r.droppedBytes < prev.droppedBytes ||
          r.wouldDropBytes < prev.wouldDropBytes ||
          r.firstSeen > prev.firstSeen + RECREATED_SLACK_MS);
      if (recreated) prev = undefined;
      const dp = r.droppedPackets - (prev?.droppedPackets ?? 0);
      const wp = r.wouldDropPackets - (prev?.wouldDropPackets ?? 0);
      if (dp === 0 && wp === 0) continue;
      const db = r.droppedBytes - (prev?.droppedBytes ?? 0);
      const wb = r.wouldDropBytes - (prev?.wouldDropBytes ?? 0);
      const key = flowKey(r);
      const had = this.flows.get(key);
      // The entry's verdict may be 'allow' by now (the policy changed); then the counter that grew says which.
      const verdict: ObservedFlow['verdict'] =
        r.verdict === 'drop' || r.verdict === 'would-drop' ? r.verdict : wp > 0 ? 'would-drop' : 'drop';
      const reason = r.verdict !== 'allow' ? r.reason : (had?.reason ?? 'unknown');
      const f: ObservedFlow = {
        iface: r.iface,
        uid: r.uid,
        family: r.family,
        proto: r.proto,
        dst: r.dst,
        dport: r.dport,
        sport: r.sport,
        verdict,
        reason,
        packets: (had?.packets ?? 0) + dp + wp,
        bytes: (had?.bytes ?? 0) + db + wb,
        firstSeen: had ? Math.min(had.firstSeen, r.firstSeen) : r.firstSeen,
        lastSeen: had ? Math.max(had.lastSeen, r.lastSeen) : r.lastSeen,
        cgroup: r.cgroup,
        unit: r.unit,
      };
      // Re-inserted so that the map's order is the order of last update.
      this.flows.delete(key);
      this.flows.set(key, f);
    }
    this.kernel = next;
    this.evict();
  }

  /** Writes the file atomically (statedir.ts writeStateFile). Throws StateTrustError when
   * something other than a regular file is in its place (a symlink is not followed). */
  save(): void {
    const state = this.state;
    const file = this.file;
    if (state === undefined || file === undefined)
      throw new Error('these observations have no state directory to be saved in');
    const doc = {
      version: FORMAT_VERSION,
      bound: MAX_OBSERVED_FLOWS,
      flows: [...this.flows.values()],
      kernel: [...this.kernel.entries()],
    };
    writeStateFile(state, file, `${JSON.stringify(doc)}\n`);
  }

  /** The flows, most recently seen first; with sinceMs only those seen within sinceMs of now. */
  entries(opts: { sinceMs?: number; now?: number } = {}): ObservedFlow[] {
    const now = opts.now ?? Date.now();
    const since = opts.sinceMs;
    const all = [...this.flows.values()].map((f) => ({ ...f }));
    const kept = since === undefined ? all : all.filter((f) => f.lastSeen >= now - since);
    return kept.sort((a, b) => b.lastSeen - a.lastSeen);
  }

  /** Keeps the MAX_OBSERVED_FLOWS most recently seen flows. */
  private evict(): void {
    const excess = this.flows.size - MAX_OBSERVED_FLOWS;
    if (excess <= 0) return;
    const oldest = [...this.flows.entries()].sort((a, b) => a[1].lastSeen - b[1].lastSeen).slice(0, excess);
    for (const [k] of oldest) this.flows.delete(k);
  }
}
