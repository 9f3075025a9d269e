// SPDX-License-Identifier: Apache-2.0
// The Electron glue (main.ts and the files it wires) run against a fake `electron` module and a
// fake backend: Electron cannot run here, but the order of the calls, what is registered, the
// window's preferences, the IPC path into the gateway, the app:// handler and the quit question
// can all be checked.
import { EventEmitter } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { channelOf, OPERATIONS } from '../../../electron/ipc/channels.js';

const h = vi.hoisted(() => {
  const calls: string[] = [];
  const state = { mode: 'enforcing' as 'enforcing' | 'read-only' };
  return { calls, state, appPath: '' };
});

vi.mock('electron', async () => {
  const { EventEmitter: EE } = await import('node:events');
  const app = Object.assign(new EE(), {
    isPackaged: false,
    getAppPath: () => h.appPath,
    enableSandbox: () => h.calls.push('enableSandbox'),
    setPath: (name: string, path: string) => h.calls.push(`setPath(${name}, ${path})`),
    requestSingleInstanceLock: () => (h.calls.push('requestSingleInstanceLock'), true),
    whenReady: () => {
      h.calls.push('whenReady');
      return Promise.resolve();
    },
    quit: vi.fn(() => h.calls.push('app.quit')),
    exit: vi.fn((code: number) => h.calls.push(`app.exit(${code})`)),
  });
  const handlers = new Map<string, (event: unknown, req: unknown) => Promise<unknown>>();
  const schemes: unknown[] = [];
  const protocolHandlers = new Map<string, (req: Request) => Promise<Response>>();
  const permission: { request?: unknown; check?: unknown } = {};
  const windows: Array<{ opts: unknown; url?: string; win: unknown }> = [];
  class BrowserWindow extends EE {
    constructor(opts: unknown) {
      super();
      h.calls.push('new BrowserWindow');
      windows.push({ opts, win: this });
    }
    loadURL(url: string) {
      windows[windows.length - 1]!.url = url;
      return Promise.resolve();
    }
    isDestroyed() {
      return false;
    }
    show() {}
  }
  const ses = {
    protocol: {
      handle: (scheme: string, fn: (req: Request) => Promise<Response>) => protocolHandlers.set(scheme, fn),
    },
    setPermissionRequestHandler: (fn: unknown) => (permission.request = fn),
    setPermissionCheckHandler: (fn: unknown) => (permission.check = fn),
    setDevicePermissionHandler: () => {},
    setDisplayMediaRequestHandler: () => {},
    webRequest: { onBeforeRequest: () => {} },
  };
  return {
    app,
    BrowserWindow,
    dialog: {
      showMessageBox: vi.fn(async () => ({ response: 0 })),
      showErrorBox: vi.fn(),
      showOpenDialog: vi.fn(),
      showSaveDialog: vi.fn(),
    },
    ipcMain: {
      handle: (ch: string, fn: (event: unknown, req: unknown) => Promise<unknown>) => handlers.set(ch, fn),
    },
    Menu: {
      buildFromTemplate: (t: unknown) => t,
      setApplicationMenu: () => h.calls.push('setApplicationMenu'),
    },
    nativeTheme: { themeSource: 'light', shouldUseDarkColors: false },
    protocol: {
      registerSchemesAsPrivileged: (s: unknown[]) => {
        h.calls.push('registerSchemesAsPrivileged');
        schemes.push(...s);
      },
    },
    session: { defaultSession: ses },
    __test: { handlers, schemes, protocolHandlers, permission, windows },
  };
});

// The process-wide guards, recorded in the same list as Electron's calls so their place in the
// order shows (what they do is tested for real in tests/kernel/launcher.spec.ts).
vi.mock('../../../electron/main/privileges.js', () => ({
  makeUndumpable: () => {
    h.calls.push('makeUndumpable');
    return { before: 1, after: 0 };
  },
  dropAmbientCaps: () => {
    h.calls.push('dropAmbientCaps');
    return { before: [], after: [], effective: [] };
  },
}));

