// SPDX-License-Identifier: Apache-2.0
// Environment: Node (main process, worker thread and CLI). No Electron import.
//
// The one loop around an engine that its hosts drive: the headless `run` (electron/cli/run.ts)
// and the desktop backend's worker (electron/backend/engine-worker.ts). It drains decision
// batches and names them (accounts reloaded now and then), keeps the interfaces guarded, follows
// what the kernel did to a trial, and reads the flow table. The hosts only decide what to do with
// the results: print lines, or post batches to a window.
import { DRAIN_BATCH, evictedFlows, tooLate } from './engine.js';
import type { ApplyResult, CgroupMove, Decision, Engine, GuardedNow, TrialOutcome } from './engine.js';
import type { ResolvedPolicy } from '../policy/types.js';
import type { Origin } from './history.js';
import { Observations } from './observations.js';
import { checkStateDir } from './statedir.js';
import type { FlowRow } from './flows.js';
import { loadAccountDb, userName } from '../policy/resolve.js';
import type { AccountDb } from '../policy/resolve.js';
import { unitOfPath } from '../policy/cgroups.js';

/** How a sender is named everywhere: its account, its uid without one, or packets without a
 * local socket. */
export const UNOWNED_NAME = '(unowned)';

export function senderName(db: AccountDb, uid: number | null): string {
  return uid === null ? UNOWNED_NAME : (userName(db, uid) ?? String(uid));
}

/** A decision with the names a reader needs (user, endpoint, the socket's cgroup and unit). */
export interface NamedDecision extends Decision {
  user: string;
  endpoint: string | null;
  /** The sending socket's cgroup, as a path below the cgroup v2 root (null: not known). */
  cgroup: string | null;
  /** The systemd unit that cgroup belongs to (null: none, or not known). */
  unit: string | null;
}

/** Accounts are read again this often (new users, renamed ones). */
export const ACCOUNTS_REFRESH_MS = 60_000;
/** The flow table is read this often. */
export const FLOW_INTERVAL_MS = 1000;
/** Observations (what propose works from) are written to the state directory this often, and
 * when the host stops: a crash loses at most this much. */
export const OBSERVATIONS_SAVE_MS = 10_000;

/** The observations kept for a pin directory (in its state directory, made when missing), with a
 * warning when they cannot be kept or the file was unusable. */
export function openObservations(pinDir: string): { observations?: Observations; warning?: string } {
  try {
    const trust = checkStateDir(pinDir, { create: true });
    if (!trust) return { warning: 'observations for propose are not kept: no state directory' };
    const observations = Observations.load(trust);
    return observations.loadWarning ? { observations, warning: observations.loadWarning } : { observations };
  } catch (err) {
    return { warning: `observations for propose are not kept: ${(err as Error).message}` };
  }
}

/** What a tick found. */
export type HostEvent =
  /** An interface the policy names appeared, went or was re-created: the policy was applied again. */
  | { type: 'applied'; result: ApplyResult }
  /** Interfaces appeared and were attached at once (the policy is unchanged). */
  | { type: 'guarding'; result: GuardedNow }
  /** A trial ended (the kernel went back by itself, or confirm/revert). */
  | { type: 'trial'; outcome: TrialOutcome }
  /** The cgroups of unit:/cgroup: entries changed (a unit restarted): followed in place. */
  | { type: 'cgroups'; moved: CgroupMove[] }
  | { type: 'error'; message: string };

/** Where an applied policy came from (the history's record of it). */
export interface ApplyHow {
  origin: Origin;
  /** The policy as YAML: the file's text as applied. */
  text: string;
  /** The config file, or "history N". */
  source?: string;
  /** Who asked (default: the account behind this process). */
  account?: string;
  trialSeconds?: number;
}

/** Writes the history (electron/engine/history.ts); returns warnings, never throws. */
export interface HistoryRecorder {
  applied(engine: Engine, r: ApplyResult, how: ApplyHow): string[];
  outcome(engine: Engine, o: TrialOutcome): string[];
}

