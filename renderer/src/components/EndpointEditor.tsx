// SPDX-License-Identifier: Apache-2.0
// Environment: renderer. The editor of one endpoint: name, interfaces, ranges, users, time windows.
import { useShallow } from 'zustand/react/shallow';
import { checkInterfaceName, parseAllowText, parseRangeText } from '../../../electron/policy/fields.js';
import { formatTimeOfDay, formatWindow, hostZone, parseWindowText } from '../../../electron/policy/when.js';
import { checkWindow } from '../store/policy.js';
import { indexAccounts } from '../logic/accounts.js';
import { accountWarning, interfaceWarning } from '../logic/advice.js';
import { windowsNow } from '../logic/windows.js';
import { adviceFor, diagnosticAt, selectShownDiagnostics, userPicks } from '../store/selectors.js';
import { useApp, useTick } from './hooks.js';
import { ListEditor } from './ListEditor.js';

/** Whether the windows are open now and when that changes, in this computer's time zone. */
function WindowState({ texts }: { texts: string[] | undefined }) {
  const now = windowsNow(texts);
  useTick(15_000, now?.nextChange);
  if (!now) {
    return (
      <p className="muted small" data-testid="window-state">
        No time windows: always open.
      </p>
    );
  }
  return (
    <p className="muted small" data-testid="window-state">
      {now.text[0]!.toUpperCase() + now.text.slice(1)} · {hostZone()} time
    </p>
  );
}

function FamilyBadge({ family }: { family: 4 | 6 }) {
  return <span className={`fam fam${family}`}>v{family}</span>;
}

