// SPDX-License-Identifier: Apache-2.0
// Environment: renderer. The endpoint list: one item per endpoint with its interfaces, range
// families, users, whether its time windows are open now, and markers for pending changes,
// errors and advice.
import { parseRangeText } from '../../../electron/policy/fields.js';
import { windowsNow } from '../logic/windows.js';
import { adviceFor, hasErrorUnder, selectDiff, selectShownDiagnostics } from '../store/selectors.js';
import { useApp, useTick } from './hooks.js';

const MAX_CHIPS = 4;

export function EndpointList() {
  const endpoints = useApp((s) => s.draft.endpoints);
  const selected = useApp((s) => s.selected);
  const select = useApp((s) => s.select);
  const diff = useApp(selectDiff);
  const diags = useApp(selectShownDiagnostics);
  const advice = useApp(adviceFor);
  const added = new Set(diff.added.map((e) => e.name));
  const changed = new Set(diff.changed.map((e) => e.name));
  const states = endpoints.map((e) => windowsNow(e.when));
  const edges = states.flatMap((w) => (w?.nextChange ? [w.nextChange] : []));
  useTick(15_000, edges.length ? Math.min(...edges) : null);

  return (
    <nav className="card endpoint-list" aria-label="Endpoints">
      <h2 className="card-title">
        Endpoints <span className="count">{endpoints.length}</span>
      </h2>
      {endpoints.length === 0 && (
        <p className="muted small pad">None. Use “Add endpoint” or import a YAML file.</p>
      )}
      <ul>
        {endpoints.map((e, i) => {
          const ranges = e.range.map((t) => parseRangeText(t).range);
          const v4 = ranges.filter((r) => r?.family === 4).length;
          const v6 = ranges.filter((r) => r?.family === 6).length;
          const err = hasErrorUnder(diags, ['endpoints', i]);
          const warn = advice.filter((a) => a.endpoint === i);
          const state = added.has(e.name) ? 'added' : changed.has(e.name) ? 'changed' : null;
          const win = states[i];
          return (
            <li
              key={i}
              data-testid="endpoint-item"
              data-name={e.name}
              className={`endpoint-item ${selected === i ? 'selected' : ''}`}
            >
              <button
                type="button"
                className="endpoint-select"
                aria-current={selected === i ? 'true' : undefined}
                onClick={() => select(i)}
              >
                <span className="endpoint-row1">
                  <span className="endpoint-name">{e.name || '(unnamed)'}</span>
                  {state && (
                    <span className={`marker marker-${state}`} title={`pending: ${state}`}>
                      {state === 'added' ? 'new' : 'changed'}
                    </span>
                  )}
                  {err && (
                    <span className="marker marker-error" title="has errors">
                      error
                    </span>
                  )}
                  {!err && warn.length > 0 && (
                    <span className="marker marker-warn" title={warn.map((w) => w.message).join('\n')}>
                      ⚠ {warn.length}
                    </span>
                  )}
                </span>
                <span className="endpoint-row2">
                  {e.iface.map((n) => (
                    <span key={n} className="mini-chip iface">
                      {n}
                    </span>
                  ))}
                  <span className="muted small">
                    {e.range.length} range{e.range.length === 1 ? '' : 's'}
                  </span>
                  {v4 > 0 && <span className="fam fam4">v4</span>}
                  {v6 > 0 && <span className="fam fam6">v6</span>}
                </span>
                <span className="endpoint-row3">
                  {e.allow.slice(0, MAX_CHIPS).map((a) => (
                    // unit:/cgroup: entries: a cgroup, not an account (long: cut, the title has it).
                    <span
                      key={a}
                      className={/^(unit|cgroup):/.test(a) ? 'mini-chip cgroup' : 'mini-chip user'}
                      title={a}
                    >
                      {a}
                    </span>
                  ))}
                  {e.allow.length > MAX_CHIPS && (
                    <span className="muted small">+{e.allow.length - MAX_CHIPS}</span>
                  )}
                  {e.allow.length === 0 && <span className="muted small">nobody allowed</span>}
                </span>
                {win && (
                  <span
                    className={`endpoint-window small ${win.open ? 'win-open' : 'win-closed'}`}
                    data-testid="endpoint-window"
                    data-open={win.open ? '1' : '0'}
                    title={`${(e.when ?? []).join(', ')}: ${win.text}`}
                  >
                    <span className={`dot ${win.open ? 'dot-up' : 'dot-down'}`} aria-hidden="true" />
                    {win.short}
                  </span>
                )}
              </button>
            </li>
          );
        })}
      </ul>
      {diff.removed.length > 0 && (
        <div className="removed-list">
          <h3 className="small muted">Removed (pending)</h3>
          <ul>
            {diff.removed.map((e) => (
              <li key={e.name} className="removed-name">
                {e.name}
              </li>
            ))}
          </ul>
        </div>
      )}
    </nav>
  );
}
