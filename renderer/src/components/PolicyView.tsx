// SPDX-License-Identifier: Apache-2.0
// Environment: renderer. The Policy view: toolbar, endpoint list, editor, interface settings,
// pending changes with Apply/Revert, import diagnostics.
import { diagnosticText } from '../../../electron/policy/diagnostics.js';
import type { LogAllowed } from '../../../electron/policy/types.js';
import { applyBlockers, selectDiagnostics } from '../store/selectors.js';
import { ApplyBar } from './ApplyBar.js';
import { EndpointEditor } from './EndpointEditor.js';
import { EndpointList } from './EndpointList.js';
import { useApp } from './hooks.js';
import { InterfaceSettingsPanel } from './InterfaceSettings.js';
import { PendingChanges } from './PendingChanges.js';

function ImportPanel() {
  const info = useApp((s) => s.importInfo);
  const dismiss = useApp((s) => s.dismissImport);
  if (!info) return null;
  const errors = info.diagnostics.filter((d) => d.severity === 'error').length;
  const heading = info.replaced
    ? `Imported ${info.file} into the editor as pending changes — nothing is applied until you press Apply.`
    : `${info.file} was not imported: ${errors} error${errors === 1 ? '' : 's'}. The editor is unchanged.`;
  return (
    <section
      className={`import-panel ${info.replaced ? 'banner-ok' : 'banner-error'}`}
      aria-label="Import result"
    >
      <div className="import-head">
        <strong>{heading}</strong>
        <button type="button" className="link" onClick={dismiss}>
          Dismiss
        </button>
      </div>
      {info.diagnostics.length > 0 && (
        <ul data-testid="import-errors" className="import-errors mono">
          {info.diagnostics.map((d, i) => (
            <li key={i} className={d.severity === 'error' ? 'diag-error' : 'diag-warning'}>
              {diagnosticText(d)}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

/** The saved policy was not adopted at start: it differs from the kernel (its content is the
 * draft, as pending changes), could not be compared, or was not trusted. */
function SavedPolicyNotice() {
  const saved = useApp((s) => s.enforced?.saved);
  const dismissed = useApp((s) => s.savedDismissed);
  const keep = useApp((s) => s.keepEnforced);
  const apply = useApp((s) => s.apply);
  const applying = useApp((s) => s.applying);
  const readOnly = useApp((s) => s.appState?.mode !== 'enforcing');
  const blocked = useApp((s) => applyBlockers(s).length > 0);
  if (!saved || dismissed) return null;
  const offered = saved.doc !== undefined;
  const d = saved.differences;
  const rows: Array<[string, { onlySaved: number; onlyEnforced: number; changed: number }]> = d
    ? [
        ['Guarded ranges', d.ranges],
        ['Interface settings', d.interfaces],
      ]
    : [];
  return (
    <section
      className={`saved-notice banner ${offered ? 'banner-warn' : 'banner-error'}`}
      role="alert"
      aria-label="Saved policy"
      data-testid="saved-notice"
      data-status={saved.status}
    >
      <strong>
        {saved.status === 'differs'
          ? 'The saved policy differs from what the kernel enforces. Nothing was applied.'
          : saved.status === 'unresolved'
            ? 'The saved policy could not be compared with what the kernel enforces. Nothing was applied.'
            : 'The saved policy was ignored.'}
      </strong>
      <p>{saved.message}</p>
      {rows.length > 0 && (
        <table className="saved-diff" data-testid="saved-differences">
          <thead>
            <tr>
              <th scope="col"></th>
              <th scope="col">only in the saved policy</th>
              <th scope="col">only in the kernel</th>
              <th scope="col">in both, different</th>
            </tr>
          </thead>
          <tbody>
            {rows.map(([what, c]) => (
              <tr key={what}>
                <th scope="row">{what}</th>
                <td>{c.onlySaved}</td>
                <td>{c.onlyEnforced}</td>
                <td>{c.changed}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div className="saved-actions">
        {offered && (
          <button
            type="button"
            className="btn btn-primary"
            disabled={readOnly || blocked || applying}
            onClick={() => void apply()}
          >
            Apply the saved policy
          </button>
        )}
        <button type="button" className="btn" onClick={keep}>
          {offered ? 'Keep what is enforced' : 'Dismiss'}
        </button>
      </div>
    </section>
  );
}

function Toolbar() {
  const addEndpoint = useApp((s) => s.addEndpoint);
  const importYaml = useApp((s) => s.importYaml);
  const exportYaml = useApp((s) => s.exportYaml);
  const logging = useApp((s) => s.draft.logging.allowed);
  const setLogging = useApp((s) => s.setLogging);
  const hasErrors = useApp((s) => selectDiagnostics(s).some((d) => d.severity === 'error'));
  return (
    <div className="toolbar">
      <button type="button" className="btn btn-primary-outline" onClick={() => addEndpoint()}>
        Add endpoint
      </button>
      <span className="toolbar-sep" />
      <button type="button" className="btn" onClick={() => void importYaml()}>
        Import YAML…
      </button>
      <button
        type="button"
        className="btn"
        onClick={() => void exportYaml()}
        disabled={hasErrors}
        title={hasErrors ? 'Fix the errors before exporting' : 'Save the draft as a YAML file'}
      >
        Export YAML…
      </button>
      <span className="toolbar-sep" />
      <label className="inline-field">
        <span>Log allowed packets</span>
        <select
          value={logging ?? ''}
          onChange={(e) => setLogging(e.target.value === '' ? undefined : (e.target.value as LogAllowed))}
        >
          <option value="">sample (default)</option>
          <option value="off">off</option>
          <option value="sample">sample</option>
          <option value="all">all</option>
        </select>
      </label>
      <span className="muted small">Drops are always reported.</span>
    </div>
  );
}

export function PolicyView() {
  const selected = useApp((s) => s.selected);
  const count = useApp((s) => s.draft.endpoints.length);
  const note = useApp((s) => s.enforced?.note);
  return (
    <div className="policy-view">
      <Toolbar />
      <ImportPanel />
      <SavedPolicyNotice />
      {note && <div className="banner banner-info">{note}</div>}
      <div className="policy-grid">
        <EndpointList />
        <div className="policy-main">
          {selected !== null && selected < count ? (
            <EndpointEditor key={selected} index={selected} />
          ) : (
            <div className="card empty-editor">
              <p>
                {count
                  ? 'Select an endpoint to edit it.'
                  : 'No endpoints yet. An endpoint guards IP ranges on interfaces and lists the users allowed to reach them.'}
              </p>
            </div>
          )}
          <InterfaceSettingsPanel />
        </div>
        <aside className="policy-side">
          <ApplyBar />
          <PendingChanges />
        </aside>
      </div>
    </div>
  );
}
