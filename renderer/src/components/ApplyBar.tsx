// SPDX-License-Identifier: Apache-2.0
// Environment: renderer. Apply and Revert with why Apply is disabled, and the last apply's result.
// Apply never applies directly: it opens the preview (ApplyPreview.tsx), which shows the effect
// first; with nothing pending it says so instead.
import { useEffect, useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { applyBlockers, selectDiff } from '../store/selectors.js';
import { useApp } from './hooks.js';

export function ApplyBar() {
  const blockers = useApp(useShallow(applyBlockers));
  const openPreview = useApp((s) => s.openPreview);
  const revert = useApp((s) => s.revert);
  const applying = useApp((s) => s.applying);
  const count = useApp((s) => selectDiff(s).count);
  // The last apply's result, unless it was a trial that is over now (kept, reverted, or taken
  // back by the kernel): the header and the notice say what happened then.
  const result = useApp((s) =>
    s.applyResult?.kind === 'ok' && s.appliedTrial !== null && s.engine?.trial?.policy !== s.appliedTrial
      ? null
      : s.applyResult,
  );
  const disabled = blockers.length > 0;
  const [nothing, setNothing] = useState(false);
  useEffect(() => {
    if (count > 0) setNothing(false);
  }, [count]);
  const onApply = () => {
    if (count === 0) setNothing(true);
    else void openPreview();
  };
  return (
    <div className="apply-bar">
      <div className="apply-buttons">
        <button
          type="button"
          className="btn btn-primary"
          disabled={disabled}
          aria-describedby="apply-why"
          title={disabled ? blockers.join(' ') : 'See what the draft changes, then apply it'}
          aria-busy={applying || undefined}
          onClick={onApply}
        >
          Apply
        </button>
        <button type="button" className="btn" onClick={revert} disabled={count === 0 || applying}>
          Revert
        </button>
      </div>
      <p id="apply-why" className="muted small apply-why" data-testid="apply-why" role="status">
        {disabled
          ? blockers.join(' ')
          : nothing && count === 0
            ? 'Nothing to apply: the draft is what is enforced.'
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
