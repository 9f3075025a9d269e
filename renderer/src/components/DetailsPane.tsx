// SPDX-License-Identifier: Apache-2.0
// Environment: renderer. The details of the decision or flow clicked in Live traffic: its
// fields, the engine's explanation (explain), and fixes that become pending changes (never
// applied here: the Policy tab shows them in the pending diff, Apply applies them).
import { Fragment, useEffect, useMemo, useRef, type ReactNode } from 'react';
import type { FlowWire, TrafficRow } from '../../../electron/ipc/contract.js';
import { actionsFor, type Action } from '../logic/actions.js';
import { indexAccounts, senderLabel } from '../logic/accounts.js';
import { formatBytes, formatCount, formatHostPort, formatTime } from '../logic/format.js';
import { reasonDetail, reasonText, VERDICT_WORDS } from '../logic/reasons.js';
import { useApp } from './hooks.js';
import '../styles/traffic.css';

function Field({ name, children }: { name: string; children: ReactNode }) {
  return (
    <>
      <dt>{name}</dt>
      <dd>{children}</dd>
    </>
  );
}

function DecisionFields({ row }: { row: TrafficRow }) {
  return (
    <>
      <Field name="Time">{formatTime(row.time)}</Field>
      <Field name="From">
        <span className="mono">{formatHostPort(row.src, row.sport, row.family)}</span>
        {row.sport > 0 && <span className="muted"> (local port {row.sport})</span>}
      </Field>
      <Field name="Bytes">{formatCount(row.bytes)}</Field>
    </>
  );
}

function FlowFields({ row }: { row: FlowWire }) {
  return (
    <>
      <Field name="Local port">{row.sport > 0 ? row.sport : '—'}</Field>
      <Field name="Allowed">
        {formatCount(row.allowedPackets)} packets, {formatBytes(row.allowedBytes)}
      </Field>
      <Field name="Dropped">
        {formatCount(row.droppedPackets)} packets, {formatBytes(row.droppedBytes)}
      </Field>
      <Field name="Seen">
        {formatTime(row.firstSeen)} – {formatTime(row.lastSeen)}
      </Field>
    </>
  );
}

export function DetailsPane({ onClose }: { onClose: () => void }) {
  const details = useApp((s) => s.details);
  const accounts = useApp((s) => s.accounts);
  const draft = useApp((s) => s.draft);
  const takeAction = useApp((s) => s.takeAction);
  const setView = useApp((s) => s.setView);
  const explain = details?.explain ?? null;
  const row = details?.target.row;
  const actions: Action[] = useMemo(
    () => (explain && row ? actionsFor(explain, row, draft) : []),
    [explain, row, draft],
  );
  // The fix's button goes once taken: the focus moves to "Review on the Policy tab".
  const review = useRef<HTMLButtonElement | null>(null);
  const added = details?.added ?? null;
  useEffect(() => {
    if (added) review.current?.focus();
  }, [added]);
  if (!details || !row) return null;
  const idx = accounts ? indexAccounts(accounts) : null;
  const user = senderLabel(idx, row.uid, row.user);
  const dest = formatHostPort(row.dst, row.dport, row.family);
  // The kernel may not name the endpoint of a not-listed drop; the engine's explanation does.
  const named = explain?.covering.length === 1 ? (explain.covering[0] ?? null) : null;
  const reason = { reason: row.reason, iface: row.iface, endpoint: row.endpoint ?? named };
  return (
    <aside className="details-pane" aria-label="Row details" data-testid="details-pane">
      <div className="details-head">
        <h2 className="details-title">
          <span className={`verdict verdict-${row.verdict}`}>{VERDICT_WORDS[row.verdict]}</span>{' '}
          {details.target.kind === 'flow' ? 'flow' : 'decision'}
        </h2>
        <button type="button" className="btn btn-small" onClick={onClose} aria-label="Close details">
          ✕
        </button>
      </div>
      <dl className="kv details-fields">
        <Field name="User">
          {user}
          {row.uid !== null && !user.includes(`uid ${row.uid}`) && (
            <span className="muted"> (uid {row.uid})</span>
          )}
        </Field>
        {(row.unit !== null || row.cgroup !== null) && (
          <Field name="Unit">
            <span data-testid="details-unit">{row.unit ?? <span className="muted">none</span>}</span>
            {row.cgroup !== null && (
              <span className="muted mono small details-cgroup" data-testid="details-cgroup">
                {' '}
                {row.cgroup.split('/').map((part, i) => (
                  <Fragment key={i}>
                    {i > 0 && '/'}
                    {i > 1 && <wbr />}
                    {part}
                  </Fragment>
                ))}
              </span>
            )}
          </Field>
        )}
        <Field name="Destination">
          <span className="mono">{dest}</span> <span className="muted">{row.proto}</span>
        </Field>
        <Field name="Interface">{row.iface}</Field>
        <Field name="Reason">
          <span data-testid="details-reason" title={reasonDetail(reason)}>
            {reasonText(reason)}
          </span>
        </Field>
      </dl>
      <section className="details-section" aria-label="Fixes">
        <h3>Fixes</h3>
        {explain && actions.length === 0 && !details.added && (
          <p className="muted small">
            {row.uid === null && (explain.verdict === 'drop' || explain.verdict === 'would-drop')
              ? 'No local socket: there is no user to allow.'
              : explain.verdict === 'drop' || explain.verdict === 'would-drop'
                ? 'Nothing to offer here (or the fix is pending already).'
                : 'Nothing to fix: it is not dropped.'}
          </p>
        )}
        {actions.length > 0 && (
          <div className="details-actions">
            {actions.map((a) => (
              <button
                key={`${a.kind}:${a.label}`}
                type="button"
                className="btn"
                data-testid="details-action"
                onClick={() => takeAction(a)}
              >
                {a.label}
              </button>
            ))}
            <p className="muted small">Each becomes a pending change; nothing is applied until you Apply.</p>
          </div>
        )}
        {details.added && (
          <div className="details-added" role="status" data-testid="details-added">
            <p>Added to pending changes: {details.added} — review it on the Policy tab and Apply.</p>
            <button
              ref={review}
              type="button"
              className="btn btn-primary btn-small"
              onClick={() => setView('policy')}
            >
              Review on the Policy tab
            </button>
          </div>
        )}
      </section>
      <section className="details-section" aria-label="Why">
        <h3>Why, says the engine</h3>
        {details.loading && <p className="muted">Asking the engine…</p>}
        {details.explainError && (
          <p className="diag-error" role="alert">
            The engine could not explain it: {details.explainError}
          </p>
        )}
        {explain && (
          <div className="explain-lines" data-testid="explain-text">
            {explain.lines.map((l, i) => (
              <p key={i}>{l}</p>
            ))}
            <p className="muted small">From {explain.source}.</p>
          </div>
        )}
      </section>
      <dl className="kv details-fields details-more">
        {details.target.kind === 'decision' ? (
          <DecisionFields row={details.target.row} />
        ) : (
          <FlowFields row={details.target.row} />
        )}
      </dl>
    </aside>
  );
}
