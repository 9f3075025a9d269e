// SPDX-License-Identifier: Apache-2.0
// Environment: renderer (pure store logic; timers only in the poll loop).
//
// The engine slice: what the kernel does now (getEngine, polled about every second and at once
// after apply, keep and revert) for the header and the trial bar; the Apply preview (what the
// draft would change, before anything is applied); and keeping or reverting a trial.
//
// When the kernel's policy number changes (this or another window applied, the kernel went back
// at a trial's deadline), the policy slice reloads what is enforced, so the pending changes and
// the apply's expected policy follow the kernel.
import type {
  ApplyOutcome,
  EngineView,
  Preview,
  TrialResult,
  TrialView,
} from '../../../electron/ipc/contract.js';
import type { FieldDiagnostic } from '../../../electron/policy/doc.js';
import { ApiError, errorMessage } from '../api.js';
import type { Slice } from './types.js';

export interface PreviewFor {
  /** The history entry the draft was taken from ("go back to this one"). */
  fromHistory?: number;
}

export interface EngineSlice {
  /** The kernel's state as last read; null before the first answer. */
  engine: EngineView | null;
  /** Why the last getEngine failed; null once it answers again. */
  engineError: string | null;
  /** Wall-clock ms of the last engine read (drives the trial countdown with the kernel's deadline). */
  now: number;
  /** The last pending trial seen (its `previous` names the policy a kernel revert went back to). */
  trialSeen: TrialView | null;
  /** The kernel-revert notice the admin dismissed (its time). */
  lastTrialDismissed: number | null;
  /** The last trial that did not stay (EngineView.lastTrial) as first seen, with the policy in
   * force then: once another policy replaces that one, the notice is history. */
  lastTrialFirst: { time: number; policy: number | null } | null;

  previewOpen: boolean;
  /** The preview of the draft; null while it is worked out (or when it failed). */
  preview: Preview | null;
  previewLoading: boolean;
  previewError: { text: string; diagnostics: FieldDiagnostic[] } | null;
  previewFor: PreviewFor;

  /** The trial this window applied last (its policy number), until the next apply: the apply's
   * own result ("… returns in 60 s unless you keep it") is stale once that trial is over. */
  appliedTrial: number | null;
  /** Keep or Revert now is running. */
  trialBusy: boolean;
  /** The last keep/revert outcome of this window. */
  trialResult: TrialResult | null;

  refreshEngine(): Promise<void>;
  startEngine(): void;
  stopEngine(): void;
  /** Opens the Apply preview and asks the engine what the draft would change. */
  openPreview(opts?: PreviewFor): Promise<void>;
  /** Runs the preview again for the draft as it is now (after "Guard only these ranges"). */
  refreshPreview(): Promise<void>;
  closePreview(): void;
  /** Applies the draft from the preview, as a trial of `seconds` (default 60) or for good. */
  applyFromPreview(trial: boolean, seconds?: number): Promise<ApplyOutcome | null>;
  /** "Guard only these ranges": `iface`'s default becomes allow (a pending change), then the preview again. */
  guardOnlyFromPreview(iface: string): Promise<void>;
  confirmTrial(): Promise<TrialResult | null>;
  revertTrial(): Promise<TrialResult | null>;
  dismissLastTrial(): void;
}

export const DEFAULT_TRIAL_SECONDS = 60;

/** What of the engine view, when it changes, means the enforced policy changed. */
function policyKey(v: EngineView | null): string {
  if (!v) return '';
  return `${v.policy ?? '-'}/${v.trial ? `${v.trial.policy}${v.trial.expired ? 'x' : ''}` : '-'}/${v.lastTrial ? `${v.lastTrial.policy}@${v.lastTrial.time}` : '-'}`;
}

