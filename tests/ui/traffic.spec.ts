// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest), as root. Live traffic against the real engine (see harness.ts):
// reasons in plain words, would-drop rows, the details pane with the engine's explanation and
// its fixes as pending changes (never applied), the user filter by uid and by name, the Flows
// tab's reason and endpoint, and nothing cut off at 1024×700.
import { afterEach, describe, expect, it } from 'vitest';
import type { Locator, Page } from 'playwright-core';
import type { Enforced, PolicyDoc } from '../../electron/ipc/contract.js';
import { ALICE, BOB } from '../kernel/harness.js';
import { call, openApp, screenshot, setupSandbox, startSandboxHost, teardown } from './harness.js';
import type { App, Host, UiEnv } from './harness.js';

const IMDS = '169.254.169.254';
/** The sandbox's peer on ntf0, two of its addresses (no endpoint guards them: ntf0's default decides). */
const PEER = '192.0.2.1';
const PEER2 = '198.51.100.1';

const POLICY: PolicyDoc = {
  endpoints: [{ name: 'imdsv2', iface: ['ntf0'], range: [`${IMDS}/32`], allow: ['alice'] }],
  interfaces: {},
  logging: { allowed: 'all' },
};

let env: UiEnv | undefined;
afterEach(async () => {
  await teardown(env);
  env = undefined;
});

const enforced = (host: Host) => call<Enforced>(host, 'getEnforced', undefined);

/** A sandbox with `doc` applied before the window opens (the draft starts as the enforced policy). */
async function start(doc: PolicyDoc): Promise<{ host: Host; app: App; page: Page }> {
  env = await setupSandbox();
  const host = await startSandboxHost(env);
  await call(host, 'apply', { doc, expectEpoch: null });
  const app = await openApp(host);
  env.apps.push(app);
  await app.page.setViewportSize({ width: 1024, height: 700 });
  return { host, app, page: app.page };
}

const rows = (page: Page, sel = '') => page.locator(`[data-testid="traffic-row"]${sel}`);
const flows = (page: Page, sel = '') => page.locator(`[data-testid="flow-row"]${sel}`);

/** The text of a row's cell by its column header. */
async function cell(page: Page, row: Locator, header: string): Promise<string> {
  const headers = await page
    .locator('.vhead [role="columnheader"]')
    .evaluateAll((els) => els.map((e) => e.textContent ?? ''));
  const i = headers.indexOf(header);
  if (i < 0) throw new Error(`no column ${header} in ${headers.join(', ')}`);
  return (await row.locator('[role="cell"]').nth(i).textContent()) ?? '';
}

/** Nothing of the element is outside the window. */
async function inView(page: Page, el: Locator): Promise<void> {
  const box = await el.boundingBox();
  const vp = page.viewportSize();
  expect(box).not.toBeNull();
  expect(box!.x).toBeGreaterThanOrEqual(0);
  expect(box!.y).toBeGreaterThanOrEqual(0);
  expect(box!.x + box!.width).toBeLessThanOrEqual(vp!.width);
  expect(box!.y + box!.height).toBeLessThanOrEqual(vp!.height);
}

async function openLive(page: Page): Promise<void> {
  await page.getByRole('tab', { name: 'Live traffic' }).click();
}

async function pendingText(page: Page): Promise<string> {
  return (await page.getByTestId('pending-changes').textContent()) ?? '';
}

