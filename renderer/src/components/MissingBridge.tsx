// SPDX-License-Identifier: Apache-2.0
// Environment: renderer. Shown instead of the app when the preload API is missing.
export function MissingBridge() {
  return (
    <main className="fatal" role="alert">
      <h1>net-tc-filter cannot start</h1>
      <p>
        The connection to the privileged part of the app (<code>window.netTcFilter</code>) is missing. This
        page only works inside the net-tc-filter application, which provides it through its preload script.
      </p>
      <p>
        Start the app with the launcher (<code>net-tc-filter</code>) instead of opening this page directly.
      </p>
    </main>
  );
}
