// SPDX-License-Identifier: Apache-2.0
// Environment: any (pure). The header's words: what the kernel does now (EngineView), whether
// this window may change it (AppState) and how many changes are pending. Green only when every
// interface the policy configures is attached and enforcing. The UI never says "epoch" or "pins".
import type { AppState, EngineView } from '../../../electron/ipc/contract.js';

export type HeaderTone =
  /** Every configured interface is attached and enforcing. */
  | 'ok'
  /** Filtering, but not everything the policy configures is enforced (audit, absent, not attached). */
  | 'warn'
  /** Nothing is protected although a policy is loaded. */
  | 'danger'
  /** A trial is running: the previous policy comes back at the deadline. */
  | 'trial'
  /** Nothing loaded, or not known yet. */
  | 'off';

export interface HeaderInput {
  engine: EngineView | null;
  engineError: string | null;
  appState: AppState | null;
  /** Pending changes in the editor (selectDiff(s).count). */
  pending: number;
  /** Wall-clock ms now (the trial countdown against the kernel's deadline). */
  now: number;
}

export interface HeaderState {
  tone: HeaderTone;
  /** The state in one line. */
  text: string;
  /** This window's role: it can apply, or it only observes. */
  role: 'enforcing' | 'read-only' | 'unknown';
}

/** "eth0", "eth0 and eth1", "eth0, eth1 and eth2". */
export function listWords(names: string[]): string {
  if (names.length <= 1) return names.join('');
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

/** Seconds left until `deadline` (wall-clock ms), rounded up, never negative. */
export function secondsUntil(deadline: number, now: number): number {
  return Math.max(0, Math.ceil((deadline - now) / 1000));
}

/** "27 s", "2 min 5 s". */
export function durationWords(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  const m = Math.floor(seconds / 60);
  const s = seconds % 60;
  return s ? `${m} min ${s} s` : `${m} min`;
}

const pad = (n: number) => String(n).padStart(2, '0');

/** Local time as HH:MM:SS, with the date in front when it is not the day of `now`. */
export function clockTime(ms: number, now: number): string {
  const d = new Date(ms);
  const t = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  const n = new Date(now);
  const sameDay =
    d.getFullYear() === n.getFullYear() && d.getMonth() === n.getMonth() && d.getDate() === n.getDate();
  return sameDay ? t : `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${t}`;
}

function pendingWords(n: number): string {
  return n > 0 ? ` · ${n} pending` : '';
}

function roleOf(appState: AppState | null): HeaderState['role'] {
  return appState ? appState.mode : 'unknown';
}

export function headerState(i: HeaderInput): HeaderState {
  const role = roleOf(i.appState);
  const p = pendingWords(i.pending);
  const e = i.engine;
  if (!e) {
    if (i.engineError) return { tone: 'off', text: `Filter state unknown: ${i.engineError}`, role };
    return { tone: 'off', text: 'Connecting…', role };
  }
  if (e.unreadable) return { tone: 'off', text: `Filter state unknown: ${e.unreadable}${p}`, role };
  if (!e.loaded || e.policy === null) return { tone: 'off', text: `Not filtering${p}`, role };

  if (e.trial && !e.trial.expired) {
    const left = durationWords(secondsUntil(e.trial.deadline, i.now));
    return { tone: 'trial', text: `Trial: the previous policy returns in ${left}${p}`, role };
  }

  const enforcing: string[] = [];
  const auditing: string[] = [];
  const absent: string[] = [];
  const detached: string[] = [];
  for (const c of e.configured) {
    if (!c.present) absent.push(c.name);
    else if (!c.attached) detached.push(c.name);
    else if (c.mode === 'audit') auditing.push(c.name);
    else enforcing.push(c.name);
  }
  const guard = e.guardOnly.attached > 0;
  const guardAudit = guard && e.guardOnly.mode === 'audit';
  const policy = ` · policy ${e.policy}`;
  const missing: string[] = [];
  if (absent.length) missing.push(`${listWords(absent)} ${absent.length === 1 ? 'is' : 'are'} absent`);
  if (detached.length)
    missing.push(`${listWords(detached)} ${detached.length === 1 ? 'is' : 'are'} not attached`);

  // The policy configures interfaces but none of them is filtered: what it was written to protect
  // is not protected (the guarded ranges checked on other interfaces do not change that).
  if (e.configured.length && !enforcing.length && !auditing.length) {
    return { tone: 'danger', text: `Nothing protected: ${missing.join(', ')}${policy}${p}`, role };
  }
  if (!e.configured.length) {
    if (!guard)
      return { tone: 'danger', text: `Nothing protected: no interface is filtered${policy}${p}`, role };
    const what = guardAudit ? 'Auditing the guarded ranges' : 'Guarding the listed ranges';
    return { tone: guardAudit ? 'warn' : 'ok', text: `${what}${policy}${p}`, role };
  }

  // The interfaces no endpoint names (guard-only) are in the line below the header.
  const parts: string[] = [];
  if (enforcing.length) parts.push(`Filtering ${listWords(enforcing)}`);
  if (auditing.length) parts.push(`${parts.length ? 'auditing' : 'Auditing'} ${listWords(auditing)}`);
  const text = [...parts, ...missing].join(' · ') + policy + p;
  const allEnforced = !auditing.length && !missing.length && !guardAudit;
  return { tone: allEnforced ? 'ok' : 'warn', text, role };
}

/** The kernel went back at a trial's deadline (settled or not yet), or a revert did: one sentence
 * with the time; null when there is nothing to say. It goes when dismissed (`dismissed`: the time
 * of the one dismissed: lastTrial.time, or an unsettled trial's deadline) and once another policy
 * replaced the one put back (`policyThen`: the policy in force when this outcome was first seen;
 * the kernel numbers the policy put back anew). `previous`: the policy the trial replaced, when
 * this window saw the trial. */
export function lastTrialText(
  engine: EngineView | null,
  opts: { previous: number | null; policyThen: number | null; dismissed: number | null; now: number },
): string | null {
  if (!engine) return null;
  // The deadline passed and no process settled the trial yet: the kernel enforces the previous one.
  const x = engine.trial;
  if (x?.expired) {
    if (opts.dismissed === x.deadline) return null;
    const to = x.previous > 0 ? `policy ${x.previous}` : 'the previous policy';
    return `The kernel went back to ${to} at ${clockTime(x.deadline, opts.now)}: the trial of policy ${x.policy} was not kept`;
  }
  const t = engine.lastTrial;
  if (!t || x || opts.dismissed === t.time) return null;
  if (opts.policyThen !== null && engine.policy !== opts.policyThen) return null;
  const to = opts.previous !== null && opts.previous > 0 ? `policy ${opts.previous}` : 'the previous policy';
  const at = clockTime(t.time, opts.now);
  return t.outcome === 'reverted-by-kernel'
    ? `The kernel went back to ${to} at ${at}: the trial of policy ${t.policy} was not kept`
    : `Reverted to ${to} at ${at}: the trial of policy ${t.policy} was not kept`;
}
