// SPDX-License-Identifier: Apache-2.0
// Environment: renderer. The History view: the engine's applied policies (placeholder until built).
export function HistoryView() {
  return (
    <div className="history-view">
      <p className="muted pad">The history of applied policies appears here.</p>
    </div>
  );
}
