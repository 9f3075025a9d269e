// SPDX-License-Identifier: Apache-2.0
// Environment: Node worker thread started by backend.ts (no Electron import).
//
// Owns the engine off the main thread: every libbpf syscall, map read, `getent` and `tc` call
// blocks, and in Electron the main thread also runs the window's event loop. Every
// `batchIntervalMs` it drains the ring buffer, keeps the newest decisions (the rest are
// counted as lost by batching), reads the counters and, about once a second, the flow entries
// whose counters changed, and posts one batch to the main thread.
import { lstatSync, mkdirSync, readdirSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { ifNameToIndex, u32Buf, decodeCounters, LAYOUTS } from '../../native-bridge/index.js';
import type { Counters } from '../../native-bridge/index.js';
import { Engine, EngineLockedError, LINK_POLL_MS, TrialStateError, evictedFlows } from '../engine/engine.js';
import type { TrialOutcome } from '../engine/engine.js';
import { Accounts, EngineHost, openObservations } from '../engine/host.js';
import { Observations } from '../engine/observations.js';
import { checkStateDir } from '../engine/statedir.js';
import { listHistory } from '../engine/history.js';
import type { HistoryEntry } from '../engine/history.js';
import { policyToDoc } from '../policy/doc.js';
import { plural } from '../policy/propose.js';
import { loadEnforcedPolicy, proposeFrom } from '../engine/enforced.js';
import type { EnforcedLoad, EnforcedRef } from '../engine/enforced.js';
import { trialOutcomeText } from '../cli/format.js';
import { interfaceEffects } from '../policy/effects.js';
import { impactOf } from '../policy/impact.js';
import { listeningTcpPorts } from '../engine/listening.js';
import { userName } from '../policy/resolve.js';
import { cgroupIdsOf, explain, socketCgroup } from '../policy/explain.js';
import { systemCgroupTree, unitOfPath } from '../policy/cgroups.js';
import { dhcpPortsPrivileged } from '../engine/links.js';
import ipaddr from 'ipaddr.js';
import { formatAddr, hostPort } from '../policy/addr.js';
import { historyRecorder } from '../engine/recorder.js';
import { readFlows } from '../engine/flows.js';
import type { FlowRow } from '../engine/flows.js';
import { readStatus } from '../engine/status.js';
import { hostZone } from '../policy/when.js';
import type { EngineStatus } from '../engine/status.js';
import { checkPinDir, openTrustedPin } from '../engine/pintrust.js';
import { CapacityError, compilePolicy } from '../policy/compile.js';
import { docToPolicy } from '../policy/doc.js';
import type { FieldDiagnostic, PolicyDoc } from '../policy/doc.js';
import { resolvePolicy } from '../policy/resolve.js';
import { policyOfText } from '../policy/load.js';
import type { AccountDb } from '../policy/resolve.js';
import type { Diagnostic, Policy, ResolvedPolicy } from '../policy/types.js';
import { serializePolicy } from '../policy/yaml.js';
import { missingInterfaceMessage } from '../policy/advice.js';
import { writeFileAtomic } from './write-atomic.js';
import { readHumanUids } from './login-defs.js';
import {
  currentEntry,
  engineViewOf,
  historyEntryView,
  historyItem,
  NOTHING_OBSERVED,
  previewImpact,
  steadyTrial,
  trialView,
} from './views.js';
import { LIMITS } from '../ipc/contract.js';
import type {
  EngineView,
  ExplainResult,
  TrialView,
  FlowQuery,
  FlowWire,
  HistoryEntryResult,
  HistoryListResult,
  ProposeResult,
  Preview,
  TrafficCounters,
  TrafficRow,
} from '../ipc/contract.js';
import type {
  ApplyReply,
  TrialEvent,
  ValidateReply,
  WorkerEvent,
  WorkerInit,
  WorkerReplies,
  WorkerRequest,
} from './protocol.js';

const port = parentPort;
if (!port) throw new Error('engine-worker.ts runs only as a worker thread');
const init = workerData as WorkerInit & { policyFile: string };

/** Drain calls per batch at most: under a flood the ring refills as fast as it is read. */
const MAX_DRAIN_CALLS = 16;
const MAX_ACCOUNTS = 20_000;

const post = (e: WorkerEvent) => port.postMessage(e);

class ReplyError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly diagnostics?: FieldDiagnostic[],
  ) {
    super(message);
  }
}

const accountDb = new Accounts({
  onAccountsError: (err) => post({ type: 'error', message: `account database: ${err.message}` }),
});
let engine: Engine | undefined;
let host: EngineHost | undefined;
/** The host's observations (what propose works from), kept in the state directory. */
let observations: Observations | undefined;
/** The policy on trial: written to the policy file only once it is kept (a reverted trial must
 * not come back at the next start). */
let onTrial: { policy: Policy; resolved: ResolvedPolicy } | undefined;
/** What the policy file holds, resolved (to tell, after a revert, whether it is in force again). */
let savedResolved: ResolvedPolicy | undefined;
let seq = 0;
let lostBatching = 0;
const flowSigs = new Map<string, string>();
const timers: NodeJS.Timeout[] = [];