vi.mock('../../../electron/backend/backend.js', () => ({
  Backend: {
    start: vi.fn(async () => {
      h.calls.push('Backend.start');
      return {
        state: () => ({ mode: h.state.mode }),
        recordError: () => {},
        stopFiltering: vi.fn(async () => h.calls.push('backend.stopFiltering')),
        close: vi.fn(async () => {
          h.calls.push('backend.close');
        }),
      };
    }),
  },
}));

type Fake = {
  handlers: Map<string, (event: unknown, req: unknown) => Promise<unknown>>;
  schemes: Array<{ scheme: string; privileges: Record<string, boolean> }>;
  protocolHandlers: Map<string, (req: Request) => Promise<Response>>;
  permission: {
    request?: (wc: unknown, p: string, cb: (ok: boolean) => void) => void;
    check?: () => boolean;
  };
  windows: Array<{ opts: { webPreferences: Record<string, unknown> }; url?: string; win: EventEmitter }>;
};

let fake: Fake;
let electron: {
  app: EventEmitter & { quit: ReturnType<typeof vi.fn> };
  dialog: { showMessageBox: ReturnType<typeof vi.fn> };
};
let dir = '';
const argv = process.argv;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ntf-main-'));
  mkdirSync(join(dir, 'dist', 'renderer'), { recursive: true });
  writeFileSync(join(dir, 'dist', 'renderer', 'index.html'), '<!doctype html><title>ntf</title>');
  h.appPath = dir;
  process.argv = ['/x/electron', dir];
  process.env.NET_TC_FILTER_USER_DATA_DIR = '/var/lib/net-tc-filter/users/1000/data/profile';
  vi.spyOn(process as { getuid(): number }, 'getuid').mockReturnValue(1000);
  await import('../../../electron/main/main.js');
  const mod = (await import('electron')) as unknown as { __test: Fake } & typeof electron;
  fake = mod.__test;
  electron = mod;
  await vi.waitFor(() => expect(fake.windows).toHaveLength(1));
});

afterAll(() => {
  process.argv = argv;
  delete process.env.NET_TC_FILTER_USER_DATA_DIR;
  vi.restoreAllMocks();
  rmSync(dir, { recursive: true, force: true });
});

const mainFrame = { url: 'app://net-tc-filter/index.html' };
const event = (frame: { url: string } | null, main = mainFrame) => ({
  senderFrame: frame,
  sender: { mainFrame: main },
});

