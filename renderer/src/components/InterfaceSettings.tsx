// SPDX-License-Identifier: Apache-2.0
// Environment: renderer. Settings of every configured interface with their plain-language advice.
import { useShallow } from 'zustand/react/shallow';
import type { InterfaceMode, Verdict } from '../../../electron/policy/types.js';
import { configuredInterfaces, effectiveSettings } from '../logic/settings.js';
import { adviceFor } from '../store/selectors.js';
import { useApp } from './hooks.js';

export function InterfaceSettingsPanel() {
  const draft = useApp((s) => s.draft);
  const interfaces = useApp((s) => s.interfaces);
  const setSetting = useApp((s) => s.setInterfaceSetting);
  const removeSettings = useApp((s) => s.removeInterfaceSettings);
  const names = useApp(useShallow((s) => configuredInterfaces(s.draft)));
  const advice = useApp(adviceFor);
  const named = new Set(draft.endpoints.flatMap((e) => e.iface));

  return (
    <section className="card iface-settings" aria-labelledby="iface-settings-title">
      <h2 className="card-title" id="iface-settings-title">
        Interface settings
      </h2>
      {names.length === 0 && (
        <p className="muted small pad">
          No interface is configured yet. On interfaces that no endpoint names, only the guarded ranges are
          checked: nobody may reach them there; everything else passes untouched.
        </p>
      )}
      {names.map((name) => {
        const s = effectiveSettings(draft, name);
        const sys = interfaces?.find((i) => i.name === name);
        const own = advice.filter((a) => a.iface === name);
        return (
          <div key={name} className="iface-row" data-testid="iface-settings" data-iface={name}>
            <div className="iface-name">
              <span
                className={`dot ${sys ? (sys.up ? 'dot-up' : 'dot-down') : 'dot-missing'}`}
                aria-hidden="true"
              />
              <strong>{name}</strong>
              <span className="muted small">{sys ? `link ${sys.state}` : 'not present now'}</span>
            </div>
            <div className="iface-controls">
              <label className="inline-field">
                <span>Default</span>
                <select
                  aria-label={`Default on ${name}`}
                  value={s.default}
                  onChange={(e) => setSetting(name, 'default', e.target.value as Verdict)}
                >
                  <option value="deny">deny (drop what no endpoint allows)</option>
                  <option value="allow">allow (guard only the ranges)</option>
                </select>
              </label>
              <label className="inline-field">
                <span>Mode</span>
                <select
                  aria-label={`Mode on ${name}`}
                  data-testid="iface-mode"
                  value={s.mode}
                  onChange={(e) => setSetting(name, 'mode', e.target.value as InterfaceMode)}
                >
                  <option value="enforce">enforce (drop what the policy denies)</option>
                  <option value="audit">audit: drop nothing, report what would be dropped</option>
                </select>
              </label>
              <label className="inline-field">
                <span title="Packets with no local socket: forwarded or routed traffic">
                  Unowned (no socket)
                </span>
                <select
                  aria-label={`Unowned on ${name}`}
                  value={s.unowned}
                  onChange={(e) => setSetting(name, 'unowned', e.target.value as Verdict)}
                >
                  <option value="deny">deny</option>
                  <option value="allow">allow</option>
                </select>
              </label>
              <label className="inline-field check">
                <input
                  type="checkbox"
                  aria-label={`Essentials on ${name}`}
                  checked={s.essentials}
                  onChange={(e) => setSetting(name, 'essentials', e.target.checked)}
                />
                <span>Essentials: DHCP client traffic (never to a guarded range), IPv6 ND/MLD pass</span>
              </label>
              {!named.has(name) && (
                <button type="button" className="link" onClick={() => removeSettings(name)}>
                  Drop settings for {name}
                </button>
              )}
            </div>
            {own.length > 0 && (
              <ul className="advice-list">
                {own.map((a, i) => (
                  <li key={i} className="advice" data-testid="advice" data-rule={a.rule}>
                    {a.message}
                  </li>
                ))}
              </ul>
            )}
          </div>
        );
      })}
    </section>
  );
}
