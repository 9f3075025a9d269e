// SPDX-License-Identifier: Apache-2.0
// Environment: renderer (pure store logic).
//
// The policy slice: what is enforced, the editor's draft, and the edit/apply/import/export
// actions. The draft is replaced, never mutated, so selectors can memoise on its identity.
import type { ApplyOutcome, Enforced } from '../../../electron/ipc/contract.js';
import type { EndpointDoc, FieldDiagnostic, PolicyDoc } from '../../../electron/policy/doc.js';
import { emptyDoc } from '../../../electron/policy/doc.js';
import { checkInterfaceName, parseAllowText, parseRangeText } from '../../../electron/policy/fields.js';
import type { Diagnostic, InterfaceSettings, LogAllowed } from '../../../electron/policy/types.js';
import { ApiError, errorMessage } from '../api.js';
import type { ListName } from '../logic/diff.js';
import type { Slice } from './types.js';

export interface ImportInfo {
  file: string;
  diagnostics: Diagnostic[];
  /** Whether the file became the draft (false when it had errors). */
  replaced: boolean;
}

export interface ApplyResultInfo {
  kind: 'ok' | 'error' | 'conflict';
  text: string;
  /** Warnings the main process reported with a successful apply. */
  details?: string[];
}

export interface PolicySlice {
  enforced: Enforced | null;
  draft: PolicyDoc;
  /** Index of the endpoint open in the editor. */
  selected: number | null;
  applying: boolean;
  /** Problems the main process found in the last apply (invalid-policy), located by path. */
  serverDiagnostics: FieldDiagnostic[];
  applyResult: ApplyResultInfo | null;
  importInfo: ImportInfo | null;
  /** The admin answered the saved-policy notice (enforced.saved): kept what is enforced. */
  savedDismissed: boolean;
  /** Invalid text typed (not yet added) in the editor's inputs, by input; blocks Apply. */
  inputErrors: Record<string, string>;
  setInputError(key: string, error: string | null): void;
  loadEnforced(opts?: { replaceDraft?: boolean }): Promise<void>;
  select(index: number | null): void;
  /** Adds an endpoint with a fresh name, selects it and returns its index. */
  addEndpoint(): number;
  removeEndpoint(index: number): void;
  renameEndpoint(index: number, name: string): void;
  /** Adds a value to a list; returns why it was refused, or null when added. */
  addItem(index: number, list: ListName, text: string): string | null;
  removeItem(index: number, list: ListName, item: number): void;
  setInterfaceSetting<K extends keyof InterfaceSettings>(
    iface: string,
    key: K,
    value: InterfaceSettings[K] | undefined,
  ): void;
  /** Drops the `interfaces:` entry of an interface. */
  removeInterfaceSettings(iface: string): void;
  setLogging(value: LogAllowed | undefined): void;
  /** Applies the draft (as a trial with `trialSeconds`; `fromHistory`: the history entry it was
   * taken from). Resolves to the outcome, or null when it was not applied (applyResult says why). */
  apply(opts?: { trialSeconds?: number; fromHistory?: number }): Promise<ApplyOutcome | null>;
  revert(): void;
  importYaml(): Promise<void>;
  exportYaml(): Promise<void>;
  dismissImport(): void;
  /** The saved policy differs from the kernel: drop it from the editor, keep what is enforced. */
  keepEnforced(): void;
}

function clone(doc: PolicyDoc): PolicyDoc {
  return structuredClone(doc);
}

function freshName(doc: PolicyDoc): string {
  const names = new Set(doc.endpoints.map((e) => e.name));
  for (let n = doc.endpoints.length + 1; ; n++) {
    const name = `endpoint-${n}`;
    if (!names.has(name)) return name;
  }
}