const accountsFresh = (): AccountDb => accountDb.get();
const nameOf = (uid: number | null): string => accountDb.senderName(uid);

// ---------------------------------------------------------------------------------------------
// Policy: document → resolved, with problems located in the document.

function endpointPath(doc: PolicyDoc, message: string): FieldDiagnostic['path'] {
  const m = /endpoint "([^"]*)"/.exec(message);
  const i = m ? doc.endpoints.findIndex((e) => e.name === m[1]) : -1;
  return i >= 0 ? ['endpoints', i] : [];
}

function resolveDoc(doc: PolicyDoc, accounts: AccountDb) {
  const conv = docToPolicy(doc);
  if (!conv.policy)
    throw new ReplyError('invalid-policy', 'the policy has errors; nothing was applied', conv.diagnostics);
  const res = resolvePolicy(conv.policy, accounts);
  const diagnostics = [
    ...conv.diagnostics,
    ...res.diagnostics.map((d: Diagnostic) => ({
      severity: d.severity,
      message: d.message,
      path: endpointPath(doc, d.message),
    })),
  ];
  if (!res.resolved)
    throw new ReplyError('invalid-policy', 'the policy has errors; nothing was applied', diagnostics);
  return { policy: conv.policy, resolved: res.resolved, diagnostics };
}

/** Writes the applied policy in the file format, atomically, readable and writable by its owner
 * only (the backend does not trust a saved policy that others may write, nor a symlink: one in its
 * place is replaced, not followed as Export follows it). */
function savePolicy(policy: Policy): void {
  mkdirSync(dirname(init.policyFile), { recursive: true, mode: 0o700 });
  try {
    if (lstatSync(init.policyFile).isSymbolicLink()) unlinkSync(init.policyFile);
  } catch {
    // not there yet
  }
  writeFileAtomic(init.policyFile, serializePolicy(policy), 0o600);
}

/** The saved policy (the policy file) compiles to what the kernel enforces now. */
function savedInForce(): boolean {
  if (!engine || !savedResolved) return false;
  try {
    return engine.compareEnforced(savedResolved).equal;
  } catch {
    return false;
  }
}

/** What a trial came to, for the main thread; forgets the policy on trial (saved if kept). */
/** The policy in force now as the history has it (a trial this worker did not start). */
function inForceFromHistory(): { policy: Policy; resolved: ResolvedPolicy; doc: PolicyDoc } | undefined {
  const ref = enforcedRef();
  const l = ref && enforcedLoad(ref);
  if (!l?.resolved || l.text === undefined) return undefined;
  const policy = policyOfText(l.text, 'history');
  return policy && { policy, resolved: l.resolved, doc: policyToDoc(policy) };
}

/** The policy file holds what is in force: written with a kept trial, or after a revert when it
 * held something else. */
function saveInForce(p: { policy: Policy; resolved: ResolvedPolicy }, what: string): string | undefined {
  try {
    savePolicy(p.policy);
    savedResolved = p.resolved;
    return undefined;
  } catch (err) {
    return `${what}, but could not save it to ${init.policyFile}: ${(err as Error).message}`;
  }
}

/** saveInForce, its warning posted as an error event (outside any request's answer). */
function saveInForceOrSay(p: { policy: Policy; resolved: ResolvedPolicy }, what: string): void {
  const w = saveInForce(p, what);
  if (w) post({ type: 'error', message: w });
}

/** What a trial came to, for the main thread; forgets the policy on trial (saved if kept). A trial
 * this worker did not start (the app was restarted during it) is known from the history: its
 * document comes with the event. */
function trialEvent(o: TrialOutcome): TrialEvent {
  const e = engine as Engine;
  statusCache = undefined;
  let doc: PolicyDoc | undefined;
  let savedEqual: boolean | undefined;
  if (o.type === 'confirmed') {
    if (onTrial) {
      saveInForceOrSay(onTrial, 'kept');
    } else {
      const known = inForceFromHistory();
      if (known) {
        saveInForceOrSay(known, 'kept');
        doc = known.doc;
      }
    }
  } else {
    savedEqual = savedInForce();
    if (!savedEqual) {
      const known = inForceFromHistory();
      if (known) {
        saveInForceOrSay(known, 'reverted');
        doc = known.doc;
      }
    }
  }
  onTrial = undefined;
  return {
    outcome: o.type,
    ...(o.type === 'reverted' ? { by: o.by } : {}),
    policy: o.epoch,
    inForce: e.effectiveEpoch(),
    at: o.at,
    message: trialOutcomeText(o),
    ...(savedEqual !== undefined ? { savedEqual } : {}),
    ...(doc ? { doc } : {}),
  };
}

const PENDING = 'a trial is pending: keep it or revert it first';

/** The history entry `n` holds this policy (the text it would be recorded with): only then is an
 * apply recorded as coming from it. The renderer's word for it is not enough: `history` and
 * `apply --from-history` would show the admin an entry's policy that is not the one applied. */
