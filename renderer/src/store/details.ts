// SPDX-License-Identifier: Apache-2.0
// Environment: renderer (pure store logic).
//
// The details slice: the decision or flow the admin opened in Live traffic, the engine's
// explanation of it (explain), and the fixes taken from there. A fix only edits the draft
// through the policy slice's edit actions: it shows up in the pending changes like any edit and
// is applied only with Apply.
import type { ExplainResult, FlowWire, TrafficRow } from '../../../electron/ipc/contract.js';
import { errorMessage } from '../api.js';
import { flowQueryOf, type Action } from '../logic/actions.js';
import type { Slice } from './types.js';

export type DetailsTarget =
  { kind: 'decision'; key: string; row: TrafficRow } | { kind: 'flow'; key: string; row: FlowWire };

export interface DetailsState {
  target: DetailsTarget;
  /** The engine's explanation; null while it is asked for or when it failed. */
  explain: ExplainResult | null;
  loading: boolean;
  /** Why explain failed. */
  explainError: string | null;
  /** The last fix taken here, in words ("bob added to imdsv2's users"). */
  added: string | null;
}

export interface DetailsSlice {
  details: DetailsState | null;
  /** Opens the pane on a row and asks the engine to explain it. */
  openDetails(target: DetailsTarget): Promise<void>;
  closeDetails(): void;
  /** Makes a fix a pending change (the draft), never applies it. */
  takeAction(action: Action): void;
}

export const decisionTarget = (row: TrafficRow): DetailsTarget => ({
  kind: 'decision',
  key: String(row.seq),
  row,
});

export const flowTarget = (row: FlowWire): DetailsTarget => ({ kind: 'flow', key: row.key, row });

export const createDetailsSlice: Slice<DetailsSlice> =
  ({ client }) =>
  (set, get) => {
    /** The open request: a late answer for a row no longer open is dropped. */
    let asked = 0;
    return {
      details: null,

      openDetails: async (target) => {
        const n = ++asked;
        set({ details: { target, explain: null, loading: true, explainError: null, added: null } });
        try {
          const explain = await client.explain({ flow: flowQueryOf(target.row) });
          if (n !== asked) return;
          set((s) => (s.details ? { details: { ...s.details, explain, loading: false } } : {}));
        } catch (err) {
          if (n !== asked) return;
          get().recordError('explain', err);
          set((s) =>
            s.details ? { details: { ...s.details, loading: false, explainError: errorMessage(err) } } : {},
          );
        }
      },

      closeDetails: () => {
        asked++;
        set({ details: null });
      },

      takeAction: (action) => {
        const s = get();
        if (action.kind === 'allow-user' || action.kind === 'allow-unit') {
          const i = s.draft.endpoints.findIndex((e) => e.name === action.endpoint);
          if (i < 0) return;
          const err = s.addItem(i, 'allow', action.kind === 'allow-user' ? action.user : action.entry);
          if (err) return;
          s.select(i);
        } else if (action.kind === 'new-endpoint') {
          const e = action.endpoint;
          const i = s.addEndpoint();
          get().renameEndpoint(i, e.name);
          for (const v of e.iface) get().addItem(i, 'iface', v);
          for (const v of e.range) get().addItem(i, 'range', v);
          for (const v of e.allow) get().addItem(i, 'allow', v);
          if (action.configure) {
            const iface = e.iface[0] as string;
            get().setInterfaceSetting(iface, 'default', 'allow');
            if (action.configure.mode === 'audit') get().setInterfaceSetting(iface, 'mode', 'audit');
          }
        } else {
          s.setInterfaceSetting(action.iface, 'default', 'allow');
        }
        set((st) => (st.details ? { details: { ...st.details, added: action.done } } : {}));
      },
    };
  };
