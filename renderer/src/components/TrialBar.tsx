// SPDX-License-Identifier: Apache-2.0
// Environment: renderer. The trial bar, on every view while a trial is pending: Keep or Revert now,
// with the countdown from the kernel's deadline (EngineView.trial.deadline), not a local timer.
// Keep gets the focus when a trial starts.
import { useEffect, useRef } from 'react';
import { durationWords, secondsUntil } from '../logic/header.js';
import { useApp } from './hooks.js';

export function TrialBar() {
  const trial = useApp((s) => s.engine?.trial ?? null);
  const now = useApp((s) => s.now);
  const busy = useApp((s) => s.trialBusy);
  const readOnly = useApp((s) => s.appState?.mode !== 'enforcing');
  const confirm = useApp((s) => s.confirmTrial);
  const revert = useApp((s) => s.revertTrial);
  const keepRef = useRef<HTMLButtonElement>(null);
  const policy = trial?.policy ?? null;

  useEffect(() => {
    if (policy !== null && !readOnly) keepRef.current?.focus();
  }, [policy, readOnly]);

  if (!trial || trial.expired) return null;
  const left = secondsUntil(trial.deadline, now);
  const why = readOnly ? 'This window is read-only: it cannot keep or revert the trial.' : undefined;
  return (
    <div
      className="header-line-item trial-bar"
      data-testid="trial-bar"
      data-policy={trial.policy}
      role="region"
      aria-label="Trial"
    >
      <span className="line-text">
        <strong>Keep these changes?</strong>{' '}
        <span data-testid="trial-countdown">The previous policy returns in {durationWords(left)}</span>
        <span className="muted">
          {' '}
          {trial.previous > 0
            ? `(policy ${trial.policy} on trial; policy ${trial.previous} comes back unless you keep it)`
            : `(policy ${trial.policy} on trial; the kernel goes back to what it did before unless you keep it)`}
        </span>
      </span>
      <button
        ref={keepRef}
        type="button"
        className="btn btn-primary btn-small"
        disabled={busy || readOnly}
        title={why}
        aria-busy={busy || undefined}
        onClick={() => void confirm()}
      >
        Keep
      </button>
      <button
        type="button"
        className="btn btn-small"
        disabled={busy || readOnly}
        title={why}
        onClick={() => void revert()}
      >
        Revert now
      </button>
    </div>
  );
}
