// SPDX-License-Identifier: Apache-2.0
// Environment: Node (main process and CLI). No Electron import.
//
// How decisions and diagnostics are printed by the headless CLI.
import type { Decision, TrialInfo, TrialOutcome } from '../engine/engine.js';
import type { NamedDecision } from '../engine/host.js';
import { hostPort } from '../policy/addr.js';

// One owner: the engine host names senders and decisions (also for the desktop app).
export { senderName } from '../engine/host.js';
export type { NamedDecision } from '../engine/host.js';

/** How a printed line stands for folded decisions (see fold.ts). */
export interface LineFold {
  /** Decisions the line stands for (1: printed as it came). */
  count: number;
  /** Summary lines: the first folded decision's time (the line's `time` is the last one's). */
  firstTime?: number;
}

/** The flow a decision is folded into: every field of the decision but time, source and size. */
export function flowKey(d: Decision): string {
  return `${d.iface}\0${d.uid ?? 'unowned'}\0${d.cgroupId}\0${d.family}\0${d.proto}\0${d.dst}\0${d.dport}\0${d.verdict}\0${d.reason}\0${d.endpointId}\0${d.routed}`;
}

/** A `{"type":"decision"}` line; with `fold`, `count` (and `firstTime` on summaries) follow. */
export function decisionJson(d: NamedDecision, fold?: LineFold): string {
  return JSON.stringify({
    type: 'decision',
    time: new Date(d.time).toISOString(),
    iface: d.iface,
    uid: d.uid,
    user: d.user,
    family: d.family,
    proto: d.proto,
    src: d.src,
    dst: d.dst,
    sport: d.sport,
    dport: d.dport,
    bytes: d.bytes,
    verdict: d.verdict,
    reason: d.reason,
    endpoint: d.endpoint,
    unit: d.unit,
    cgroup: d.cgroup,
    // Only when the socket has no creation record: the uid is its current owner (docs/datapath.md).
    ...(d.uid !== null && !d.uidRecorded ? { uidRecorded: false } : {}),
    // Only when set: dst came from an IPv6 routing header (the packet would reach it).
    ...(d.routed ? { routed: true } : {}),
    ...(fold ? { count: fold.count } : {}),
    ...(fold?.firstTime !== undefined ? { firstTime: new Date(fold.firstTime).toISOString() } : {}),
  });
}

/** Verdicts in the text log, one width: audit mode's would-drop passed the packet. */
const VERDICT_TEXT = { allow: 'ALLOW     ', drop: 'DROP      ', 'would-drop': 'WOULD-DROP' } as const;

/** One text line; a summary ends in `×N since HH:MM:SS.mmm` (its bytes are the folded ones'). */
export function decisionText(d: NamedDecision, fold?: LineFold): string {
  const t = new Date(d.time).toISOString().slice(11, 23);
  const verdict = VERDICT_TEXT[d.verdict];
  const who = d.unit ? `${d.user} (${d.unit})` : d.user;
  const dst = hostPort(d.family, d.dst, d.dport, d.proto);
  const why = `${d.endpoint ? `${d.reason} ${d.endpoint}` : d.reason}${d.routed ? ' (via routing header)' : ''}`;
  const since =
    fold?.firstTime !== undefined
      ? ` ×${fold.count} since ${new Date(fold.firstTime).toISOString().slice(11, 23)}`
      : '';
  return `${t} ${verdict} ${d.iface.padEnd(8)} ${who.padEnd(14)} ${d.proto.padEnd(6)} ${dst.padEnd(30)} ${String(d.bytes).padStart(5)} B  ${why}${since}`;
}

/** Diagnostics are written as electron/policy/diagnostics.ts says (one owner). */
export { diagnosticJson, diagnosticText } from '../policy/diagnostics.js';

/** What a trial came to, in one line (run's log, the one-shot commands, answers to requests). */
export function trialOutcomeText(t: TrialOutcome): string {
  if (t.type === 'confirmed') return `confirmed: policy ${t.epoch} stays`;
  return t.by === 'kernel'
    ? `REVERTED by the kernel at ${new Date(t.at).toISOString()}: policy ${t.epoch} was not confirmed in time; policy ${t.previousEpoch} is enforced again`
    : `reverted: policy ${t.previousEpoch} is enforced again (policy ${t.epoch} was on trial)`;
}

/** A pending trial after an apply by run (its log and reload's answer). */
export function trialNotice(t: TrialInfo): string {
  return `TRIAL: policy ${t.previousEpoch} returns at ${new Date(t.deadline).toISOString()} (in ${t.secondsLeft} s) unless 'net-tc-filter confirm' runs`;
}
