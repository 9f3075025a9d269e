// SPDX-License-Identifier: Apache-2.0
// Environment: renderer. The Policy view: toolbar, endpoint list, editor, interface settings,
// pending changes with Apply/Revert, import diagnostics.
import { diagnosticText } from '../../../electron/policy/diagnostics.js';
import type { LogAllowed } from '../../../electron/policy/types.js';
import { useEffect, useId, useRef, useState, type ReactNode } from 'react';
import type { ImportInfo } from '../store/policy.js';
import { applyBlockers, validateDraft } from '../store/selectors.js';
import { ApplyBar } from './ApplyBar.js';
import { EndpointEditor } from './EndpointEditor.js';
import { EndpointList } from './EndpointList.js';
import { keepTabInside, useApp } from './hooks.js';
import { InterfaceSettingsPanel } from './InterfaceSettings.js';
import { PendingChanges } from './PendingChanges.js';
import '../styles/policy.css';

/** One fixed-height line of the notice strip: the text (cut with an ellipsis; the full text is
 * its title), a Details toggle whose content floats over the page (it never pushes the layout),
 * and the line's own buttons. */
function NoticeLine(p: {
  testId: string;
  tone: 'ok' | 'warn' | 'error' | 'info';
  label: string;
  text: string;
  details?: ReactNode;
  /** Details open at first (e.g. import errors, which must be read). */
  openAtFirst?: boolean;
  children?: ReactNode;
  extra?: Record<string, string>;
}) {
  const [open, setOpen] = useState(p.openAtFirst ?? false);
  const id = useId();
  return (
    <section
      className={`policy-line tone-${p.tone}`}
      aria-label={p.label}
      data-testid={p.testId}
      role={p.tone === 'error' ? 'alert' : 'status'}
      {...p.extra}
    >
      <span className="line-text" title={p.text}>
        {p.text}
      </span>
      {p.details && (
        <button
          type="button"
          className="link"
          aria-expanded={open}
          aria-controls={`${id}-details`}
          onClick={() => setOpen(!open)}
        >
          {open ? 'Hide details' : 'Details'}
        </button>
      )}
      {p.children}
      {p.details && (
        <div id={`${id}-details`} className={`policy-line-details tone-${p.tone}`} hidden={!open}>
          {p.details}
        </div>
      )}
    </section>
  );
}

function importText(info: ImportInfo): string {
  const errors = info.diagnostics.filter((d) => d.severity === 'error').length;
  if (!info.replaced)
    return `${info.file} was not imported: ${errors} error${errors === 1 ? '' : 's'}. The editor is unchanged.`;
  if (info.how === 'merge') {
    const m = info.summary;
    const what = m
      ? [
          m.added.length ? `added ${m.added.join(', ')}` : '',
          m.extended.length ? `extended ${m.extended.join(', ')}` : '',
          m.settings.length ? `settings of ${m.settings.join(', ')}` : '',
          m.logging ? 'logging' : '',
        ].filter(Boolean)
      : [];
    return `Merged ${info.file} into the draft${what.length ? ` (${what.join('; ')})` : ''} as pending changes — nothing is applied until you press Apply.`;
  }
  return `Imported ${info.file} into the editor as pending changes — nothing is applied until you press Apply.`;
}

function ImportLine() {
  const info = useApp((s) => s.importInfo);
  const dismiss = useApp((s) => s.dismissImport);
  if (!info) return null;
  return (
    <NoticeLine
      testId="import-notice"
      tone={info.replaced ? 'ok' : 'error'}
      label="Import result"
      text={importText(info)}
      openAtFirst={!info.replaced}
      details={
        info.diagnostics.length > 0 ? (
          <ul data-testid="import-errors" className="import-errors mono">
            {info.diagnostics.map((d, i) => (
              <li key={i} className={d.severity === 'error' ? 'diag-error' : 'diag-warning'}>
                {diagnosticText(d)}
              </li>
            ))}
          </ul>
        ) : undefined
      }
    >
      <button type="button" className="link" onClick={dismiss}>
        Dismiss
      </button>
    </NoticeLine>
  );
}

function ProposeLine() {
  const info = useApp((s) => s.proposeInfo);
  const dismiss = useApp((s) => s.dismissPropose);
  if (!info) return null;
  return (
    <NoticeLine
      testId="propose-notice"
      tone={info.kind === 'ok' ? 'ok' : info.kind === 'error' ? 'error' : 'info'}
      label="Proposal from observed traffic"
      text={info.text}
      extra={{ 'data-kind': info.kind }}
      details={
        info.skipped.length > 0 ? (
          <>
            <p className="small">Skipped (not proposed):</p>
            <ul className="propose-skipped small">
              {info.skipped.map((k, i) => (
                <li key={i}>
                  {k.user} → {k.dst} on {k.iface}: {k.why}
                </li>
              ))}
            </ul>
          </>
        ) : undefined
      }
    >
      <button type="button" className="link" onClick={dismiss}>
        Dismiss
      </button>
    </NoticeLine>
  );
}

