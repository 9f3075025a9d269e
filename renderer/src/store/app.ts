// SPDX-License-Identifier: Apache-2.0
// Environment: renderer (pure store logic).
//
// The app slice: the main process's AppState, the current view, and the renderer's own failed
// calls (shown in Status beside the main process's errors).
import type { AppState } from '../../../electron/ipc/contract.js';
import { ApiError, errorMessage } from '../api.js';
import type { Slice } from './types.js';

export type View = 'policy' | 'traffic' | 'history' | 'status';

export interface RecentError {
  time: number;
  /** The operation or action that failed. */
  source: string;
  message: string;
  code?: string;
}

/** A passing message (shown over the page, never pushing the layout). It belongs to a state and
 * goes when that state goes:
 * - `view` (the default): the view it was shown on; gone on a tab change ("Exported …").
 * - `apply`: the policy as it is; gone on the next apply, keep or revert.
 * Any notice is replaced by the next one, so "Export failed" leaves once an export works. */
export interface Notice {
  kind: 'ok' | 'error';
  text: string;
  scope?: NoticeScope;
}

export type NoticeScope = 'view' | 'apply';

export interface AppSlice {
  appState: AppState | null;
  view: View;
  /** True once the initial calls (state, enforced policy, interfaces, accounts) finished. */
  ready: boolean;
  errors: RecentError[];
  notice: Notice | null;
  setView(view: View): void;
  recordError(source: string, err: unknown): void;
  clearErrors(): void;
  setNotice(notice: Notice | null): void;
  /** Drops the notice when it belongs to `scope` (the state it described is gone). */
  clearNotices(scope: NoticeScope): void;
  refreshState(): Promise<void>;
  /** The initial load; never throws (failures are recorded). */
  init(): Promise<void>;
}

export const createAppSlice: Slice<AppSlice> =
  ({ client, opts }) =>
  (set, get) => ({
    appState: null,
    view: 'policy',
    ready: false,
    errors: [],
    notice: null,
    setView: (view) => {
      if (view === get().view) return;
      set({ view });
      get().clearNotices('view');
    },
    recordError: (source, err) => {
      const e: RecentError = { time: Date.now(), source, message: errorMessage(err) };
      if (err instanceof ApiError) e.code = err.code;
      set((s) => ({ errors: [e, ...s.errors].slice(0, opts.errorCapacity) }));
    },
    clearErrors: () => set({ errors: [] }),
    setNotice: (notice) => set({ notice }),
    clearNotices: (scope) => {
      const n = get().notice;
      if (n && (n.scope ?? 'view') === scope) set({ notice: null });
    },
    refreshState: async () => {
      try {
        set({ appState: await client.getState() });
      } catch (err) {
        get().recordError('getState', err);
      }
    },
    init: async () => {
      const s = get();
      await Promise.allSettled([s.refreshState(), s.loadEnforced({ replaceDraft: true }), s.refreshSystem()]);
      set({ ready: true });
    },
  });
