// SPDX-License-Identifier: Apache-2.0
// Environment: renderer (pure store logic).
//
// The history slice: the engine's applied policies (newest first), the entry open in the
// History view with its YAML and its diff against its predecessor, and "go back to this one"
// (the entry's policy becomes the draft as pending changes; the apply preview opens as a trial).
import type { HistoryEntryResult, HistoryItem, HistoryListResult } from '../../../electron/ipc/contract.js';
import { errorMessage } from '../api.js';
import type { Slice } from './types.js';

export interface HistorySlice {
  /** null until first loaded. */
  history: HistoryListResult | null;
  historyLoading: boolean;
  historyError: string | null;
  /** The entry open in the view (its n). */
  historySelected: number | null;
  historyEntry: HistoryEntryResult | null;
  historyEntryError: string | null;
  refreshHistory(): Promise<void>;
  selectHistory(n: number | null): Promise<void>;
  /** Loads entry n's policy into the draft (pending changes) and opens the apply preview for it
   * (the engine slice's; it proposes a trial). Resolves to false when the entry has no usable policy. */
  goBackTo(n: number): Promise<boolean>;
}

export const createHistorySlice: Slice<HistorySlice> =
  ({ client }) =>
  (set, get) => {
    let listSeq = 0;
    let entrySeq = 0;
    const loadEntry = async (n: number): Promise<HistoryEntryResult | null> => {
      const seq = ++entrySeq;
      try {
        const entry = await client.historyEntry({ n });
        if (seq === entrySeq && get().historySelected === n)
          set({ historyEntry: entry, historyEntryError: null });
        return entry;
      } catch (err) {
        get().recordError('historyEntry', err);
        if (seq === entrySeq) set({ historyEntryError: errorMessage(err) });
        return null;
      }
    };
    return {
      history: null,
      historyLoading: false,
      historyError: null,
      historySelected: null,
      historyEntry: null,
      historyEntryError: null,

      refreshHistory: async () => {
        const seq = ++listSeq;
        set({ historyLoading: true });
        try {
          const history = await client.listHistory();
          if (seq !== listSeq) return;
          set({ history, historyError: null });
          const sel = get().historySelected;
          const still = sel !== null && history.entries.some((e) => e.n === sel);
          const next = still ? sel : (history.entries[0]?.n ?? null);
          if (next !== sel || (next !== null && get().historyEntry?.entry.n !== next))
            await get().selectHistory(next);
          else if (next !== null) await loadEntry(next); // its outcome may have changed
        } catch (err) {
          get().recordError('listHistory', err);
          if (seq === listSeq) set({ historyError: errorMessage(err) });
        } finally {
          if (seq === listSeq) set({ historyLoading: false });
        }
      },

      selectHistory: async (n) => {
        if (n === null) {
          entrySeq++;
          set({ historySelected: null, historyEntry: null, historyEntryError: null });
          return;
        }
        const keep = get().historyEntry?.entry.n === n ? get().historyEntry : null;
        set({ historySelected: n, historyEntry: keep, historyEntryError: null });
        await loadEntry(n);
      },

      goBackTo: async (n) => {
        const cur = get().historyEntry;
        const entry = cur?.entry.n === n ? cur : await loadEntry(n);
        if (!entry?.doc) {
          if (entry)
            set({ historyEntryError: 'This entry no longer converts to a policy the editor can hold.' });
          return false;
        }
        get().loadDraft(entry.doc, { history: n });
        get().setView('policy');
        await get().openPreview({ fromHistory: n });
        return true;
      },
    };
  };

const pad = (n: number) => String(n).padStart(2, '0');
/** Local wall-clock time as HH:MM:SS. */
export function clockTime(ms: number): string {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** Where an entry came from, in words. */
export function originText(origin: HistoryItem['origin']): string {
  switch (origin) {
    case 'app':
      return 'app';
    case 'run':
      return 'run (service start)';
    case 'reload':
      return 'reload';
    case 'apply':
      return 'apply (command line)';
    case 'revert':
      return 'revert';
  }
}

/** What became of an entry, in words: "kept", "trial — pending", "reverted by the kernel at
 * 14:03:12", "reverted", "replaced by #12". `entries`: the whole list (for what replaced it). */
export function outcomeText(item: HistoryItem, entries: readonly HistoryItem[]): string {
  const at = item.outcomeTime !== undefined ? ` at ${clockTime(item.outcomeTime)}` : '';
  switch (item.outcome) {
    case 'applied':
      return 'kept';
    case 'confirmed':
      return `kept (trial confirmed${at})`;
    case 'trial':
      return item.trial ? `trial — pending until ${clockTime(item.trial.deadline)}` : 'trial — pending';
    case 'reverted-by-kernel':
      return `reverted by the kernel${at}`;
    case 'reverted':
      return `reverted${at}`;
    case 'replaced': {
      const next = entries
        .filter((e) => e.n > item.n)
        .reduce<HistoryItem | null>((best, e) => (best === null || e.n < best.n ? e : best), null);
      return next ? `replaced by #${next.n}` : 'replaced';
    }
  }
}

export type DiffLineKind = 'add' | 'del' | 'hunk' | 'meta' | 'same';

/** A unified diff's lines with their kind (for colours). */
export function diffLines(diff: string): Array<{ kind: DiffLineKind; text: string }> {
  if (diff === '') return [];
  const lines = diff.replace(/\n$/, '').split('\n');
  return lines.map((text) => {
    if (text.startsWith('+++') || text.startsWith('---')) return { kind: 'meta', text };
    if (text.startsWith('@@')) return { kind: 'hunk', text };
    if (text.startsWith('+')) return { kind: 'add', text };
    if (text.startsWith('-')) return { kind: 'del', text };
    return { kind: 'same', text };
  });
}
