// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest), as root. The real UI (built renderer in headless Chromium) against
// the real engine in a network-namespace sandbox. See harness.ts for what is real here.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { packageRoot } from '../../electron/engine/paths.js';
import type { Enforced } from '../../electron/ipc/contract.js';
import { ALICE, BOB } from '../kernel/harness.js';
import { openApp, OWN, screenshot, setupSandbox, startHost, teardown } from './harness.js';
import type { App, Host, UiEnv } from './harness.js';

const SEED = join(packageRoot(), 'conf/net-tc-filter.yml');

/** What Export must write for the edited seed policy: the original tool's format. */
const EXPECTED_EXPORT = `endpoints:
  - imdsv2:
      iface: [ntf0]
      range: [169.254.169.254/32, fd00:ec2::254/128]
      allow: [testuser]
`;

let env: UiEnv | undefined;
afterEach(async () => {
  await teardown(env);
  env = undefined;
});

async function start(
  caps: boolean,
  colorScheme: 'light' | 'dark' = 'light',
): Promise<{ host: Host; app: App; page: Page }> {
  env = await setupSandbox();
  const host = await startHost({
    sb: env.sb,
    pinDir: env.pinDir,
    policyFile: `${env.sb.dir}/gui/policy.yml`,
    caps,
  });
  env.hosts.push(host);
  const app = await openApp(host, { colorScheme });
  env.apps.push(app);
  return { host, app, page: app.page };
}

async function enforced(host: Host): Promise<Enforced> {
  const r = await host.call('getEnforced', OWN, undefined);
  if (!r.ok) throw new Error(r.error.message);
  return r.value as Enforced;
}

async function importFile(host: Host, page: Page, file: string): Promise<void> {
  await host.dialog({ open: file });
  await page.getByRole('button', { name: 'Import YAML…' }).click();
}

/** Apply opens the preview; its "Apply" (for good) applies and closes it. */
async function applyThroughPreview(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Apply', exact: true }).click();
  const dialog = page.getByRole('dialog');
  await dialog.waitFor();
  await dialog.getByRole('button', { name: 'Apply', exact: true }).click({ timeout: 15_000 });
  await dialog.waitFor({ state: 'detached', timeout: 15_000 });
}

const rows = (page: Page, sel = '') => page.locator(`[data-testid="traffic-row"]${sel}`);

/** Decisions received by the page so far (the table's "N received"). */
async function received(page: Page): Promise<number> {
  const t = (await page.getByText(/[0-9,]+ received/).textContent()) ?? '';
  return Number(/([0-9,]+) received/.exec(t)?.[1]?.replace(/,/g, '') ?? -1);
}

/** The newest decision among the rows the table has rendered. */
async function newestShown(page: Page): Promise<number> {
  const seqs = await rows(page).evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-seq'))));
  return Math.max(-1, ...seqs);
}

async function rowCount(page: Page): Promise<number> {
  return rows(page).count();
}

