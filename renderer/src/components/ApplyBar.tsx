// SPDX-License-Identifier: Apache-2.0
// Environment: renderer. Apply and Revert with why Apply is disabled, and the last apply's result.
import { useShallow } from 'zustand/react/shallow';
import { applyBlockers, selectDiff } from '../store/selectors.js';
import { useApp } from './hooks.js';

export function ApplyBar() {
  const blockers = useApp(useShallow(applyBlockers));
  const apply = useApp((s) => s.apply);
  const revert = useApp((s) => s.revert);
  const applying = useApp((s) => s.applying);
  const count = useApp((s) => selectDiff(s).count);
  const result = useApp((s) => s.applyResult);
  const disabled = blockers.length > 0;
  return (
    <div className="apply-bar">
      <div className="apply-buttons">
        <button
          type="button"
          className="btn btn-primary"
          disabled={disabled}
          aria-describedby="apply-why"
          title={disabled ? blockers.join(' ') : 'Load the draft into the kernel'}
          aria-busy={applying || undefined}
          onClick={() => void apply()}
        >
          Apply
        </button>
        <button type="button" className="btn" onClick={revert} disabled={count === 0 || applying}>
          Revert
        </button>
      </div>
      <p id="apply-why" className="muted small apply-why">
        {disabled
          ? blockers.join(' ')
          : count
            ? `${count} pending change${count === 1 ? '' : 's'}.`
            : 'No pending changes.'}
      </p>
      {result && (
        <div className={`result result-${result.kind}`} role="status">
          {result.text}
          {result.details && result.details.length > 0 && (
            <ul>
              {result.details.map((d, i) => (
                <li key={i}>{d}</li>
              ))}
            </ul>
          )}
        </div>
      )}
    </div>
  );
}
