// SPDX-License-Identifier: Apache-2.0
// Environment: renderer. Product name, mode badge, read-only banner and the notice line.
import { useApp } from './hooks.js';

export function Header() {
  const appState = useApp((s) => s.appState);
  const notice = useApp((s) => s.notice);
  const setNotice = useApp((s) => s.setNotice);
  const mode = appState?.mode;
  const ro = appState?.readOnly;
  return (
    <header className="header">
      <div className="header-bar">
        <div className="brand">
          <span className="brand-mark" aria-hidden="true" />
          <span className="brand-name">net-tc-filter</span>
          <span className="brand-sub">per-user egress filter</span>
        </div>
        <span
          data-testid="mode-badge"
          className={`badge mode ${mode === 'enforcing' ? 'mode-enforcing' : mode ? 'mode-readonly' : 'mode-unknown'}`}
        >
          {mode === 'enforcing' ? 'Enforcing' : mode === 'read-only' ? 'Read-only' : 'Connecting…'}
        </span>
        {appState && (
          <span className="header-user">
            {appState.user} (uid {appState.uid})
          </span>
        )}
      </div>
      {mode === 'read-only' && (
        <div data-testid="readonly-banner" className="banner banner-warn" role="status">
          <strong>{ro?.message ?? 'Read-only: this window cannot change the filter.'}</strong>
          {ro?.howTo && (
            <div className="banner-howto">
              <span>How to fix: </span>
              <code>{ro.howTo}</code>
            </div>
          )}
          {ro && ro.missing.length > 0 && <div>Missing capabilities: {ro.missing.join(', ')}</div>}
          {ro?.holder && (
            <div>
              The filter is owned by process {ro.holder.pid} ({ro.holder.command}).
            </div>
          )}
        </div>
      )}
      {notice && (
        <div className={`banner ${notice.kind === 'ok' ? 'banner-ok' : 'banner-error'}`} role="status">
          <span>{notice.text}</span>
          <button type="button" className="link" onClick={() => setNotice(null)} aria-label="Dismiss message">
            Dismiss
          </button>
        </div>
      )}
    </header>
  );
}