describe('desktop UI against the real engine', () => {
  it('imports the original YAML, edits, applies, shows live verdicts, pauses, filters and exports', async () => {
    const { host, app, page } = await start(true);
    // This window may apply (its role); the header says what the kernel does: nothing yet.
    await expect.poll(() => page.getByTestId('mode-badge').getAttribute('data-mode')).toBe('enforcing');
    await expect.poll(() => page.getByTestId('readonly-banner').count()).toBe(0);
    await expect.poll(() => page.getByTestId('engine-state').textContent()).toContain('Not filtering');

    // Import: the seed's endpoint shows up as a pending change, nothing is applied.
    await importFile(host, page, SEED);
    const item = page.locator('[data-testid="endpoint-item"][data-name="imdsv2"]');
    await item.waitFor();
    await expect.poll(() => page.getByTestId('pending-changes').textContent()).toContain('imdsv2');
    expect((await enforced(host)).epoch).toBeNull();

    // Edit: the sandbox's interface instead of eth0, the IPv6 address of the metadata service.
    await item.click();
    await page.getByRole('textbox', { name: 'Add interface' }).fill('ntf0');
    await page.getByRole('textbox', { name: 'Add interface' }).press('Enter');
    await page.getByRole('button', { name: 'Remove eth0' }).click();
    await page.getByRole('textbox', { name: 'Add range' }).fill('fd00:ec2::254/128');
    await page.getByRole('textbox', { name: 'Add range' }).press('Enter');
    await page.locator('[data-testid="range-chip"]', { hasText: 'fd00:ec2::254/128' }).waitFor();

    // An invalid range: inline error, Apply disabled until it is gone.
    const apply = page.getByRole('button', { name: 'Apply', exact: true });
    expect(await apply.isEnabled()).toBe(true);
    await page.getByRole('textbox', { name: 'Add range' }).fill('169.254.169.300');
    await page.getByRole('textbox', { name: 'Add range' }).press('Enter');
    await page.getByTestId('field-error').first().waitFor();
    expect(await page.getByTestId('field-error').first().textContent()).toContain('169.254.169.300');
    await expect.poll(() => apply.isEnabled()).toBe(false);
    await page.getByRole('textbox', { name: 'Add range' }).fill('');
    const bad = page.getByRole('button', { name: 'Remove 169.254.169.300' });
    if ((await bad.count()) > 0) await bad.click();
    await expect.poll(() => page.getByTestId('field-error').count()).toBe(0);
    await expect.poll(() => apply.isEnabled()).toBe(true);

    // Apply (through its preview, for good), then real traffic: testuser (uid 62001, alice)
    // allowed, bob dropped.
    await applyThroughPreview(page);
    await expect
      .poll(() => page.getByTestId('engine-state').textContent())
      .toMatch(/Filtering ntf0 · policy \d+/);
    await expect.poll(async () => (await enforced(host)).epoch, { timeout: 15_000 }).not.toBeNull();
    expect((await enforced(host)).doc?.endpoints[0]?.iface).toEqual(['ntf0']);
    expect(env!.sb.probe(ALICE, ['http', 'http://169.254.169.254/', '1000']).ok).toBe(true);
    expect(env!.sb.probe(BOB, ['http', 'http://169.254.169.254/', '500']).ok).toBe(false);

    await page.getByRole('tab', { name: 'Live traffic' }).click();
    await rows(page, '[data-verdict="allow"][data-user="alice"]').first().waitFor({ timeout: 15_000 });
    await rows(page, '[data-verdict="drop"][data-user="bob"]').first().waitFor({ timeout: 15_000 });
    const dropRow = rows(page, '[data-verdict="drop"][data-user="bob"]').first();
    expect(await dropRow.getAttribute('data-dst')).toBe('169.254.169.254');
    expect(await dropRow.getAttribute('data-iface')).toBe('ntf0');
    expect(await page.getByTestId('lost-events').textContent()).toMatch(/\b0\b/);

    // Pause: new decisions do not move the table; Resume shows them.
    await page.getByRole('button', { name: 'Pause' }).click();
    const frozen = await rowCount(page);
    const frozenTop = await rows(page).first().getAttribute('data-seq');
    const receivedBefore = await received(page);
    env!.sb.probe(BOB, ['udp', '169.254.169.254', '7', '5', '300']);
    // The feed continues while paused (so the frozen table below is not just an idle one).
    await expect.poll(() => received(page), { timeout: 10_000 }).toBeGreaterThanOrEqual(receivedBefore + 5);
    expect(await rows(page).first().getAttribute('data-seq')).toBe(frozenTop);
    expect(await rowCount(page)).toBe(frozen);
    await page.getByRole('button', { name: 'Resume' }).click();
    await expect
      .poll(async () => Number(await rows(page).first().getAttribute('data-seq')), { timeout: 10_000 })
      .toBeGreaterThan(Number(frozenTop));
    await rows(page, '[data-verdict="drop"]').filter({ hasText: 'udp' }).first().waitFor();

    // Filters: by verdict, then by user.
    await page.getByRole('combobox', { name: 'Verdict' }).selectOption({ label: 'Dropped' });
    await expect.poll(() => rows(page, '[data-verdict="allow"]').count()).toBe(0);
    expect(await rows(page, '[data-verdict="drop"]').count()).toBeGreaterThan(0);
    await page.getByRole('combobox', { name: 'Verdict' }).selectOption({ label: 'All' });
    await page.getByRole('textbox', { name: 'User' }).fill('alice');
    await expect.poll(() => rows(page, '[data-user="bob"]').count()).toBe(0);
    expect(await rows(page, '[data-user="alice"]').count()).toBeGreaterThan(0);
    await page.getByRole('textbox', { name: 'User' }).fill('');
    await expect.poll(() => rows(page, '[data-user="bob"]').count()).toBeGreaterThan(0);

    // Scrolled away from the newest rows, the table holds still; "back to newest" shows them.
    env!.sb.probe(BOB, ['udp', '169.254.169.254', '7', '60', '300']);
    await expect.poll(async () => Number((await received(page)) >= 60), { timeout: 15_000 }).toBe(1);
    const body = page.getByRole('rowgroup', { name: 'Decision rows' });
    await body.evaluate((el) => el.scrollTo({ top: 20 * 28 }));
    await page.getByTestId('hold-notice').waitFor();
    const heldTop = await newestShown(page);
    const heldScroll = await body.evaluate((el) => el.scrollTop);
    env!.sb.probe(BOB, ['udp', '169.254.169.254', '7', '5', '300']);
    await expect
      .poll(() => page.getByTestId('hold-notice').textContent(), { timeout: 15_000 })
      .toMatch(/↑ [5-9] newer/);
    expect(await newestShown(page)).toBe(heldTop);
    expect(await body.evaluate((el) => el.scrollTop)).toBe(heldScroll);
    await page.getByRole('button', { name: /back to newest/ }).click();
    await expect.poll(() => page.getByTestId('hold-notice').count()).toBe(0);
    await expect.poll(() => newestShown(page)).toBeGreaterThan(heldTop);

    // A flood from bob: past his event budget his decisions are counted as over budget, not lost.
    expect(env!.sb.probe(BOB, ['flood', '169.254.169.254', '7', '6000'], 60_000)).toEqual({ sent: 6000 });
    await expect
      .poll(
        async () => Number((await page.getByTestId('suppressed-events').textContent())?.replace(/\D/g, '')),
        {
          timeout: 15_000,
        },
      )
      .toBeGreaterThan(0);

    // Export writes the original tool's format; re-importing it changes nothing.
    await page.getByRole('tab', { name: 'Policy' }).click();
    const out = join(env!.sb.dir, 'export.yml');
    await host.dialog({ save: out });
    await page.getByRole('button', { name: 'Export YAML…' }).click();
    await expect.poll(() => existsSync(out)).toBe(true);
    expect(readFileSync(out, 'utf8')).toBe(EXPECTED_EXPORT);
    await importFile(host, page, out);
    await expect.poll(() => page.getByTestId('pending-changes').textContent()).toMatch(/no pending changes/i);
    expect(await page.locator('[data-testid="endpoint-item"]').count()).toBe(1);

    // Status: the program and the attached interface.
    await page.getByRole('tab', { name: 'Status' }).click();
    await page.getByTestId('status-view').waitFor();
    await expect.poll(() => page.getByTestId('status-program-id').textContent()).toMatch(/[0-9]+/);
    expect(await page.getByTestId('status-view').textContent()).toContain('ntf0');
    await screenshot(page, 'status');

    expect(app.problems).toEqual([]);
  });

  it('shows every import error with file:line:col and keeps the editor as it was', async () => {
    const { host, app, page } = await start(true);
    const broken = env!.sb.writeFile(
      'broken.yml',
      'endpoints:\n  - imdsv2:\n      iface: [eth0]\n      range: [169.254.169.300/32]\n      allow: [testuser, "@"]\n',
    );
    await importFile(host, page, broken);
    const errors = page.getByTestId('import-errors');
    await errors.waitFor();
    const items = await errors.locator('li').allTextContents();
    expect(items.some((t) => t.includes(`${broken}:4:15:`) && t.includes('169.254.169.300'))).toBe(true);
    expect(items.some((t) => t.includes(`${broken}:5:`) && t.includes('"@"'))).toBe(true);
    expect(await page.locator('[data-testid="endpoint-item"]').count()).toBe(0);
    await screenshot(page, 'import-error');
    expect(app.problems).toEqual([]);
  });

  it('says plainly when the saved policy differs from what the kernel enforces, offers it as pending changes, and keeps what is enforced', async () => {
    env = await setupSandbox();
    const policyFile = `${env.sb.dir}/gui/policy.yml`;
    const first = await startHost({ sb: env.sb, pinDir: env.pinDir, policyFile, caps: true });
    env.hosts.push(first);
    const doc = {
      endpoints: [{ name: 'imds', iface: ['ntf0'], range: ['169.254.169.254/32'], allow: ['alice'] }],
      interfaces: { ntf0: { default: 'allow' as const } },
      logging: {},
    };
    const r = await first.call('apply', OWN, { doc, expectEpoch: null });
    expect(r.ok).toBe(true);
    await first.close();
    // Edited while the app was closed (the issue-7 `sed`, here by root so the file is trusted).
    const text = readFileSync(policyFile, 'utf8');
    writeFileSync(policyFile, text.replace('allow: [alice]', "allow: [alice, '*']"));

    const host = await startHost({ sb: env.sb, pinDir: env.pinDir, policyFile, caps: true });
    env.hosts.push(host);
    const app = await openApp(host);
    env.apps.push(app);
    const page = app.page;
    const notice = page.getByTestId('saved-notice');
    await notice.waitFor();
    expect(await notice.getAttribute('data-status')).toBe('differs');
    expect(await notice.textContent()).toContain('The saved policy differs from what the kernel enforces');
    expect(await notice.textContent()).toContain('1 guarded range with other users');
    const cells = await page.getByTestId('saved-differences').locator('tbody td').allTextContents();
    expect(cells).toEqual(['0', '0', '1', '0', '0', '0']);
    // Its content is the draft, as pending changes; nothing was applied.
    await expect.poll(() => page.getByTestId('pending-changes').textContent()).toContain('*');
    const before = await enforced(host);
    expect(before.doc).toBeNull();
    expect(env.sb.probe(BOB, ['http', 'http://169.254.169.254/', '500']).ok).toBe(false);
    await screenshot(page, 'saved-policy-differs');

    // Keep what is enforced: the notice goes, the draft is dropped, the kernel is untouched.
    await page.getByRole('button', { name: 'Keep what is enforced' }).click();
    await expect.poll(() => notice.count()).toBe(0);
    expect((await enforced(host)).epoch).toBe(before.epoch);
    expect(env.sb.probe(BOB, ['http', 'http://169.254.169.254/', '500']).ok).toBe(false);
  });

  it('without capabilities: the read-only banner explains, Apply stays disabled', async () => {
    const { host, app, page } = await start(false);
    const banner = page.getByTestId('readonly-banner');
    await banner.waitFor();
    const text = (await banner.textContent()) ?? '';
    expect(text).toContain('CAP_BPF');
    expect(text).toContain('net-tc-filter-gui');
    await expect.poll(() => page.getByTestId('mode-badge').textContent()).toContain('Read-only');
    // Editing works; applying does not.
    await importFile(host, page, SEED);
    await page.locator('[data-testid="endpoint-item"][data-name="imdsv2"]').waitFor();
    expect(await page.getByRole('button', { name: 'Apply', exact: true }).isDisabled()).toBe(true);
    await screenshot(page, 'read-only');
    expect(existsSync(env!.pinDir)).toBe(false);
    expect(app.problems).toEqual([]);
  });

  it('follows the system colour scheme and is usable from the keyboard alone', async () => {
    const { app, page } = await start(false, 'dark');
    const luminance = () =>
      page.evaluate(() => {
        const m = /rgba?\((\d+), (\d+), (\d+)/.exec(getComputedStyle(document.body).backgroundColor);
        if (!m) return -1;
        const [r, g, b] = [m[1], m[2], m[3]].map(Number) as [number, number, number];
        return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
      });
    const dark = await luminance();
    expect(dark).toBeGreaterThanOrEqual(0);
    expect(dark).toBeLessThan(0.3);
    // The preference changes while the window is open: the page follows it.
    await page.emulateMedia({ colorScheme: 'light' });
    expect(await luminance()).toBeGreaterThan(0.7);

    // Tabs: arrow keys move between views (roving focus), Home/End jump.
    const selected = () => page.locator('[role="tab"][aria-selected="true"]').textContent();
    await page.getByRole('tab', { name: 'Policy' }).focus();
    await page.keyboard.press('ArrowRight');
    expect(await selected()).toBe('Live traffic');
    await page.keyboard.press('ArrowRight');
    expect(await selected()).toBe('History');
    await page.keyboard.press('ArrowRight');
    expect(await selected()).toBe('Status');
    await page.keyboard.press('ArrowRight');
    expect(await selected()).toBe('Policy');
    await page.keyboard.press('End');
    expect(await selected()).toBe('Status');
    await page.keyboard.press('Home');
    expect(await selected()).toBe('Policy');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('role'))).toBe('tab');

    // Tab reaches "Add endpoint"; Enter adds one; a range typed and entered becomes a chip.
    let reached = false;
    for (let i = 0; i < 20 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = (await page.evaluate(() => document.activeElement?.textContent?.trim())) === 'Add endpoint';
    }
    expect(reached).toBe(true);
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('[data-testid="endpoint-item"]').count()).toBe(1);
    await page.getByRole('textbox', { name: 'Add range' }).focus();
    await page.keyboard.type('169.254.169.254');
    await page.keyboard.press('Enter');
    await page.locator('[data-testid="range-chip"]', { hasText: '169.254.169.254' }).waitFor();
    expect(app.problems).toEqual([]);
  });
});
