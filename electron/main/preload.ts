// SPDX-License-Identifier: Apache-2.0
// Environment: sandboxed preload (a renderer with contextIsolation; only `require('electron')`).
// Bundled by esbuild into dist/electron/main/preload.cjs (`npm run build:preload`): a sandboxed
// preload cannot load ES modules or other files.
//
// Exposes `window.netTcFilter`: one function per operation of the contract, each sending exactly
// one argument to its channel. ipcRenderer itself never reaches the page.
import { contextBridge, ipcRenderer } from 'electron';
import { channelOf, OPERATIONS } from '../ipc/channels.js';
import type { NetTcFilterApi } from '../ipc/contract.js';

function call(channel: string) {
  // Only the first argument goes out: the page cannot add extra arguments to a call.
  return (req?: unknown) => ipcRenderer.invoke(channel, req);
}

// Typed by the contract's NetTcFilterApi (derived from its schemas and response types), which is
// also what renderer/src/env.d.ts declares for window.netTcFilter: one source for both sides.
const api: NetTcFilterApi = Object.freeze(
  Object.fromEntries(OPERATIONS.map((op) => [op, call(channelOf(op))])),
) as NetTcFilterApi;

contextBridge.exposeInMainWorld('netTcFilter', api);
