// SPDX-License-Identifier: Apache-2.0
// Environment: Electron main process.
//
// One ipcMain.handle per operation of the contract, each going straight into the gateway, which
// checks the operation, the sender frame, the size, the schema and the mode before any handler
// runs (electron/ipc/gateway.ts). Nothing here looks at the request.
import { dialog, ipcMain } from 'electron';
import type { BrowserWindow, IpcMainInvokeEvent } from 'electron';
import { channelOf, OPERATIONS } from '../ipc/channels.js';
import { isSameOrigin } from '../ipc/gateway.js';
import type { Gateway, SenderInfo } from '../ipc/gateway.js';
import type { Dialogs } from '../ipc/handlers.js';
import { APP_ORIGIN } from './app-protocol.js';

/** Only our own page, app://net-tc-filter/…, may call. */
export function isTrustedUrl(url: string): boolean {
  return isSameOrigin(url, APP_ORIGIN);
}

function senderOf(event: IpcMainInvokeEvent): SenderInfo {
  const frame = event.senderFrame;
  return { url: frame?.url, isMainFrame: frame !== null && frame === event.sender.mainFrame };
}

export function registerIpc(gateway: Gateway): void {
  for (const op of OPERATIONS) {
    ipcMain.handle(channelOf(op), (event, req: unknown) => gateway.dispatch(op, senderOf(event), req));
  }
}

const YAML_FILTERS = [
  { name: 'YAML', extensions: ['yml', 'yaml'] },
  { name: 'All files', extensions: ['*'] },
];

/** Electron's file dialogs for import and export; the paths come from the admin, never from the page. */
export function electronDialogs(window: () => BrowserWindow | undefined): Dialogs {
  return {
    async openYaml() {
      const opts = {
        title: 'Import policy',
        filters: YAML_FILTERS,
        properties: ['openFile' as const],
      };
      const parent = window();
      const r = parent ? await dialog.showOpenDialog(parent, opts) : await dialog.showOpenDialog(opts);
      return r.canceled ? undefined : r.filePaths[0];
    },
    async saveYaml(defaultName) {
      const opts = {
        title: 'Export policy',
        defaultPath: defaultName,
        filters: YAML_FILTERS,
        properties: ['showOverwriteConfirmation' as const],
      };
      const parent = window();
      const r = parent ? await dialog.showSaveDialog(parent, opts) : await dialog.showSaveDialog(opts);
      return r.canceled ? undefined : r.filePath;
    },
  };
}
