// SPDX-License-Identifier: Apache-2.0
// Environment: Electron main process.
//
// Wires the quit sequence (quit-flow.ts) to the window's close button and to app.quit() (Ctrl+Q,
// the menu): both are held back until the admin has answered and the engine worker is closed.
import { app, dialog } from 'electron';
import type { BrowserWindow } from 'electron';
import type { Backend } from '../backend/backend.js';
import {
  createQuitFlow,
  QUIT_BUTTONS,
  QUIT_CANCEL_ID,
  QUIT_DEFAULT_ID,
  QUIT_DETAIL,
  QUIT_MESSAGE,
} from './quit-flow.js';

export function installQuitHandling(backend: Backend, win: BrowserWindow): void {
  const window = () => (win.isDestroyed() ? undefined : win);
  const flow = createQuitFlow({
    enforcing: () => backend.state().mode === 'enforcing',
    ask: async () => {
      const opts = {
        type: 'question' as const,
        title: 'Quit net-tc-filter',
        message: QUIT_MESSAGE,
        detail: QUIT_DETAIL,
        buttons: [...QUIT_BUTTONS],
        defaultId: QUIT_DEFAULT_ID,
        cancelId: QUIT_CANCEL_ID,
        noLink: true,
      };
      const parent = window();
      const r = parent ? await dialog.showMessageBox(parent, opts) : await dialog.showMessageBox(opts);
      return r.response;
    },
    stopFiltering: () => backend.stopFiltering(),
    closeBackend: () => backend.close(),
    reportError: async (message) => {
      const opts = { type: 'error' as const, title: 'Stop filtering failed', message, buttons: ['OK'] };
      const parent = window();
      if (parent) await dialog.showMessageBox(parent, opts);
      else await dialog.showMessageBox(opts);
    },
  });

  const run = () => {
    void flow.request().then((outcome) => {
      if (outcome === 'quit') app.quit();
    });
  };

  app.on('before-quit', (event) => {
    if (flow.done) return;
    event.preventDefault();
    run();
  });

  // The window's close button asks the same question as Ctrl+Q.
  win.on('close', (event) => {
    if (flow.done) return;
    event.preventDefault();
    run();
  });
}
