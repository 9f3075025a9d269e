// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest), as root. Browser tests: the built renderer in Debian's headless
// Chromium, its `window.netTcFilter` bound (Playwright exposeBinding) to the real gateway,
// handler table, Backend and engine, which run in a separate process (backend-host.ts) inside
// a network-namespace sandbox like `demo`'s. The only stand-in is the preload bridge itself
// (Electron's contextBridge cannot run here): an init script builds the same one-function-per-
// operation object from the contract's operation list. These tests never skip.
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { stateDirFor } from '../../electron/engine/statedir.js';
import { extname, join, normalize } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { Sandbox } from '../../electron/demo/sandbox.js';
import { packageRoot } from '../../electron/engine/paths.js';
import { OPERATIONS } from '../../electron/ipc/channels.js';
import type { AppState, IpcResult } from '../../electron/ipc/contract.js';
import type { SenderInfo } from '../../electron/ipc/gateway.js';
import { GROUP, PASSWD } from '../kernel/harness.js';

export const TEST_ORIGIN = 'https://net-tc-filter.invalid';
export const CHROMIUM = '/usr/bin/chromium';
export const SCREENSHOTS = join(packageRoot(), 'docs/screenshots');
/** The window size: the smallest the UI is laid out for (screenshots show it). */
export const VIEWPORT = { width: 1024, height: 700 } as const;
/** The CSP electron/main/protocol.ts sends; the page must work under it. */
export const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
  "connect-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
};

function rendererDir(): string {
  const dir = join(packageRoot(), 'dist/renderer');
  if (!existsSync(join(dir, 'index.html')))
    throw new Error(`${dir}/index.html is missing: run \`npm run build\``);
  return dir;
}

function hostPath(): string {
  const p = join(packageRoot(), 'dist/tests/ui/backend-host.js');
  if (!existsSync(p)) throw new Error(`${p} is missing: run \`npm run build\``);
  return p;
}

export function assertCanRun(): void {
  if (process.getuid?.() !== 0) throw new Error('UI tests need root (they create namespaces and load BPF)');
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing; install Debian's chromium (.ci/setup does)`);
}

export interface Host {
  proc: ChildProcess;
  state: AppState;
  call(op: string, sender: SenderInfo, req: unknown): Promise<IpcResult<unknown>>;
  /** What the next open/save dialog "picks" (null: the admin cancels). */
  dialog(d: { open?: string | null; save?: string | null }): Promise<void>;
  close(): Promise<void>;
  stderr(): string;
}

export interface HostOptions {
  sb: Sandbox;
  pinDir: string;
  policyFile: string;
  /** false: the process runs with an empty capability set (bounding set cleared). */
  caps: boolean;
  batchMs?: number;
  /** The Backend's eventsPerUser (the bench: 0, every decision reported). */
  eventsPerUser?: number;
  /** The account database: `machine` (default) is this machine's /etc/passwd and /etc/group plus
   * the test users (machine lines whose name or id clashes with a test entry are left out), so
   * root is "root"; `fixture`: the test users only. */
  accounts?: 'machine' | 'fixture';
}

/** `fixture` plus the lines of `machine` whose name (field 0) or id (field 2) it does not have. */
export function mergeAccountLines(fixture: string, machine: string): string {
  const lines = (t: string) => t.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
  const mine = lines(fixture).map((l) => l.split(':'));
  const names = new Set(mine.map((f) => f[0]));
  const ids = new Set(mine.map((f) => f[2]));
  const extra = lines(machine).filter((l) => {
    const f = l.split(':');
    return f.length >= 3 && !names.has(f[0]) && !ids.has(f[2]);
  });
  return [...lines(fixture), ...extra, ''].join('\n');
}

function machineFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** Starts backend-host.ts in the sandbox's network namespace; resolves once its Backend started. */
export async function startHost(o: HostOptions): Promise<Host> {
  const fixtureOnly = o.accounts === 'fixture';
  const passwd = o.sb.writeFile(
    'passwd',
    fixtureOnly ? PASSWD : mergeAccountLines(PASSWD, machineFile('/etc/passwd')),
  );
  const group = o.sb.writeFile(
    'group',
    fixtureOnly ? GROUP : mergeAccountLines(GROUP, machineFile('/etc/group')),
  );
  const node = [process.execPath, hostPath(), `--pin-dir=${o.pinDir}`, `--policy-file=${o.policyFile}`];
  if (o.batchMs) node.push(`--batch-ms=${o.batchMs}`);
  if (o.eventsPerUser !== undefined) node.push(`--events-per-user=${o.eventsPerUser}`);
  // Without capabilities: root whose bounding set is empty gains nothing at execve, so the
  // process has CapEff 0 — what a user who started the app without the launcher has.
  const noCaps = ['setpriv', '--bounding-set=-all', '--inh-caps=-all', '--'];
  const argv = [...o.sb.nsenter(), ...(o.caps ? [] : noCaps), ...node];
  const proc = spawn(argv[0] as string, argv.slice(1), {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, NET_TC_FILTER_PASSWD: passwd, NET_TC_FILTER_GROUP: group },
  });
  let err = '';
  proc.stderr?.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-8000)));
  const waiting = new Map<number, (r: unknown) => void>();
  let nextId = 0;
  let ready: (s: AppState) => void = () => undefined;
  let failed: (e: Error) => void = () => undefined;
  const started = new Promise<AppState>((res, rej) => {
    ready = res;
    failed = rej;
  });
  const timer = setTimeout(() => failed(new Error(`backend host did not start within 30 s: ${err}`)), 30_000);
  proc.on('exit', (code) => {
    failed(new Error(`backend host exited with ${code}: ${err}`));
    for (const w of waiting.values())
      w({ ok: false, error: { code: 'failed', message: 'backend host exited' } });
    waiting.clear();
  });
  createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    const m = JSON.parse(line) as { ready?: boolean; state?: AppState; id?: number; result?: unknown };
    if (m.ready && m.state) ready(m.state);
    else if (m.id !== undefined) {
      waiting.get(m.id)?.(m.result);
      waiting.delete(m.id);
    }
  });
  const send = (msg: Record<string, unknown>) =>
    new Promise<unknown>((resolve) => {
      const id = ++nextId;
      waiting.set(id, resolve);
      proc.stdin?.write(`${JSON.stringify({ id, ...msg })}\n`);
    });
  const state = await started.finally(() => clearTimeout(timer));
  return {
    proc,
    state,
    call: (op, sender, req) => send({ op, sender, req }) as Promise<IpcResult<unknown>>,
    dialog: async (d) => void (await send({ control: 'dialog', ...d })),
    async close() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      void send({ control: 'close' });
      const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
    stderr: () => err,
  };
}

/** The app's own page as the gateway's sender. */
export const OWN = { url: `${TEST_ORIGIN}/index.html`, isMainFrame: true } as const;

/** An operation through the real gateway as the app's own page: its value, or an Error naming the
 * operation, the code and the message. */
export async function call<T>(host: Host, op: string, req?: unknown): Promise<T> {
  const r = await host.call(op, OWN, req);
  if (!r.ok) throw new Error(`${op}: ${r.error.code}: ${r.error.message}`);
  return r.value as T;
}

/** The Backend host of `env`'s sandbox as the tests start it: its policy file in the sandbox. */
export async function startSandboxHost(
  env: UiEnv,
  o: Partial<Omit<HostOptions, 'sb' | 'pinDir'>> = {},
): Promise<Host> {
  const host = await startHost({
    sb: env.sb,
    pinDir: env.pinDir,
    policyFile: `${env.sb.dir}/gui/policy.yml`,
    caps: true,
    ...o,
  });
  env.hosts.push(host);
  return host;
}