function fromHistoryMatches(n: number, text: string): boolean {
  let entry: HistoryEntry | undefined;
  try {
    entry = listHistory(init.pinDir).entries.find((e) => e.n === n);
  } catch {
    return false;
  }
  if (!entry) return false;
  if (entry.text === text) return true;
  const policy = policyOfText(entry.text, `history ${n}`);
  if (!policy) return false;
  const again = docToPolicy(policyToDoc(policy)).policy;
  return again !== undefined && serializePolicy(again) === text;
}

function apply(
  doc: PolicyDoc,
  expectEpoch: number | null,
  trialSeconds?: number,
  fromHistory?: number,
): ApplyReply {
  if (!engine || !host) throw new ReplyError('read-only', 'this instance does not own the engine');
  const { policy, resolved, diagnostics } = resolveDoc(doc, accountDb.reload());
  const text = serializePolicy(policy);
  const fromEntry = fromHistory !== undefined && fromHistoryMatches(fromHistory, text);
  if (fromHistory !== undefined && !fromEntry)
    diagnostics.push({
      severity: 'warning',
      message: `not recorded as coming from history ${fromHistory}: the policy applied is not that entry's (it was changed, or the entry is gone)`,
      path: [],
    });
  // The kernel went back from a trial that main still thinks pending: the draft was made against
  // the trial's policy, so this apply is not what the admin previewed.
  settleLate((m) => `not applied: ${m}; review the changes against it and apply again`);
  // Main checked the number too, but its copy lags a trial this worker settled a moment ago
  // (the event is still on its way): the engine's own number is the one that counts.
  const now = engine.epoch() || null;
  if (now !== expectEpoch)
    throw new ReplyError(
      'conflict',
      `not applied: the enforced policy changed (policy ${now ?? 'none'}, your changes were made against ${expectEpoch ?? 'none'}); review the changes against it and apply again`,
    );
  let applied;
  try {
    applied = host.apply(resolved, {
      origin: 'app',
      text,
      ...(trialSeconds ? { trialSeconds } : {}),
      ...(fromEntry ? { source: `history ${fromHistory}` } : {}),
    });
  } catch (err) {
    if (err instanceof TrialStateError) throw new ReplyError('conflict', PENDING);
    throw err;
  }
  statusCache = undefined;
  const r = applied.result;
  const settled = r.settled ? trialEvent(r.settled) : undefined;
  for (const w of applied.warnings) diagnostics.push({ severity: 'warning', message: w, path: [] });
  if (r.trial) {
    onTrial = { policy, resolved };
  } else {
    const w = saveInForce({ policy, resolved }, 'applied');
    if (w) diagnostics.push({ severity: 'warning', message: w, path: [] });
  }
  return {
    epoch: r.epoch,
    trial: steady(trialView(r.trial)),
    attached: r.attached.map((a) => a.name),
    missing: r.missing,
    changes: r.changes,
    activeMs: Math.round(r.activeMs * 10) / 10,
    totalMs: Math.round(r.totalMs * 10) / 10,
    diagnostics,
    ...(settled ? { settled } : {}),
  };
}

/** Settles a trial the kernel ended that main does not know of yet: records it, tells main, and
 * refuses the request that found it (`refusal` words the outcome's message). */
function settleLate(refusal: (message: string) => string): void {
  const { outcome, warnings } = (host as EngineHost).settle();
  for (const w of warnings) post({ type: 'error', message: w });
  if (!outcome) return;
  const ev = trialEvent(outcome);
  post({ type: 'trial', event: ev });
  throw new ReplyError('conflict', refusal(ev.message));
}

function confirm(): TrialEvent {
  if (!engine || !host) throw new ReplyError('read-only', 'this instance does not own the engine');
  // The kernel's revert first, recorded (confirming after the deadline is too late).
  settleLate((m) => `too late to keep it: ${m}`);
  try {
    const r = host.confirm();
    for (const w of r.warnings) post({ type: 'error', message: w });
    return trialEvent(r.outcome);
  } catch (err) {
    if (err instanceof TrialStateError)
      throw new ReplyError('conflict', 'no trial is pending: nothing to keep');
    throw err;
  }
}