/** Why `text` cannot be added to `list` (syntax or duplicate), or null. */
export function checkItem(list: ListName, text: string, existing: string[]): string | null {
  if (text === '') return 'enter a value';
  let err: string | undefined;
  if (list === 'range') err = parseRangeText(text).error;
  else if (list === 'allow') err = parseAllowText(text).error;
  else err = checkInterfaceName(text);
  if (err) return err;
  if (existing.includes(text)) return `${text} is already listed`;
  return null;
}

export const createPolicySlice: Slice<PolicySlice> =
  ({ client }) =>
  (set, get) => {
    /** Replaces the draft (a path to every edit, so stale server diagnostics go away). */
    const setDraft = (draft: PolicyDoc, extra: Partial<PolicySlice> = {}) =>
      set({ draft, serverDiagnostics: [], ...extra });
    const editEndpoint = (index: number, fn: (e: EndpointDoc) => EndpointDoc) => {
      const { draft } = get();
      const e = draft.endpoints[index];
      if (!e) return;
      const endpoints = draft.endpoints.slice();
      endpoints[index] = fn(e);
      setDraft({ ...draft, endpoints });
    };

    return {
      enforced: null,
      draft: emptyDoc(),
      selected: null,
      applying: false,
      serverDiagnostics: [],
      applyResult: null,
      importInfo: null,
      savedDismissed: false,
      inputErrors: {},

      setInputError: (key, error) => {
        const cur = get().inputErrors;
        if ((cur[key] ?? null) === error) return;
        const next = { ...cur };
        if (error === null) delete next[key];
        else next[key] = error;
        set({ inputErrors: next });
      },

      loadEnforced: async (opts = {}) => {
        try {
          const enforced = await client.getEnforced();
          if (opts.replaceDraft) {
            // A saved policy that differs from the kernel is offered as pending changes, never applied.
            const offered = !get().savedDismissed ? enforced.saved?.doc : undefined;
            const draft = offered ? clone(offered) : enforced.doc ? clone(enforced.doc) : emptyDoc();
            set({ enforced, draft, serverDiagnostics: [], selected: draft.endpoints.length ? 0 : null });
          } else set({ enforced });
        } catch (err) {
          get().recordError('getEnforced', err);
        }
      },

      select: (index) => set({ selected: index }),

      addEndpoint: () => {
        const { draft } = get();
        const e: EndpointDoc = { name: freshName(draft), iface: [], range: [], allow: [] };
        const index = draft.endpoints.length;
        setDraft({ ...draft, endpoints: [...draft.endpoints, e] }, { selected: index });
        return index;
      },

      removeEndpoint: (index) => {
        const { draft, selected } = get();
        if (!draft.endpoints[index]) return;
        const endpoints = draft.endpoints.filter((_, i) => i !== index);
        let sel = selected;
        if (sel !== null) {
          if (sel === index) sel = endpoints.length ? Math.min(index, endpoints.length - 1) : null;
          else if (sel > index) sel--;
        }
        setDraft({ ...draft, endpoints }, { selected: sel });
      },

      renameEndpoint: (index, name) => editEndpoint(index, (e) => ({ ...e, name })),

      addItem: (index, list, raw) => {
        const text = raw.trim();
        const e = get().draft.endpoints[index];
        if (!e) return 'no such endpoint';
        const err = checkItem(list, text, e[list]);
        if (err) return err;
        editEndpoint(index, (x) => ({ ...x, [list]: [...x[list], text] }));
        return null;
      },

      removeItem: (index, list, item) =>
        editEndpoint(index, (e) => ({ ...e, [list]: e[list].filter((_, j) => j !== item) })),

      setInterfaceSetting: (iface, key, value) => {
        const { draft } = get();
        const current = Object.hasOwn(draft.interfaces, iface) ? draft.interfaces[iface] : undefined;
        const next = { ...current };
        if (value === undefined) delete next[key];
        else next[key] = value;
        const interfaces = { ...draft.interfaces };
        Object.defineProperty(interfaces, iface, {
          value: next,
          enumerable: true,
          writable: true,
          configurable: true,
        });
        setDraft({ ...draft, interfaces });
      },

      removeInterfaceSettings: (iface) => {
        const { draft } = get();
        if (!Object.hasOwn(draft.interfaces, iface)) return;
        const interfaces = { ...draft.interfaces };
        delete interfaces[iface];
        setDraft({ ...draft, interfaces });
      },

      setLogging: (value) => {
        const { draft } = get();
        setDraft({ ...draft, logging: value === undefined ? {} : { allowed: value } });
      },

      apply: async (how = {}) => {
        const { draft, enforced, applying } = get();
        if (applying) return null;
        set({ applying: true, applyResult: null });
        try {
          const outcome = await client.apply({
            doc: draft,
            expectEpoch: enforced?.epoch ?? null,
            ...(how.trialSeconds ? { trialSeconds: how.trialSeconds } : {}),
            ...(how.fromHistory !== undefined ? { fromHistory: how.fromHistory } : {}),
          });
          const parts = [`Applied (epoch ${outcome.epoch}) in ${Math.round(outcome.totalMs)} ms.`];
          if (outcome.attached.length) parts.push(`Attached to ${outcome.attached.join(', ')}.`);
          if (outcome.missing.length)
            parts.push(
              `Waiting for ${outcome.missing.join(', ')} (not present now; attached when it appears).`,
            );
          set({
            enforced: outcome.enforced,
            serverDiagnostics: [],
            applyResult: {
              kind: 'ok',
              text: parts.join(' '),
              details: outcome.diagnostics.map((d) => d.message),
            },
          });
          void get().refreshStatus();
          return outcome;
        } catch (err) {
          get().recordError('apply', err);
          if (err instanceof ApiError && err.code === 'invalid-policy') {
            set({
              serverDiagnostics: err.diagnostics,
              applyResult: { kind: 'error', text: `Not applied: ${err.message}` },
            });
          } else if (err instanceof ApiError && err.code === 'conflict') {
            set({
              applyResult: {
                kind: 'conflict',
                text: `Not applied: ${err.message}. The pending changes now compare against the policy in force; review them and apply again.`,
              },
            });
            await get().loadEnforced();
          } else {
            set({ applyResult: { kind: 'error', text: `Not applied: ${errorMessage(err)}` } });
            if (err instanceof ApiError && err.code === 'read-only') await get().refreshState();
          }
          return null;
        } finally {
          set({ applying: false });
        }
      },

      revert: () => {
        const { enforced } = get();
        const draft = enforced?.doc ? clone(enforced.doc) : emptyDoc();
        setDraft(draft, { selected: draft.endpoints.length ? 0 : null, applyResult: null });
      },

      importYaml: async () => {
        try {
          const r = await client.importYaml();
          if (r.canceled) return;
          if (r.doc) {
            setDraft(r.doc, {
              selected: r.doc.endpoints.length ? 0 : null,
              importInfo: { file: r.file, diagnostics: r.diagnostics, replaced: true },
              applyResult: null,
            });
          } else {
            set({ importInfo: { file: r.file, diagnostics: r.diagnostics, replaced: false } });
          }
        } catch (err) {
          get().recordError('importYaml', err);
          get().setNotice({ kind: 'error', text: `Import failed: ${errorMessage(err)}` });
        }
      },

      exportYaml: async () => {
        try {
          const r = await client.exportYaml({ doc: get().draft });
          if (r.canceled) return;
          get().setNotice({ kind: 'ok', text: `Exported to ${r.file} (${r.bytes} bytes).` });
        } catch (err) {
          get().recordError('exportYaml', err);
          if (err instanceof ApiError && err.code === 'invalid-policy')
            set({ serverDiagnostics: err.diagnostics });
          get().setNotice({ kind: 'error', text: `Export failed: ${errorMessage(err)}` });
        }
      },

      dismissImport: () => set({ importInfo: null }),

      keepEnforced: () => {
        set({ savedDismissed: true });
        if (get().enforced?.saved?.doc) get().revert();
      },
    };
  };
