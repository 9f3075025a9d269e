// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest), as root. The Policy view against the real engine in a sandbox:
// import replace vs merge, unknown users (Apply blocked, Export not), a new endpoint's errors,
// the users picker over this machine's accounts plus the test users, and the 1024×700 layout.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { Accounts, Enforced } from '../../electron/ipc/contract.js';
import { call, openApp, screenshot, setupSandbox, startSandboxHost, teardown } from './harness.js';
import type { App, Host, UiEnv } from './harness.js';

let env: UiEnv | undefined;
afterEach(async () => {
  await teardown(env);
  env = undefined;
});

async function start(): Promise<{ host: Host; app: App; page: Page }> {
  env = await setupSandbox();
  const host = await startSandboxHost(env);
  const app = await openApp(host);
  env.apps.push(app);
  return { host, app, page: app.page };
}

async function importFile(host: Host, page: Page, file: string): Promise<void> {
  await host.dialog({ open: file });
  await page.getByRole('button', { name: 'Import YAML…' }).click();
}

const names = (page: Page) =>
  page
    .locator('[data-testid="endpoint-item"]')
    .evaluateAll((els) => els.map((e) => e.getAttribute('data-name')));
const chips = (page: Page, id: string) =>
  page.locator(`[data-testid="${id}"]`).evaluateAll((els) => els.map((e) => e.getAttribute('data-value')));

