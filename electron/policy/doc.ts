// SPDX-License-Identifier: Apache-2.0
// Environment: any (pure; bundled into the renderer too).
//
// The policy as an editor holds it (PolicyDoc): the YAML format's values as text. Converting a
// document to the model applies the same value validators and structural rules as the YAML
// codec (fields.ts), so the editor, the IPC layer and files accept exactly the same policies.
// Problems are located by path (['endpoints', 0, 'range', 1]) instead of line and column.
import { checkEndpointName, checkInterfaceName, parseAllowText, parseRangeText, quote } from './fields.js';
import { parseWindowText, windowsError } from './when.js';
import type {
  AllowEntry,
  Endpoint,
  InterfaceMode,
  InterfaceSettings,
  LogAllowed,
  Policy,
  Range,
  Verdict,
  Window,
} from './types.js';

export interface EndpointDoc {
  name: string;
  iface: string[];
  range: string[];
  allow: string[];
  /** Time windows (when.ts); absent: always open. */
  when?: string[];
}

export interface InterfaceDoc {
  default?: Verdict;
  unowned?: Verdict;
  essentials?: boolean;
  mode?: InterfaceMode;
}

export interface PolicyDoc {
  endpoints: EndpointDoc[];
  interfaces: Record<string, InterfaceDoc>;
  logging: { allowed?: LogAllowed };
}

export type DocPath = Array<string | number>;

/** A problem in a PolicyDoc, located by its path. */
export interface FieldDiagnostic {
  severity: 'error' | 'warning';
  message: string;
  path: DocPath;
}

export function emptyDoc(): PolicyDoc {
  return { endpoints: [], interfaces: {}, logging: {} };
}

/** The document of a parsed policy; values keep the text the file had. */
export function policyToDoc(p: Policy): PolicyDoc {
  const interfaces: Record<string, InterfaceDoc> = {};
  for (const [name, s] of Object.entries(p.interfaces)) {
    const d: InterfaceDoc = {};
    if (s.default !== undefined) d.default = s.default;
    if (s.unowned !== undefined) d.unowned = s.unowned;
    if (s.essentials !== undefined) d.essentials = s.essentials;
    if (s.mode !== undefined) d.mode = s.mode;
    interfaces[name] = d;
  }
  return {
    endpoints: p.endpoints.map((e) => ({
      name: e.name,
      iface: [...e.iface],
      range: e.range.map((r) => r.text),
      allow: e.allow.map((a) => a.text),
      ...(e.when ? { when: e.when.map((w) => w.text) } : {}),
    })),
    interfaces,
    logging: p.logging.allowed !== undefined ? { allowed: p.logging.allowed } : {},
  };
}

/** Validates a document and builds the model; `policy` is set only when there is no error. */
export function docToPolicy(doc: PolicyDoc): { policy?: Policy; diagnostics: FieldDiagnostic[] } {
  const diagnostics: FieldDiagnostic[] = [];
  const error = (path: DocPath, message: string) => diagnostics.push({ severity: 'error', message, path });
  const warning = (path: DocPath, message: string) =>
    diagnostics.push({ severity: 'warning', message, path });
  const seen = new Map<string, number>();
  const endpoints: Endpoint[] = doc.endpoints.map((e, i) => {
    const at: DocPath = ['endpoints', i];
    const nameError = checkEndpointName(e.name);
    if (nameError) error([...at, 'name'], nameError);
    const first = seen.get(e.name);
    if (first !== undefined)
      error([...at, 'name'], `duplicate endpoint name ${quote(e.name)}; endpoint ${first + 1} has it too`);
    else seen.set(e.name, i);
    const label = `endpoint ${quote(e.name)}`;
    if (e.iface.length === 0) error([...at, 'iface'], `${label} names no interface; add one, e.g. eth0`);
    if (e.range.length === 0)
      error([...at, 'range'], `${label} guards no range; add one, e.g. 169.254.169.254/32`);
    if (e.allow.length === 0) error([...at, 'allow'], `${label} allows nobody; add a user, uid, @group or *`);
    e.iface.forEach((name, j) => {
      const err = checkInterfaceName(name);
      if (err) error([...at, 'iface', j], err);
    });
    const range: Range[] = [];
    e.range.forEach((t, j) => {
      const r = parseRangeText(t);
      if (r.error || !r.range) error([...at, 'range', j], r.error ?? `invalid range ${quote(t)}`);
      else {
        if (r.warning) warning([...at, 'range', j], r.warning);
        range.push(r.range);
      }
    });
    const allow: AllowEntry[] = [];
    e.allow.forEach((t, j) => {
      const a = parseAllowText(t);
      if (a.error || !a.entry) error([...at, 'allow', j], a.error ?? `invalid allow entry ${quote(t)}`);
      else allow.push(a.entry);
    });
    const when = e.when === undefined ? undefined : docWindows(e.when, [...at, 'when'], error);
    return { name: e.name, iface: [...e.iface], range, allow, ...(when ? { when } : {}) };
  });
  const interfaces: Record<string, Partial<InterfaceSettings>> = {};
  for (const [name, s] of Object.entries(doc.interfaces)) {
    const err = checkInterfaceName(name);
    if (err) error(['interfaces', name], err);
    const settings: Partial<InterfaceSettings> = {};
    if (s.default !== undefined) settings.default = s.default;
    if (s.unowned !== undefined) settings.unowned = s.unowned;
    if (s.essentials !== undefined) settings.essentials = s.essentials;
    if (s.mode !== undefined) settings.mode = s.mode;
    Object.defineProperty(interfaces, name, {
      value: settings,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  const logging: Policy['logging'] =
    doc.logging.allowed !== undefined ? { allowed: doc.logging.allowed } : {};
  const failed = diagnostics.some((d) => d.severity === 'error');
  return failed ? { diagnostics } : { policy: { endpoints, interfaces, logging }, diagnostics };
}

/** An endpoint's `when` texts as windows; problems at their item, the list's limits at the list. */
function docWindows(texts: string[], at: DocPath, error: (path: DocPath, message: string) => void): Window[] {
  const windows: Window[] = [];
  texts.forEach((t, j) => {
    const w = parseWindowText(t);
    if (!w.window) error([...at, j], w.error ?? `invalid time window ${quote(t)}`);
    else windows.push(w.window);
  });
  if (windows.length === texts.length) {
    const err = windowsError(windows);
    if (err) error(at, err);
  }
  return windows;
}
