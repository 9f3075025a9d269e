// SPDX-License-Identifier: Apache-2.0
// Environment: renderer. Apply shows its effect first: a modal dialog with what the draft does per
// interface in plain words and the engine's impact preview (recently seen flows that would newly
// be dropped — the admin's own sessions first —, newly allowed, newly reported), then "Apply as
// trial" (the default when something is newly dropped or a default turns to deny), "Apply", and,
// where a deny default is the cause, "Guard only these ranges" (a pending change, previewed again).
import { useEffect, useRef, useState, type KeyboardEvent } from 'react';
import { useShallow } from 'zustand/react/shallow';
import type { InterfaceEffect, LIMITS, Preview, PreviewFlow } from '../../../electron/ipc/contract.js';
import { hostPort } from '../../../electron/policy/addr.js';
import { formatBytes, formatCount } from '../logic/format.js';
import { DEFAULT_TRIAL_SECONDS } from '../store/engine.js';
import { applyBlockers } from '../store/selectors.js';
import { keepTabInside, useApp } from './hooks.js';

type TrialLimits = (typeof LIMITS)['trialSeconds'];
/** LIMITS.trialSeconds (a type-only import: the renderer bundle takes no values from the contract;
 * the compiler checks these literals against it). */
const TRIAL_MIN: TrialLimits['min'] = 10;
const TRIAL_MAX: TrialLimits['max'] = 3600;
const TRIAL_CHOICES = [TRIAL_MIN, 30, DEFAULT_TRIAL_SECONDS, 120, 300, 600, 1800, TRIAL_MAX];

function secondsLabel(s: number): string {
  if (s < 60) return `${s} seconds`;
  if (s < 3600) return `${s / 60} minute${s === 60 ? '' : 's'}`;
  return `${s / 3600} hour${s === 3600 ? '' : 's'}`;
}

const VERDICT_WORDS: Record<string, string> = {
  allow: 'allowed',
  drop: 'dropped',
  'would-drop': 'would drop',
};