export interface App {
  browser: Browser;
  context: BrowserContext;
  page: Page;
  /** Console errors, page errors and CSP violations seen so far. */
  problems: string[];
}

/** Opens the built renderer in headless Chromium with its API bound to `host`. */
export async function openApp(host: Host, opts: { colorScheme?: 'light' | 'dark' } = {}): Promise<App> {
  const dir = rendererDir();
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox', // we are root in CI; the renderer sandbox is Electron's job in the app
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  try {
    const context = await browser.newContext({
      viewport: VIEWPORT,
      colorScheme: opts.colorScheme ?? 'light',
    });
    // Nothing leaves the browser: our origin is served from dist/renderer, everything else fails.
    await context.route('**/*', async (route) => {
      const url = new URL(route.request().url());
      if (url.origin !== TEST_ORIGIN) return route.abort('blockedbyclient');
      const rel = normalize(decodeURIComponent(url.pathname)).replace(/^\/+/, '') || 'index.html';
      const file = join(dir, rel);
      if (!file.startsWith(`${dir}/`) || !existsSync(file))
        return route.fulfill({ status: 404, body: 'not found' });
      return route.fulfill({
        status: 200,
        body: readFileSync(file),
        headers: {
          'content-type': MIME[extname(file)] ?? 'application/octet-stream',
          'content-security-policy': CSP,
          'x-content-type-options': 'nosniff',
        },
      });
    });
    await context.exposeBinding('__ntfInvoke', (source, op: string, req: unknown) =>
      host.call(op, { url: source.frame.url(), isMainFrame: source.frame === source.page.mainFrame() }, req),
    );
    // Stand-in for electron/main/preload.ts: the same object shape, built from the same list.
    await context.addInitScript((ops: readonly string[]) => {
      const w = window as unknown as Record<string, unknown>;
      const invoke = w.__ntfInvoke as (op: string, req?: unknown) => Promise<unknown>;
      w.netTcFilter = Object.freeze(
        Object.fromEntries(ops.map((op) => [op, (req?: unknown) => invoke(op, req)])),
      );
    }, OPERATIONS);
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    await page.goto(`${TEST_ORIGIN}/index.html`);
    await page.waitForSelector('html[data-ready="1"]', { timeout: 20_000 });
    return { browser, context, page, problems };
  } catch (err) {
    await browser.close();
    throw err;
  }
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });
}

let counter = 0;

export interface UiEnv {
  sb: Sandbox;
  pinDir: string;
  hosts: Host[];
  apps: App[];
}

export async function setupSandbox(): Promise<UiEnv> {
  assertCanRun();
  const tag = `ntfu${process.pid % 100000}x${++counter}`;
  const sb = Sandbox.create(tag, 1);
  try {
    await sb.startPeer();
  } catch (err) {
    sb.destroy();
    throw err;
  }
  return { sb, pinDir: `/sys/fs/bpf/${tag}`, hosts: [], apps: [] };
}

/** Closes browsers and hosts, removes filters, pins and namespaces, also after a failure. */
export async function teardown(env: UiEnv | undefined): Promise<void> {
  if (!env) return;
  for (const a of env.apps) await a.browser.close().catch(() => undefined);
  for (const h of env.hosts) await h.close().catch(() => undefined);
  if (existsSync(env.pinDir)) {
    const cli = join(packageRoot(), 'dist/electron/cli/main.js');
    try {
      execFileSync(
        env.sb.nsenter()[0] as string,
        [...env.sb.nsenter().slice(1), process.execPath, cli, 'unload', '--pin-dir', env.pinDir],
        {
          stdio: 'ignore',
          timeout: 30_000,
        },
      );
    } catch {
      // reported by the test that left it
    }
  }
  // The engine's state directory of this pin dir (history, observations).
  rmSync(stateDirFor(env.pinDir), { recursive: true, force: true });
  env.sb.destroy();
}
