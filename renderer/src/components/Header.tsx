// SPDX-License-Identifier: Apache-2.0
// Environment: renderer. The header: what the kernel does now (from getEngine, never from whether
// this window could apply), this window's role, and one reserved line for the trial bar, the
// kernel-went-back notice or the read-only reason. Its height never changes; passing notices
// float over the page (they never push the layout). Also mounts the Apply preview dialog.
import { useState } from 'react';
import type { EngineView } from '../../../electron/ipc/contract.js';
import { headerState, lastTrialText } from '../logic/header.js';
import { selectDiff } from '../store/selectors.js';
import { ApplyPreview } from './ApplyPreview.js';
import { useApp } from './hooks.js';
import { TrialBar } from './TrialBar.js';
import '../styles/rollout.css';

function ReadOnlyLine() {
  const ro = useApp((s) => s.appState?.readOnly);
  const [open, setOpen] = useState(false);
  const message = ro?.message ?? 'Read-only: this window cannot change the filter.';
  return (
    <div data-testid="readonly-banner" className="header-line-item readonly-line" role="status">
      <span className="line-text" title={ro?.howTo ? `${message} How to fix: ${ro.howTo}` : message}>
        <strong>{message}</strong>
        {ro?.howTo && (
          <>
            {' '}
            <span>How to fix: </span>
            <code>{ro.howTo}</code>
          </>
        )}
      </span>
      {ro && (
        <button
          type="button"
          className="link"
          aria-expanded={open}
          aria-controls="readonly-details"
          onClick={() => setOpen(!open)}
        >
          {open ? 'Hide details' : 'Details'}
        </button>
      )}
      {ro && (
        <div id="readonly-details" className="readonly-details" hidden={!open}>
          <p>{message}</p>
          {ro.howTo && (
            <p>
              How to fix: <code>{ro.howTo}</code>
            </p>
          )}
          {ro.missing.length > 0 && <p>Missing capabilities: {ro.missing.join(', ')}</p>}
          {ro.holder && (
            <p>
              The filter is owned by process {ro.holder.pid} ({ro.holder.command}).
            </p>
          )}
          <p className="muted">This window shows what the kernel does; it cannot change it.</p>
        </div>
      )}
    </div>
  );
}

/** Per interface, what the kernel does there (the reserved line when nothing else needs it). */
function engineDetail(engine: EngineView | null): string {
  if (!engine) return '';
  if (engine.unreadable) return `What the kernel does cannot be read here: ${engine.unreadable}`;
  if (!engine.loaded || engine.policy === null)
    return 'Nothing is filtered: every packet passes. Audit mode (Interface settings → Mode) shows what a policy would drop before it drops anything.';
  const parts = engine.configured.map((c) => {
    const what = !c.present
      ? 'absent, nothing filtered until it appears'
      : !c.attached
        ? 'not attached'
        : c.mode === 'audit'
          ? `auditing (drops nothing), default ${c.default}`
          : `filtering, default ${c.default}`;
    return `${c.name}: ${what}`;
  });
  if (engine.guardOnly.attached > 0)
    parts.push(
      `${engine.guardOnly.attached} other interface${engine.guardOnly.attached === 1 ? '' : 's'}: only the guarded ranges are checked${engine.guardOnly.mode === 'audit' ? ' (auditing)' : ''}`,
    );
  if (engine.owner) parts.push(`run by process ${engine.owner.pid} (${engine.owner.command})`);
  return parts.join(' · ');
}

function LastTrialLine({ text }: { text: string }) {
  const dismiss = useApp((s) => s.dismissLastTrial);
  return (
    <div data-testid="last-trial" className="header-line-item last-trial" role="status">
      <span className="line-text">{text}</span>
      <button type="button" className="link" onClick={dismiss}>
        Dismiss
      </button>
    </div>
  );
}

function Notice() {
  const notice = useApp((s) => s.notice);
  const setNotice = useApp((s) => s.setNotice);
  if (!notice) return null;
  return (
    <div
      data-testid="notice"
      className={`toast ${notice.kind === 'ok' ? 'toast-ok' : 'toast-error'}`}
      role={notice.kind === 'error' ? 'alert' : 'status'}
    >
      <span>{notice.text}</span>
      <button type="button" className="link" onClick={() => setNotice(null)} aria-label="Dismiss message">
        Dismiss
      </button>
    </div>
  );
}

export function Header() {
  const appState = useApp((s) => s.appState);
  const engine = useApp((s) => s.engine);
  const engineError = useApp((s) => s.engineError);
  const now = useApp((s) => s.now);
  const pending = useApp((s) => selectDiff(s).count);
  const trialSeen = useApp((s) => s.trialSeen);
  const dismissed = useApp((s) => s.lastTrialDismissed);
  const first = useApp((s) => s.lastTrialFirst);
  const h = headerState({ engine, engineError, appState, pending, now });
  const t = engine?.lastTrial;
  const back = lastTrialText(engine, {
    previous: t && trialSeen?.policy === t.policy ? trialSeen.previous : null,
    policyThen: t && first?.time === t.time ? first.policy : null,
    dismissed,
    now,
  });
  const trial = engine?.trial && !engine.trial.expired;
  return (
    <header className="header">
      <div className="header-bar">
        <div className="brand">
          <span className="brand-mark" aria-hidden="true" />
          <span className="brand-name">net-tc-filter</span>
        </div>
        <span data-testid="engine-state" data-tone={h.tone} className={`engine-state tone-${h.tone}`}>
          <span className="engine-dot" aria-hidden="true" />
          <span className="line-text">{h.text}</span>
        </span>
        <span
          data-testid="mode-badge"
          data-mode={h.role}
          className={`badge mode ${h.role === 'enforcing' ? 'mode-enforcing' : h.role === 'read-only' ? 'mode-readonly' : 'mode-unknown'}`}
          title={
            h.role === 'enforcing'
              ? 'This window can apply policies'
              : h.role === 'read-only'
                ? 'This window shows what the kernel does but cannot change it'
                : undefined
          }
        >
          {h.role === 'enforcing' ? 'Can apply' : h.role === 'read-only' ? 'Read-only' : 'Connecting…'}
        </span>
        {appState && (
          <span className="header-user">
            {appState.user} (uid {appState.uid})
          </span>
        )}
      </div>
      <div className="header-line">
        {trial ? (
          <TrialBar />
        ) : back ? (
          <LastTrialLine text={back} />
        ) : appState?.mode === 'read-only' ? (
          <ReadOnlyLine />
        ) : (
          <div className="header-line-item muted small" data-testid="engine-detail">
            <span className="line-text">{engineDetail(engine)}</span>
          </div>
        )}
      </div>
      <Notice />
      <ApplyPreview />
    </header>
  );
}