function FlowTable({ flows, label, testid }: { flows: PreviewFlow[]; label: string; testid: string }) {
  return (
    <table className="preview-flows" data-testid={testid} aria-label={label}>
      <thead>
        <tr>
          <th scope="col">User</th>
          <th scope="col">Interface</th>
          <th scope="col">Destination</th>
          <th scope="col">Local port</th>
          <th scope="col" className="num">
            Packets
          </th>
          <th scope="col" className="num">
            Bytes
          </th>
          <th scope="col">Now → after</th>
        </tr>
      </thead>
      <tbody>
        {flows.map((f, i) => (
          <tr
            key={i}
            data-testid="preview-flow"
            data-server={f.server ? f.server.port : undefined}
            data-sport={f.sport}
            className={f.server ? 'flow-server' : undefined}
          >
            <td>{f.user}</td>
            <td>{f.iface}</td>
            <td className="mono">
              {f.proto} {hostPort(f.family, f.dst, f.dport, f.proto)}
            </td>
            <td className="mono">
              {f.sport || '—'}
              {f.server ? ` (${f.server.command ?? 'server'})` : ''}
            </td>
            <td className="num">{formatCount(f.packets)}</td>
            <td className="num">{formatBytes(f.bytes)}</td>
            <td>
              {VERDICT_WORDS[f.before.verdict] ?? f.before.verdict} →{' '}
              {VERDICT_WORDS[f.after.verdict] ?? f.after.verdict}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Effects({ effects }: { effects: InterfaceEffect[] }) {
  return (
    <ul className="preview-effects" data-testid="preview-effects">
      {effects.map((e, i) => (
        <li key={i} className={`effect effect-${e.tone}`} data-tone={e.tone} data-iface={e.iface ?? ''}>
          <span className="effect-text">{e.text}</span>
          {e.turnsDeny && <span className="badge effect-badge">now denies by default</span>}
        </li>
      ))}
    </ul>
  );
}

function Impact({ p }: { p: Preview }) {
  const im = p.impact;
  if (!im)
    return (
      <p className="muted" data-testid="impact-note">
        {p.impactNote ?? 'No traffic to judge by.'}
      </p>
    );
  const servers = im.newlyDropped.filter((f) => f.server);
  const nothing = !im.newlyDropped.length && !im.newlyAllowed.length && !im.newlyReported.length;
  return (
    <>
      {servers.length > 0 && (
        <div className="preview-warning" role="alert" data-testid="preview-sessions">
          <strong>Your own sessions may be cut off:</strong>
          <ul>
            {servers.map((f, i) => (
              <li key={i}>
                {f.warning ??
                  `replies of the service listening on TCP port ${f.server?.port} to ${f.dst} on ${f.iface} would be dropped`}
              </li>
            ))}
          </ul>
        </div>
      )}
      {nothing && (
        <p className="muted" data-testid="impact-none">
          None of the {formatCount(im.evaluated)} recently seen flow{im.evaluated === 1 ? '' : 's'} changes
          its verdict.
        </p>
      )}
      {im.newlyDropped.length > 0 && (
        <section className="preview-section">
          <h3 className="deny-text">Newly dropped ({im.newlyDropped.length})</h3>
          <FlowTable flows={im.newlyDropped} label="Newly dropped" testid="newly-dropped" />
        </section>
      )}
      {im.newlyAllowed.length > 0 && (
        <section className="preview-section">
          <h3>Newly allowed ({im.newlyAllowed.length})</h3>
          <FlowTable flows={im.newlyAllowed} label="Newly allowed" testid="newly-allowed" />
        </section>
      )}
      {im.newlyReported.length > 0 && (
        <section className="preview-section">
          <h3>Newly reported as “would drop” (they still pass) ({im.newlyReported.length})</h3>
          <FlowTable flows={im.newlyReported} label="Newly reported" testid="newly-reported" />
        </section>
      )}
      {im.more > 0 && (
        <p className="muted small">
          {formatCount(im.more)} more changed flow{im.more === 1 ? '' : 's'} not listed.
        </p>
      )}
      <p className="muted small">
        {im.baseline === 'enforced'
          ? `Judged by the ${formatCount(im.evaluated)} recently seen flow${im.evaluated === 1 ? '' : 's'}, against the policy in force.`
          : `Judged by the ${formatCount(im.evaluated)} recently seen flow${im.evaluated === 1 ? '' : 's'}, against the verdicts they got (the policy in force is not known here).`}
        {p.impactNote ? ` ${p.impactNote}` : ''}
      </p>
    </>
  );
}

/** The deny-default interfaces behind this change: where "Guard only these ranges" applies. */
function guardCandidates(p: Preview): string[] {
  const dropped = new Set(p.impact?.newlyDropped.map((f) => f.iface) ?? []);
  return p.effects
    .filter((e) => e.iface !== null && e.tone === 'deny' && (e.turnsDeny || dropped.has(e.iface)))
    .map((e) => e.iface as string);
}

export function ApplyPreview() {
  const open = useApp((s) => s.previewOpen);
  if (!open) return null;
  return <PreviewDialog />;
}

function PreviewDialog() {
  const preview = useApp((s) => s.preview);
  const loading = useApp((s) => s.previewLoading);
  const error = useApp((s) => s.previewError);
  const fromHistory = useApp((s) => s.previewFor.fromHistory);
  const applying = useApp((s) => s.applying);
  const result = useApp((s) => s.applyResult);
  const blockers = useApp(useShallow(applyBlockers));
  const close = useApp((s) => s.closePreview);
  const applyFrom = useApp((s) => s.applyFromPreview);
  const guardOnly = useApp((s) => s.guardOnlyFromPreview);
  const [seconds, setSeconds] = useState(DEFAULT_TRIAL_SECONDS);
  const ref = useRef<HTMLDialogElement>(null);
  const primaryRef = useRef<HTMLButtonElement>(null);

  // Modal (the page behind is inert); focus comes back to where it was when it closes.
  useEffect(() => {
    const d = ref.current;
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    if (d && !d.open) d.showModal();
    d?.focus();
    return () => {
      if (opener?.isConnected) opener.focus();
    };
  }, []);

  useEffect(() => {
    if (preview) primaryRef.current?.focus();
  }, [preview]);

  const errors = preview?.diagnostics.filter((d) => d.severity === 'error') ?? [];
  const warnings = preview?.diagnostics.filter((d) => d.severity === 'warning') ?? [];
  const unchanged = preview?.unchanged === true;
  const why = blockers.filter((b) => b !== 'Applying…');
  // A preview that could not be worked out (not a policy error) does not stop an apply: it says
  // why, and the trial stays the default.
  const judged = !!preview || (!!error && error.diagnostics.length === 0);
  const canApply = judged && !loading && !applying && !errors.length && !unchanged && why.length === 0;
  const trialFirst = preview?.trialDefault ?? true;
  const guards = preview && !errors.length ? guardCandidates(preview) : [];
  const failed = result && result.kind !== 'ok' ? result : null;

  const onKeyDown = (e: KeyboardEvent<HTMLDialogElement>) => keepTabInside(e, ref.current);

  const trialButton = (
    <button
      key="trial"
      ref={trialFirst ? primaryRef : undefined}
      type="button"
      className={`btn ${trialFirst ? 'btn-primary' : ''}`}
      disabled={!canApply}
      aria-busy={applying || undefined}
      onClick={() => void applyFrom(true, seconds)}
    >
      Apply as trial
    </button>
  );
  const applyButton = (
    <button
      key="apply"
      ref={trialFirst ? undefined : primaryRef}
      type="button"
      className={`btn ${trialFirst ? '' : 'btn-primary'}`}
      disabled={!canApply}
      onClick={() => void applyFrom(false)}
    >
      Apply
    </button>
  );

  return (
    <dialog
      ref={ref}
      className="apply-preview"
      aria-labelledby="apply-preview-title"
      aria-describedby="apply-preview-lead"
      data-testid="apply-preview"
      tabIndex={-1}
      onCancel={(e) => {
        e.preventDefault();
        close();
      }}
      onKeyDown={onKeyDown}
    >
      <div className="preview-head">
        <h2 id="apply-preview-title">
          {fromHistory !== undefined ? `Go back to history entry ${fromHistory}?` : 'Apply these changes?'}
        </h2>
        <p id="apply-preview-lead" className="muted small">
          What the draft does, and what it changes for the traffic seen recently. Nothing is applied yet.
        </p>
      </div>
      <div className="preview-body">
        {loading && (
          <p className="muted" role="status">
            Working out what this changes…
          </p>
        )}
        {error && (
          <div className="preview-error" role="alert">
            <strong>The preview failed: {error.text}</strong>
            {error.diagnostics.length === 0 && (
              <p>What this changes could not be worked out. You can still apply it, as a trial.</p>
            )}
            {error.diagnostics.length > 0 && (
              <ul>
                {error.diagnostics.map((d, i) => (
                  <li key={i}>{d.message}</li>
                ))}
              </ul>
            )}
          </div>
        )}
        {preview && unchanged && (
          <p className="preview-unchanged" data-testid="preview-unchanged" role="status">
            Nothing to apply: the draft is what is enforced.
          </p>
        )}
        {errors.length > 0 && (
          <div className="preview-error" role="alert" data-testid="preview-errors">
            <strong>
              Cannot apply: {errors.length} error{errors.length === 1 ? '' : 's'} in the draft.
            </strong>
            <ul>
              {errors.map((d, i) => (
                <li key={i}>{d.message}</li>
              ))}
            </ul>
          </div>
        )}
        {preview && !unchanged && !errors.length && (
          <>
            <section className="preview-section">
              <h3>On each interface</h3>
              <Effects effects={preview.effects} />
            </section>
            <section className="preview-section" aria-label="Impact on recent traffic">
              <h3>Recent traffic</h3>
              <Impact p={preview} />
            </section>
            {warnings.length > 0 && (
              <section className="preview-section">
                <h3>Warnings</h3>
                <ul className="preview-warnings">
                  {warnings.map((d, i) => (
                    <li key={i}>{d.message}</li>
                  ))}
                </ul>
              </section>
            )}
          </>
        )}
        {failed && (
          <div className={`result result-${failed.kind}`} role="alert" data-testid="preview-apply-result">
            {failed.text}
          </div>
        )}
      </div>
      <div className="preview-foot">
        {guards.map((iface) => (
          <button
            key={iface}
            type="button"
            className="btn"
            disabled={loading || applying}
            title={`Set ${iface}'s default to allow (a pending change): only the listed ranges are checked there`}
            onClick={() => void guardOnly(iface)}
          >
            Guard only these ranges on {iface}
          </button>
        ))}
        <span className="grow" />
        {!unchanged && !errors.length && (
          <>
            <label className="inline-field">
              <span>Trial</span>
              <select
                aria-label="Trial length"
                value={seconds}
                disabled={!canApply}
                onChange={(e) => setSeconds(Number(e.target.value))}
              >
                {TRIAL_CHOICES.map((s) => (
                  <option key={s} value={s}>
                    {secondsLabel(s)}
                  </option>
                ))}
              </select>
            </label>
            {trialFirst ? [trialButton, applyButton] : [applyButton, trialButton]}
          </>
        )}
        <button type="button" className="btn" onClick={close}>
          {unchanged || errors.length ? 'Close' : 'Cancel'}
        </button>
      </div>
      {why.length > 0 && preview && !unchanged && <p className="muted small preview-why">{why.join(' ')}</p>}
    </dialog>
  );
}
