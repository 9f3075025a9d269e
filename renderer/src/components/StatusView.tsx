// SPDX-License-Identifier: Apache-2.0
// Environment: renderer. Status: mode, capabilities, the loaded program, attached interfaces,
// the enforced endpoints' time windows (open now, next change), versions, recent errors; and Stop
// filtering (confirmed in-page).
import { useEffect, useState, type ReactNode } from 'react';
import type { CapName } from '../../../electron/ipc/contract.js';
import { formatTime } from '../logic/format.js';
import { useApp } from './hooks.js';

const STATUS_REFRESH_MS = 5_000;
const CAPS: CapName[] = ['CAP_BPF', 'CAP_NET_ADMIN', 'CAP_PERFMON'];

function Row({ label, children, testId }: { label: string; children: ReactNode; testId?: string }) {
  return (
    <>
      <dt>{label}</dt>
      <dd data-testid={testId}>{children}</dd>
    </>
  );
}

function StopFiltering() {
  const [confirming, setConfirming] = useState(false);
  const mode = useApp((s) => s.appState?.mode);
  const loaded = useApp((s) => s.status?.loaded);
  const stopping = useApp((s) => s.stopping);
  const stop = useApp((s) => s.stopFiltering);
  const readOnly = mode !== 'enforcing';
  return (
    <section className="card stop" aria-labelledby="stop-title">
      <h2 className="card-title" id="stop-title">
        Stop filtering
      </h2>
      <p className="pad small">
        Enforcement continues when this window closes. Stopping detaches the program from every interface and
        removes its state from the kernel: every user can then reach every destination.
      </p>
      <div className="pad">
        {!confirming ? (
          <>
            <button
              type="button"
              className="btn btn-danger"
              disabled={readOnly || stopping}
              aria-describedby="stop-why"
              onClick={() => setConfirming(true)}
            >
              Stop filtering
            </button>
            <span id="stop-why" className="muted small stop-why">
              {readOnly
                ? 'Read-only mode: this window cannot change the filter.'
                : loaded === false
                  ? 'Nothing is loaded.'
                  : ''}
            </span>
          </>
        ) : (
          <div className="confirm" role="alertdialog" aria-labelledby="confirm-text">
            <p id="confirm-text">
              <strong>Remove the filter from every interface?</strong> All users get unrestricted access until
              a policy is applied again.
            </p>
            <button
              type="button"
              className="btn btn-danger"
              disabled={stopping}
              onClick={() => void stop().then(() => setConfirming(false))}
            >
              Yes, stop filtering
            </button>
            <button
              type="button"
              className="btn"
              autoFocus
              onClick={() => setConfirming(false)}
              onKeyDown={(e) => e.key === 'Escape' && setConfirming(false)}
            >
              Cancel
            </button>
          </div>
        )}
      </div>
    </section>
  );
}