describe('main.ts wiring', () => {
  it('makes the process undumpable before anything else, then clears the ambient capabilities', () => {
    expect(h.calls.slice(0, 2)).toEqual(['makeUndumpable', 'dropAmbientCaps']);
  });

  it("puts Chromium's profile where the launcher said (NET_TC_FILTER_USER_DATA_DIR), before ready", () => {
    const set = 'setPath(userData, /var/lib/net-tc-filter/users/1000/data/profile)';
    expect(h.calls).toContain(set);
    expect(h.calls.indexOf(set)).toBeLessThan(h.calls.indexOf('whenReady'));
    expect(h.calls.indexOf(set)).toBeLessThan(h.calls.indexOf('registerSchemesAsPrivileged'));
  });

  it('registers the scheme and the sandbox before ready, then starts the backend before the window', () => {
    const order = (c: string) => h.calls.indexOf(c);
    expect(order('registerSchemesAsPrivileged')).toBeLessThan(order('whenReady'));
    expect(order('enableSandbox')).toBeLessThan(order('whenReady'));
    expect(order('requestSingleInstanceLock')).toBeLessThan(order('whenReady'));
    expect(order('Backend.start')).toBeLessThan(order('new BrowserWindow'));
    expect(fake.schemes).toEqual([
      expect.objectContaining({
        scheme: 'app',
        privileges: expect.objectContaining({
          standard: true,
          secure: true,
          supportFetchAPI: false,
          corsEnabled: false,
        }),
      }),
    ]);
  });

  it('opens one sandboxed, isolated window on app://net-tc-filter with the CommonJS preload', () => {
    const w = fake.windows[0]!;
    expect(w.url).toBe('app://net-tc-filter/index.html');
    expect(w.opts).toMatchObject({ width: 1280, height: 800, minWidth: 1000, minHeight: 700 });
    expect(w.opts.webPreferences).toMatchObject({
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
      spellcheck: false,
    });
    expect(String(w.opts.webPreferences.preload)).toMatch(/electron\/main\/preload\.cjs$/);
  });

  it('handles every operation through the gateway, trusting only our main frame', async () => {
    expect([...fake.handlers.keys()].sort()).toEqual(OPERATIONS.map(channelOf).sort());
    const getState = fake.handlers.get('ntf:getState')!;
    expect(await getState(event(mainFrame), undefined)).toEqual({ ok: true, value: { mode: 'enforcing' } });
    for (const e of [
      event({ url: 'https://evil.example/' }, { url: 'https://evil.example/' }),
      event({ url: 'app://net-tc-filter/frame.html' }),
      event(null),
      event({ url: 'file:///index.html' }, { url: 'file:///index.html' }),
    ]) {
      const r = (await getState(e, undefined)) as { ok: boolean; error?: { code: string } };
      expect(r.error?.code).toBe('forbidden-sender');
    }
  });

  it('serves the renderer on app:// with the CSP header and refuses traversal', async () => {
    const serve = fake.protocolHandlers.get('app')!;
    const ok = await serve(new Request('app://net-tc-filter/index.html'));
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-security-policy')).toMatch(/frame-ancestors 'none'/);
    expect(await ok.text()).toContain('<title>ntf</title>');
    const bad = await serve(new Request('app://net-tc-filter/..%2f..%2fpackage.json'));
    expect(bad.status).toBe(404);
  });

  it('denies every permission', () => {
    let granted: boolean | undefined;
    fake.permission.request!({}, 'media', (ok) => (granted = ok));
    expect(granted).toBe(false);
    expect(fake.permission.check!()).toBe(false);
  });

  it('hardens every webContents: no navigation, no windows, no webviews', () => {
    const contents = Object.assign(new EventEmitter(), {
      setWindowOpenHandler: vi.fn(),
      closeDevTools: vi.fn(),
    });
    electron.app.emit('web-contents-created', {}, contents);
    for (const ev of ['will-navigate', 'will-frame-navigate', 'will-redirect', 'will-attach-webview']) {
      const e = { preventDefault: vi.fn() };
      contents.emit(ev, e);
      expect(e.preventDefault, ev).toHaveBeenCalled();
    }
    const handler = contents.setWindowOpenHandler.mock.calls[0]![0] as () => unknown;
    expect(handler()).toEqual({ action: 'deny' });
  });

  it('asks before quitting while enforcing; "Keep enforcing" closes the backend and quits', async () => {
    const e = { preventDefault: vi.fn() };
    fake.windows[0]!.win.emit('close', e);
    expect(e.preventDefault).toHaveBeenCalled();
    await vi.waitFor(() => expect(electron.app.quit).toHaveBeenCalled());
    const [, opts] = electron.dialog.showMessageBox.mock.calls[0] as [unknown, Record<string, unknown>];
    expect(opts).toMatchObject({
      buttons: ['Keep enforcing', 'Stop filtering', 'Cancel'],
      defaultId: 0,
      cancelId: 2,
    });
    expect(h.calls).toContain('backend.close');
    expect(h.calls).not.toContain('backend.stopFiltering');
    // Once decided, the quit that follows passes through.
    const again = { preventDefault: vi.fn() };
    electron.app.emit('before-quit', again);
    expect(again.preventDefault).not.toHaveBeenCalled();
  });
});
