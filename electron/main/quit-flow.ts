// SPDX-License-Identifier: Apache-2.0
// Environment: main process (pure: no Electron import; quit.ts supplies the dialog and the exit).
//
// What quitting does. Enforcement outlives the window (a firewall that stops when its viewer
// closes is a toy), so when this instance owns the engine the admin is asked, with "Keep
// enforcing" as the default answer (Enter), "Stop filtering" to detach and unpin everything,
// and "Cancel". Read-only windows quit without asking. The engine worker is closed either way.

export type QuitChoice = 'keep' | 'stop' | 'cancel';

/** Button labels in dialog order; the index is the dialog's response. */
export const QUIT_BUTTONS = ['Keep enforcing', 'Stop filtering', 'Cancel'] as const;
export const QUIT_DEFAULT_ID = 0;
export const QUIT_CANCEL_ID = 2;

export const QUIT_MESSAGE = 'Keep enforcing the policy after the app closes?';
export const QUIT_DETAIL =
  'The filter keeps running in the kernel when the app closes; the next start adopts it. ' +
  '"Stop filtering" removes the filters from every interface and unpins the program and maps: ' +
  'nothing is enforced until you apply a policy again.';

/** The dialog's response index → the choice. Anything unexpected (Escape, a closed dialog) cancels. */
export function decideQuit(response: number): QuitChoice {
  if (response === 0) return 'keep';
  if (response === 1) return 'stop';
  return 'cancel';
}

export interface QuitDeps {
  /** Whether this instance owns the engine (state().mode === 'enforcing'). */
  enforcing(): boolean;
  /** Shows the question; resolves with the index of the button pressed. */
  ask(): Promise<number>;
  stopFiltering(): Promise<unknown>;
  /** Stops the engine worker; pins stay. */
  closeBackend(): Promise<void>;
  /** Tells the admin something went wrong (stop failed). */
  reportError(message: string): Promise<void>;
}

export type QuitOutcome = 'quit' | 'canceled' | 'busy';

export interface QuitFlow {
  /** Runs the quit sequence. 'quit': the caller may now let the app exit. */
  request(): Promise<QuitOutcome>;
  /** True once the sequence has finished with 'quit': close and quit events pass through. */
  readonly done: boolean;
}

export function createQuitFlow(deps: QuitDeps): QuitFlow {
  let running = false;
  let done = false;
  return {
    get done() {
      return done;
    },
    async request() {
      if (done) return 'quit';
      // A second Ctrl+Q or close while the question is open is ignored.
      if (running) return 'busy';
      running = true;
      try {
        if (deps.enforcing()) {
          const choice = decideQuit(await deps.ask());
          if (choice === 'cancel') return 'canceled';
          if (choice === 'stop') {
            try {
              await deps.stopFiltering();
            } catch (err) {
              // The admin asked for nothing to be enforced and it still is: stay open so the
              // Status view can show what is left, rather than exit on a half-done stop.
              await deps.reportError(
                `Filtering could not be stopped: ${(err as Error).message}\n\n` +
                  'The app stays open; see the Status view. `net-tc-filter unload` removes everything from a terminal.',
              );
              return 'canceled';
            }
          }
        }
        try {
          await deps.closeBackend();
        } catch {
          // Nothing to keep open for: the worker is gone, enforcement continues from the pins.
        }
        done = true;
        return 'quit';
      } finally {
        running = false;
      }
    },
  };
}
