// SPDX-License-Identifier: Apache-2.0
// Environment: any (pure). Which interfaces a document configures and their effective settings.
import type { PolicyDoc } from '../../../electron/policy/doc.js';
import type { InterfaceSettings } from '../../../electron/policy/types.js';

/** Same values as DEFAULT_INTERFACE_SETTINGS in electron/policy/types.ts (a type-only import
 * there keeps the renderer bundle free of Node-side modules). */
export const DEFAULTS: Readonly<InterfaceSettings> = Object.freeze({
  default: 'deny',
  unowned: 'deny',
  essentials: true,
  mode: 'enforce',
});

/** Every interface an endpoint names or `interfaces:` lists, in first-mention order. */
export function configuredInterfaces(doc: PolicyDoc): string[] {
  const seen = new Set<string>();
  for (const e of doc.endpoints) for (const i of e.iface) seen.add(i);
  for (const name of Object.keys(doc.interfaces)) seen.add(name);
  return [...seen];
}

export function effectiveSettings(doc: PolicyDoc, iface: string): InterfaceSettings {
  const s = Object.hasOwn(doc.interfaces, iface) ? doc.interfaces[iface] : undefined;
  return {
    default: s?.default ?? DEFAULTS.default,
    unowned: s?.unowned ?? DEFAULTS.unowned,
    essentials: s?.essentials ?? DEFAULTS.essentials,
    mode: s?.mode ?? DEFAULTS.mode,
  };
}