export function EndpointEditor({ index }: { index: number }) {
  const endpoint = useApp((s) => s.draft.endpoints[index]);
  const diags = useApp(selectShownDiagnostics);
  const interfaces = useApp((s) => s.interfaces);
  const accounts = useApp((s) => s.accounts);
  const rename = useApp((s) => s.renameEndpoint);
  const addItem = useApp((s) => s.addItem);
  const removeItem = useApp((s) => s.removeItem);
  const addWindow = useApp((s) => s.addWindow);
  const removeWindow = useApp((s) => s.removeWindow);
  const removeEndpoint = useApp((s) => s.removeEndpoint);
  const fresh = useApp(
    (s) => s.draft.endpoints[index] !== undefined && s.freshEndpoints.has(s.draft.endpoints[index]),
  );
  const advice = useApp(useShallow((s) => (fresh ? [] : adviceFor(s).filter((a) => a.endpoint === index))));
  if (!endpoint) return null;
  const at = ['endpoints', index] as const;
  const nameError = diagnosticAt(diags, [...at, 'name'], 'error');

  const ifaceSuggestions = (interfaces ?? []).map((i) => ({
    value: i.name,
    label: i.up ? 'up' : i.state,
  }));
  const idx = accounts ? indexAccounts(accounts) : null;
  const searchUsers = (text: string, limit: number, listed: ReadonlySet<string>) =>
    userPicks(accounts, text, limit, listed);
  /** How the chip of an allow entry reads beside its text. */
  const allowKind = (t: string): string => {
    if (t === '*') return 'any';
    const entry = parseAllowText(t).entry;
    if (entry?.kind === 'unit') return entry.as ? 'unit · as' : 'unit';
    if (entry?.kind === 'cgroup') return entry.as ? 'cgroup · as' : 'cgroup';
    if (t.startsWith('@')) return 'group';
    if (/^[0-9]+$/.test(t)) {
      if (!idx) return 'uid';
      const names = idx.namesByUid.get(Number(t));
      return names?.length ? `uid · ${names.join(', ')}` : `uid ${t} (no account)`;
    }
    return 'user';
  };

  return (
    <section className="card editor" aria-label={`Endpoint ${endpoint.name}`}>
      <div className="editor-head">
        <label className="field grow">
          <span className="field-label">Endpoint name</span>
          <input
            type="text"
            aria-label="Endpoint name"
            aria-invalid={nameError ? true : undefined}
            value={endpoint.name}
            spellCheck={false}
            onChange={(e) => rename(index, e.target.value)}
          />
        </label>
        <button type="button" className="btn btn-danger-outline" onClick={() => removeEndpoint(index)}>
          Delete endpoint
        </button>
      </div>
      {nameError && (
        <p className="field-error" data-testid="field-error">
          {nameError}
        </p>
      )}
      <div className="editor-lists">
        <ListEditor
          title="Interfaces"
          hint="egress side; picked from this system"
          inputLabel="Add interface"
          inputKey="iface"
          placeholder="eth0"
          chipTestId="iface-chip"
          suggestions={ifaceSuggestions}
          listError={diagnosticAt(diags, [...at, 'iface'], 'error')}
          chips={endpoint.iface.map((name, j) => {
            const sys = interfaces?.find((i) => i.name === name);
            return {
              value: name,
              decoration: (
                <span
                  className={`dot ${sys ? (sys.up ? 'dot-up' : 'dot-down') : 'dot-missing'}`}
                  title={sys ? `link ${sys.state}` : 'not present'}
                  aria-label={sys ? `link ${sys.state}` : 'not present'}
                />
              ),
              error: diagnosticAt(diags, [...at, 'iface', j], 'error'),
              warning: interfaceWarning(name, interfaces) ?? undefined,
            };
          })}
          check={(t) => {
            const error = checkInterfaceName(t);
            if (error) return { error };
            return { warning: interfaceWarning(t, interfaces) ?? undefined };
          }}
          onAdd={(t) => addItem(index, 'iface', t)}
          onRemove={(j) => removeItem(index, 'iface', j)}
        />
        <ListEditor
          title="Ranges"
          hint="IPv4/IPv6 addresses or CIDR ranges"
          inputLabel="Add range"
          inputKey="range"
          placeholder="169.254.169.254/32 or fd00:ec2::254"
          chipTestId="range-chip"
          listError={diagnosticAt(diags, [...at, 'range'], 'error')}
          chips={endpoint.range.map((t, j) => {
            const r = parseRangeText(t);
            return {
              value: t,
              decoration: r.range ? <FamilyBadge family={r.range.family} /> : undefined,
              error: diagnosticAt(diags, [...at, 'range', j], 'error'),
              warning: diagnosticAt(diags, [...at, 'range', j], 'warning'),
            };
          })}
          check={(t) => {
            const r = parseRangeText(t);
            const badge = r.range ? <FamilyBadge family={r.range.family} /> : undefined;
            return { error: r.error, warning: r.warning, badge };
          }}
          onAdd={(t) => addItem(index, 'range', t)}
          onRemove={(j) => removeItem(index, 'range', j)}
        />
        <ListEditor
          title="Allowed users"
          hint="user, uid, @group, *, unit:NAME or cgroup:PATH (… as USER)"
          inputLabel="Add user"
          inputKey="allow"
          placeholder="svc-deploy, 1000, @admins, * or unit:backup.service"
          chipTestId="allow-chip"
          search={searchUsers}
          listError={diagnosticAt(diags, [...at, 'allow'], 'error')}
          chips={endpoint.allow.map((t, j) => ({
            value: t,
            decoration: (
              <span className={`kind${/^(unit|cgroup):/.test(t) ? ' kind-cgroup' : ''}`}>{allowKind(t)}</span>
            ),
            error: diagnosticAt(diags, [...at, 'allow', j], 'error'),
            warning: diagnosticAt(diags, [...at, 'allow', j], 'warning'),
          }))}
          check={(t) => {
            const a = parseAllowText(t);
            if (a.error) return { error: a.error };
            return { warning: accountWarning(t, accounts) ?? undefined };
          }}
          onAdd={(t) => addItem(index, 'allow', t)}
          onRemove={(j) => removeItem(index, 'allow', j)}
        />
        <ListEditor
          title="Time windows"
          hint="days and times; none: always open"
          inputLabel="Add time window"
          inputKey="when"
          placeholder="Mon-Fri 08:00-18:00 or daily 22:00-06:00"
          chipTestId="when-chip"
          listError={diagnosticAt(diags, [...at, 'when'], 'error')}
          chips={(endpoint.when ?? []).map((t, j) => {
            const w = parseWindowText(t).window;
            const canonical = w ? formatWindow(w) : t;
            // Ends at or before it starts: it runs into the next day (Fri 18:00-08:00 ends Sat 08:00).
            const overnight = w !== undefined && w.end <= w.start;
            const tag = [...(canonical !== t ? [canonical] : []), ...(overnight ? ['overnight'] : [])];
            return {
              value: t,
              decoration: tag.length ? (
                <span
                  className="kind"
                  title={
                    overnight
                      ? `from ${formatTimeOfDay(w.start)} on each day listed until ${formatTimeOfDay(w.end)} the next day`
                      : undefined
                  }
                >
                  {tag.join(' · ')}
                </span>
              ) : undefined,
              error: diagnosticAt(diags, [...at, 'when', j], 'error'),
            };
          })}
          check={(t) => {
            const error = checkWindow(t, endpoint.when);
            return error ? { error } : {};
          }}
          onAdd={(t) => addWindow(index, t)}
          onRemove={(j) => removeWindow(index, j)}
        />
        <WindowState texts={endpoint.when} />
      </div>
      {advice.length > 0 && (
        <ul className="advice-list">
          {advice.map((a, i) => (
            <li key={i} className="advice" data-testid="advice" data-rule={a.rule}>
              {a.message}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
