// SPDX-License-Identifier: Apache-2.0
// Environment: Node (CLI). No Electron import.
//
// One-shot commands on the pinned state: apply (optionally a trial the kernel reverts by
// itself), reload (asks the running `run`), confirm and revert. None of them leaves a process
// behind: enforcement and a trial's deadline live in the kernel.
import { Engine, EngineLockedError, TrialStateError } from '../engine/engine.js';
import type { ApplyResult } from '../engine/engine.js';
import { EngineHost } from '../engine/host.js';
import { askRun, runOwner } from '../engine/requests.js';
import type { RequestCmd } from '../engine/requests.js';
import { readStatus } from '../engine/status.js';
import { currentAccount, historyRecorder, historyText } from '../engine/recorder.js';
import { hostWarnings } from '../engine/links.js';
import { hasErrors, loadPolicyText, readConfigText } from '../policy/load.js';
import { diagnosticText, trialOutcomeText } from './format.js';

export interface ApplyOptions {
  pinDir: string;
  config?: string;
  fromHistory?: number;
  confirmS?: number;
  /** The input cap of the config file (default MAX_POLICY_BYTES). */
  maxPolicyBytes?: number;
  /** Map sizes for freshly created state (EngineOptions). */
  rangeEntries?: number;
  setEntries?: number;
}

/** How long reload waits for run's answer (it applies, which takes well under a second). */
const RELOAD_WAIT_MS = 60_000;
const TRIAL_REQUEST_WAIT_MS = 15_000;

const say = (line: string) => process.stdout.write(`${line}\n`);
const complain = (line: string) => process.stderr.write(`net-tc-filter: ${line}\n`);

function appliedText(r: ApplyResult, pinDir: string): string[] {
  const names = r.attached.map((a) => (a.mode === 'audit' ? `${a.name} (AUDIT)` : a.name)).join(', ');
  const lines = [
    `applied policy ${r.epoch} to ${pinDir} on ${names || 'no interface'}` +
      (r.missing.length ? ` (waiting for ${r.missing.join(', ')})` : '') +
      (r.guardOnly.length ? `; its ranges guarded on ${r.guardOnly.map((g) => g.name).join(', ')} too` : '') +
      `; ${r.changes} map entries written in ${Math.round(r.totalMs)} ms`,
  ];
  for (const u of r.unguarded)
    lines.push(`warning: ${u.name}: guarded ranges are NOT guarded on this interface (${u.error})`);
  if (r.trial)
    lines.push(
      `TRIAL: unless 'net-tc-filter confirm' runs by ${new Date(r.trial.deadline).toISOString()} (${r.trial.secondsLeft} s), ` +
        `the kernel goes back to policy ${r.trial.previousEpoch} by itself; 'net-tc-filter revert' goes back now`,
    );
  else lines.push('enforcement continues without a process (pinned); net-tc-filter unload removes it');
  return lines;
}

export async function applyCommand(o: ApplyOptions): Promise<number> {
  let text: string;
  let source: string;
  if (o.fromHistory !== undefined) {
    const h = historyText(o.pinDir, o.fromHistory);
    if ('error' in h) {
      complain(h.error);
      return 1;
    }
    text = h.text;
    source = `history ${o.fromHistory}`;
  } else {
    const file = o.config as string;
    const r = readConfigText(file, o.maxPolicyBytes);
    if (r.text === undefined) {
      for (const d of r.diagnostics) process.stderr.write(`${diagnosticText(d)}\n`);
      return 1;
    }
    text = r.text;
    source = file;
  }

  const owner = runOwner(o.pinDir);
  if (owner) {
    complain(
      `${o.pinDir} is owned by pid ${owner.pid} (${owner.command}); ` +
        (owner.isRun
          ? `edit its config and run 'net-tc-filter reload${o.confirmS ? ` --confirm ${o.confirmS}` : ''}', or stop it first`
          : 'apply there, or stop it first'),
    );
    return 3;
  }

  let engine: Engine;
  try {
    engine = Engine.open({ pinDir: o.pinDir, rangeEntries: o.rangeEntries, setEntries: o.setEntries });
  } catch (err) {
    complain((err as Error).message);
    return err instanceof EngineLockedError ? 3 : 2;
  }
  const host = new EngineHost(engine, { history: historyRecorder(o.pinDir) });
  const loaded = loadPolicyText(text, source, host.reloadAccounts(), o.maxPolicyBytes);
  for (const d of loaded.diagnostics) process.stderr.write(`${diagnosticText(d)}\n`);
  if (hasErrors(loaded.diagnostics) || !loaded.resolved) {
    process.stderr.write(`${source}: not applied (errors above)\n`);
    engine.close({ unload: !engine.adopted });
    return 1;
  }
  for (const d of hostWarnings(loaded.resolved)) process.stderr.write(`${diagnosticText(d)}\n`);
  try {
    const { result, warnings } = host.apply(loaded.resolved, {
      origin: 'apply',
      text,
      source,
      account: currentAccount(),
      ...(o.confirmS ? { trialSeconds: o.confirmS } : {}),
    });
    if (result.settled) say(trialOutcomeText(result.settled));
    appliedText(result, o.pinDir).forEach(say);
    for (const w of warnings) complain(`warning: ${w}`);
    engine.close();
    return 0;
  } catch (err) {
    complain(`not applied, nothing changed: ${(err as Error).message}`);
    // Fresh state that never enforced anything is removed; adopted state keeps enforcing.
    engine.close({ unload: !engine.adopted });
    return err instanceof TrialStateError ? 1 : 2;
  }
}

