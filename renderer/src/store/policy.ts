// SPDX-License-Identifier: Apache-2.0
// Environment: renderer (pure store logic).
//
// The policy slice: what is enforced, the editor's draft, and the edit/apply/import/export
// actions. The draft is replaced, never mutated, so selectors can memoise on its identity.
import type { ApplyOutcome, Enforced, ProposeResult } from '../../../electron/ipc/contract.js';
import type { EndpointDoc, FieldDiagnostic, PolicyDoc } from '../../../electron/policy/doc.js';
import { emptyDoc } from '../../../electron/policy/doc.js';
import { checkInterfaceName, parseAllowText, parseRangeText } from '../../../electron/policy/fields.js';
import { parseWindowText, windowsError, type WindowValue } from '../../../electron/policy/when.js';
import type { Diagnostic, InterfaceSettings, LogAllowed } from '../../../electron/policy/types.js';
import { ApiError, errorMessage } from '../api.js';
import { diffPolicy, type ListName } from '../logic/diff.js';
import { additions, mergeDocs, type MergeSummary } from '../logic/merge.js';
import { createSelectorMemo, selectErrorCount, type SelectorMemo } from './selectors.js';
import type { Slice } from './types.js';

export interface ImportInfo {
  file: string;
  diagnostics: Diagnostic[];
  /** Whether the file became the draft (false when it had errors). */
  replaced: boolean;
  /** How it went into the draft (replaced: true): replaced it, or merged into it (with what changed). */
  how?: 'replace' | 'merge';
  summary?: MergeSummary;
}

/** A file read by Import that waits for the admin's answer: replace the draft or merge into it. */
export interface ImportChoice {
  file: string;
  doc: PolicyDoc;
  diagnostics: Diagnostic[];
  /** What merging would change (for the dialog's words). */
  merge: MergeSummary;
}

/** The last "Propose from observed traffic": what it added to the draft and what it skipped. */
export interface ProposeInfo {
  kind: 'ok' | 'none' | 'error';
  /** One line for the notice. */
  text: string;
  added: string[];
  extended: string[];
  observed: number;
  granted: number;
  skipped: ProposeResult['skipped'];
}

