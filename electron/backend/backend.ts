// SPDX-License-Identifier: Apache-2.0
// Environment: main process (no Electron import; the browser tests run it in a plain Node process).
//
// The privileged side of the app behind the IPC handlers. It decides the mode at start
// (enforcing when it has the capabilities and the lock, read-only otherwise, saying why),
// runs the engine in a worker thread, keeps the enforced policy, and hands traffic to the
// renderer in batches: decisions merged across batches the renderer has not fetched yet,
// capped, with whatever the cap drops counted as lost.
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { effectiveCaps } from '../../native-bridge/sys.js';
import { engineCaps } from '../main/caps.js';
import { DEFAULT_PIN_DIR } from '../engine/engine.js';
import type { PolicyDoc } from '../policy/doc.js';
import { LIMITS } from '../ipc/contract.js';
import type {
  Accounts,
  ApplyOutcome,
  AppState,
  CapName,
  Enforced,
  EngineView,
  ExplainResult,
  FlowQuery,
  FlowWire,
  HistoryEntryResult,
  HistoryListResult,
  Preview,
  ProposeResult,
  TrialResult,
  SavedPolicy,
  StatusInfo,
  StopResult,
  TrafficBatch,
  TrafficCounters,
  TrafficRow,
  ValidateResult,
} from '../ipc/contract.js';
import { HandlerError } from '../ipc/gateway.js';
import type { TrialEvent, WorkerEvent, WorkerInit, WorkerReplies, WorkerRequest } from './protocol.js';
import { readSavedPolicy } from './saved-policy.js';

export interface BackendOptions {
  pinDir?: string;
  /** Where the applied policy is kept (default: $XDG_CONFIG_HOME/net-tc-filter/policy.yml). */
  policyFile?: string;
  objectPath?: string;
  /** How often the worker sends a traffic batch (100–250 ms). */
  batchIntervalMs?: number;
  /** Decisions the kernel reports per sending user per second (0: all); default the engine's. */
  eventsPerUser?: number;
}

const DEFAULT_BATCH_MS = 150;
/** Requests that change the kernel's state (or end the worker): posted to the worker at once. */
const CHANGES: ReadonlySet<string> = new Set(['apply', 'confirm', 'revert', 'stop', 'close']);
/** Reads the worker holds at most at once; more wait here, in order. A keep, revert or apply is
 * never held here, so it finds at most this many reads ahead of it in the worker, however many
 * (distinct) reads a renderer sends: a Keep is not held past its trial's deadline. */
const MAX_READS_IN_WORKER = 4;
/** A long-poll for traffic answers (possibly empty) after this long. */
const POLL_TIMEOUT_MS = 1000;
const MAX_ERRORS = 50;
const LAUNCHER = 'sudo net-tc-filter-gui   (or: pkexec net-tc-filter-gui)';

export function defaultPolicyFile(): string {
  const base = process.env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(base, 'net-tc-filter', 'policy.yml');
}

/** The capabilities the app needs, as this process has them now. */
export function readCaps(): Record<CapName, boolean> {
  return engineCaps(effectiveCaps());
}

function currentUser(uid: number): string {
  try {
    return userInfo().username;
  } catch {
    return String(uid);
  }
}

type Counts = { onlySaved: number; onlyEnforced: number; changed: number };

/** "2 guarded ranges only in the saved policy, 1 interface setting differs" (never empty). */
export function describeDifferences(d: { ranges: Counts; interfaces: Counts }): string {
  const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;
  const parts: string[] = [];
  const kind = (c: Counts, one: string, many: string, what: string) => {
    if (c.onlySaved) parts.push(`${plural(c.onlySaved, one, many)} only in the saved policy`);
    if (c.onlyEnforced) parts.push(`${plural(c.onlyEnforced, one, many)} only in the kernel`);
    if (c.changed) parts.push(`${plural(c.changed, one, many)} with other ${what}`);
  };
  kind(d.ranges, 'guarded range', 'guarded ranges', 'users');
  kind(d.interfaces, 'interface setting', 'interface settings', 'values');
  return parts.join(', ') || 'they differ';
}

