// SPDX-License-Identifier: Apache-2.0
// Environment: Electron main process.
//
// The one window, and the rules every webContents gets: sandboxed, isolated, no Node, no
// navigation, no new windows, no webviews, no permissions, no DevTools in packaged builds.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { app, BrowserWindow, nativeTheme } from 'electron';
import type { Session, WebContents } from 'electron';
import { APP_INDEX_URL } from './app-protocol.js';

/** The bundled preload (CommonJS: sandboxed preloads cannot load ES modules). */
export function preloadPath(): string {
  return join(fileURLToPath(new URL('.', import.meta.url)), 'preload.cjs');
}

/** DevTools only in development (`electron .` from a checkout). */
export function devToolsAllowed(): boolean {
  return !app.isPackaged;
}

/** Applied to every webContents the app ever creates (app 'web-contents-created'). */
export function hardenWebContents(contents: WebContents): void {
  // The page never navigates: it is a single document served from app://.
  contents.on('will-navigate', (event) => event.preventDefault());
  contents.on('will-frame-navigate', (event) => event.preventDefault());
  contents.on('will-redirect', (event) => event.preventDefault());
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
  if (!devToolsAllowed()) {
    contents.on('devtools-opened', () => contents.closeDevTools());
  }
}

/** Denies every permission request and check (camera, notifications, clipboard-read, HID…), and
 * every request that is not for our own scheme (the CSP blocks them too; this is the second lock). */
export function hardenSession(ses: Session): void {
  ses.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  ses.setPermissionCheckHandler(() => false);
  ses.setDevicePermissionHandler(() => false);
  ses.setDisplayMediaRequestHandler((_request, callback) => callback({}));
  ses.webRequest.onBeforeRequest(
    { urls: ['http://*/*', 'https://*/*', 'ws://*/*', 'wss://*/*', 'file://*/*', 'ftp://*/*'] },
    (_details, callback) => callback({ cancel: true }),
  );
}

export function createMainWindow(): BrowserWindow {
  nativeTheme.themeSource = 'system';
  const win = new BrowserWindow({
    width: 1280,
    height: 800,
    minWidth: 1000,
    minHeight: 700,
    show: false,
    title: 'net-tc-filter',
    backgroundColor: nativeTheme.shouldUseDarkColors ? '#1e1e1e' : '#ffffff',
    autoHideMenuBar: false,
    webPreferences: {
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      navigateOnDragDrop: false,
      spellcheck: false,
      devTools: devToolsAllowed(),
      preload: preloadPath(),
    },
  });
  win.once('ready-to-show', () => win.show());
  void win.loadURL(APP_INDEX_URL);
  return win;
}
