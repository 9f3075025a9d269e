// SPDX-License-Identifier: Apache-2.0
// Environment: any (pure functions; the engine worker composes them with what it reads).
//
// What the engine worker answers, shaped for the IPC contract from what the engine, the pinned
// state and the history hold: the engine view (getEngine), a trial, the preview's flow lists,
// history items. Kept apart from the worker so that they can be tested without a kernel.
import type { TrialInfo } from '../engine/engine.js';
import { historyDiff } from '../engine/history.js';
import type { HistoryEntry } from '../engine/history.js';
import type { EngineStatus } from '../engine/status.js';
import { LIMITS } from '../ipc/contract.js';
import type {
  EngineView,
  HistoryEntryResult,
  HistoryItem,
  Preview,
  PreviewFlow,
  TrialView,
} from '../ipc/contract.js';
import { policyToDoc } from '../policy/doc.js';
import { guardOnlyAudit } from '../policy/evaluate.js';
import type { ImpactReport, ImpactRow } from '../policy/impact.js';
import type { ResolvedPolicy } from '../policy/types.js';
import { parsePolicy } from '../policy/yaml.js';

/** A trial as the contract shows it; `secondsLeft` and `expired` as of `now` (a cached read of
 * the pins stays right). */
export function trialView(
  t: TrialInfo | Omit<TrialInfo, 'deadlineNs'> | undefined,
  now = Date.now(),
): TrialView | null {
  if (!t) return null;
  const left = Math.max(0, Math.ceil((t.deadline - now) / 1000));
  return {
    policy: t.epoch,
    previous: t.previousEpoch,
    deadline: t.deadline,
    secondsLeft: t.expired ? 0 : Math.min(t.secondsLeft, left),
    expired: t.expired || t.deadline <= now,
  };
}

/** The wall-clock deadline a trial was first shown with, while it is the same trial: the kernel's
 * deadline is on CLOCK_BOOTTIME and its wall-clock form jitters by a millisecond between reads. */
export function steadyTrial(
  t: TrialView | null,
  first: TrialView | undefined,
  now = Date.now(),
): TrialView | null {
  if (!t || !first) return t;
  if (
    first.policy !== t.policy ||
    first.previous !== t.previous ||
    Math.abs(first.deadline - t.deadline) >= 1000
  )
    return t;
  const left = Math.max(0, Math.ceil((first.deadline - now) / 1000));
  const expired = t.expired || first.deadline <= now;
  return { ...t, deadline: first.deadline, secondsLeft: expired ? 0 : left, expired };
}

export interface EngineViewInput {
  /** readStatus of the pin directory (with lastTrial). */
  status?: EngineStatus;
  /** Why the pins could not be read. */
  unreadable?: string;
  /** This process owns the engine: `epoch` and `trial` are the engine's own, fresher than `status`. */
  owned?: boolean;
  epoch?: number;
  trial?: TrialInfo | undefined;
  /** The enforced policy when known (the engine's, else the history's). */
  resolved?: ResolvedPolicy | undefined;
  present: (name: string) => boolean;
}

const EMPTY_VIEW = {
  loaded: false,
  policy: null,
  configured: [],
  guardOnly: { attached: 0, mode: 'enforce' as const },
  trial: null,
  lastTrial: null,
};

/** What the kernel does now, for the header. */
export function engineViewOf(i: Partial<EngineViewInput>): EngineView {
  const s = i.status;
  if (!s) return { ...EMPTY_VIEW, owner: null, unreadable: i.unreadable ?? 'the state cannot be read' };
  const owner = i.owned ? null : (s.owner ?? null);
  if (!s.loaded) return { ...EMPTY_VIEW, owner };
  const epoch = i.owned && i.epoch !== undefined ? i.epoch : (s.epoch ?? 0);
  const trial = i.owned ? trialView(i.trial) : trialView(s.trial);
  const resolved = i.resolved;
  const present = i.present ?? (() => true);
  const attachedNow = new Map(s.interfaces.map((x) => [x.name, x]));
  const configured: EngineView['configured'] = resolved
    ? [...resolved.interfaces].map(([name, st]) => ({
        name,
        present: present(name),
        attached: attachedNow.get(name)?.attached ?? false,
        mode: st.mode,
        default: st.default,
      }))
    : s.interfaces
        .filter((x) => x.settings)
        .map((x) => ({
          name: x.name,
          present: true,
          attached: x.attached,
          mode: x.settings?.mode ?? 'enforce',
          default: x.settings?.default ?? 'deny',
        }));
  const names = new Set(configured.map((c) => c.name));
  const audit = resolved
    ? guardOnlyAudit(resolved.interfaces)
    : configured.length > 0 && configured.every((c) => c.mode === 'audit');
  const lt = s.lastTrial;
  return {
    loaded: true,
    policy: epoch === 0 ? null : epoch,
    configured,
    guardOnly: {
      attached: s.interfaces.filter((x) => x.attached && !names.has(x.name)).length,
      mode: audit ? 'audit' : 'enforce',
    },
    trial,
    lastTrial:
      lt && (lt.outcome === 'reverted-by-kernel' || lt.outcome === 'reverted')
        ? { policy: lt.epoch, outcome: lt.outcome, time: Date.parse(lt.time), historyN: lt.historyN }
        : null,
    owner,
  };
}