/** Import read a file while the draft has content: replace it or merge into it. */
function ImportDialog() {
  const choice = useApp((s) => s.importChoice);
  const resolve = useApp((s) => s.resolveImport);
  const first = useRef<HTMLButtonElement | null>(null);
  useEffect(() => {
    if (choice) first.current?.focus();
  }, [choice]);
  if (!choice) return null;
  const m = choice.merge;
  const n = choice.doc.endpoints.length;
  return (
    <div className="import-backdrop">
      <div
        className="import-dialog"
        role="dialog"
        aria-modal="true"
        aria-labelledby="import-dialog-title"
        aria-describedby="import-dialog-text"
        data-testid="import-dialog"
        onKeyDown={(e) => {
          if (e.key === 'Escape') {
            e.stopPropagation();
            resolve('cancel');
          } else keepTabInside(e, e.currentTarget); // focus stays in the dialog
        }}
      >
        <h2 id="import-dialog-title">Import {choice.file}</h2>
        <div id="import-dialog-text">
          <p>
            The file has {n} endpoint{n === 1 ? '' : 's'}. The draft has pending content of its own: replace
            it with the file, or merge the file into it? Nothing is applied either way.
          </p>
          <ul className="small">
            <li>
              <strong>Replace</strong>: the draft becomes the file; endpoints only in the draft are removed.
            </li>
            <li>
              <strong>Merge</strong>: endpoints are matched by name — same name: the lists are united
              {m.extended.length ? ` (${m.extended.join(', ')})` : ''}; new ones are added
              {m.added.length ? ` (${m.added.join(', ')})` : ''}.{' '}
              {m.settings.length
                ? `The file's interface settings win for ${m.settings.join(', ')}.`
                : "The file's interface settings win for the interfaces it names."}
              {m.logging ? " Its logging setting replaces the draft's." : ''}
            </li>
          </ul>
        </div>
        <div className="import-actions">
          <button ref={first} type="button" className="btn btn-primary" onClick={() => resolve('replace')}>
            Replace the draft
          </button>
          <button type="button" className="btn" onClick={() => resolve('merge')}>
            Merge into the draft
          </button>
          <button type="button" className="btn" onClick={() => resolve('cancel')}>
            Cancel
          </button>
        </div>
      </div>
    </div>
  );
}

/** The saved policy was not adopted at start: it differs from the kernel (its content is the
 * draft, as pending changes), could not be compared, or was not trusted. */
function SavedPolicyNotice() {
  const saved = useApp((s) => s.enforced?.saved);
  const dismissed = useApp((s) => s.savedDismissed);
  const keep = useApp((s) => s.keepEnforced);
  const openPreview = useApp((s) => s.openPreview);
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
  const heading =
    saved.status === 'differs'
      ? 'The saved policy differs from what the kernel enforces. Nothing was applied.'
      : saved.status === 'unresolved'
        ? 'The saved policy could not be compared with what the kernel enforces. Nothing was applied.'
        : 'The saved policy was ignored.';
  return (
    <NoticeLine
      testId="saved-notice"
      tone={offered ? 'warn' : 'error'}
      label="Saved policy"
      text={heading}
      openAtFirst
      extra={{ 'data-status': saved.status }}
      details={
        <>
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
        </>
      }
    >
      {offered && (
        <button
          type="button"
          className="btn btn-small btn-primary"
          disabled={readOnly || blocked || applying}
          onClick={() => void openPreview()}
        >
          Apply the saved policy
        </button>
      )}
      <button type="button" className="btn btn-small" onClick={keep}>
        {offered ? 'Keep what is enforced' : 'Dismiss'}
      </button>
    </NoticeLine>
  );
}

function Toolbar() {
  const addEndpoint = useApp((s) => s.addEndpoint);
  const importYaml = useApp((s) => s.importYaml);
  const exportYaml = useApp((s) => s.exportYaml);
  const logging = useApp((s) => s.draft.logging.allowed);
  const setLogging = useApp((s) => s.setLogging);
  // Only the document's own errors block Export: a policy for another host may name its accounts.
  const hasErrors = useApp((s) => validateDraft(s).some((d) => d.severity === 'error'));
  // A bad time window still being typed: the file would leave it out, and with it the limit.
  const typedWindow = useApp((s) => s.inputErrors.when !== undefined);
  const propose = useApp((s) => s.propose);
  const proposing = useApp((s) => s.proposing);
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
        disabled={hasErrors || typedWindow}
        title={
          hasErrors
            ? 'Fix the errors before exporting'
            : typedWindow
              ? 'Correct or clear the time window being typed: the file would not contain it'
              : 'Save the draft as a YAML file'
        }
      >
        Export YAML…
      </button>
      <span className="toolbar-sep" />
      <button
        type="button"
        className="btn"
        onClick={() => void propose()}
        disabled={proposing}
        aria-busy={proposing || undefined}
        title="Add endpoints for the traffic the policy in force dropped recently, as pending changes (nothing is applied)"
      >
        Propose from observed traffic
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
  const savedOpen = useApp((s) => !!s.enforced?.saved && !s.savedDismissed);
  const proposeShown = useApp((s) => s.proposeInfo !== null);
  const importShown = useApp((s) => s.importInfo !== null);
  return (
    <div className="policy-view">
      <Toolbar />
      {/* One line, always there: the layout below never moves. The newest wins: an import
          clears the propose result, so a propose result present is the newer one. */}
      <div className="policy-notices" data-testid="policy-notices">
        {savedOpen ? (
          <SavedPolicyNotice />
        ) : proposeShown ? (
          <ProposeLine />
        ) : importShown ? (
          <ImportLine />
        ) : note ? (
          <NoticeLine testId="enforced-note" tone="info" label="Policy in force" text={note} />
        ) : null}
      </div>
      <ImportDialog />
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
        <aside className="policy-side" aria-label="Apply and pending changes">
          <ApplyBar />
          <PendingChanges />
        </aside>
      </div>
    </div>
  );
}
