// SPDX-License-Identifier: Apache-2.0
// Environment: renderer. The diff of the draft against the enforced policy.
import { selectDiff, selectShownDiagnostics } from '../store/selectors.js';
import { useApp } from './hooks.js';

const LIST_LABEL = { iface: 'interfaces', range: 'ranges', allow: 'users', when: 'time windows' } as const;
const SETTING_LABEL = {
  default: 'default',
  unowned: 'unowned',
  essentials: 'essentials',
  mode: 'mode',
} as const;

export function PendingChanges() {
  const diff = useApp(selectDiff);
  const enforced = useApp((s) => s.enforced);
  const diags = useApp(selectShownDiagnostics);
  const draft = useApp((s) => s.draft);
  const errors = diags.filter((d) => d.severity === 'error');
  return (
    <section className="card pending" data-testid="pending-changes" aria-labelledby="pending-title">
      <h2 className="card-title" id="pending-title">
        Pending changes <span className="count">{diff.count}</span>
      </h2>
      <p className="muted small pad">
        {enforced?.epoch !== null && enforced?.epoch !== undefined
          ? `Against the policy in force (policy ${enforced.epoch}${enforced.appliedAt ? `, applied ${new Date(enforced.appliedAt).toLocaleString()}` : ''}).`
          : 'Nothing is enforced yet.'}
      </p>
      {diff.count === 0 ? (
        <p className="pad">No pending changes: the draft matches what is enforced.</p>
      ) : (
        <ul className="diff">
          {diff.added.map((e) => (
            <li key={`a-${e.name}`} className="diff-added">
              <span className="diff-sign">+</span> endpoint <strong>{e.name}</strong>
              <span className="muted small">
                {' '}
                on {e.iface.join(', ') || 'no interface'} for {e.allow.join(', ') || 'nobody'}
                {e.when && `, only ${e.when.join(', ')}`}
              </span>
              {e.range.length > 0 && (
                <span className="diff-ranges" aria-label={`ranges of ${e.name}`}>
                  {e.range.map((r) => (
                    <span key={r}>{r}</span>
                  ))}
                </span>
              )}
            </li>
          ))}
          {diff.removed.map((e) => (
            <li key={`r-${e.name}`} className="diff-removed">
              <span className="diff-sign">−</span> endpoint <strong>{e.name}</strong>
            </li>
          ))}
          {diff.changed.map((c) => (
            <li key={`c-${c.name}`} className="diff-changed">
              <span className="diff-sign">~</span> endpoint <strong>{c.name}</strong>
              <ul>
                {(['iface', 'range', 'allow', 'when'] as const).map((l) => {
                  const d = c.lists[l];
                  if (!d) return null;
                  return (
                    <li key={l}>
                      {LIST_LABEL[l]}:{' '}
                      {d.added.map((x) => (
                        <span key={`+${x}`} className="diff-item diff-added">
                          +{x}
                        </span>
                      ))}
                      {d.removed.map((x) => (
                        <span key={`-${x}`} className="diff-item diff-removed">
                          −{x}
                        </span>
                      ))}
                      {l === 'when' && !draft.endpoints.find((e) => e.name === c.name)?.when && (
                        <span className="muted small"> none left: always open</span>
                      )}
                    </li>
                  );
                })}
              </ul>
            </li>
          ))}
          {diff.settings.map((s) => (
            <li key={`s-${s.iface}-${s.key}`} className="diff-changed">
              <span className="diff-sign">~</span> {s.iface} {SETTING_LABEL[s.key]}: {s.from} →{' '}
              <strong>{s.to}</strong>
            </li>
          ))}
          {diff.logging && (
            <li className="diff-changed">
              <span className="diff-sign">~</span> logging.allowed: {diff.logging.from} →{' '}
              <strong>{diff.logging.to}</strong>
            </li>
          )}
        </ul>
      )}
      {errors.length > 0 && (
        <div className="pad">
          <h3 className="small">Errors to fix</h3>
          <ul className="error-list">
            {errors.slice(0, 20).map((d, i) => (
              <li key={i}>{d.message}</li>
            ))}
            {errors.length > 20 && <li>… and {errors.length - 20} more</li>}
          </ul>
        </div>
      )}
    </section>
  );
}
