// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest), as root. Services and containers in the app, against the real
// engine (see harness.ts) with real traffic from real cgroups (tests/kernel/cgroups.ts: a "unit"
// made in a slice of the test's own, which `unit:` entries find): a decision row and a flow row
// name the socket's unit beside the user; the user filter finds a unit; the details pane names
// unit and cgroup, the engine's explanation names the unit: entry, and its unit fix becomes a
// pending change (never applied); the editor tags the entry; nothing cut off at 1024×700.
import { afterEach, describe, expect, it } from 'vitest';
import type { Locator, Page } from 'playwright-core';
import type { Enforced, PolicyDoc } from '../../electron/ipc/contract.js';
import { ALICE, BOB } from '../kernel/harness.js';
import { CGROUP_ROOT, TestCgroups } from '../kernel/cgroups.js';
import { call, openApp, screenshot, setupSandbox, startSandboxHost, teardown, VIEWPORT } from './harness.js';
import type { Host, UiEnv } from './harness.js';

const PEER = '192.0.2.1';
const TAG = `ntfy${process.pid % 100000}`;
const cg = new TestCgroups(TAG);
/** Unit names of an ordinary length (what the User column is laid out for). */
const UNIT = `bk${process.pid % 100000}.service`;
const UNIT_PATH = cg.unitPath(UNIT);
const OTHER = `web${process.pid % 100000}.service`;
const OTHER_PATH = cg.unitPath(OTHER);

const POLICY: PolicyDoc = {
  endpoints: [{ name: 'peer', iface: ['ntf0'], range: [`${PEER}/32`], allow: ['alice', `unit:${OTHER}`] }],
  interfaces: {},
  logging: { allowed: 'all' },
};

let env: UiEnv | undefined;
afterEach(async () => {
  await teardown(env);
  env = undefined;
  cg.remove();
});

const enforced = (host: Host) => call<Enforced>(host, 'getEnforced', undefined);

/** A row's cell by its column header. */
async function cellOf(page: Page, row: Locator, header: string): Promise<Locator> {
  const headers = await page
    .locator('.vhead [role="columnheader"]')
    .evaluateAll((els) => els.map((e) => e.textContent ?? ''));
  const i = headers.indexOf(header);
  if (i < 0) throw new Error(`no column ${header} in ${headers.join(', ')}`);
  return row.locator('[role="cell"]').nth(i);
}

async function cell(page: Page, row: Locator, header: string): Promise<string> {
  return (await (await cellOf(page, row, header)).textContent()) ?? '';
}

/** Nothing of the element is outside the window. */
async function whole(page: Page, el: Locator): Promise<void> {
  const box = await el.boundingBox();
  expect(box).not.toBeNull();
  expect(box!.x).toBeGreaterThanOrEqual(0);
  expect(box!.x + box!.width).toBeLessThanOrEqual(VIEWPORT.width);
  expect(box!.y + box!.height).toBeLessThanOrEqual(VIEWPORT.height);
}

