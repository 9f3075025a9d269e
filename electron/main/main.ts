// SPDX-License-Identifier: Apache-2.0
// Environment: Electron main process (package.json "main" → dist/electron/main/main.js).
//
// Start-up, in order: make the process undumpable, drop the ambient capabilities (before anything can start a process or a
// thread), decide whether to run at all (uid, flags), register the app:// scheme (must precede
// `ready`), take the single-instance lock; once ready: the backend (mode, lock, pinned state),
// IPC, the scheme handler, the window, the quit question. Each concern lives in its own file.
import { isAbsolute, join } from 'node:path';
import { app, dialog, session } from 'electron';
import type { BrowserWindow } from 'electron';
import { Backend } from '../backend/backend.js';
import type { BackendOptions } from '../backend/backend.js';
import { createGateway } from '../ipc/gateway.js';
import { createHandlers } from '../ipc/handlers.js';
import { electronDialogs, isTrustedUrl, registerIpc } from './ipc.js';
import { installMenu } from './menu.js';
import { dropAmbientCaps, makeUndumpable } from './privileges.js';
import { handleAppScheme, registerAppScheme } from './protocol.js';
import { installQuitHandling } from './quit.js';
import { decideStartup, userArgs } from './startup.js';
import { createMainWindow, hardenSession, hardenWebContents } from './window.js';

// First: nobody but root may trace this process or read its memory, /proc files or core.
const undumpable = makeUndumpable();
if (undumpable.error)
  console.error(`net-tc-filter: could not make the process undumpable: ${undumpable.error}`);
const ambient = dropAmbientCaps();
if (ambient.error) console.error(`net-tc-filter: could not clear ambient capabilities: ${ambient.error}`);
else if (ambient.before.length)
  console.error(`net-tc-filter: cleared ambient capabilities ${ambient.before.join(', ')}`);

const decision = decideStartup({
  uid: process.getuid?.() ?? -1,
  args: userArgs(process.argv, app.isPackaged),
});

if (decision.kind === 'help') {
  process.stdout.write(decision.text);
  app.exit(0);
} else if (decision.kind === 'refuse') {
  console.error(`net-tc-filter: ${decision.title}: ${decision.message}`);
  // Started from a desktop entry nobody sees stderr: say it in a box too.
  void app.whenReady().then(() => {
    dialog.showErrorBox(`net-tc-filter: ${decision.title}`, decision.message);
    app.exit(decision.exitCode);
  });
} else {
  for (const w of decision.warnings) console.error(`net-tc-filter: WARNING: ${w}`);
  // Chromium's profile (and Electron's sessionData, crash dumps) in the directory the launcher
  // prepared, which the user's other processes cannot enter; must precede `ready`.
  const userData = process.env.NET_TC_FILTER_USER_DATA_DIR;
  if (userData && isAbsolute(userData)) app.setPath('userData', userData);
  registerAppScheme();
  app.enableSandbox();
  if (!app.requestSingleInstanceLock()) {
    // Another window of this user is open: it gets 'second-instance' and comes to the front.
    app.quit();
  } else {
    start(decision.flags, decision.warnings);
  }
}

function start(flags: { pinDir?: string; policyFile?: string }, warnings: string[]): void {
  let win: BrowserWindow | undefined;
  const current = () => (win && !win.isDestroyed() ? win : undefined);

  app.on('second-instance', () => {
    const w = current();
    if (!w) return;
    if (w.isMinimized()) w.restore();
    w.focus();
  });
  app.on('web-contents-created', (_e, contents) => hardenWebContents(contents));
  app.on('window-all-closed', () => app.quit());

  void app.whenReady().then(async () => {
    const opts: BackendOptions = {
      ...(flags.pinDir ? { pinDir: flags.pinDir } : {}),
      ...(flags.policyFile ? { policyFile: flags.policyFile } : {}),
      // Packaged: the object shipped beside app.asar (extraResources), never a path from config.
      ...(app.isPackaged ? { objectPath: join(process.resourcesPath, 'bpf', 'net_tc_filter.bpf.o') } : {}),
    };
    let backend: Backend;
    try {
      backend = await Backend.start(opts);
    } catch (err) {
      dialog.showErrorBox('net-tc-filter could not start', (err as Error).message ?? String(err));
      app.exit(1);
      return;
    }
    for (const w of warnings) backend.recordError(`warning: ${w}`);

    const gateway = createGateway(createHandlers(backend, electronDialogs(current)), {
      isTrustedUrl,
      readOnly: () => backend.state().mode !== 'enforcing',
    });
    registerIpc(gateway);
    hardenSession(session.defaultSession);
    handleAppScheme(session.defaultSession);
    installMenu();
    win = createMainWindow();
    installQuitHandling(backend, win);
  });
}