/** The enforced policy's windowed endpoints as the engine evaluates them (host time zone). */
function TimeWindows() {
  const windows = useApp((s) => s.status?.windows);
  const zone = useApp((s) => s.status?.timeZone);
  if (!windows?.length) return null;
  return (
    <section className="card" aria-labelledby="st-windows" data-testid="status-windows">
      <h2 className="card-title" id="st-windows">
        Time windows <span className="muted small">in force now · {zone} time</span>
      </h2>
      <table className="table">
        <thead>
          <tr>
            <th>Endpoint</th>
            <th>Windows</th>
            <th>Now</th>
            <th>Next change</th>
          </tr>
        </thead>
        <tbody>
          {windows.map((w) => {
            // openStateText: `open now, closes Mon 18:00 (in 2 h)` / `closed now (never opens)`.
            const next = /^(?:open|closed) now,? ?(.*)$/.exec(w.state)?.[1] ?? w.state;
            return (
              <tr
                key={w.endpoint}
                data-testid="status-window"
                data-endpoint={w.endpoint}
                data-open={w.open ? '1' : '0'}
              >
                <td>{w.endpoint}</td>
                <td className="mono">{w.when.join(', ')}</td>
                <td className={w.open ? 'win-open' : 'win-closed'}>
                  <span className={`dot ${w.open ? 'dot-up' : 'dot-down'}`} aria-hidden="true" />{' '}
                  <strong>{w.open ? 'open' : 'closed'}</strong>
                </td>
                <td data-testid="status-window-next">{next.replace(/^\((.*)\)$/, '$1')}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}

export function StatusView() {
  const status = useApp((s) => s.status);
  const appState = useApp((s) => s.appState);
  const errors = useApp((s) => s.errors);
  const refresh = useApp((s) => s.refreshStatus);
  const clearErrors = useApp((s) => s.clearErrors);
  const engine = useApp((s) => s.engine);
  const trial = engine?.trial ?? null;
  const modeOf = (name: string) => engine?.configured.find((c) => c.name === name)?.mode;

  useEffect(() => {
    void refresh();
    const t = setInterval(() => void refresh(), STATUS_REFRESH_MS);
    return () => clearInterval(t);
  }, [refresh]);

  const state = status?.state ?? appState;
  const allErrors = [
    ...(status?.errors ?? []).map((e) => ({ time: e.time, source: 'main', message: e.message })),
    ...errors.map((e) => ({ time: e.time, source: `renderer: ${e.source}`, message: e.message })),
  ].sort((a, b) => b.time - a.time);

  return (
    <div className="status-view" data-testid="status-view">
      <div className="toolbar">
        <button type="button" className="btn" onClick={() => void refresh()}>
          Refresh
        </button>
        <span className="muted small">Refreshes every 5 s while this view is open.</span>
      </div>
      <div className="status-grid">
        <section className="card" aria-labelledby="st-mode">
          <h2 className="card-title" id="st-mode">
            This window
          </h2>
          <dl className="kv">
            <Row label="Mode">{state ? (state.mode === 'enforcing' ? 'Enforcing' : 'Read-only') : '…'}</Row>
            {state?.readOnly && <Row label="Why">{state.readOnly.message}</Row>}
            <Row label="Capabilities" testId="status-caps">
              <span className="caps">
                {CAPS.map((c) => (
                  <span
                    key={c}
                    className={`cap ${state?.caps[c] ? 'cap-yes' : 'cap-no'}`}
                    data-cap={c}
                    data-has={state?.caps[c] ? '1' : '0'}
                  >
                    {state?.caps[c] ? '✓' : '✗'} {c}
                  </span>
                ))}
              </span>
            </Row>
            <Row label="User">{state ? `${state.user} (uid ${state.uid})` : '…'}</Row>
            <Row label="Kernel state (bpffs)">
              <code>{state?.pinDir ?? '…'}</code>
            </Row>
            <Row label="Policy file">
              <code>{state?.policyFile ?? '…'}</code>
            </Row>
          </dl>
        </section>
        <section className="card" aria-labelledby="st-prog">
          <h2 className="card-title" id="st-prog">
            Program
          </h2>
          <dl className="kv">
            <Row label="Loaded">{status ? (status.loaded ? 'yes' : 'no') : '…'}</Row>
            <Row label="Program id" testId="status-program-id">
              {status?.programId ?? '—'}
            </Row>
            <Row label="Program tag">
              <code>{status?.programTag ?? '—'}</code>
            </Row>
            <Row label="Policy">{status?.epoch !== undefined ? `policy ${status.epoch}` : '—'}</Row>
            <Row label="Trial" testId="status-trial">
              {trial
                ? trial.expired
                  ? `policy ${trial.policy}: its deadline passed, the kernel enforces policy ${trial.previous} again`
                  : `policy ${trial.policy} on trial: policy ${trial.previous} returns at ${new Date(trial.deadline).toLocaleTimeString()} unless it is kept`
                : 'none pending'}
            </Row>
            {status?.owner && (
              <Row label="Owner">
                pid {status.owner.pid} ({status.owner.command})
              </Row>
            )}
            <Row label="Ranges">{status ? `${status.ranges.v4} IPv4 · ${status.ranges.v6} IPv6` : '…'}</Row>
            <Row label="User-set entries">{status?.setEntries ?? '…'}</Row>
            <Row label="libbpf">{status?.libbpf ?? '…'}</Row>
            <Row label="Kernel">{status?.kernel ?? '…'}</Row>
          </dl>
          {status?.unreadable && <p className="field-warning pad">{status.unreadable}</p>}
        </section>
      </div>
      <section className="card" aria-labelledby="st-ifaces">
        <h2 className="card-title" id="st-ifaces">
          Attached interfaces
        </h2>
        <table className="table">
          <thead>
            <tr>
              <th>Interface</th>
              <th>ifindex</th>
              <th>Attached</th>
              <th>Program id</th>
              <th>Mode</th>
              <th>Default</th>
              <th>Unowned</th>
              <th>Essentials</th>
              <th>Log allowed</th>
            </tr>
          </thead>
          <tbody>
            {(status?.interfaces ?? []).map((i) => (
              <tr key={i.name} data-testid="status-iface" data-iface={i.name}>
                <td>{i.name}</td>
                <td>{i.ifindex}</td>
                <td>{i.attached ? '✓ yes' : '✗ no'}</td>
                <td>{i.progId ?? '—'}</td>
                <td data-testid="status-mode">
                  {(() => {
                    const m = i.guardOnly ? engine?.guardOnly.mode : modeOf(i.name);
                    return m === 'audit'
                      ? 'audit (reports, drops nothing)'
                      : m === 'enforce'
                        ? 'enforce'
                        : '—';
                  })()}
                </td>
                {i.guardOnly ? (
                  <td colSpan={4} className="muted">
                    guarded ranges only (no endpoint names it): nobody may reach them here
                  </td>
                ) : (
                  <>
                    <td>{i.settings?.default ?? '—'}</td>
                    <td>{i.settings?.unowned ?? '—'}</td>
                    <td>{i.settings ? (i.settings.essentials ? 'on' : 'off') : '—'}</td>
                    <td>{i.settings?.logAllowed ?? '—'}</td>
                  </>
                )}
              </tr>
            ))}
            {status && status.interfaces.length === 0 && (
              <tr>
                <td colSpan={9} className="muted">
                  No interface is attached.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </section>
      <TimeWindows />
      <div className="status-grid">
        <section className="card" aria-labelledby="st-errors">
          <h2 className="card-title" id="st-errors">
            Recent errors <span className="count">{allErrors.length}</span>
          </h2>
          {allErrors.length === 0 ? (
            <p className="muted pad">None.</p>
          ) : (
            <ul className="errors" data-testid="recent-errors">
              {allErrors.slice(0, 50).map((e, i) => (
                <li key={i}>
                  <span className="mono muted">{formatTime(e.time)}</span>{' '}
                  <span className="muted">[{e.source}]</span> {e.message}
                </li>
              ))}
            </ul>
          )}
          {errors.length > 0 && (
            <div className="pad">
              <button type="button" className="link" onClick={clearErrors}>
                Forget this window's errors
              </button>
            </div>
          )}
        </section>
        <StopFiltering />
      </div>
    </div>
  );
}