function revert(): TrialEvent {
  if (!engine || !host) throw new ReplyError('read-only', 'this instance does not own the engine');
  try {
    const r = host.revert();
    for (const w of r.warnings) post({ type: 'error', message: w });
    return trialEvent(r.outcome);
  } catch (err) {
    if (err instanceof TrialStateError)
      throw new ReplyError('conflict', 'no trial is pending: nothing to revert');
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// What the kernel does now (getEngine, polled about once a second).

/** readStatus (with lastTrial: it reads the history) at most once a second; dropped when this
 * worker changed the state. */
const STATUS_TTL_MS = 1000;
let statusCache: { at: number; s?: EngineStatus; error?: string } | undefined;

function cachedStatus(now = Date.now()): { s?: EngineStatus; error?: string } {
  if (statusCache && now - statusCache.at < STATUS_TTL_MS) return statusCache;
  try {
    statusCache = { at: now, s: readStatus(init.pinDir, { lastTrial: true }) };
  } catch (err) {
    statusCache = { at: now, error: `${init.pinDir}: ${(err as Error).message}` };
  }
  return statusCache;
}

/** "policy 7" in what the app shows (never "epoch"). */
const policyLabel = (n: number) => `policy ${n}`;

/** The enforced policy from the history, per pinned state and epoch (it does not change). */
let enforcedCache: { key: string; load: EnforcedLoad } | undefined;

function enforcedLoad(ref: EnforcedRef): EnforcedLoad {
  const key = `${ref.stateId}/${ref.epoch}`;
  if (enforcedCache?.key !== key)
    enforcedCache = { key, load: loadEnforcedPolicy(ref, accountDb.current, policyLabel) };
  return enforcedCache.load;
}

/** What the kernel enforces, as loadEnforcedPolicy needs it: the engine's (owner) or the pins'. */
function enforcedRef(): EnforcedRef | undefined {
  if (engine)
    return { pinDir: init.pinDir, loaded: true, epoch: engine.effectiveEpoch(), stateId: engine.stateId };
  return cachedStatus().s;
}

/** The policy the kernel enforces: the engine's own (owner, once it applied), else the history's. */
function enforcedResolved(): ResolvedPolicy | undefined {
  const mine = engine?.policy();
  if (mine && !engine?.trial()?.expired) return mine.resolved;
  const ref = enforcedRef();
  return ref ? enforcedLoad(ref).resolved : undefined;
}

/** The trial as first shown (apply's answer, then getEngine): one deadline for one trial. */
let shownTrial: TrialView | undefined;

function steady(t: TrialView | null): TrialView | null {
  const out = steadyTrial(t, shownTrial);
  if (out && out !== t) return out;
  shownTrial = out ?? undefined;
  return out;
}

function engineView(): EngineView {
  const { s, error } = cachedStatus();
  if (!s) return engineViewOf({ unreadable: error ?? 'the state cannot be read' });
  const v = engineViewOf({
    status: s,
    owned: engine !== undefined,
    ...(engine ? { epoch: engine.effectiveEpoch(), trial: engine.trial() } : {}),
    resolved: s.loaded ? enforcedResolved() : undefined,
    present: (name) => ifNameToIndex(name) !== undefined,
  });
  return { ...v, trial: steady(v.trial) };
}

function validate(doc: PolicyDoc): ValidateReply {
  let resolvedDoc;
  try {
    resolvedDoc = resolveDoc(doc, accountsFresh());
  } catch (err) {
    if (err instanceof ReplyError) return { diagnostics: err.diagnostics ?? [] };
    throw err;
  }
  let c;
  try {
    c = compilePolicy(resolvedDoc.resolved, ifNameToIndex);
  } catch (err) {
    // A policy too large for the kernel maps: said like any other error, before it costs more.
    if (err instanceof CapacityError)
      return {
        diagnostics: [...resolvedDoc.diagnostics, { severity: 'error', message: err.message, path: [] }],
      };
    throw err;
  }
  const diagnostics = [...resolvedDoc.diagnostics];
  for (const name of c.missingIfaces) {
    diagnostics.push({
      severity: 'warning',
      message: missingInterfaceMessage(name),
      path: [],
    });
  }
  return {
    diagnostics,
    summary: {
      endpoints: doc.endpoints.length,
      lpmEntries: c.compiled.lpm.length,
      setEntries: c.compiled.sets.length,
      interfaces: c.compiled.ifaces.map((i) => i.name),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Preview: what a draft would do, before anything changes.

/** The flow table the kernel keeps: the engine's (owner) or the pins' (another process owns it). */
function liveFlows(): FlowRow[] | undefined {
  if (engine) return engine.effectiveEpoch() === 0 ? undefined : engine.flows();
  try {
    const s = readStatus(init.pinDir, { flows: true });
    return s.loaded && (s.epoch ?? 0) !== 0 ? (s.flows ?? []) : undefined;
  } catch {
    return undefined;
  }
}

function preview(doc: PolicyDoc): Preview {
  const diagnostics = validate(doc).diagnostics;
  const none: Preview = { diagnostics, effects: [], impact: null, trialDefault: false, unchanged: false };
  if (diagnostics.some((d) => d.severity === 'error')) return none;
  const db = accountsFresh();
  const { resolved } = resolveDoc(doc, db);
  const current = enforcedResolved();
  const present = (name: string) => ifNameToIndex(name) !== undefined;
  const effects = interfaceEffects(resolved, current, { present, nameOf: (uid) => userName(db, uid) });
  let unchanged = false;
  if (engine && engine.effectiveEpoch() !== 0) {
    try {
      unchanged = engine.compareEnforced(resolved).equal;
    } catch {
      unchanged = false;
    }
  }
  const flows = liveFlows();
  let impact: Preview['impact'] = null;
  if (flows) {
    const report = impactOf({
      flows,
      next: resolved,
      ...(current ? { current } : {}),
      ifindexOf: (name) => ifNameToIndex(name),
      listening: listeningTcpPorts(),
      nameOf,
      cgroupIds: cgroupIdsOf(systemCgroupTree()),
    });
    impact = previewImpact(report);
  }
  return {
    diagnostics,
    effects,
    impact,
    ...(impact ? {} : { impactNote: NOTHING_OBSERVED }),
    trialDefault: (impact?.newlyDropped.length ?? 0) > 0 || effects.some((e) => e.turnsDeny),
    unchanged,
  };
}

// ---------------------------------------------------------------------------------------------
// Explain: why the enforced policy decides a flow as it does.

function explainFlow(q: FlowQuery): ExplainResult {
  const db = accountsFresh();
  const ref = enforcedRef();
  const resolved = enforcedResolved();
  const user = nameOf(q.uid);
  const base = {
    user,
    endpoint: null,
    guarding: [],
    covering: [],
    iface: null,
    audit: false,
  };
  const bytes = ipaddr.isValid(q.dst) ? Uint8Array.from(ipaddr.parse(q.dst).toByteArray()) : undefined;
  if (!bytes || bytes.length !== (q.family === 4 ? 4 : 16))
    throw new ReplyError('bad-request', `${q.dst} is not an IPv${q.family} address`);
  const ported = q.proto === 'tcp' || q.proto === 'udp';
  // As the kernel's rows show it (never the request's spelling: 0x7f.1 is 127.0.0.1).
  const destination = hostPort(q.family, formatAddr(q.family, bytes), ported ? q.dport : undefined);
  if (!resolved || !ref?.epoch) {
    const why =
      ref?.loaded && ref.epoch
        ? (enforcedLoad(ref).problem ?? 'the enforced policy is not known')
        : 'nothing is filtered yet (no policy is applied)';
    return {
      ...base,
      source: 'the enforced policy',
      unknown: true,
      verdict: 'pass',
      reason: 'unknown',
      destination,
      lines: [
        `Cannot explain this flow: ${why}.`,
        'Apply a policy from this window to explain what it decides (the Status view shows what is loaded).',
      ],
    };
  }
  const epoch = ref.epoch;
  const t = engine ? engine.trial() : cachedStatus().s?.trial;
  const source = `the enforced policy (policy ${epoch})`;
  // The socket's cgroup as the kernel matches it (its ancestors' ids); gone since: not known.
  const tree = systemCgroupTree();
  const cg = q.cgroup && typeof tree !== 'string' ? socketCgroup(tree, q.cgroup) : undefined;
  const x = explain({
    policy: resolved,
    source,
    uid: q.uid,
    nameOf: (u) => userName(db, u),
    family: q.family,
    daddr: bytes,
    ...(ported ? { port: q.dport } : {}),
    ...(q.proto !== 'other' ? { proto: q.proto } : {}),
    ...(q.sport !== undefined ? { sport: q.sport } : {}),
    ...(cg !== undefined && typeof cg !== 'string' ? { cgroup: cg } : {}),
    ...(q.cgroup ? { unit: unitOfPath(q.cgroup) } : {}),
    iface: q.iface,
    ...(t && !t.expired && t.epoch === epoch
      ? { trial: { previousEpoch: t.previousEpoch, secondsLeft: t.secondsLeft, words: 'app' as const } }
      : {}),
    dhcpUnicast: dhcpPortsPrivileged(),
  });
  const st = resolved.interfaces.get(q.iface);
  return {
    source,
    unknown: false,
    verdict: x.verdict,
    reason: x.reason,
    user: x.user,
    destination: x.destination,
    endpoint: x.endpoint,
    guarding: x.guarding,
    covering: x.covering,
    iface: st ? { name: q.iface, default: st.default, mode: st.mode } : null,
    audit: x.audit,
    lines: typeof cg === 'string' ? [...x.lines, `The socket's cgroup ${q.cgroup}: ${cg}.`] : x.lines,
  };
}

// ---------------------------------------------------------------------------------------------
// History and propose.

/** The pinned state the epochs belong to, and the epoch the kernel enforces now. */
function currentState(): { stateId?: string; epoch?: number } {
  if (engine) return { stateId: engine.stateId, epoch: engine.effectiveEpoch() };
  const s = cachedStatus().s;
  return s?.loaded
    ? { ...(s.stateId ? { stateId: s.stateId } : {}), ...(s.epoch ? { epoch: s.epoch } : {}) }
    : {};
}

/** The history, newest first, and the entry in force now (the newest of the effective epoch). */
function readHistory(): { entries: HistoryEntry[]; warnings: string[]; current: HistoryEntry | undefined } {
  const h = listHistory(init.pinDir);
  const { stateId, epoch } = currentState();
  return { entries: h.entries, warnings: h.warnings, current: currentEntry(h.entries, stateId, epoch) };
}

function history(): HistoryListResult {
  const h = readHistory();
  return { entries: h.entries.map((e) => historyItem(e, h.current)), warnings: h.warnings };
}

function historyEntryOf(n: number): HistoryEntryResult {
  const h = readHistory();
  const e = h.entries.find((x) => x.n === n);
  if (!e) {
    const all = h.entries;
    throw new ReplyError(
      'bad-request',
      all.length
        ? `history entry ${n} does not exist (entries ${all[all.length - 1]?.n}..${all[0]?.n} do)`
        : 'there is no history yet',
    );
  }
  return historyEntryView(h.entries, e, h.current);
}

function propose(sinceMs: number | undefined): ProposeResult {
  const nothing = (message: string): ProposeResult => ({
    doc: null,
    observed: 0,
    added: 0,
    granted: 0,
    skipped: [],
    message,
  });
  const ref = enforcedRef();
  if (!ref?.loaded || !ref.epoch)
    return nothing(
      'Nothing is filtered yet: apply a policy (audit mode shows what it would drop), then propose.',
    );
  const enforced = enforcedLoad(ref);
  if (!enforced.resolved || enforced.text === undefined)
    return nothing(
      `${enforced.problem ?? 'the enforced policy is not known'}: apply a policy from this window, then propose.`,
    );
  let kept = observations;
  let flows: FlowRow[];
  if (engine) {
    flows = engine.flows();
  } else {
    // Another process owns the observations: a copy, never saved from here.
    const trust = checkStateDir(init.pinDir, { create: false });
    kept = trust ? Observations.load(trust) : new Observations();
    flows = readStatus(init.pinDir, { flows: true }).flows ?? [];
  }
  const db = accountsFresh();
  const { result, observed, summary } = proposeFrom({
    enforced: { resolved: enforced.resolved, text: enforced.text },
    observations: kept ?? new Observations(),
    flows,
    db,
    ...(sinceMs !== undefined ? { sinceMs } : {}),
  });
  const proposed = policyOfText(result.yaml, 'proposal');
  const doc = proposed ? policyToDoc(proposed) : null;
  return {
    doc,
    observed: observed.length,
    added: result.added,
    granted: result.granted,
    skipped: result.skipped.map((x) => ({
      iface: x.flow.iface,
      user: x.flow.unit ? `${nameOf(x.flow.uid)} (${x.flow.unit})` : nameOf(x.flow.uid),
      dst: hostPort(x.flow.family, x.flow.dst, x.flow.dport, x.flow.proto),
      why: x.why,
    })),
    message:
      observed.length === 0
        ? 'Nothing was observed dropped or would-drop yet: there is nothing to propose.'
        : `${summary}: ${result.added > 0 ? `${plural(result.added, 'new endpoint')} shown as pending changes; nothing is applied until you apply them` : 'nothing to add'}.`,
  };
}

// ---------------------------------------------------------------------------------------------
// Traffic batches.

/** Flow entries evicted, as of the last read of the flow table: the counter is read just before
 * the table, so a flow inserted in between is never counted as evicted. */
let flowsEvicted = 0;

function countersWire(c: Counters): TrafficCounters {
  return {
    allowed: Number(c.allowed_packets),
    dropped: Number(c.dropped_packets),
    wouldDrop: Number(c.would_drop_packets),
    unowned: Number(c.unowned_packets),
    nonip: Number(c.nonip_packets),
    essential: Number(c.essential_packets),
    lostKernel: Number(c.events_lost),
    lostBatching,
    suppressed: Number(c.events_suppressed),
    flowsEvicted,
  };
}

function flowKey(f: FlowRow): string {
  return `${f.ifindex}|${f.uid ?? 'u'}|${f.cgroupId}|${f.family}|${f.proto}|${f.dst}|${f.dport}`;
}

/** Flow entries whose counters changed since the last call, newest first, capped. */
function flowDeltas(rows: FlowRow[], endpointName: (id: number) => string | null): FlowWire[] {
  const out: FlowWire[] = [];
  const live = new Set<string>();
  for (const f of rows) {
    const key = flowKey(f);
    live.add(key);
    const sig = `${f.allowedPackets}/${f.droppedPackets}/${f.wouldDropPackets}/${f.lastSeen}`;
    if (flowSigs.get(key) === sig) continue;
    if (out.length >= LIMITS.batchFlows) continue; // sent next time: its signature stays old
    flowSigs.set(key, sig);
    out.push({
      key,
      iface: f.iface,
      uid: f.uid,
      user: nameOf(f.uid),
      family: f.family,
      proto: f.proto,
      dst: f.dst,
      dport: f.dport,
      sport: f.sport,
      allowedPackets: f.allowedPackets,
      allowedBytes: f.allowedBytes,
      droppedPackets: f.droppedPackets,
      droppedBytes: f.droppedBytes,
      wouldDropPackets: f.wouldDropPackets,
      wouldDropBytes: f.wouldDropBytes,
      firstSeen: f.firstSeen,
      lastSeen: f.lastSeen,
      verdict: f.verdict,
      reason: f.reason,
      endpoint: f.verdict === 'allow' ? endpointName(f.endpointId) : null,
      unit: f.unit,
      cgroup: f.cgroup,
    });
  }
  // Entries the LRU evicted: forget them so the map stays bounded.
  for (const k of flowSigs.keys()) if (!live.has(k)) flowSigs.delete(k);
  return out;
}

function ownerTick(): void {
  const e = engine;
  const h = host;
  if (!e || !h) return;
  h.accounts();
  const all = h.drain(MAX_DRAIN_CALLS).decisions;
  // Keep the newest: they are what the admin is looking at.
  const keep = Math.min(all.length, LIMITS.batchDecisions);
  lostBatching += all.length - keep;
  const decisions: TrafficRow[] = all.slice(all.length - keep).map((d) => {
    const { cgroup, unit } = h.named(d);
    return {
      seq: ++seq,
      time: d.time,
      iface: d.iface,
      uid: d.uid,
      user: nameOf(d.uid),
      family: d.family,
      proto: d.proto,
      src: d.src,
      sport: d.sport,
      dst: d.dst,
      dport: d.dport,
      bytes: d.bytes,
      verdict: d.verdict,
      reason: d.reason,
      endpoint: d.verdict === 'allow' ? e.endpointName(d.endpointId) : null,
      unit,
      cgroup,
    };
  });
  let flows: FlowWire[] = [];
  const now = Date.now();
  const rows = h.flows(now);
  if (rows) {
    flowsEvicted = h.evicted;
    flows = flowDeltas(rows, (id) => e.endpointName(id));
    const w = h.saveObservations(false, now);
    if (w) post({ type: 'error', message: w });
  }
  post({
    type: 'batch',
    batch: { time: now, decisions, flows, counters: countersWire(e.counters()) },
    lostBatching,
  });
}

/** Another instance owns the engine: read its counters and flows from the pins, never the ring
 * buffer (that would take the owner's events away). */
function observeTick(): void {
  let counters: TrafficCounters | null = null;
  let flows: FlowWire[] = [];
  try {
    // The same trust as the engine's: a planted directory or pin must not feed this window.
    const trust = checkPinDir(init.pinDir);
    const cm = trust && openTrustedPin(trust, 'ntf_counters');
    const fm = trust && openTrustedPin(trust, 'ntf_flows');
    if (!cm || !fm) {
      cm?.close();
      fm?.close();
      throw new Error('not loaded');
    }
    try {
      const v = cm.lookup(u32Buf(0));
      const c = v && decodeCounters(v, v.length / LAYOUTS.counters.size);
      // Counters first, then the table (see flowsEvicted).
      const rows = readFlows(fm, (i) => `if${i}`);
      if (c) {
        flowsEvicted = evictedFlows(c, rows.length);
        counters = countersWire(c);
      }
      flows = flowDeltas(rows, () => null);
    } finally {
      cm.close();
      fm.close();
    }
  } catch {
    // Not loaded (yet) or not readable: the status view says which.
  }
  post({ type: 'batch', batch: { time: Date.now(), decisions: [], flows, counters }, lostBatching });
}

// ---------------------------------------------------------------------------------------------

function status(): WorkerReplies['status'] {
  try {
    const s = readStatus(init.pinDir);
    return {
      loaded: s.loaded,
      ...(s.programId !== undefined ? { programId: s.programId } : {}),
      ...(s.programTag !== undefined ? { programTag: s.programTag } : {}),
      ...(s.epoch !== undefined ? { epoch: s.epoch } : {}),
      ...(s.owner ? { owner: s.owner } : {}),
      interfaces: s.interfaces.map((i) => ({
        name: i.name,
        ifindex: i.ifindex,
        attached: i.attached,
        ...(i.progId !== undefined ? { progId: i.progId } : {}),
        qdiscOurs: i.qdiscOurs,
        guardOnly: i.guardOnly,
        ...(i.settings ? { settings: i.settings } : {}),
      })),
      ranges: s.ranges,
      setEntries: s.setEntries,
      ...(s.windows ? { windows: s.windows, timeZone: hostZone() } : {}),
      libbpf: s.libbpf,
      kernel: s.kernel,
    };
  } catch (err) {
    const { libbpf, kernel } = readStatus('/nonexistent/net-tc-filter');
    return {
      loaded: false,
      interfaces: [],
      ranges: { v4: 0, v6: 0 },
      setEntries: 0,
      libbpf,
      kernel,
      unreadable: `${init.pinDir}: ${(err as Error).message}`,
    };
  }
}

function accounts(): WorkerReplies['accounts'] {
  const a = accountsFresh();
  const users = [...a.users].map(([name, u]) => ({ name, uid: u.uid })).sort((x, y) => x.uid - y.uid);
  const groups = [...a.groups]
    .map(([name, g]) => ({ name, gid: g.gid, members: g.members }))
    .sort((x, y) => x.gid - y.gid);
  const truncated = users.length > MAX_ACCOUNTS || groups.length > MAX_ACCOUNTS;
  return {
    users: users.slice(0, MAX_ACCOUNTS),
    groups: groups.slice(0, MAX_ACCOUNTS),
    truncated,
    humanUids: readHumanUids(),
  };
}

function stop(): WorkerReplies['stop'] {
  if (!engine) throw new ReplyError('read-only', 'this instance does not own the engine');
  const names = engine.attachments().map((a) => a.name);
  const pins = readdirSync(init.pinDir).length;
  for (const t of timers.splice(0)) clearInterval(t);
  engine.close({ unload: true });
  engine = undefined;
  host = undefined;
  onTrial = undefined;
  statusCache = undefined;
  return { filtersRemoved: names, pinsRemoved: pins };
}

/** Releases the engine; with `applied === false` (fresh state that never enforced anything) the
 * empty pinned state is removed too, so a look-only session leaves nothing behind. */
function close(): null {
  for (const t of timers.splice(0)) clearInterval(t);
  if (engine) {
    host?.saveObservations(true);
    engine.close({ unload: !engine.adopted && engine.epoch() === 0 });
    engine = undefined;
    host = undefined;
  }
  return null;
}

function handle(req: WorkerRequest): unknown {
  switch (req.cmd) {
    case 'apply':
      return apply(req.doc, req.expectEpoch, req.trialSeconds, req.fromHistory);
    case 'engine':
      return engineView();
    case 'preview':
      return preview(req.doc);
    case 'explain':
      return explainFlow(req.flow);
    case 'propose':
      return propose(req.sinceMs);
    case 'history':
      return history();
    case 'historyEntry':
      return historyEntryOf(req.n);
    case 'confirm':
      return confirm();
    case 'revert':
      return revert();
    case 'validate':
      return validate(req.doc);
    case 'status':
      return status();
    case 'accounts':
      return accounts();
    case 'stop':
      return stop();
    case 'close':
      return close();
  }
}

port.on('message', (req: WorkerRequest) => {
  try {
    post({ type: 'reply', id: req.id, ok: true, value: handle(req) });
  } catch (err) {
    const e = err as Error;
    post(
      err instanceof ReplyError
        ? {
            type: 'reply',
            id: req.id,
            ok: false,
            message: e.message,
            code: err.code,
            ...(err.diagnostics ? { diagnostics: err.diagnostics } : {}),
          }
        : { type: 'reply', id: req.id, ok: false, message: e.message },
    );
  }
});

function start(): void {
  if (init.role === 'owner') {
    try {
      engine = Engine.open({
        pinDir: init.pinDir,
        ...(init.objectPath ? { objectPath: init.objectPath } : {}),
        ...(init.eventsPerUser !== undefined ? { eventsPerUser: init.eventsPerUser } : {}),
      });
    } catch (err) {
      post({
        type: 'opened',
        ok: false,
        locked: err instanceof EngineLockedError ? (err.holder ?? null) : undefined,
        message: (err as Error).message,
      } as WorkerEvent);
      return;
    }
    // The saved policy is compared with what the kernel enforces, never applied here: whoever
    // could edit the file must not be able to change the policy by waiting for the next start.
    let compared: Extract<WorkerEvent, { type: 'opened'; ok: true }>['compared'];
    const kept = openObservations(init.pinDir);
    if (kept.warning) post({ type: 'error', message: kept.warning });
    observations = kept.observations;
    host = new EngineHost(engine, {
      accounts: accountDb,
      history: historyRecorder(init.pinDir),
      ...(observations ? { observations } : {}),
    });
    if (init.saved) {
      try {
        const { resolved } = resolveDoc(init.saved, accountDb.current);
        savedResolved = resolved;
        const c = engine.compareEnforced(resolved);
        compared = { equal: c.equal, ranges: c.ranges, interfaces: c.interfaces };
      } catch (err) {
        compared = { error: (err as Error).message };
      }
    }
    // What the kernel enforces now (a trial whose deadline passed: the policy before it).
    const epoch = engine.effectiveEpoch();
    post({
      type: 'opened',
      ok: true,
      adopted: engine.adopted,
      epoch: epoch === 0 ? null : epoch,
      ...(compared ? { compared } : {}),
    });
    timers.push(setInterval(tick(ownerTick), init.batchIntervalMs));
    timers.push(
      setInterval(
        tick(() => {
          for (const ev of host?.tick() ?? []) {
            if (ev.type === 'error') post({ type: 'error', message: ev.message });
            else if (ev.type === 'trial') post({ type: 'trial', event: trialEvent(ev.outcome) });
          }
        }),
        LINK_POLL_MS,
      ),
    );
  } else {
    post({ type: 'opened', ok: true, adopted: false, epoch: null });
    if (init.role === 'observe')
      timers.push(setInterval(tick(observeTick), Math.max(init.batchIntervalMs, 1000)));
  }
}

function tick(fn: () => void): () => void {
  return () => {
    try {
      fn();
    } catch (err) {
      post({ type: 'error', message: (err as Error).message });
    }
  };
}

start();
