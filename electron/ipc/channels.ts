// SPDX-License-Identifier: Apache-2.0
// Environment: any (imported by the sandboxed preload, the main process and tests; no imports).
//
// The names of the IPC operations. The request/response types and schemas are in contract.ts;
// this list is separate so that the preload bundle stays free of the schema library.

export const OPERATIONS = [
  'getState',
  'getStatus',
  'getEnforced',
  'listInterfaces',
  'listAccounts',
  'validate',
  'apply',
  'importYaml',
  'exportYaml',
  'nextTraffic',
  'stopFiltering',
  'getEngine',
  'preview',
  'confirmTrial',
  'revertTrial',
  'explain',
  'propose',
  'listHistory',
  'historyEntry',
] as const;

export type Operation = (typeof OPERATIONS)[number];

/** The Electron channel of an operation. */
export function channelOf(op: Operation): string {
  return `ntf:${op}`;
}