export interface ApplyResultInfo {
  kind: 'ok' | 'error' | 'conflict';
  /** kind 'error' from invalid-policy: it stays until the draft has no errors left (any other
   * error or success result leaves at the next edit of the draft). */
  invalid?: boolean;
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
  /** Endpoints added and not typed into yet (by identity: an edit replaces the object): their
   * errors are not shown until then or an apply attempt (revealErrors); they still block Apply. */
  freshEndpoints: ReadonlySet<EndpointDoc>;
  /** Import read a file and asks whether to replace the draft or merge into it. */
  importChoice: ImportChoice | null;
  proposing: boolean;
  proposeInfo: ProposeInfo | null;
  /** The draft is history entry N's policy, unedited ("go back to this one"): Apply records it. */
  draftFromHistory: number | null;
  /** The store's selector caches (selectors.ts). */
  memo: SelectorMemo;
  /** Shows every error, those of new endpoints too (an apply attempt). */
  revealErrors(): void;
  /** Answers the import question. */
  resolveImport(how: 'replace' | 'merge' | 'cancel'): void;
  /** Turns the engine's proposal from observed traffic into pending changes (nothing applied). */
  propose(): Promise<void>;
  dismissPropose(): void;
  /** Makes `doc` the draft as pending changes (history: the entry it came from). */
  loadDraft(doc: PolicyDoc, origin?: { history?: number }): void;
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
  /** Adds a `when:` time window (the files' parser and limits); returns why not, or null. */
  addWindow(index: number, text: string): string | null;
  /** Removes a window; without windows the endpoint is always open (no `when`). */
  removeWindow(index: number, item: number): void;
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

/** Why `text` cannot be added to an endpoint's windows (syntax, duplicate, limits), or null. */
export function checkWindow(text: string, existing: string[] = []): string | null {
  if (text === '') return 'enter a time window, e.g. Mon-Fri 08:00-18:00';
  const w = parseWindowText(text);
  if (!w.window) return w.error ?? 'not a time window';
  if (existing.includes(text)) return `${text} is already listed`;
  const all: WindowValue[] = [];
  for (const t of existing) {
    const x = parseWindowText(t).window;
    if (x) all.push(x);
  }
  return windowsError([...all, w.window]) ?? null;
}

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;

export const createPolicySlice: Slice<PolicySlice> =
  ({ client }) =>
  (set, get) => {
    /** Replaces the draft (a path to every edit, so stale server diagnostics go away, and with
     * them the apply result that belonged to the previous draft: an error is being fixed, a
     * success is history once the draft differs; an invalid-policy result stays while errors do). */
    const setDraft = (draft: PolicyDoc, extra: Partial<PolicySlice> = {}) => {
      const { freshEndpoints, applyResult } = get();
      const kept = new Set(draft.endpoints.filter((e) => freshEndpoints.has(e)));
      set({
        draft,
        serverDiagnostics: [],
        freshEndpoints: kept.size === freshEndpoints.size ? freshEndpoints : kept,
        draftFromHistory: null,
        ...(applyResult && !applyResult.invalid && applyResult.kind !== 'conflict'
          ? { applyResult: null }
          : {}),
        ...extra,
      });
      const r = get().applyResult;
      if (r?.invalid && selectErrorCount(get()) === 0) set({ applyResult: null });
    };
    const editEndpoint = (index: number, fn: (e: EndpointDoc) => EndpointDoc) => {
      const { draft } = get();
      const e = draft.endpoints[index];
      if (!e) return;
      const endpoints = draft.endpoints.slice();
      endpoints[index] = fn(e);
      setDraft({ ...draft, endpoints });
    };
    const replaceWith = (file: string, doc: PolicyDoc, diagnostics: Diagnostic[]) =>
      setDraft(doc, {
        selected: doc.endpoints.length ? 0 : null,
        importChoice: null,
        proposeInfo: null,
        importInfo: { file, diagnostics, replaced: true, how: 'replace' },
      });

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
      freshEndpoints: new Set(),
      importChoice: null,
      proposing: false,
      proposeInfo: null,
      draftFromHistory: null,
      memo: createSelectorMemo(),

      revealErrors: () => {
        if (get().freshEndpoints.size) set({ freshEndpoints: new Set() });
      },

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
        set({ freshEndpoints: new Set([...get().freshEndpoints, e]) });
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

      addWindow: (index, raw) => {
        const text = raw.trim();
        const e = get().draft.endpoints[index];
        if (!e) return 'no such endpoint';
        const err = checkWindow(text, e.when);
        if (err) return err;
        editEndpoint(index, (x) => ({ ...x, when: [...(x.when ?? []), text] }));
        return null;
      },

      removeWindow: (index, item) =>
        editEndpoint(index, (e) => {
          const { when, ...rest } = e;
          const left = (when ?? []).filter((_, j) => j !== item);
          return left.length > 0 ? { ...rest, when: left } : rest;
        }),

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
        get().revealErrors();
        const fromHistory = how.fromHistory ?? get().draftFromHistory ?? undefined;
        set({ applying: true, applyResult: null });
        try {
          const outcome = await client.apply({
            doc: draft,
            expectEpoch: enforced?.epoch ?? null,
            ...(how.trialSeconds ? { trialSeconds: how.trialSeconds } : {}),
            ...(fromHistory !== undefined ? { fromHistory } : {}),
          });
          const trial = outcome.trial
            ? ` as a trial: policy ${outcome.trial.previous} returns in ${outcome.trial.secondsLeft} s unless you keep it`
            : '';
          const parts = [`Applied policy ${outcome.epoch}${trial} (${Math.round(outcome.totalMs)} ms).`];
          if (outcome.attached.length) parts.push(`Attached to ${outcome.attached.join(', ')}.`);
          if (outcome.missing.length)
            parts.push(
              `Waiting for ${outcome.missing.join(', ')} (not present now; attached when it appears).`,
            );
          set({
            enforced: outcome.enforced,
            serverDiagnostics: [],
            // The notices of the draft's origin belong to the pending state that is now applied.
            importInfo: null,
            proposeInfo: null,
            applyResult: {
              kind: 'ok',
              text: parts.join(' '),
              details: outcome.diagnostics.map((d) => d.message),
            },
          });
          void get().refreshStatus();
          if (get().history) void get().refreshHistory();
          return outcome;
        } catch (err) {
          get().recordError('apply', err);
          if (err instanceof ApiError && err.code === 'invalid-policy') {
            set({
              serverDiagnostics: err.diagnostics,
              applyResult: { kind: 'error', invalid: true, text: `Not applied: ${err.message}` },
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
        setDraft(draft, {
          selected: draft.endpoints.length ? 0 : null,
          applyResult: null,
          importInfo: null,
          proposeInfo: null,
          importChoice: null,
        });
      },

      importYaml: async () => {
        try {
          const r = await client.importYaml();
          if (r.canceled) return;
          if (r.doc) {
            const { draft } = get();
            const merge = mergeDocs(draft, r.doc);
            // Ask only when the answer matters: merging gives something else than the file.
            if (diffPolicy(r.doc, merge.doc).count === 0) {
              replaceWith(r.file, r.doc, r.diagnostics);
            } else {
              set({
                importChoice: { file: r.file, doc: r.doc, diagnostics: r.diagnostics, merge: merge.summary },
              });
            }
          } else {
            set({
              importInfo: { file: r.file, diagnostics: r.diagnostics, replaced: false },
              importChoice: null,
            });
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

      resolveImport: (how) => {
        const c = get().importChoice;
        if (!c) return;
        if (how === 'cancel') return set({ importChoice: null });
        if (how === 'replace') return replaceWith(c.file, c.doc, c.diagnostics);
        const { doc, summary } = mergeDocs(get().draft, c.doc);
        const first = summary.added[0] ?? summary.extended[0];
        const index = first !== undefined ? doc.endpoints.findIndex((e) => e.name === first) : -1;
        setDraft(doc, {
          selected: index >= 0 ? index : get().selected,
          importChoice: null,
          proposeInfo: null,
          importInfo: { file: c.file, diagnostics: c.diagnostics, replaced: true, how: 'merge', summary },
        });
      },

      propose: async () => {
        if (get().proposing) return;
        set({ proposing: true });
        try {
          const r = await client.propose(undefined);
          const info = { observed: r.observed, granted: r.granted, skipped: r.skipped };
          if (!r.doc) {
            set({ proposeInfo: { kind: 'none', text: r.message, added: [], extended: [], ...info } });
            return;
          }
          const { doc, summary } = mergeDocs(get().draft, additions(get().enforced?.doc ?? null, r.doc));
          const names = [...summary.added, ...summary.extended];
          if (!names.length) {
            set({
              proposeInfo: {
                kind: 'none',
                text: `Nothing to add from ${plural(r.observed, 'observed flow')}: the draft already allows what the proposal would.`,
                added: [],
                extended: [],
                ...info,
              },
            });
            return;
          }
          const index = doc.endpoints.findIndex((e) => e.name === names[0]);
          const parts = [
            summary.added.length ? `added ${summary.added.join(', ')}` : '',
            summary.extended.length ? `extended ${summary.extended.join(', ')}` : '',
          ].filter(Boolean);
          setDraft(doc, {
            selected: index >= 0 ? index : get().selected,
            importInfo: null,
            proposeInfo: {
              kind: 'ok',
              text: `From ${plural(r.observed, 'observed flow')}: ${parts.join('; ')} as pending changes (${plural(r.granted, 'flow')} granted${r.skipped.length ? `, ${r.skipped.length} skipped` : ''}). Nothing is applied until you press Apply.`,
              added: summary.added,
              extended: summary.extended,
              ...info,
            },
          });
        } catch (err) {
          get().recordError('propose', err);
          set({
            proposeInfo: {
              kind: 'error',
              text: `Propose failed: ${errorMessage(err)}`,
              added: [],
              extended: [],
              observed: 0,
              granted: 0,
              skipped: [],
            },
          });
        } finally {
          set({ proposing: false });
        }
      },

      dismissPropose: () => set({ proposeInfo: null }),

      loadDraft: (doc, origin = {}) => {
        const draft = clone(doc);
        setDraft(draft, {
          selected: draft.endpoints.length ? 0 : null,
          importInfo: null,
          proposeInfo: null,
          importChoice: null,
          draftFromHistory: origin.history ?? null,
        });
      },

      keepEnforced: () => {
        set({ savedDismissed: true });
        if (get().enforced?.saved?.doc) get().revert();
      },
    };
  };
