// SPDX-License-Identifier: Apache-2.0
// Environment: Node (CLI, main process, worker). No Electron import.
//
// What the engine hosts write into the history (electron/engine/history.ts): every apply with
// where it came from, and what each trial came to. A revert puts the earlier policy back under a
// new epoch (see Engine.revert), so it is recorded as an apply of that policy (origin `revert`):
// the history always knows the policy of the epoch the kernel enforces.
import {
  accountName,
  enforcedPolicy,
  historyEntry,
  listHistory,
  recordApply,
  setOutcome,
} from './history.js';
import type { ApplyResult, Engine, TrialOutcome } from './engine.js';
import type { HistoryEntry } from './history.js';
import type { ApplyHow, HistoryRecorder } from './host.js';

/** The account behind this process, as the history names it. */
export function currentAccount(): string {
  return accountName();
}

const failed = (what: string, err: unknown) => [`history: ${what}: ${(err as Error).message}`];

export function historyRecorder(pinDir: string): HistoryRecorder {
  return {
    applied(engine: Engine, r: ApplyResult, how: ApplyHow): string[] {
      try {
        recordApply(pinDir, {
          state: engine.stateId,
          epoch: r.epoch,
          origin: how.origin,
          account: how.account ?? currentAccount(),
          text: how.text,
          ...(how.source !== undefined ? { source: how.source } : {}),
          ...(r.trial && how.trialSeconds
            ? { trial: { seconds: how.trialSeconds, deadline: new Date(r.trial.deadline).toISOString() } }
            : {}),
        });
        return [];
      } catch (err) {
        return failed(`recording policy ${r.epoch}`, err);
      }
    },
    outcome(engine: Engine, o: TrialOutcome): string[] {
      const state = engine.stateId;
      try {
        if (o.type === 'confirmed') {
          setOutcome(pinDir, { state, epoch: o.epoch }, 'confirmed');
          return [];
        }
        setOutcome(pinDir, { state, epoch: o.epoch }, o.by === 'kernel' ? 'reverted-by-kernel' : 'reverted', {
          now: new Date(o.at),
        });
        // Before a first trial nothing was applied (policy 0): there is no text to record again.
        if (o.previousEpoch === 0) return [];
        const before = enforcedPolicy(pinDir, state, o.previousEpoch);
        if (!before) return [`history: policy ${o.previousEpoch} (enforced again) is not in the history`];
        recordApply(pinDir, {
          state,
          epoch: engine.effectiveEpoch(),
          origin: 'revert',
          account: o.by === 'kernel' ? 'the kernel (trial deadline)' : currentAccount(),
          text: before.text,
          source: `history ${before.entry.n}`,
        });
        return [];
      } catch (err) {
        return failed(`recording the trial's outcome`, err);
      }
    },
  };
}

/**
 * When `text` is the policy of the last trial and that trial did not stay (the kernel or a revert
 * went back) and has not been applied since: the trial, and the newest entry (what is enforced
 * instead). A file left holding a reverted trial must not come back for good when `run` starts
 * again or reloads without --confirm: that would undo the kernel's revert.
 */
export function revertedTrial(
  pinDir: string,
  text: string,
): { trial: HistoryEntry; instead: HistoryEntry } | undefined {
  const entries = listHistory(pinDir).entries; // newest first
  const trial = entries.find((e) => e.trial);
  if (!trial || !trial.outcome.startsWith('reverted') || trial.text !== text) return undefined;
  const newer = entries.filter((e) => e.n > trial.n);
  if (newer.length === 0 || newer.some((e) => e.text === text)) return undefined;
  return { trial, instead: newer[0] as HistoryEntry };
}

/** The policy text of history entry n, or why there is none. */
export function historyText(pinDir: string, n: number): { text: string } | { error: string } {
  const e = historyEntry(pinDir, n);
  if (e) return { text: e.text };
  const all = listHistory(pinDir).entries;
  return {
    error: all.length
      ? `history entry ${n} does not exist (entries ${all[all.length - 1]?.n}..${all[0]?.n} do)`
      : `there is no history for ${pinDir}`,
  };
}