describe.runIf(CGROUP_ROOT !== undefined || process.env.CI === 'true')('Services in the app', () => {
  it('names the unit of a decision and a flow, explains it, and turns the unit fix into a pending change', async () => {
    cg.mk(UNIT_PATH);
    cg.mk(OTHER_PATH);
    env = await setupSandbox();
    const host = await startSandboxHost(env);
    await call(host, 'apply', { doc: POLICY, expectEpoch: null });
    const before = await enforced(host);
    const app = await openApp(host);
    env.apps.push(app);
    const page = app.page;
    // bob from the backup unit: not listed (the endpoint lists another unit); from the web unit: allowed.
    const udp = (path: string, uid: number) => cg.probe(env!.sb, path, uid, ['udp', PEER, '7', '2', '300']);
    expect(udp(UNIT_PATH, BOB)).toMatchObject({ sent: 2, received: 0 });
    expect(udp(OTHER_PATH, BOB)).toMatchObject({ sent: 2, received: 2 });
    expect(udp(UNIT_PATH, ALICE)).toMatchObject({ sent: 2, received: 2 });
    await page.getByRole('tab', { name: 'Live traffic' }).click();

    // A decision row: bob, and beside him the unit of his socket.
    const dropped = page
      .locator(`[data-testid="traffic-row"][data-verdict="drop"][data-user="bob"][data-unit="${UNIT}"]`)
      .first();
    await dropped.waitFor({ timeout: 15_000 });
    expect(await dropped.getAttribute('data-cgroup')).toBe(UNIT_PATH);
    expect(await cell(page, dropped, 'User')).toBe(`bob${UNIT}`);
    await whole(page, dropped.getByTestId('unit-tag'));
    // The whole of it: the cell is not cut (no ellipsis).
    const userCell = await cellOf(page, dropped, 'User');
    expect(await userCell.evaluate((el) => el.scrollWidth - el.clientWidth)).toBeLessThanOrEqual(0);
    const allowed = page
      .locator(`[data-testid="traffic-row"][data-verdict="allow"][data-user="bob"][data-unit="${OTHER}"]`)
      .first();
    await allowed.waitFor({ timeout: 15_000 });
    expect(await cell(page, allowed, 'Reason')).toBe('peer');
    // The decisions table does not scroll sideways at 1024 px.
    const body = page.getByRole('rowgroup', { name: 'Decision rows' });
    expect(await body.evaluate((el) => el.scrollWidth - el.clientWidth)).toBeLessThanOrEqual(0);
    await screenshot(page, 'live-traffic-units');

    // The user filter finds a unit by name.
    await page.getByRole('textbox', { name: 'User' }).fill(OTHER.slice(0, -'.service'.length));
    await expect.poll(() => page.locator(`[data-testid="traffic-row"][data-unit="${UNIT}"]`).count()).toBe(0);
    expect(await page.locator(`[data-testid="traffic-row"][data-unit="${OTHER}"]`).count()).toBeGreaterThan(
      0,
    );
    await page.getByRole('textbox', { name: 'User' }).fill('');

    // The details: unit and cgroup, the engine's words about the unit: entry, the unit fix.
    await dropped.click();
    const pane = page.getByTestId('details-pane');
    await pane.waitFor();
    expect(await pane.getByTestId('details-unit').textContent()).toBe(UNIT);
    expect((await pane.getByTestId('details-cgroup').textContent())?.trim()).toBe(UNIT_PATH);
    await expect
      .poll(() => pane.getByTestId('explain-text').textContent(), { timeout: 10_000 })
      .toContain(`peer lists unit:${OTHER} (${OTHER_PATH}); this socket is in ${UNIT_PATH}, not in it.`);
    const fix = pane.getByRole('button', { name: `Allow ${UNIT} as bob in peer` });
    await whole(page, fix);
    await screenshot(page, 'unit-details');
    await fix.click();
    await expect
      .poll(() => pane.getByTestId('details-added').textContent())
      .toContain(`unit:${UNIT} as bob added to peer`);
    expect((await enforced(host)).doc).toEqual(before.doc);

    // A flow row names the unit too; the Flows table does not scroll sideways either.
    await pane.getByRole('button', { name: 'Close details' }).click();
    await page.getByRole('button', { name: 'Flows', exact: true }).click();
    const flow = page.locator(`[data-testid="flow-row"][data-user="bob"][data-unit="${UNIT}"]`).first();
    await flow.waitFor({ timeout: 15_000 });
    expect(await flow.getAttribute('data-cgroup')).toBe(UNIT_PATH);
    expect(await flow.getByTestId('unit-tag').textContent()).toBe(UNIT);
    const flowBody = page.getByRole('rowgroup', { name: 'Flow rows' });
    expect(await flowBody.evaluate((el) => el.scrollWidth - el.clientWidth)).toBeLessThanOrEqual(0);

    // The pending change, and the editor's chip: a unit entry, tagged as one; nothing applied.
    await page.getByRole('tab', { name: 'Policy' }).click();
    await expect
      .poll(async () => (await page.getByTestId('pending-changes').textContent()) ?? '')
      .toContain(`unit:${UNIT} as bob`);
    const chip = page.locator(`[data-testid="allow-chip"][data-value="unit:${UNIT} as bob"]`);
    await chip.waitFor();
    expect(await chip.locator('.kind').textContent()).toBe('unit · as');
    expect(await page.locator('[data-testid="allow-chip"].chip-error').count()).toBe(0);
    const listed = page.locator('.mini-chip.cgroup', { hasText: `unit:${UNIT} as bob` });
    await whole(page, listed);
    // Typed in: checked as you type (the account after "as" too), added as a cgroup chip.
    const input = page.getByRole('textbox', { name: 'Add user' });
    await input.fill(`unit:${OTHER} as nosuchuser`);
    await expect
      .poll(() => page.getByTestId('field-warning').last().textContent())
      .toContain('no such user nosuchuser on this system');
    await input.fill('unit:backup.socket');
    await expect
      .poll(() => page.getByRole('alert').last().textContent())
      .toContain('only .service, .scope, .slice');
    await input.fill(`cgroup:${OTHER_PATH}`);
    await input.press('Enter');
    const typed = page.locator(`[data-testid="allow-chip"][data-value="cgroup:${OTHER_PATH}"]`);
    await typed.waitFor();
    expect(await typed.locator('.kind').textContent()).toBe('cgroup');
    const now = await enforced(host);
    expect(now.epoch).toBe(before.epoch);
    expect(now.doc).toEqual(before.doc);
  });
});