describe('Policy view against the real engine', () => {
  it('Import asks: replace the draft or merge into it (keyboard reachable); nothing is applied', async () => {
    const { host, app, page } = await start();
    const a = env!.sb.writeFile(
      'a.yml',
      'endpoints:\n  - imdsv2:\n      iface: [ntf0]\n      range: [169.254.169.254/32]\n      allow: [alice]\n',
    );
    const b = env!.sb.writeFile(
      'b.yml',
      'endpoints:\n  - imdsv2:\n      iface: [ntf0]\n      range: [fd00:ec2::254/128]\n      allow: [bob]\n' +
        "  - web:\n      iface: [ntf0]\n      range: [198.51.100.0/24]\n      allow: ['*']\n" +
        'interfaces:\n  ntf0:\n    default: allow\n',
    );
    const gridTop = () =>
      page.evaluate(() => Math.round(document.querySelector('.policy-grid')!.getBoundingClientRect().top));
    const top = await gridTop();
    // The draft is empty: nothing to merge into, no question.
    await importFile(host, page, a);
    await page.locator('[data-testid="endpoint-item"][data-name="imdsv2"]').waitFor();
    expect(await page.getByTestId('import-dialog').count()).toBe(0);
    await expect.poll(() => page.getByTestId('import-notice').textContent()).toMatch(/nothing is applied/);
    expect(await gridTop()).toBe(top); // the notice takes its reserved line: nothing moves

    // Now it asks. Escape cancels and leaves the draft alone.
    await importFile(host, page, b);
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain("The file's interface settings win for ntf0");
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Replace the draft');
    await page.keyboard.press('Escape');
    await expect.poll(() => dialog.count()).toBe(0);
    expect(await names(page)).toEqual(['imdsv2']);

    // Merge, from the keyboard: same name → lists united; new → appended; the file's settings win.
    await importFile(host, page, b);
    await dialog.waitFor();
    const focused = () => page.evaluate(() => document.activeElement?.textContent);
    await page.keyboard.press('Shift+Tab'); // focus stays in the dialog
    expect(await focused()).toBe('Cancel');
    await page.keyboard.press('Tab');
    expect(await focused()).toBe('Replace the draft');
    await page.keyboard.press('Tab');
    expect(await focused()).toBe('Merge into the draft');
    await page.keyboard.press('Enter');
    await expect.poll(() => names(page)).toEqual(['imdsv2', 'web']);
    await page.locator('[data-testid="endpoint-item"][data-name="imdsv2"] button').click();
    expect(await chips(page, 'range-chip')).toEqual(['169.254.169.254/32', 'fd00:ec2::254/128']);
    expect(await chips(page, 'allow-chip')).toEqual(['alice', 'bob']);
    expect(await page.getByRole('combobox', { name: 'Default on ntf0' }).inputValue()).toBe('allow');
    await expect.poll(() => page.getByTestId('import-notice').textContent()).toMatch(/^Merged .*b\.yml/);
    // Propose (nothing observed yet) replaces the line instead of adding one.
    await page.getByRole('button', { name: 'Propose from observed traffic' }).click();
    await page.getByTestId('propose-notice').waitFor();
    expect(await gridTop()).toBe(top);

    // Replace: the draft becomes the file.
    await importFile(host, page, a);
    await dialog.waitFor();
    await page.getByRole('button', { name: 'Replace the draft' }).click();
    await expect.poll(() => names(page)).toEqual(['imdsv2']);
    await page.locator('[data-testid="endpoint-item"][data-name="imdsv2"] button').click();
    expect(await chips(page, 'allow-chip')).toEqual(['alice']);
    expect((await call<Enforced>(host, 'getEnforced')).epoch).toBeNull();
    expect(app.problems).toEqual([]);
  });

  it('a new endpoint shows no errors before typing; an unknown user blocks Apply but not Export', async () => {
    const { host, app, page } = await start();
    const apply = page.getByRole('button', { name: 'Apply', exact: true });
    await page.getByRole('button', { name: 'Add endpoint' }).click();
    await page.getByRole('textbox', { name: 'Add range' }).waitFor();
    expect(await page.getByTestId('field-error').count()).toBe(0);
    expect(await apply.isDisabled()).toBe(true);
    expect(await page.getByTestId('apply-why').textContent()).toMatch(/Complete endpoint-1/);

    // Typed into: its errors show (no interface, nobody allowed).
    await page.getByRole('textbox', { name: 'Add range' }).fill('169.254.169.254/32');
    await page.getByRole('textbox', { name: 'Add range' }).press('Enter');
    await expect.poll(() => page.getByTestId('field-error').count()).toBeGreaterThanOrEqual(2);
    // Interface suggestions come from the system (the sandbox's ntf0).
    await page.getByRole('button', { name: 'Use ntf0' }).click();
    await page.getByRole('textbox', { name: 'Add user' }).fill('nosuchuser');
    await page.getByRole('textbox', { name: 'Add user' }).press('Enter');
    await page.locator('[data-testid="allow-chip"][data-value="nosuchuser"]').waitFor();

    // The unknown user: an error naming it in the editor, Apply disabled with that reason.
    const errors = await page.getByTestId('field-error').allTextContents();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^nosuchuser: no such user on this system/);
    expect(await apply.isDisabled()).toBe(true);
    expect(await page.getByTestId('apply-why').textContent()).toMatch(/Not on this system: nosuchuser/);
    // Export stays available (a policy for another host) and writes it.
    const exportBtn = page.getByRole('button', { name: 'Export YAML…' });
    expect(await exportBtn.isEnabled()).toBe(true);
    const out = join(env!.sb.dir, 'other-host.yml');
    await host.dialog({ save: out });
    await exportBtn.click();
    await expect.poll(() => existsSync(out)).toBe(true);
    expect(readFileSync(out, 'utf8')).toContain('nosuchuser');

    // A known user instead: Apply is enabled.
    await page.getByRole('button', { name: 'Remove nosuchuser' }).click();
    await page.getByRole('textbox', { name: 'Add user' }).fill('alice');
    await page.getByRole('textbox', { name: 'Add user' }).press('Enter');
    await expect.poll(() => apply.isEnabled()).toBe(true);
    expect(await page.getByTestId('field-error').count()).toBe(0);
    expect(app.problems).toEqual([]);
  });

  it("the users picker searches this machine's accounts plus the test users, human ones first", async () => {
    const { host, app, page } = await start();
    const acc = await call<Accounts>(host, 'listAccounts');
    const total = acc.users.length + acc.groups.length;
    expect(acc.users.some((u) => u.name === 'root')).toBe(true); // the machine's, not just the fixture
    expect(total).toBeGreaterThan(20);
    const human = (id: number) => id >= acc.humanUids.min && id <= acc.humanUids.max;
    const humans = new Set([
      ...acc.users.filter((u) => human(u.uid)).map((u) => u.name),
      ...acc.groups.filter((g) => human(g.gid)).map((g) => `@${g.name}`),
    ]);

    await page.getByRole('button', { name: 'Add endpoint' }).click();
    const picks = page.getByRole('group', { name: 'Allowed users on this system' });
    await picks.waitFor();
    const values = () =>
      picks
        .getByRole('button')
        .evaluateAll((els) => els.map((e) => (e.getAttribute('aria-label') ?? '').replace(/^Use /, '')));
    const shown = await values();
    expect(shown).toHaveLength(8);
    // Human accounts come first (as many as there are, up to the row).
    const lead = shown.slice(0, Math.min(humans.size, 8));
    expect(lead.every((v) => humans.has(v))).toBe(true);
    expect(await picks.getByTestId('picks-more').textContent()).toBe(`${total - 8} more — keep typing`);

    // Type-ahead: a system account of this machine, then a test user by prefix.
    const input = page.getByRole('textbox', { name: 'Add user' });
    await input.fill('daem');
    await expect.poll(values).toContain('daemon');
    await input.fill('@op');
    await expect.poll(values).toContain('@ops'); // the test group
    expect(await values()).toContain('@operator'); // this machine's
    await input.fill('testu');
    await expect.poll(values).toEqual(['testuser']);
    await picks.getByRole('button', { name: 'Use testuser' }).click();
    await page.locator('[data-testid="allow-chip"][data-value="testuser"]').waitFor();
    // A uid without an account says so.
    await input.fill('4242');
    await expect.poll(() => picks.textContent()).toContain('uid 4242 (no account)');
    await input.press('Enter');
    await expect
      .poll(() => page.locator('[data-testid="allow-chip"][data-value="4242"]').textContent())
      .toContain('uid 4242 (no account)');
    expect(app.problems).toEqual([]);
  });

  it('at 1024×700 the editor is not cut off and Apply stays in view while editing', async () => {
    const { host, app, page } = await start();
    await page.setViewportSize({ width: 1024, height: 700 });
    const seed = env!.sb.writeFile(
      'seed.yml',
      'endpoints:\n' +
        Array.from(
          { length: 6 },
          (_, i) =>
            `  - ep${i}:\n      iface: [ntf0]\n      range: [${Array.from({ length: 12 }, (_, j) => `10.${i}.${j}.0/24`).join(', ')}]\n      allow: [alice, bob, carol]\n`,
        ).join(''),
    );
    await importFile(host, page, seed);
    await page.locator('[data-testid="endpoint-item"][data-name="ep5"]').waitFor();
    await page.locator('[data-testid="endpoint-item"][data-name="ep0"] button').click();
    // Nothing sticks out sideways.
    const overflow = await page.evaluate(() => {
      const panel = document.querySelector('.panel') as HTMLElement;
      const editor = document.querySelector('.editor') as HTMLElement;
      const r = editor.getBoundingClientRect();
      return { sideways: panel.scrollWidth - panel.clientWidth, right: r.right, width: window.innerWidth };
    });
    expect(overflow.sideways).toBeLessThanOrEqual(0);
    expect(overflow.right).toBeLessThanOrEqual(overflow.width);
    // Scrolled down to the interface settings, the Apply button is still on screen.
    await page.getByRole('combobox', { name: 'Default on ntf0' }).scrollIntoViewIfNeeded();
    const box = await page.getByRole('button', { name: 'Apply', exact: true }).boundingBox();
    expect(box).not.toBeNull();
    expect(box!.y).toBeGreaterThanOrEqual(0);
    expect(box!.y + box!.height).toBeLessThanOrEqual(700);
    // Long range lists wrap in the pending changes instead of being cut.
    const pending = page.getByTestId('pending-changes');
    expect(await pending.textContent()).toContain('10.0.11.0/24');
    const cut = await pending.evaluate((el) => el.scrollWidth - el.clientWidth);
    expect(cut).toBeLessThanOrEqual(0);
    expect(await pending.textContent()).not.toMatch(/epoch/i);
    await page.evaluate(() => (document.querySelector('.panel') as HTMLElement).scrollTo({ top: 0 }));
    await screenshot(page, 'policy');
    expect(app.problems).toEqual([]);
  });
});
