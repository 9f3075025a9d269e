// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest), as root. Safe rollout in the real UI against the real engine: the
// header's states, Apply's preview, trials the kernel takes back, Keep and Revert now, audit mode.
//
// The SSH-like session: a root-owned TCP echo service on port 22 in the sandbox's client
// namespace (where the filter runs), and a client in the peer namespace that types a line every
// 200 ms and counts the echoes. The service's replies leave ntf0 from port 22, owned by root:
// with ntf0's default at deny they are dropped, as an SSH login to the machine would be.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { packageRoot } from '../../electron/engine/paths.js';
import type { EngineView } from '../../electron/ipc/contract.js';
import { BOB } from '../kernel/harness.js';
import { openApp, OWN, screenshot, setupSandbox, startHost, teardown } from './harness.js';
import type { App, Host, UiEnv } from './harness.js';

const SEED = join(packageRoot(), 'conf/net-tc-filter.yml');
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The echo service (stands in for sshd): root, port 22 of the client namespace. */
const ECHO_SERVER = `require('net')
  .createServer((s) => { s.setNoDelay(true); s.on('data', (d) => s.write(d)); s.on('error', () => {}); })
  .listen(22, () => console.log('listening'));
setTimeout(() => process.exit(0), Number(process.argv[2]));
`;

/** The admin typing into the session: a line every EVERY ms for at most MAX ms; prints
 * {sent, echoed} every 100 ms. */
const TYPIST = `const net = require('net');
const [host, port, every, max] = process.argv.slice(2);
let sent = 0, echoed = 0, buf = '';
const s = net.connect(Number(port), host, () => {
  s.setNoDelay(true);
  const start = Date.now();
  const t = setInterval(() => {
    if (Date.now() - start > Number(max)) { clearInterval(t); s.destroy(); process.exit(0); }
    s.write('line ' + (++sent) + '\\n');
  }, Number(every));
});
s.on('data', (d) => { buf += d; let i; while ((i = buf.indexOf('\\n')) >= 0) { buf = buf.slice(i + 1); echoed++; } });
s.on('error', (e) => { console.error(e.message); process.exit(1); });
setInterval(() => process.stdout.write(JSON.stringify({ sent, echoed }) + '\\n'), 100);
`;

let env: UiEnv | undefined;
const procs: ChildProcess[] = [];

afterEach(async () => {
  for (const p of procs.splice(0)) {
    if (p.pid !== undefined && p.exitCode === null && p.signalCode === null) {
      const closed = new Promise((r) => p.once('close', r));
      process.kill(p.pid, 'SIGKILL');
      await closed;
    }
  }
  await teardown(env);
  env = undefined;
});

interface Session {
  /** Echoes counted so far. */
  echoed(): number;
  sent(): number;
}