const NO_HISTORY: HistoryRecorder = { applied: () => [], outcome: () => [] };

export interface HostOptions {
  /** Records applies and trial outcomes (default: none). */
  history?: HistoryRecorder;
  /** An account cache to share (default: a new one from loadAccounts). */
  accounts?: Accounts;
  /** What was dropped or would-drop, fed from every flows() read and saved now and then. */
  observations?: Observations;
  /** The account database (tests pass fixed ones); default: the system's, via NSS. */
  loadAccounts?: () => AccountDb;
  /** Told of every account-database failure (the previous one is kept). */
  onAccountsError?: (err: Error) => void;
}

/** The account database, read again now and then: names for senders, uids for policies. */
export class Accounts {
  private db: AccountDb = { users: new Map(), uidToName: new Map(), groups: new Map() };
  private at = -Infinity;
  private readonly load: () => AccountDb;
  private readonly onError: ((err: Error) => void) | undefined;

  constructor(opts: HostOptions = {}) {
    this.load = opts.loadAccounts ?? (() => loadAccountDb());
    this.onError = opts.onAccountsError;
    this.reload();
  }

  /** Reads the accounts now (an apply resolves names against the same database). On failure the
   * previous database is kept. */
  reload(): AccountDb {
    try {
      this.db = this.load();
    } catch (err) {
      this.onError?.(err as Error);
    }
    this.at = Date.now();
    return this.db;
  }

  /** The database, read again when older than ACCOUNTS_REFRESH_MS. */
  get(now = Date.now()): AccountDb {
    return now - this.at > ACCOUNTS_REFRESH_MS ? this.reload() : this.db;
  }

  /** The database as last read (no refresh). */
  get current(): AccountDb {
    return this.db;
  }

  senderName(uid: number | null): string {
    return senderName(this.db, uid);
  }
}

export class EngineHost {
  readonly engine: Engine;
  readonly accountDb: Accounts;
  private lastFlowsAt = 0;
  private flowsEvicted = 0;
  private readonly recorder: HistoryRecorder;
  private readonly observations: Observations | undefined;
  private savedAt = Date.now();

  constructor(engine: Engine, opts: HostOptions = {}) {
    this.engine = engine;
    this.accountDb = opts.accounts ?? new Accounts(opts);
    this.recorder = opts.history ?? NO_HISTORY;
    this.observations = opts.observations;
  }

  /** Reads the accounts now (an apply resolves names against the same database). */
  reloadAccounts(): AccountDb {
    return this.accountDb.reload();
  }

  /** The account database, read again when older than ACCOUNTS_REFRESH_MS. */
  accounts(now = Date.now()): AccountDb {
    return this.accountDb.get(now);
  }

  senderName(uid: number | null): string {
    return this.accountDb.senderName(uid);
  }

  named(d: Decision): NamedDecision {
    const cgroup = this.engine.cgroupNames.path(d.cgroupId);
    return {
      ...d,
      user: this.senderName(d.uid),
      endpoint: this.engine.endpointName(d.endpointId),
      cgroup,
      unit: cgroup === null ? null : unitOfPath(cgroup),
    };
  }

  /** Takes decisions from the ring buffer: at most `maxCalls` batches of DRAIN_BATCH, fewer once
   * a batch comes back short (the ring is empty). `full`: the last batch was full (more waits). */
  drain(maxCalls = 1): { decisions: Decision[]; full: boolean } {
    const out: Decision[] = [];
    let full = false;
    for (let i = 0; i < maxCalls; i++) {
      const batch = this.engine.drainRaw(DRAIN_BATCH);
      for (const r of batch) out.push(this.engine.toDecision(r));
      full = batch.length >= DRAIN_BATCH;
      if (!full) break;
    }
    return { decisions: out, full };
  }