interface Pending {
  decisions: TrafficRow[];
  flows: Map<string, FlowWire>;
  counters: TrafficCounters | null;
  time: number;
  fresh: boolean;
}

export class Backend {
  private worker!: Worker;
  private appState: AppState;
  private enforcedState: Enforced = { epoch: null, doc: null, appliedAt: null };
  private readonly errors: Array<{ time: number; message: string }> = [];
  private nextId = 1;
  private readonly calls = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void; read: boolean }
  >();
  /** Reads posted to the worker and not answered yet (at most MAX_READS_IN_WORKER), and the ones
   * waiting here for their turn. */
  private readsInWorker = 0;
  private readQueue: Array<() => void> = [];
  private pending: Pending = { decisions: [], flows: new Map(), counters: null, time: 0, fresh: false };
  private batchSeq = 0;
  /** Decisions dropped here because the renderer fetched too slowly. */
  private lostHere = 0;
  private workerLost = 0;
  private waiters: Array<() => void> = [];
  /** An apply, keep or revert is on its way to the worker (one at a time). */
  private applying = false;
  private closed = false;
  /** During a trial: what was enforced before it (in force again when the trial is reverted). */
  private beforeTrial: Enforced | undefined;
  /** The policy file's content as a document (what a revert of a trial this window did not
   * start goes back to when it compiles to the kernel's policy). */
  private savedDoc: PolicyDoc | undefined;

  private constructor(
    private readonly opts: Required<Omit<BackendOptions, 'objectPath' | 'eventsPerUser'>> &
      Pick<BackendOptions, 'objectPath' | 'eventsPerUser'>,
  ) {
    const uid = process.getuid?.() ?? -1;
    this.appState = {
      mode: 'read-only',
      uid,
      user: currentUser(uid),
      caps: readCaps(),
      pinDir: opts.pinDir,
      policyFile: opts.policyFile,
    };
  }

  /** Reads the capabilities, takes the engine (or goes read-only and says why), adopts pinned state. */
  static async start(options: BackendOptions = {}): Promise<Backend> {
    const b = new Backend({
      pinDir: options.pinDir ?? DEFAULT_PIN_DIR,
      policyFile: options.policyFile ?? defaultPolicyFile(),
      batchIntervalMs: options.batchIntervalMs ?? DEFAULT_BATCH_MS,
      ...(options.objectPath ? { objectPath: options.objectPath } : {}),
      ...(options.eventsPerUser !== undefined ? { eventsPerUser: options.eventsPerUser } : {}),
    });
    await b.begin();
    return b;
  }

  private async begin(): Promise<void> {
    const caps = this.appState.caps;
    const missing = (Object.keys(caps) as CapName[]).filter((c) => !caps[c]);
    const canOwn = caps.CAP_BPF && caps.CAP_NET_ADMIN;
    if (!canOwn) {
      this.appState.readOnly = {
        reason: 'capabilities',
        message: `Read-only: this process lacks ${missing.join(', ')}; you can edit, validate, import and export, but not apply.`,
        howTo: `Start the app with the launcher, which runs it as you with CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON: ${LAUNCHER}`,
        missing,
      };
      await this.spawn('none');
      return;
    }
    const file = this.opts.policyFile;
    const read = readSavedPolicy(file, this.appState.uid);
    const saved = read.kind === 'ok' ? read.doc : undefined;
    this.savedDoc = saved;
    const opened = await this.spawn('owner', saved);
    if (opened.ok) {
      this.appState.mode = 'enforcing';
      this.enforcedState = { epoch: opened.epoch, doc: null, appliedAt: null };
      const c = opened.compared;
      let offer: SavedPolicy | undefined;
      if (saved && c && 'equal' in c && c.equal) {
        // What the kernel enforces is what this app saved: adopted as it is, nothing written.
        this.enforcedState.doc = saved;
      } else if (saved && c && 'equal' in c) {
        offer = {
          file,
          status: 'differs',
          message: `The saved policy (${file}) differs from what the kernel enforces: ${describeDifferences(c)}. It is loaded below as pending changes and is not applied: Apply it, or keep what is enforced.`,
          doc: saved,
          differences: { ranges: c.ranges, interfaces: c.interfaces },
        };
      } else if (saved) {
        offer = {
          file,
          status: 'unresolved',
          message: `The saved policy (${file}) could not be compared with what the kernel enforces (${c && 'error' in c ? c.error : 'no answer'}). It is loaded below as pending changes and is not applied.`,
          doc: saved,
        };
      } else if (read.kind === 'untrusted') {
        offer = {
          file,
          status: 'untrusted',
          message: `The saved policy was not read: ${read.reason}. Whoever can change it could change the policy, so it is ignored; the next Apply writes it anew.`,
        };
      } else if (read.kind === 'invalid') {
        offer = { file, status: 'invalid', message: `The saved policy was not used: ${read.reason}.` };
      }
      if (offer) {
        this.enforcedState.saved = offer;
        if (offer.status !== 'differs') this.recordError(offer.message);
      }
      if (!this.enforcedState.doc && opened.adopted) {
        this.enforcedState.note = offer?.doc
          ? 'A policy is in force in the kernel (it outlived the last window); the editor shows the saved policy as pending changes, and Keep what is enforced leaves the kernel as it is.'
          : `A policy is in force in the kernel, but it was not applied from this app (e.g. by net-tc-filter run), so its source is not known here; the Status view shows what is loaded.`;
      }
      if (missing.length)
        this.recordError(`missing ${missing.join(', ')}: loading may fail on kernels that require it`);
      return;
    }
    await this.stopWorker();
    if (opened.locked !== undefined) {
      const h = opened.locked;
      this.appState.readOnly = {
        reason: 'locked',
        message: h
          ? `Read-only: another instance owns the filter — pid ${h.pid} (${h.command}).`
          : 'Read-only: another instance owns the filter.',
        howTo: h
          ? `Quit it (for the headless daemon: systemctl stop net-tc-filter, or kill ${h.pid}), then restart this app.`
          : 'Quit the other instance, then restart this app.',
        missing,
        ...(h ? { holder: h } : {}),
      };
      await this.spawn('observe');
    } else {
      this.appState.readOnly = {
        reason: 'engine-error',
        message: `Read-only: the filter could not be loaded: ${opened.message}`,
        howTo: 'See the Status view for details; `net-tc-filter status` shows what the kernel holds.',
        missing,
      };
      this.recordError(opened.message);
      await this.spawn('none');
    }
  }

  private spawn(
    role: WorkerInit['role'],
    saved?: PolicyDoc,
  ): Promise<Extract<WorkerEvent, { type: 'opened' }>> {
    const init: WorkerInit & { policyFile: string } = {
      pinDir: this.opts.pinDir,
      role,
      batchIntervalMs: this.opts.batchIntervalMs,
      policyFile: this.opts.policyFile,
      ...(this.opts.objectPath ? { objectPath: this.opts.objectPath } : {}),
      ...(this.opts.eventsPerUser !== undefined ? { eventsPerUser: this.opts.eventsPerUser } : {}),
      ...(saved ? { saved } : {}),
    };
    this.worker = new Worker(new URL('./engine-worker.js', import.meta.url), { workerData: init });
    return new Promise((resolve, reject) => {
      const w = this.worker;
      w.on('message', (e: WorkerEvent) => {
        if (e.type === 'opened') resolve(e);
        else this.onEvent(e);
      });
      w.on('error', (err) => {
        this.recordError(`engine worker: ${err.message}`);
        reject(err);
        this.failCalls(err);
      });
      w.on('exit', (code) => {
        if (!this.closed && code !== 0) this.recordError(`engine worker exited with code ${code}`);
        reject(new Error(`the engine worker exited with code ${code} before it started`));
        this.failCalls(new Error('the engine worker stopped'));
      });
    });
  }

  private failCalls(err: Error): void {
    for (const c of this.calls.values()) c.reject(err);
    this.calls.clear();
    this.readQueue = [];
    this.readsInWorker = 0;
  }

  private async stopWorker(): Promise<void> {
    await this.worker.terminate();
  }

  private onEvent(e: WorkerEvent): void {
    if (e.type === 'batch') {
      this.workerLost = e.lostBatching;
      const p = this.pending;
      if (e.batch.decisions.length) {
        p.decisions.push(...e.batch.decisions);
        const over = p.decisions.length - LIMITS.batchDecisions;
        if (over > 0) {
          p.decisions.splice(0, over);
          this.lostHere += over;
        }
      }
      for (const f of e.batch.flows) {
        p.flows.delete(f.key); // re-insert: newest last
        p.flows.set(f.key, f);
      }
      while (p.flows.size > LIMITS.batchFlows) p.flows.delete(p.flows.keys().next().value as string);
      p.counters = e.batch.counters && { ...e.batch.counters, lostBatching: this.workerLost + this.lostHere };
      p.time = e.batch.time;
      p.fresh = true;
      for (const w of this.waiters.splice(0)) w();
    } else if (e.type === 'error') {
      this.recordError(e.message);
    } else if (e.type === 'trial') {
      this.trialEnded(e.event);
    } else if (e.type === 'reply') {
      const c = this.calls.get(e.id);
      if (!c) return;
      this.calls.delete(e.id);
      if (c.read) this.readDone();
      if (e.ok) c.resolve(e.value);
      else c.reject(new HandlerError((e.code as never) ?? 'failed', e.message, e.diagnostics));
    }
  }

  private call<K extends keyof WorkerReplies>(
    cmd: K,
    extra: Omit<Extract<WorkerRequest, { cmd: K }>, 'id' | 'cmd'>,
  ): Promise<WorkerReplies[K]> {
    const id = this.nextId++;
    const read = !CHANGES.has(cmd);
    return new Promise((resolve, reject) => {
      this.calls.set(id, { resolve: resolve as (v: unknown) => void, reject, read });
      const post = () => this.worker.postMessage({ id, cmd, ...extra });
      if (!read) post();
      else if (this.readsInWorker < MAX_READS_IN_WORKER) {
        this.readsInWorker++;
        post();
      } else this.readQueue.push(post);
    });
  }

  /** A read answered: the next waiting one goes to the worker. */
  private readDone(): void {
    const next = this.readQueue.shift();
    if (next) next();
    else this.readsInWorker--;
  }

  recordError(message: string): void {
    this.errors.push({ time: Date.now(), message });
    if (this.errors.length > MAX_ERRORS) this.errors.shift();
  }

  state(): AppState {
    return structuredClone(this.appState);
  }

  readOnly(): boolean {
    return this.appState.mode !== 'enforcing';
  }

  enforced(): Enforced {
    return structuredClone(this.enforcedState);
  }

  async status(): Promise<StatusInfo> {
    const s = await this.shared('status', () => this.call('status', {}));
    return { ...s, state: this.state(), errors: [...this.errors] };
  }

  accounts(): Promise<Accounts> {
    return this.shared('accounts', () => this.call('accounts', {}));
  }

  async validate(doc: PolicyDoc): Promise<ValidateResult> {
    const r = await this.latest('validate', () => this.call('validate', { doc }));
    return { ok: !r.diagnostics.some((d) => d.severity === 'error'), ...r };
  }

  /** Heavy requests (a policy compiled, a flow table decided: a second or more for a large policy)
   * reach the worker one at a time, and only the newest one waits: each blocks the worker's
   * traffic ticks while it runs, so a renderer sending them in a loop must not queue them without
   * bound (nor hold the ring buffer undrained for the whole queue). A waiting request overtaken
   * by a newer one is answered `busy`. */
  private readonly gates = new Map<string, { running: boolean; waiting?: () => void; drop?: () => void }>();

  private async latest<T>(op: 'validate' | 'preview', run: () => Promise<T>): Promise<T> {
    let g = this.gates.get(op);
    if (!g) this.gates.set(op, (g = { running: false }));
    const gate = g;
    if (gate.running) {
      gate.drop?.();
      await new Promise<void>((resolve, reject) => {
        gate.waiting = resolve;
        gate.drop = () => reject(new HandlerError('busy', `${op}: superseded by a newer ${op} request`));
      });
    }
    gate.running = true;
    try {
      return await run();
    } finally {
      const next = gate.waiting;
      gate.waiting = undefined;
      gate.drop = undefined;
      gate.running = false;
      next?.();
    }
  }

  async apply(
    doc: PolicyDoc,
    expectEpoch: number | null,
    how: { trialSeconds?: number; fromHistory?: number } = {},
  ): Promise<ApplyOutcome> {
    return this.change(async () => {
      if (expectEpoch !== this.enforcedState.epoch) {
        throw new HandlerError(
          'conflict',
          `the enforced policy changed (policy ${this.enforcedState.epoch ?? 'none'}, your changes were made against ${expectEpoch ?? 'none'}); reload it and apply again`,
        );
      }
      const { settled, ...r } = await this.call('apply', {
        doc,
        expectEpoch,
        ...(how.trialSeconds ? { trialSeconds: how.trialSeconds } : {}),
        ...(how.fromHistory !== undefined ? { fromHistory: how.fromHistory } : {}),
      });
      if (settled) this.trialEnded(settled);
      const before = this.enforced();
      this.enforcedState = { epoch: r.epoch, doc: structuredClone(doc), appliedAt: Date.now() };
      if (r.trial) {
        const { saved: _saved, ...prev } = before;
        this.beforeTrial = prev;
      } else {
        this.beforeTrial = undefined;
        this.savedDoc = structuredClone(doc);
      }
      return { ...r, enforced: this.enforced() };
    }).catch((err: unknown) => {
      if (!(
        err instanceof HandlerError && ['invalid-policy', 'conflict', 'busy', 'read-only'].includes(err.code)
      ))
        this.recordError(`apply: ${(err as Error).message}`);
      throw err;
    });
  }

  /** One change of the kernel's policy at a time (apply, keep, revert): an apply sent while a
   * revert is on its way would otherwise pass the epoch check against the trial and go through. */
  private async change<T>(run: () => Promise<T>): Promise<T> {
    if (this.readOnly()) throw new HandlerError('read-only', 'this window is read-only');
    if (this.applying)
      throw new HandlerError('busy', 'an apply, keep or revert is in progress; try again once it is done');
    this.applying = true;
    try {
      return await run();
    } finally {
      this.applying = false;
    }
  }

  /** A trial ended (kept, reverted here, or by the kernel at its deadline): the enforced state
   * follows. Reverted: the policy before the trial, under the kernel's new number. */
  private trialEnded(e: TrialEvent): void {
    const prev = this.beforeTrial;
    this.beforeTrial = undefined;
    if (e.outcome === 'confirmed') {
      if (!this.enforcedState.doc && e.doc)
        this.enforcedState = { epoch: e.inForce, doc: structuredClone(e.doc), appliedAt: null };
      this.enforcedState.epoch = e.inForce;
      if (this.enforcedState.doc) this.savedDoc = structuredClone(this.enforcedState.doc);
      return;
    }
    if (prev?.doc) {
      this.enforcedState = { ...prev, epoch: e.inForce };
    } else if (prev && prev.epoch === null) {
      // The trial was the first policy: the kernel went back to filtering nothing.
      this.enforcedState = {
        epoch: e.inForce,
        doc: null,
        appliedAt: null,
        note: 'Nothing is filtered: the policy on trial was the first one, and the kernel went back to enforcing no policy.',
      };
    } else if (e.savedEqual && this.savedDoc) {
      this.enforcedState = { epoch: e.inForce, doc: structuredClone(this.savedDoc), appliedAt: null };
    } else if (e.doc) {
      this.enforcedState = { epoch: e.inForce, doc: structuredClone(e.doc), appliedAt: null };
      this.savedDoc = structuredClone(e.doc);
    } else {
      this.enforcedState = {
        epoch: e.inForce,
        doc: null,
        appliedAt: null,
        note:
          prev?.note ??
          'The kernel went back to a policy that was not applied from this window, so its source is not known here; the Status view shows what is loaded.',
      };
    }
  }

  /** Reads in flight, by what they read: an identical read sent meanwhile shares the answer
   * instead of queueing another in the worker (a renderer polling in a loop, or a burst of them,
   * would otherwise hold a Keep behind hundreds of reads until the trial's deadline passed). */
  private readonly reads = new Map<string, Promise<unknown>>();

  private shared<T>(key: string, run: () => Promise<T>): Promise<T> {
    const inFlight = this.reads.get(key);
    if (inFlight) return inFlight as Promise<T>;
    const p = run().finally(() => this.reads.delete(key));
    this.reads.set(key, p);
    return p;
  }

  engineView(): Promise<EngineView> {
    return this.shared('engine', () => this.call('engine', {}));
  }

  private trialCall(cmd: 'confirm' | 'revert'): Promise<TrialResult> {
    return this.change(async () => {
      const { savedEqual, doc, ...e } = await this.call(cmd, {});
      this.trialEnded({
        ...e,
        ...(savedEqual !== undefined ? { savedEqual } : {}),
        ...(doc ? { doc } : {}),
      });
      return { ...e, enforced: this.enforced() };
    });
  }

  confirmTrial(): Promise<TrialResult> {
    return this.trialCall('confirm');
  }

  revertTrial(): Promise<TrialResult> {
    return this.trialCall('revert');
  }

  /** What applying `doc` would do (nothing changes): diagnostics, per-interface effects, the
   * recently observed flows whose verdict changes. */
  preview(doc: PolicyDoc): Promise<Preview> {
    return this.latest('preview', () => this.call('preview', { doc }));
  }

  /** Why the enforced policy decides `flow` as it does (the CLI's explain text). */
  explain(flow: FlowQuery): Promise<ExplainResult> {
    return this.shared(`explain ${JSON.stringify(flow)}`, () => this.call('explain', { flow }));
  }

  /** The enforced policy plus endpoints for what was observed dropped or would-drop. Never applied. */
  propose(sinceMs: number | undefined): Promise<ProposeResult> {
    return this.shared(`propose ${sinceMs ?? ''}`, () =>
      this.call('propose', sinceMs !== undefined ? { sinceMs } : {}),
    );
  }

  listHistory(): Promise<HistoryListResult> {
    return this.shared('history', () => this.call('history', {}));
  }

  historyEntry(n: number): Promise<HistoryEntryResult> {
    return this.shared(`historyEntry ${n}`, () => this.call('historyEntry', { n }));
  }

  async stopFiltering(): Promise<StopResult> {
    if (this.readOnly()) throw new HandlerError('read-only', 'this window is read-only');
    const r = await this.call('stop', {});
    this.enforcedState = { epoch: null, doc: null, appliedAt: null };
    this.beforeTrial = undefined;
    // Nothing is owned any more: this window can still edit, but applying needs a restart.
    this.appState.mode = 'read-only';
    this.appState.readOnly = {
      reason: 'engine-error',
      message: 'Filtering was stopped from this window; nothing is enforced.',
      howTo: 'Restart the app to load the filter again.',
      missing: [],
    };
    return r;
  }

  /** The decisions, flow changes and counters since the last call; waits for the next batch
   * (at most POLL_TIMEOUT_MS) when there is nothing new. */
  async nextTraffic(_after: number): Promise<TrafficBatch> {
    if (!this.pending.fresh && !this.closed) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== done);
          resolve();
        }, POLL_TIMEOUT_MS);
        const done = () => {
          clearTimeout(t);
          resolve();
        };
        this.waiters.push(done);
      });
    }
    const p = this.pending;
    this.pending = { decisions: [], flows: new Map(), counters: p.counters, time: p.time, fresh: false };
    return {
      seq: ++this.batchSeq,
      time: p.time || Date.now(),
      decisions: p.decisions,
      flows: [...p.flows.values()],
      counters: p.counters,
    };
  }

  /** Stops the worker; enforcement continues from the pinned state. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.waiters.splice(0)) w();
    try {
      await Promise.race([this.call('close', {}), new Promise((r) => setTimeout(r, 5000))]);
    } catch {
      // The worker is gone already.
    }
    await this.stopWorker();
  }
}