/** Starts the echo service and the typist; resolves once echoes come back. */
async function startSession(e: UiEnv): Promise<Session> {
  const server = spawn(
    'ip',
    ['netns', 'exec', e.sb.client, process.execPath, e.sb.writeFile('echo.cjs', ECHO_SERVER), '600000'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  procs.push(server);
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('echo service did not start')), 10_000);
    server.stdout?.once('data', () => {
      clearTimeout(t);
      resolve();
    });
  });
  const typist = spawn(
    'ip',
    [
      'netns',
      'exec',
      e.sb.server,
      process.execPath,
      e.sb.writeFile('typist.cjs', TYPIST),
      '192.0.2.2',
      '22',
      '200',
      '600000',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  procs.push(typist);
  let last = { sent: 0, echoed: 0 };
  createInterface({ input: typist.stdout as NodeJS.ReadableStream }).on('line', (l) => {
    try {
      last = JSON.parse(l) as typeof last;
    } catch {
      // a partial line at exit
    }
  });
  const s: Session = { echoed: () => last.echoed, sent: () => last.sent };
  await expect.poll(() => s.echoed(), { timeout: 10_000 }).toBeGreaterThanOrEqual(5);
  return s;
}

/** Echoes that came back during `ms`. */
async function echoesDuring(s: Session, ms: number): Promise<number> {
  const before = s.echoed();
  await sleep(ms);
  return s.echoed() - before;
}

async function start(caps = true): Promise<{ host: Host; app: App; page: Page }> {
  env = await setupSandbox();
  const host = await startHost({
    sb: env.sb,
    pinDir: env.pinDir,
    policyFile: `${env.sb.dir}/gui/policy.yml`,
    caps,
  });
  env.hosts.push(host);
  const app = await openApp(host);
  env.apps.push(app);
  await app.page.setViewportSize({ width: 1024, height: 700 });
  return { host, app, page: app.page };
}

async function engineView(host: Host): Promise<EngineView> {
  const r = await host.call('getEngine', OWN, undefined);
  if (!r.ok) throw new Error(r.error.message);
  return r.value as EngineView;
}

const headerText = (page: Page) => page.getByTestId('engine-state').textContent();

async function importSeed(host: Host, page: Page): Promise<void> {
  await host.dialog({ open: SEED });
  await page.getByRole('button', { name: 'Import YAML…' }).click();
  await page.locator('[data-testid="endpoint-item"][data-name="imdsv2"]').waitFor();
}

/** The seed's endpoint on the sandbox's interface instead of eth0. */
async function seedOnNtf0(host: Host, page: Page): Promise<void> {
  await importSeed(host, page);
  await page.locator('[data-testid="endpoint-item"][data-name="imdsv2"]').click();
  await page.getByRole('textbox', { name: 'Add interface' }).fill('ntf0');
  await page.getByRole('textbox', { name: 'Add interface' }).press('Enter');
  await page.getByRole('button', { name: 'Remove eth0' }).click();
}

async function setDefault(page: Page, iface: string, v: 'allow' | 'deny'): Promise<void> {
  await page.getByRole('combobox', { name: `Default on ${iface}` }).selectOption(v);
}

/** Apply opens the preview; resolves with the dialog once the preview is there. */
async function openPreview(page: Page) {
  await page.getByRole('button', { name: 'Apply', exact: true }).click();
  const dialog = page.getByRole('dialog');
  await dialog.waitFor();
  await dialog.getByTestId('preview-effects').waitFor({ timeout: 15_000 });
  return dialog;
}

async function applyForGood(page: Page): Promise<void> {
  const dialog = await openPreview(page);
  await dialog.getByRole('button', { name: 'Apply', exact: true }).click();
  await dialog.waitFor({ state: 'detached', timeout: 15_000 });
}

async function applyAsTrial(page: Page, seconds: number): Promise<void> {
  const dialog = await openPreview(page);
  await dialog.getByRole('combobox', { name: 'Trial length' }).selectOption(String(seconds));
  await dialog.getByRole('button', { name: 'Apply as trial' }).click();
  await dialog.waitFor({ state: 'detached', timeout: 15_000 });
  await page.getByTestId('trial-bar').waitFor();
}

/** The seed on ntf0 with default allow, applied for good; the session runs and is seen. */
async function observedSession(host: Host, page: Page): Promise<{ session: Session; policy: number }> {
  await seedOnNtf0(host, page);
  await setDefault(page, 'ntf0', 'allow');
  await applyForGood(page);
  await expect.poll(() => headerText(page)).toMatch(/^Filtering ntf0 · policy \d+$/);
  const session = await startSession(env!);
  const policy = (await engineView(host)).policy;
  if (policy === null) throw new Error('nothing applied');
  return { session, policy };
}

const focused = (page: Page) => page.evaluate(() => document.activeElement?.textContent?.trim() ?? '');

describe('safe rollout in the app, against the real engine', () => {
  it('the preview names the SSH-like session before anything changes; a trial left alone is taken back by the kernel', async () => {
    const { host, app, page } = await start();
    const { session, policy } = await observedSession(host, page);
    const headerHeight = () => page.locator('header').evaluate((el) => el.getBoundingClientRect().height);
    const height = await headerHeight();

    // ntf0 to deny: nothing is applied yet, the preview lists the session's replies first.
    await setDefault(page, 'ntf0', 'deny');
    await expect.poll(() => headerText(page)).toMatch(/ · 1 pending$/);
    const dialog = await openPreview(page);
    const sessions = dialog.getByTestId('preview-sessions');
    await sessions.waitFor();
    expect(await sessions.textContent()).toContain('port 22');
    const first = dialog.locator('[data-testid="newly-dropped"] [data-testid="preview-flow"]').first();
    expect(await first.getAttribute('data-server')).toBe('22');
    expect(await first.getAttribute('data-sport')).toBe('22');
    const ntf0 = dialog.locator('[data-testid="preview-effects"] li[data-iface="ntf0"]');
    expect(await ntf0.getAttribute('data-tone')).toBe('deny');
    // The trial is preselected (primary, focused); a deny default is the cause: guard-only offered.
    const trial = dialog.getByRole('button', { name: 'Apply as trial' });
    await expect.poll(() => focused(page)).toBe('Apply as trial');
    expect(await trial.getAttribute('class')).toContain('btn-primary');
    expect(await dialog.getByRole('button', { name: 'Guard only these ranges on ntf0' }).count()).toBe(1);
    expect((await engineView(host)).policy).toBe(policy);
    expect(await echoesDuring(session, 1000)).toBeGreaterThan(0);
    await screenshot(page, 'apply-preview');

    // Escape closes it, nothing applied; Apply again, as a trial of the shortest length.
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    expect((await engineView(host)).policy).toBe(policy);
    await applyAsTrial(page, 10);
    const bar = page.getByTestId('trial-bar');
    expect(await bar.textContent()).toMatch(/Keep these changes\? The previous policy returns in \d+ s/);
    await expect.poll(() => focused(page)).toBe('Keep');
    await expect.poll(() => headerText(page)).toMatch(/^Trial: the previous policy returns in \d+ s/);
    const onTrial = await engineView(host);
    expect(onTrial.trial?.previous).toBe(policy);
    // The countdown is the kernel's deadline.
    const shown = Number(/returns in (\d+) s/.exec((await bar.textContent()) ?? '')?.[1]);
    expect(
      Math.abs(shown - Math.ceil(((onTrial.trial?.deadline ?? 0) - Date.now()) / 1000)),
    ).toBeLessThanOrEqual(3);
    await screenshot(page, 'trial-bar');
    expect(await headerHeight()).toBe(height);

    // The echoes stop; nobody touches anything.
    await expect.poll(() => echoesDuring(session, 1000), { timeout: 10_000 }).toBe(0);
    // The kernel goes back at the deadline; the session comes back.
    const cut = session.echoed();
    await expect.poll(() => session.echoed(), { timeout: 45_000, interval: 500 }).toBeGreaterThan(cut);
    const back = page.getByTestId('last-trial');
    await back.waitFor({ timeout: 15_000 });
    expect(await back.textContent()).toMatch(
      new RegExp(
        `The kernel went back to policy ${policy} at \\d\\d:\\d\\d:\\d\\d: the trial of policy ${onTrial.trial?.policy} was not kept`,
      ),
    );
    expect(await page.getByTestId('trial-bar').count()).toBe(0);
    expect(await headerHeight()).toBe(height);
    const after = await engineView(host);
    expect(after.trial).toBeNull();
    expect(after.lastTrial).toMatchObject({ policy: onTrial.trial?.policy, outcome: 'reverted-by-kernel' });
    // The draft still holds the deny default: pending again against what is enforced.
    await expect.poll(() => headerText(page)).toBe(`Filtering ntf0 · policy ${after.policy} · 1 pending`);
    await page.getByRole('tab', { name: 'Live traffic' }).click();
    expect(await back.isVisible()).toBe(true); // on every view, until dismissed
    await back.getByRole('button', { name: 'Dismiss' }).click();
    await expect.poll(() => page.getByTestId('last-trial').count()).toBe(0);
    expect(app.problems).toEqual([]);
  });

  it('Revert now goes back at once; Keep keeps past the deadline', async () => {
    const { host, app, page } = await start();
    const { session, policy } = await observedSession(host, page);
    await setDefault(page, 'ntf0', 'deny');

    // "Guard only these ranges": ntf0 back to default allow as a pending change, previewed again —
    // which is what is enforced: nothing to apply.
    const dialog = await openPreview(page);
    await dialog.getByRole('button', { name: 'Guard only these ranges on ntf0' }).click();
    await dialog.getByTestId('preview-unchanged').waitFor();
    expect(await dialog.getByRole('button', { name: 'Apply as trial' }).count()).toBe(0);
    await dialog.getByRole('button', { name: 'Close' }).click();
    await dialog.waitFor({ state: 'detached' });
    expect(await page.getByRole('combobox', { name: 'Default on ntf0' }).inputValue()).toBe('allow');
    expect((await engineView(host)).policy).toBe(policy);
    await setDefault(page, 'ntf0', 'deny');

    await applyAsTrial(page, 60);
    await expect.poll(() => echoesDuring(session, 1000), { timeout: 10_000 }).toBe(0);
    const reverted = (await engineView(host)).trial?.policy;
    await page.getByTestId('trial-bar').getByRole('button', { name: 'Revert now' }).click();
    await expect.poll(() => page.getByTestId('trial-bar').count()).toBe(0);
    const after = await engineView(host);
    expect(after.trial).toBeNull();
    expect(after.lastTrial).toMatchObject({ policy: reverted, outcome: 'reverted' });
    const cut = session.echoed();
    await expect.poll(() => session.echoed(), { timeout: 30_000, interval: 500 }).toBeGreaterThan(cut);
    // The outcome is said; the draft's deny default is pending again.
    await expect.poll(() => page.getByTestId('notice').count()).toBe(1);
    await expect.poll(() => headerText(page)).toMatch(/^Filtering ntf0 · policy \d+ · 1 pending$/);

    // Again, and Keep: the deny default stays past the trial's deadline.
    await applyAsTrial(page, 10);
    const kept = (await engineView(host)).trial?.policy;
    expect(kept).toBeGreaterThan(after.policy ?? policy);
    await page.keyboard.press('Enter'); // Keep has the focus
    await expect.poll(() => page.getByTestId('trial-bar').count()).toBe(0);
    await sleep(12_000);
    const v = await engineView(host);
    expect(v.policy).toBe(kept);
    expect(v.trial).toBeNull();
    expect(await echoesDuring(session, 1500)).toBe(0);
    await expect.poll(() => headerText(page)).toBe(`Filtering ntf0 · policy ${kept}`);
    expect(await page.getByTestId('engine-state').getAttribute('data-tone')).toBe('ok');
    expect(app.problems).toEqual([]);
  });

  it('audit mode: nothing is dropped, would-drop rows are shown, the header says auditing', async () => {
    const { host, app, page } = await start();
    const { session } = await observedSession(host, page);
    await setDefault(page, 'ntf0', 'deny');
    await page.getByRole('combobox', { name: 'Mode on ntf0' }).selectOption('audit');
    const dialog = await openPreview(page);
    expect(
      await dialog.locator('[data-testid="preview-effects"] li[data-iface="ntf0"]').getAttribute('data-tone'),
    ).toBe('audit');
    await dialog.getByRole('button', { name: 'Apply', exact: true }).click();
    await dialog.waitFor({ state: 'detached', timeout: 15_000 });
    await expect.poll(() => headerText(page)).toMatch(/^Auditing ntf0 · policy \d+$/);
    expect(await page.getByTestId('engine-state').getAttribute('data-tone')).toBe('warn');

    // bob is not in imdsv2's users: enforce would drop him; audit passes and reports it.
    expect(env!.sb.probe(BOB, ['http', 'http://169.254.169.254/', '1000']).ok).toBe(true);
    expect(await echoesDuring(session, 1500)).toBeGreaterThan(0);
    await page.getByRole('tab', { name: 'Live traffic' }).click();
    const row = page
      .locator('[data-testid="traffic-row"][data-verdict="would-drop"][data-user="bob"]')
      .first();
    await row.waitFor({ timeout: 15_000 });
    expect(await row.textContent()).toContain('would drop');
    expect(await page.locator('[data-testid="traffic-row"][data-verdict="drop"]').count()).toBe(0);
    await screenshot(page, 'audit-mode');
    expect(app.problems).toEqual([]);
  });

  it('the header: not filtering, nothing protected when eth0 is absent, nothing to apply', async () => {
    const { host, app, page } = await start();
    await expect.poll(() => headerText(page)).toBe('Not filtering');
    expect(await page.getByTestId('engine-detail').textContent()).toMatch(
      /^Nothing is filtered: every packet passes\./,
    );
    await importSeed(host, page);
    await expect.poll(() => headerText(page)).toMatch(/^Not filtering · \d+ pending$/);
    // The seed unchanged: eth0 does not exist in the sandbox. The preview says so first.
    const dialog = await openPreview(page);
    expect(
      await dialog.locator('[data-testid="preview-effects"] li[data-iface="eth0"]').getAttribute('data-tone'),
    ).toBe('absent');
    await dialog.getByRole('button', { name: 'Apply', exact: true }).click();
    await dialog.waitFor({ state: 'detached', timeout: 15_000 });
    await expect.poll(() => headerText(page)).toMatch(/^Nothing protected: eth0 is absent · policy \d+$/);
    expect(await page.getByTestId('engine-state').getAttribute('data-tone')).toBe('danger');
    expect(await page.getByTestId('engine-detail').textContent()).toContain('eth0: absent');
    await screenshot(page, 'header-absent');

    // Apply with nothing pending says so and applies nothing.
    const before = (await engineView(host)).policy;
    await page.getByRole('button', { name: 'Apply', exact: true }).click();
    expect(await page.getByTestId('apply-why').textContent()).toBe(
      'Nothing to apply: the draft is what is enforced.',
    );
    expect(await page.getByRole('dialog').count()).toBe(0);
    expect((await engineView(host)).policy).toBe(before);
    // A passing notice belongs to its view: "Exported …" goes on a tab change.
    await host.dialog({ save: join(env!.sb.dir, 'export.yml') });
    await page.getByRole('button', { name: 'Export YAML…' }).click();
    await expect.poll(() => page.getByTestId('notice').textContent()).toContain('Exported');
    await page.getByRole('tab', { name: 'Live traffic' }).click();
    await expect.poll(() => page.getByTestId('notice').count()).toBe(0);
    await page.getByRole('tab', { name: 'Policy' }).click();
    expect(await page.getByTestId('notice').count()).toBe(0);
    const words = (await page.locator('header').textContent()) ?? '';
    expect(words).not.toMatch(/epoch|\bpins?\b/i);
    expect(app.problems).toEqual([]);
  });

  it('a read-only window shows what the kernel does, with its reason', async () => {
    env = await setupSandbox();
    const policyFile = `${env.sb.dir}/gui/policy.yml`;
    const owner = await startHost({ sb: env.sb, pinDir: env.pinDir, policyFile, caps: true });
    env.hosts.push(owner);
    const doc = {
      endpoints: [{ name: 'imds', iface: ['ntf0'], range: ['169.254.169.254/32'], allow: ['alice'] }],
      interfaces: {},
      logging: {},
    };
    const r = await owner.call('apply', OWN, { doc, expectEpoch: null });
    expect(r.ok).toBe(true);
    const policy = (await engineView(owner)).policy;
    // A second window while the first holds the filter: read-only (locked), observing.
    const host = await startHost({ sb: env.sb, pinDir: env.pinDir, policyFile, caps: true });
    env.hosts.push(host);
    expect(host.state.mode).toBe('read-only');
    const app = await openApp(host);
    env.apps.push(app);
    const page = app.page;
    await page.setViewportSize({ width: 1024, height: 700 });
    await expect.poll(() => page.getByTestId('mode-badge').getAttribute('data-mode')).toBe('read-only');
    await expect.poll(() => headerText(page)).toBe(`Filtering ntf0 · policy ${policy}`);
    const reason = page.getByTestId('readonly-banner');
    await reason.waitFor();
    expect(await reason.textContent()).toContain(host.state.readOnly?.message ?? '(no reason)');
    // The header keeps its height with the reason in it.
    const height = await page.locator('header').evaluate((el) => el.getBoundingClientRect().height);
    await reason.getByRole('button', { name: 'Details' }).click();
    expect(await page.locator('header').evaluate((el) => el.getBoundingClientRect().height)).toBe(height);
    expect(app.problems).toEqual([]);
  });
});
