// SPDX-License-Identifier: Apache-2.0
// Environment: renderer. The History view: the engine's applied policies, newest first, with
// time, origin, account and outcome; the selected one's diff against its predecessor and its
// YAML; "Go back to this one" (its policy becomes the draft and the apply preview opens).
import { useEffect } from 'react';
import type { HistoryItem } from '../../../electron/ipc/contract.js';
import { clockTime, diffLines, originText, outcomeText } from '../store/history.js';
import { useApp } from './hooks.js';
import '../styles/policy.css';

/** One empty list (a selector must not return a new array each time). */
const NO_ENTRIES: HistoryItem[] = [];

function Detail() {
  const sel = useApp((s) => s.historySelected);
  const entry = useApp((s) => s.historyEntry);
  const error = useApp((s) => s.historyEntryError);
  const goBack = useApp((s) => s.goBackTo);
  const entries = useApp((s) => s.history?.entries ?? NO_ENTRIES);
  if (sel === null) return <p className="muted pad">Select an entry to see what it changed.</p>;
  if (!entry || entry.entry.n !== sel)
    return <p className="muted pad">{error ? `Could not read #${sel}: ${error}` : `Reading #${sel}…`}</p>;
  const e = entry.entry;
  const lines = diffLines(entry.diff);
  return (
    <div className="history-detail" data-testid="history-detail" data-n={e.n}>
      <h2 className="card-title">
        #{e.n} · policy {e.policy}
        <span className="muted small">
          {new Date(e.time).toLocaleString()} · {outcomeText(e, entries)}
        </span>
      </h2>
      <div className="toolbar">
        <button
          type="button"
          className="btn btn-primary-outline"
          disabled={e.current || !entry.doc}
          title={
            e.current
              ? 'The kernel enforces this one now'
              : !entry.doc
                ? 'This entry no longer converts to a policy the editor can hold'
                : 'Load it into the editor as pending changes and preview applying it as a trial'
          }
          onClick={() => void goBack(e.n)}
        >
          Go back to this one
        </button>
        <span className="muted small">
          {e.current
            ? 'In force now.'
            : 'Loads it as pending changes; the preview offers a trial. Nothing is applied yet.'}
        </span>
      </div>
      {error && <p className="field-error pad">{error}</p>}
      {entry.diagnostics.length > 0 && (
        <ul className="error-list">
          {entry.diagnostics.map((d, i) => (
            <li key={i}>{d.message}</li>
          ))}
        </ul>
      )}
      <h3 className="small pad">
        {entry.previous === null ? 'The first policy in the history' : `Changes against #${entry.previous}`}
      </h3>
      {lines.length === 0 ? (
        <p className="muted small pad" data-testid="history-diff">
          {entry.previous === null ? 'Nothing to compare with.' : 'Identical to the one before.'}
        </p>
      ) : (
        <pre className="udiff" data-testid="history-diff" aria-label={`Changes of #${e.n}`}>
          {lines.map((l, i) => (
            <span key={i} className={`udiff-${l.kind}`}>
              {l.text === '' ? ' ' : l.text}
            </span>
          ))}
        </pre>
      )}
      <details className="pad">
        <summary>The policy as applied (YAML)</summary>
        <pre className="history-yaml" data-testid="history-yaml">
          {entry.text}
        </pre>
      </details>
    </div>
  );
}

export function HistoryView() {
  const history = useApp((s) => s.history);
  const loading = useApp((s) => s.historyLoading);
  const error = useApp((s) => s.historyError);
  const selected = useApp((s) => s.historySelected);
  const select = useApp((s) => s.selectHistory);
  const refresh = useApp((s) => s.refreshHistory);
  // What the kernel enforces: when it changes (an apply, a trial kept or reverted), the list does.
  const key = useApp(
    (s) =>
      `${s.enforced?.epoch ?? '-'}/${s.engine?.policy ?? '-'}/${s.engine?.trial?.policy ?? '-'}/${s.engine?.lastTrial?.time ?? '-'}`,
  );
  useEffect(() => {
    void refresh();
  }, [refresh, key]);
  const entries = history?.entries ?? [];
  return (
    <div className="history-view" data-testid="history-view">
      <section className="card history-list" aria-labelledby="history-title">
        <h2 className="card-title" id="history-title">
          Applied policies <span className="count">{entries.length}</span>
          <button type="button" className="link history-refresh" onClick={() => void refresh()}>
            Refresh
          </button>
        </h2>
        {error && <p className="field-error pad">Could not read the history: {error}</p>}
        {history && entries.length === 0 && <p className="muted pad">Nothing was applied yet.</p>}
        {!history && loading && <p className="muted pad">Reading…</p>}
        {history?.warnings.map((w, i) => (
          <p key={i} className="field-warning pad small">
            {w}
          </p>
        ))}
        <ul aria-label="History entries">
          {entries.map((e) => (
            <li
              key={e.n}
              className={`history-item ${selected === e.n ? 'selected' : ''}`}
              data-testid="history-item"
              data-n={e.n}
              data-origin={e.origin}
              data-outcome={e.outcome}
              data-current={e.current ? '1' : '0'}
            >
              <button
                type="button"
                aria-current={selected === e.n ? 'true' : undefined}
                onClick={() => void select(e.n)}
              >
                <span className="history-row1">
                  <strong>#{e.n}</strong>
                  <span>policy {e.policy}</span>
                  {e.current && <span className="history-current">in force</span>}
                  <span
                    className={`history-outcome-${e.outcome === 'applied' || e.outcome === 'confirmed' ? 'kept' : e.outcome}`}
                  >
                    {outcomeText(e, entries)}
                  </span>
                </span>
                <span className="muted small">
                  {new Date(e.time).toLocaleDateString()} {clockTime(e.time)} · {originText(e.origin)} ·{' '}
                  {e.account}
                  {e.source ? ` · ${e.source}` : ''}
                </span>
              </button>
            </li>
          ))}
        </ul>
      </section>
      <section className="card" aria-label="Selected entry">
        <Detail />
      </section>
    </div>
  );
}