  /** The interface loop and the trial's outcome; call every LINK_POLL_MS. Never throws. */
  tick(now = performance.now()): HostEvent[] {
    const events: HostEvent[] = [];
    try {
      const { outcome, warnings } = this.settle();
      if (outcome) events.push({ type: 'trial', outcome });
      for (const w of warnings) events.push({ type: 'error', message: w });
    } catch (err) {
      events.push({ type: 'error', message: `following the trial: ${(err as Error).message}` });
    }
    try {
      const r = this.engine.tickInterfaces(now);
      if (r && 'epoch' in r) events.push({ type: 'applied', result: r });
      else if (r) events.push({ type: 'guarding', result: r });
    } catch (err) {
      events.push({ type: 'error', message: `re-attach failed: ${(err as Error).message}` });
    }
    try {
      const c = this.engine.tickCgroups(now);
      if (c?.moved.length) events.push({ type: 'cgroups', moved: c.moved });
      if (c?.applied) events.push({ type: 'applied', result: c.applied });
    } catch (err) {
      events.push({ type: 'error', message: `following unit:/cgroup: entries: ${(err as Error).message}` });
    }
    return events;
  }

  /** The flow table, at most every FLOW_INTERVAL_MS (undefined when not due), with the number of
   * flow entries the kernel evicted as of this read. */
  flows(now = Date.now(), force = false): FlowRow[] | undefined {
    if (!force && now - this.lastFlowsAt < FLOW_INTERVAL_MS) return undefined;
    this.lastFlowsAt = now;
    // Counters just before the table: a flow inserted in between is never counted as evicted.
    const before = this.engine.counters();
    const rows = this.engine.flows();
    this.flowsEvicted = evictedFlows(before, rows.length);
    this.observations?.observe(rows);
    return rows;
  }

  /** Writes the observations when OBSERVATIONS_SAVE_MS passed since the last write (`now`: always).
   * Returns a warning when they could not be written. */
  saveObservations(force = false, now = Date.now()): string | undefined {
    if (!this.observations || (!force && now - this.savedAt < OBSERVATIONS_SAVE_MS)) return undefined;
    this.savedAt = now;
    try {
      this.observations.save();
      return undefined;
    } catch (err) {
      return `keeping observations: ${(err as Error).message}`;
    }
  }

  /**
   * Applies a policy (a trial with `trialSeconds`) and records it in the history with where it
   * came from. The history is a record, never a condition: a failure to write it is returned as a
   * warning, the policy stays applied.
   */
  apply(resolved: ResolvedPolicy, how: ApplyHow): { result: ApplyResult; warnings: string[] } {
    const result = this.engine.apply(resolved, how.trialSeconds ? { trialSeconds: how.trialSeconds } : {});
    const warnings: string[] = [];
    if (result.settled) warnings.push(...this.recordOutcome(result.settled));
    warnings.push(...this.recorder.applied(this.engine, result, how));
    return { result, warnings };
  }

  /** Keeps the trial. Too late (the kernel went back already): that revert is recorded first,
   * then Engine.confirm's TrialStateError is thrown. */
  confirm(): { outcome: TrialOutcome; warnings: string[] } {
    const settled = this.settle();
    const o = settled.outcome;
    if (o?.type === 'reverted') throw tooLate(o);
    const outcome = this.engine.confirm();
    return { outcome, warnings: this.recordOutcome(outcome) };
  }

  revert(): { outcome: TrialOutcome; warnings: string[] } {
    const outcome = this.engine.revert();
    return { outcome, warnings: this.recordOutcome(outcome) };
  }

  /** Settles a trial the kernel ended (Engine.settle) and records it. */
  settle(): { outcome?: TrialOutcome; warnings: string[] } {
    const outcome = this.engine.settle();
    return outcome ? { outcome, warnings: this.recordOutcome(outcome) } : { warnings: [] };
  }

  /** Records what a trial came to; returns warnings. */
  recordOutcome(o: TrialOutcome): string[] {
    return this.recorder.outcome(this.engine, o);
  }

  /** Flow entries evicted, as of the last flows() read. */
  get evicted(): number {
    return this.flowsEvicted;
  }
}