export async function reloadCommand(o: { pinDir: string; confirmS?: number }): Promise<number> {
  const owner = runOwner(o.pinDir);
  if (!owner?.isRun) {
    complain(
      owner
        ? `${o.pinDir} is owned by pid ${owner.pid} (${owner.command}), not by 'net-tc-filter run'; nothing reloaded`
        : `no 'net-tc-filter run' holds ${o.pinDir}; nothing reloaded (use 'net-tc-filter apply --config FILE')`,
    );
    return 3;
  }
  const answer = await askRun(
    o.pinDir,
    { cmd: 'reload', account: currentAccount(), ...(o.confirmS ? { confirmS: o.confirmS } : {}) },
    RELOAD_WAIT_MS,
  );
  if (answer === undefined) {
    complain(`no 'net-tc-filter run' holds ${o.pinDir} any more; nothing reloaded`);
    return 3;
  }
  if ('timedOut' in answer) {
    complain(`run (pid ${answer.owner}) did not answer within ${RELOAD_WAIT_MS / 1000} s; see its log`);
    return 2;
  }
  answer.lines.forEach(say);
  for (const e of answer.errors) process.stderr.write(`${e}\n`);
  if (answer.code !== 0) complain('reload rejected; the policy before it stays');
  return answer.code;
}

async function trialCommand(cmd: Exclude<RequestCmd, 'reload'>, pinDir: string): Promise<number> {
  const s = readStatus(pinDir);
  if (!s.loaded) {
    complain(`nothing loaded at ${pinDir}`);
    return 3;
  }
  const owner = runOwner(pinDir);
  if (owner && !owner.isRun) {
    complain(`${pinDir} is owned by pid ${owner.pid} (${owner.command}); ${cmd} there`);
    return 3;
  }
  if (owner) {
    const answer = await askRun(pinDir, { cmd, account: currentAccount() }, TRIAL_REQUEST_WAIT_MS);
    if (answer && !('timedOut' in answer)) {
      answer.lines.forEach(say);
      for (const e of answer.errors) complain(e);
      return answer.code;
    }
    if (answer && 'timedOut' in answer) {
      complain(
        `run (pid ${answer.owner}) did not answer within ${TRIAL_REQUEST_WAIT_MS / 1000} s` +
          (cmd === 'confirm' ? '; without a confirm the kernel goes back at the deadline' : ''),
      );
      return 2;
    }
    // The owner went away meanwhile: do it here.
  }
  let engine: Engine;
  try {
    engine = Engine.open({ pinDir });
  } catch (err) {
    complain((err as Error).message);
    return err instanceof EngineLockedError ? 3 : 2;
  }
  const host = new EngineHost(engine, { history: historyRecorder(pinDir) });
  try {
    const { outcome, warnings } = cmd === 'confirm' ? host.confirm() : host.revert();
    say(trialOutcomeText(outcome));
    for (const w of warnings) complain(`warning: ${w}`);
    return 0;
  } catch (err) {
    complain((err as Error).message);
    return 1;
  } finally {
    engine.close();
  }
}

export function confirmCommand(o: { pinDir: string }): Promise<number> {
  return trialCommand('confirm', o.pinDir);
}

export function revertCommand(o: { pinDir: string }): Promise<number> {
  return trialCommand('revert', o.pinDir);
}