export const createEngineSlice: Slice<EngineSlice> =
  ({ client, opts }) =>
  (set, get) => {
    let wanted = false;
    let running = false;
    let wake: (() => void) | null = null;
    /** Increases with every preview request: a late answer for an older draft is dropped. */
    let previewSeq = 0;

    const sleep = (ms: number) =>
      new Promise<void>((resolve) => {
        const t = setTimeout(done, ms);
        function done() {
          clearTimeout(t);
          wake = null;
          resolve();
        }
        wake = done;
      });

    /** Increases with every getEngine; an answer older than the one shown is dropped. */
    let engineSeq = 0;
    let engineShown = 0;

    const loop = async () => {
      running = true;
      try {
        while (wanted) {
          // A call that never answers must not stop the header: give up waiting after a while
          // (its late answer, if any, is dropped as older than the next one's).
          let timer: ReturnType<typeof setTimeout> | undefined;
          const late = new Promise<'late'>(
            (r) => (timer = setTimeout(() => r('late'), opts.enginePollMs * 5)),
          );
          const r = await Promise.race([
            get()
              .refreshEngine()
              .then(() => 'done' as const),
            late,
          ]);
          clearTimeout(timer);
          if (r === 'late') get().recordError('getEngine', new Error('no answer; asking again'));
          if (wanted) await sleep(opts.enginePollMs);
        }
      } finally {
        running = false;
      }
    };

    const runPreview = async () => {
      const seq = ++previewSeq;
      set({ preview: null, previewLoading: true, previewError: null });
      try {
        const preview = await client.preview({ doc: get().draft });
        if (seq !== previewSeq || !get().previewOpen) return;
        set({ preview, previewLoading: false });
      } catch (err) {
        if (seq !== previewSeq) return;
        get().recordError('preview', err);
        set({
          previewLoading: false,
          previewError: {
            text: errorMessage(err),
            diagnostics: err instanceof ApiError ? err.diagnostics : [],
          },
        });
      }
    };

    const settle = async (op: 'confirmTrial' | 'revertTrial'): Promise<TrialResult | null> => {
      if (get().trialBusy) return null;
      set({ trialBusy: true });
      try {
        const r = await client[op]();
        set({ trialResult: r });
        get().clearNotices('apply');
        get().setNotice({ kind: 'ok', text: r.message, scope: 'apply' });
        return r;
      } catch (err) {
        get().recordError(op, err);
        get().setNotice({
          kind: 'error',
          text: `${op === 'confirmTrial' ? 'Keep' : 'Revert'} failed: ${errorMessage(err)}`,
          scope: 'apply',
        });
        return null;
      } finally {
        set({ trialBusy: false });
        await Promise.allSettled([get().refreshEngine(), get().loadEnforced()]);
      }
    };

    return {
      engine: null,
      engineError: null,
      now: Date.now(),
      trialSeen: null,
      lastTrialDismissed: null,
      lastTrialFirst: null,
      previewOpen: false,
      preview: null,
      previewLoading: false,
      previewError: null,
      previewFor: {},
      appliedTrial: null,
      trialBusy: false,
      trialResult: null,

      refreshEngine: async () => {
        const seq = ++engineSeq;
        let view: EngineView;
        try {
          view = await client.getEngine();
          if (seq < engineShown) return;
          engineShown = seq;
        } catch (err) {
          if (seq < engineShown) return;
          const text = errorMessage(err);
          if (get().engineError !== text) {
            get().recordError('getEngine', err);
            set({ engineError: text, now: Date.now() });
          }
          return;
        }
        const before = get().engine;
        const patch: Partial<EngineSlice> = { engine: view, engineError: null, now: Date.now() };
        if (view.trial && !view.trial.expired) patch.trialSeen = view.trial;
        const lt = view.lastTrial;
        if (lt && get().lastTrialFirst?.time !== lt.time)
          patch.lastTrialFirst = { time: lt.time, policy: view.policy };
        set(patch);
        // Someone applied, or the kernel went back: the diff and the expected policy follow (also
        // at the first answer, when another window applied since this one loaded the policy).
        const stale = before
          ? policyKey(before) !== policyKey(view)
          : view.policy !== (get().enforced?.epoch ?? null);
        if (stale) await get().loadEnforced();
      },

      startEngine: () => {
        wanted = true;
        if (!running) void loop();
      },

      stopEngine: () => {
        wanted = false;
        wake?.();
      },

      openPreview: async (o = {}) => {
        set({ previewOpen: true, previewFor: { ...o } });
        await runPreview();
      },

      refreshPreview: async () => {
        if (!get().previewOpen) return;
        await runPreview();
      },

      closePreview: () => {
        previewSeq++;
        set({ previewOpen: false, preview: null, previewLoading: false, previewError: null, previewFor: {} });
      },

      applyFromPreview: async (trial, seconds) => {
        const { previewFor } = get();
        get().clearNotices('apply');
        const outcome = await get().apply({
          ...(trial ? { trialSeconds: seconds ?? DEFAULT_TRIAL_SECONDS } : {}),
          ...(previewFor.fromHistory !== undefined ? { fromHistory: previewFor.fromHistory } : {}),
        });
        if (outcome) {
          get().closePreview();
          set({ trialResult: null, appliedTrial: outcome.trial?.policy ?? null });
        } else if (get().applyResult?.kind === 'conflict') {
          // Someone else applied: the preview is stale; show it against what is enforced now.
          await get().refreshPreview();
        }
        await get().refreshEngine();
        return outcome;
      },

      guardOnlyFromPreview: async (iface) => {
        get().setInterfaceSetting(iface, 'default', 'allow');
        await get().refreshPreview();
      },

      confirmTrial: () => settle('confirmTrial'),
      revertTrial: () => settle('revertTrial'),

      dismissLastTrial: () => {
        const e = get().engine;
        const at = e?.trial?.expired ? e.trial.deadline : e?.lastTrial?.time;
        if (at !== undefined) set({ lastTrialDismissed: at });
      },
    };
  };