export const NOTHING_OBSERVED =
  'Nothing is filtered yet, so no traffic was observed to preview this policy against. To see what it ' +
  'would drop without dropping anything, apply it in audit mode first (interface settings).';

export function previewFlow(r: ImpactRow): PreviewFlow {
  const v = (x: ImpactRow['before']) => ({ verdict: x.verdict, reason: x.reason, endpoint: x.endpoint });
  return {
    iface: r.iface,
    uid: r.uid,
    user: r.user,
    family: r.family,
    proto: r.proto,
    dst: r.dst,
    dport: r.dport,
    sport: r.sport,
    unit: r.unit,
    cgroup: r.cgroup,
    packets: r.packets,
    bytes: r.bytes,
    lastSeen: r.lastSeen,
    before: v(r.before),
    after: v(r.after),
    ...(r.server
      ? {
          server: {
            port: r.server.port,
            ...(r.server.command !== undefined ? { command: r.server.command } : {}),
          },
        }
      : {}),
    ...(r.warning ? { warning: r.warning } : {}),
  };
}

/** Servers' replies (the admin's own sessions) first, then as impactOf ordered them (biggest). */
export function serversFirst(rows: ImpactRow[]): ImpactRow[] {
  return [...rows.filter((r) => r.server), ...rows.filter((r) => !r.server)];
}

/** The impact report as the preview's lists: newly dropped, newly allowed, newly reported
 * (would-drop), each servers' replies first and capped at `limit` (the rest counted in `more`). */
export function previewImpact(
  report: ImpactReport,
  limit: number = LIMITS.previewFlows,
): NonNullable<Preview['impact']> {
  let more = 0;
  const list = (rows: ImpactRow[]) => {
    more += Math.max(0, rows.length - limit);
    return serversFirst(rows).slice(0, limit).map(previewFlow);
  };
  return {
    evaluated: report.evaluated,
    baseline: report.baseline,
    newlyDropped: list(report.changed.filter((r) => r.after.verdict === 'drop')),
    newlyAllowed: list(report.changed.filter((r) => r.after.verdict === 'allow')),
    newlyReported: list(report.changed.filter((r) => r.after.verdict === 'would-drop')),
    more,
  };
}

/** The entry in force: the newest of the kernel's effective epoch in its pinned state. */
export function currentEntry(
  entries: readonly HistoryEntry[],
  stateId: string | undefined,
  epoch: number | undefined,
): HistoryEntry | undefined {
  return stateId !== undefined && epoch
    ? entries.find((e) => e.state === stateId && e.epoch === epoch)
    : undefined;
}

export function historyItem(e: HistoryEntry, current: HistoryEntry | undefined): HistoryItem {
  return {
    n: e.n,
    policy: e.epoch,
    time: Date.parse(e.time),
    origin: e.origin,
    account: e.account,
    outcome: e.outcome,
    ...(e.outcomeTime ? { outcomeTime: Date.parse(e.outcomeTime) } : {}),
    ...(e.trial ? { trial: { seconds: e.trial.seconds, deadline: Date.parse(e.trial.deadline) } } : {}),
    ...(e.source !== undefined ? { source: e.source } : {}),
    current: e === current,
  };
}

/** One entry with its document and its diff against the entry before it (`entries`: newest first;
 * the previous one is the next older entry of the same pinned state). */
export function historyEntryView(
  entries: readonly HistoryEntry[],
  e: HistoryEntry,
  current: HistoryEntry | undefined,
): HistoryEntryResult {
  const prev = entries.find((x) => x.n < e.n && x.state === e.state);
  const parsed = parsePolicy(e.text, `history ${e.n}`);
  const failed = !parsed.policy || parsed.diagnostics.some((d) => d.severity === 'error');
  return {
    entry: historyItem(e, current),
    text: e.text,
    doc: failed || !parsed.policy ? null : policyToDoc(parsed.policy),
    diagnostics: parsed.diagnostics,
    previous: prev?.n ?? null,
    diff: prev ? historyDiff(prev.text, e.text, `history ${prev.n}`, `history ${e.n}`) : '',
  };
}