describe('Live traffic against the real engine', () => {
  it('speaks plain reasons, explains a row and turns its fixes into pending changes only', async () => {
    const { host, page } = await start(POLICY);
    const before = await enforced(host);
    expect(env!.sb.probe(ALICE, ['http', `http://${IMDS}/`, '1000']).ok).toBe(true);
    expect(env!.sb.probe(BOB, ['http', `http://${IMDS}/`, '500']).ok).toBe(false);
    env!.sb.probe(BOB, ['udp', PEER, '7', '2', '300']);
    env!.sb.probe(BOB, ['udp', PEER2, '7', '1', '300']);
    await openLive(page);

    // Reasons in plain words: allowed by imdsv2; bob not in its users; the peer: ntf0's default.
    const allowed = rows(page, '[data-verdict="allow"][data-user="alice"][data-reason="endpoint"]').first();
    await allowed.waitFor({ timeout: 15_000 });
    expect(await cell(page, allowed, 'Reason')).toBe('imdsv2');
    // alice and testuser are two names of uid 62001.
    expect(await cell(page, allowed, 'User')).toBe(`alice, testuser (uid ${ALICE})`);
    const notListed = rows(page, '[data-verdict="drop"][data-user="bob"][data-reason="not-listed"]').first();
    await notListed.waitFor({ timeout: 15_000 });
    expect(await cell(page, notListed, 'Reason')).toMatch(/^not in imdsv2's users$/);
    const denied = rows(page, `[data-verdict="drop"][data-user="bob"][data-dst="${PEER}"]`).first();
    await denied.waitFor({ timeout: 15_000 });
    expect(await cell(page, denied, 'Reason')).toBe('no endpoint guards it; ntf0 denies by default');
    // The local port: bob's ephemeral source port.
    expect(Number(await cell(page, denied, 'Local port'))).toBeGreaterThan(1023);
    await expect.poll(() => page.getByTestId('rates-peak').textContent()).toMatch(/^peak \d/);
    await expect.poll(() => page.getByTestId('counters-note').textContent()).toContain('every packet');
    await screenshot(page, 'live-traffic');

    // The user filter: by uid, and by another name of the same uid.
    await page.getByRole('textbox', { name: 'User' }).fill(String(BOB));
    await expect.poll(() => rows(page, '[data-user="alice"]').count()).toBe(0);
    expect(await rows(page, '[data-user="bob"]').count()).toBeGreaterThan(0);
    await page.getByRole('textbox', { name: 'User' }).fill('testuser');
    await expect.poll(() => rows(page, '[data-user="bob"]').count()).toBe(0);
    expect(await rows(page, '[data-user="alice"]').count()).toBeGreaterThan(0);
    await page.getByRole('textbox', { name: 'User' }).fill('');

    // Click bob's not-listed drop: the details with the engine's explanation and the fix.
    await notListed.click();
    const pane = page.getByTestId('details-pane');
    await pane.waitFor();
    await expect
      .poll(() => pane.getByTestId('explain-text').textContent(), { timeout: 10_000 })
      .toContain('bob');
    expect(await pane.getByTestId('explain-text').textContent()).toContain('imdsv2');
    await inView(page, pane);
    await screenshot(page, 'row-details');
    // Escape closes it and gives the focus back to the row.
    await page.keyboard.press('Escape');
    await expect.poll(() => pane.count()).toBe(0);
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-reason'))).toBe('not-listed');
    // The arrow keys move the focus between rows.
    const focusedSeq = () => page.evaluate(() => document.activeElement?.getAttribute('data-seq') ?? null);
    const seq = await focusedSeq();
    await page.keyboard.press('ArrowDown');
    await expect.poll(focusedSeq).not.toBe(seq);
    expect(await focusedSeq()).not.toBeNull();
    await page.keyboard.press('ArrowUp');
    await expect.poll(focusedSeq).toBe(seq);
    // Enter on the focused row opens it again.
    await page.keyboard.press('Enter');
    await pane.waitFor();
    await pane.getByRole('button', { name: 'Allow bob in imdsv2' }).click();
    await expect
      .poll(() => pane.getByTestId('details-added').textContent())
      .toContain('Added to pending changes');
    expect((await enforced(host)).doc).toEqual(before.doc);

    // A new endpoint for one default-deny row; then that row is allowed in the draft: no more fixes.
    await denied.click();
    await pane.getByRole('button', { name: `Allow bob to ${PEER} on ntf0` }).click();
    await expect.poll(() => pane.getByTestId('details-added').textContent()).toContain(`bob-${PEER}`);
    expect(await pane.getByTestId('details-action').count()).toBe(0);
    // Guard-only for another.
    await rows(page, `[data-verdict="drop"][data-user="bob"][data-dst="${PEER2}"]`).first().click();
    await pane.getByRole('button', { name: 'Guard only the listed ranges on ntf0' }).click();
    await expect
      .poll(() => pane.getByTestId('details-added').textContent())
      .toContain("ntf0's default set to allow");

    // All three are pending changes on the Policy tab; nothing was applied.
    await pane.getByRole('button', { name: 'Review on the Policy tab' }).click();
    await expect.poll(() => pendingText(page)).toContain('+bob');
    const pending = await pendingText(page);
    expect(pending).toContain('imdsv2');
    expect(pending).toContain(`bob-${PEER}`);
    expect(pending).toMatch(/ntf0 default: deny → allow/);
    const now = await enforced(host);
    expect(now.epoch).toBe(before.epoch);
    expect(now.doc).toEqual(before.doc);
  });

  it('shows the Flows tab with reason and endpoint, nothing cut off at 1024×700', async () => {
    const { page } = await start(POLICY);
    expect(env!.sb.probe(ALICE, ['http', `http://${IMDS}/`, '1000']).ok).toBe(true);
    expect(env!.sb.probe(BOB, ['http', `http://${IMDS}/`, '500']).ok).toBe(false);
    await openLive(page);
    await page.getByRole('button', { name: 'Flows', exact: true }).click();
    const allowed = flows(page, '[data-user="alice"][data-reason="endpoint"]').first();
    await allowed.waitFor({ timeout: 15_000 });
    expect(await cell(page, allowed, 'Endpoint')).toBe('imdsv2');
    expect(await cell(page, allowed, 'Reason')).toBe('imdsv2');
    const dropped = flows(page, '[data-user="bob"][data-reason="not-listed"]').first();
    await dropped.waitFor({ timeout: 15_000 });
    expect(await cell(page, dropped, 'Reason')).toMatch(/^not in imdsv2's users$/);
    // The last column is in the window and the table does not need to scroll sideways.
    await inView(page, page.getByRole('columnheader', { name: 'Last seen' }));
    const body = page.getByRole('rowgroup', { name: 'Flow rows' });
    expect(await body.evaluate((el) => el.scrollWidth - el.clientWidth)).toBeLessThanOrEqual(0);
    // Every column has its place in the one header line (none wraps onto a second grid row).
    const tops = await page
      .getByRole('table', { name: 'Flows' })
      .getByRole('columnheader')
      .evaluateAll((els) => els.map((e) => e.getBoundingClientRect().top));
    expect(Math.max(...tops) - Math.min(...tops)).toBeLessThan(4); // sub-pixel, not a row (28 px)
    await screenshot(page, 'flows');
    // A flow opens the details too.
    await dropped.click();
    await expect
      .poll(() => page.getByTestId('explain-text').textContent(), { timeout: 10_000 })
      .toContain('imdsv2');
    await inView(page, page.getByTestId('details-pane'));
  });

  it('audit mode: would-drop rows are visibly distinct and filterable', async () => {
    const doc: PolicyDoc = { ...POLICY, interfaces: { ntf0: { mode: 'audit' } } };
    const { page } = await start(doc);
    expect(env!.sb.probe(ALICE, ['http', `http://${IMDS}/`, '1000']).ok).toBe(true);
    // Audit: bob's request passes and is reported as a would-drop.
    expect(env!.sb.probe(BOB, ['http', `http://${IMDS}/`, '1000']).ok).toBe(true);
    await openLive(page);
    const would = rows(page, '[data-verdict="would-drop"][data-user="bob"]').first();
    await would.waitFor({ timeout: 15_000 });
    expect(await cell(page, would, 'Verdict')).toBe('would drop');
    const allowed = rows(page, '[data-verdict="allow"]').first();
    const look = (l: Locator) =>
      l.evaluate((el) => {
        const s = getComputedStyle(el);
        const badge = getComputedStyle(el.querySelector('.verdict')!);
        return `${s.backgroundImage}|${badge.borderStyle}|${badge.backgroundColor}`;
      });
    const [w, a] = [await look(would), await look(allowed)];
    expect(w).not.toBe(a);
    expect(w).toContain('dashed');
    await page.getByRole('combobox', { name: 'Verdict' }).selectOption({ label: 'Would drop' });
    await expect.poll(() => rows(page, '[data-verdict="allow"]').count()).toBe(0);
    expect(await rows(page, '[data-verdict="would-drop"]').count()).toBeGreaterThan(0);
    await expect.poll(() => page.getByTestId('would-drop-count').count()).toBe(1);
  });
});
