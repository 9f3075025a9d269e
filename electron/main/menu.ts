// SPDX-License-Identifier: Apache-2.0
// Environment: Electron main process.
//
// A minimal menu: Quit (Ctrl+Q, through the quit question), editing shortcuts for the text
// fields, zoom; reload and DevTools only in development.
import { app, Menu } from 'electron';
import type { MenuItemConstructorOptions } from 'electron';

export function installMenu(): void {
  const dev = !app.isPackaged;
  const template: MenuItemConstructorOptions[] = [
    { label: 'File', submenu: [{ role: 'quit' }] },
    {
      label: 'Edit',
      submenu: [
        { role: 'undo' },
        { role: 'redo' },
        { type: 'separator' },
        { role: 'cut' },
        { role: 'copy' },
        { role: 'paste' },
        { role: 'selectAll' },
      ],
    },
    {
      label: 'View',
      submenu: [
        { role: 'resetZoom' },
        { role: 'zoomIn' },
        { role: 'zoomOut' },
        { type: 'separator' },
        { role: 'togglefullscreen' },
        ...(dev
          ? ([
              { type: 'separator' },
              { role: 'reload' },
              { role: 'toggleDevTools' },
            ] as MenuItemConstructorOptions[])
          : []),
      ],
    },
  ];
  Menu.setApplicationMenu(Menu.buildFromTemplate(template));
}
