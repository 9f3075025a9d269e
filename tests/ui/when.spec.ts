// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest), as root. Time windows (`when:`) in the app, against the real engine
// (see harness.ts): windows typed into the editor are shown, bad ones are refused at the field
// and block Apply and Export while they stand; the editor says whether an endpoint is open now
// and when that changes, in the host's time zone; Export writes `when:` so that it parses back to
// the same windows and Import shows them; applied, the kernel lets the open endpoint's user
// through and not the closed one's, and Status says which is open and when that changes.
//
// The backend and the browser run with TZ=Australia/Darwin (UTC+09:30, no daylight saving; a half-hour
// offset so that reading local time as UTC, or the machine's zone, cannot pass). The windows are
// computed from the current time: one around now, one that starts later.
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { Enforced, PolicyDoc } from '../../electron/ipc/contract.js';
import { parsePolicy } from '../../electron/policy/yaml.js';
import { parseWindowText } from '../../electron/policy/when.js';
import { ALICE, BOB } from '../kernel/harness.js';
import { call, openApp, screenshot, setupSandbox, startSandboxHost, teardown } from './harness.js';
import type { Host, UiEnv } from './harness.js';

const ZONE = 'Australia/Darwin';
const PEER = '192.0.2.1';
const DAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
const DAY = 86_400;
const WEEK = 7 * DAY;

const savedTz = process.env.TZ;
beforeAll(() => {
  // Inherited by the backend host and by Chromium (both started from this process's environment).
  process.env.TZ = ZONE;
});
afterAll(() => {
  if (savedTz === undefined) delete process.env.TZ;
  else process.env.TZ = savedTz;
});

let env: UiEnv | undefined;
afterEach(async () => {
  await teardown(env);
  env = undefined;
});

/** The second of the local week (Monday 00:00 = 0) in ZONE at a UTC second, read through Intl. */
function weekSecond(utcSec: number): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: ZONE,
    weekday: 'short',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
    hourCycle: 'h23',
  }).formatToParts(new Date(utcSec * 1000));
  const v = Object.fromEntries(parts.map((p) => [p.type, p.value]));
  const day = DAYS.indexOf(String(v.weekday));
  if (day < 0) throw new Error(`weekday ${v.weekday}`);
  return day * DAY + Number(v.hour) * 3600 + Number(v.minute) * 60 + Number(v.second);
}

const two = (n: number) => String(n).padStart(2, '0');
/** A week second as `Mon 08:00` (`Mon 08:00:30` when it has seconds), as the app writes it. */
function dayTime(sow: number): string {
  const s = ((sow % WEEK) + WEEK) % WEEK;
  const hm = `${two(Math.floor((s % DAY) / 3600))}:${two(Math.floor((s % 3600) / 60))}`;
  return `${DAYS[Math.floor(s / DAY)]} ${hm}${s % 60 ? `:${two(s % 60)}` : ''}`;
}

/** A window from `fromSec` to `toSec` seconds from now (whole `step`s, under a day long), as
 * text, and the UTC seconds of its two edges. */
function windowFromNow(nowSec: number, fromSec: number, toSec: number, step = 60) {
  const now = weekSecond(nowSec);
  const start = Math.floor((now + fromSec) / step) * step;
  const end = Math.floor((now + toSec) / step) * step;
  const [sd, st] = dayTime(start).split(' ');
  const text = `${sd} ${st}-${dayTime(end).split(' ')[1]}`;
  return { text, opensAt: nowSec + (start - now), closesAt: nowSec + (end - now), start, end };
}

/** `… (in 2 h 13 min)` → seconds (the words of durationWords). */
function inSeconds(text: string): number {
  const m = /\(in ([^)]*)\)/.exec(text);
  if (!m) throw new Error(`no "(in …)" in ${text}`);
  let s = 0;
  for (const [, n, u] of m[1]!.matchAll(/([0-9]+) (d|h|min|s)/g)) {
    s += Number(n) * { d: DAY, h: 3600, min: 60, s: 1 }[u as 'd' | 'h' | 'min' | 's'];
  }
  return s;
}

/** The text says the change is at `atSec` (UTC), as seen from now: the text may be up to 15 s old
 * (the refresh) and its words round down (to the minute; to the hour once it is days away). */
function expectIn(text: string, atSec: number): void {
  const left = atSec - Date.now() / 1000;
  const shown = inSeconds(text);
  const grain = /\(in [0-9]+ d/.test(text) ? 3600 : 60;
  expect(shown).toBeLessThanOrEqual(left + 16);
  expect(shown).toBeGreaterThanOrEqual(left - grain - 30);
}

async function importFile(host: Host, page: Page, file: string): Promise<void> {
  await host.dialog({ open: file });
  await page.getByRole('button', { name: 'Import YAML…' }).click();
}

const chips = (page: Page, id: string) =>
  page.locator(`[data-testid="${id}"]`).evaluateAll((els) => els.map((e) => e.getAttribute('data-value')));

/** A new endpoint named `name` on ntf0 for the peer, allowing `user`. */
async function addEndpoint(page: Page, name: string, user: string): Promise<void> {
  await page.getByRole('button', { name: 'Add endpoint' }).click();
  await page.getByRole('textbox', { name: 'Endpoint name' }).fill(name);
  await page.getByRole('button', { name: 'Use ntf0' }).click();
  await page.getByRole('textbox', { name: 'Add range' }).fill(`${PEER}/32`);
  await page.getByRole('textbox', { name: 'Add range' }).press('Enter');
  await page.getByRole('textbox', { name: 'Add user' }).fill(user);
  await page.getByRole('textbox', { name: 'Add user' }).press('Enter');
  await page.locator(`[data-testid="allow-chip"][data-value="${user}"]`).waitFor();
}

async function addWindow(page: Page, text: string): Promise<void> {
  const input = page.getByRole('textbox', { name: 'Add time window' });
  await input.fill(text);
  await input.press('Enter');
  await page.locator(`[data-testid="when-chip"][data-value="${text}"]`).waitFor();
}

const windowState = (page: Page) =>
  page
    .getByTestId('window-state')
    .textContent()
    .then((t) => t ?? '');

describe('time windows in the app, against the real engine', () => {
  it('typed windows are shown, bad ones refused at the field; open now and the next change; export, import, apply, status', async () => {
    env = await setupSandbox();
    const host = await startSandboxHost(env);
    const app = await openApp(host);
    env.apps.push(app);
    const page = app.page;
    // The browser and the backend read the same zone (as Electron's renderer and main do).
    expect(await page.evaluate(() => Intl.DateTimeFormat().resolvedOptions().timeZone)).toBe(ZONE);

    const nowSec = Math.floor(Date.now() / 1000);
    const open = windowFromNow(nowSec, -3600, 2 * 3600);
    const later = windowFromNow(nowSec, 3 * 3600, 4 * 3600);

    await addEndpoint(page, 'office', 'alice');
    expect(await windowState(page)).toBe('No time windows: always open.');

    // Bad windows, typed: refused at the field with why; Add stays disabled, Enter adds nothing,
    // and Apply and Export wait while the text stands.
    const field = page.getByRole('region', { name: 'Time windows' });
    const input = field.getByRole('textbox', { name: 'Add time window' });
    const fieldError = field.getByRole('alert');
    const apply = page.getByRole('button', { name: 'Apply', exact: true });
    const exportBtn = page.getByRole('button', { name: 'Export YAML…' });
    const bad: Array<[string, string]> = [
      ['Mon 25:00-26:00', '"25:00": hours go from 00 to 23'],
      ['Mon-Fir 08:00-18:00', '"Fir" is not a day; use Mon, Tue, Wed, Thu, Fri, Sat, Sun (or daily)'],
      ['Mon 08:00-08:00', 'it starts and ends at the same time'],
      ['Mon-Fri 8:5-18:00', 'minutes and seconds have two digits'],
      ['08:00-18:00', 'it names no days'],
    ];
    for (const [text, why] of bad) {
      await input.fill(text);
      await expect.poll(() => fieldError.textContent()).toContain(why);
      expect(await fieldError.textContent()).toContain(`invalid time window "${text}"`);
      expect(await input.getAttribute('aria-invalid')).toBe('true');
      expect(await field.getByRole('button', { name: 'Add', exact: true }).isDisabled()).toBe(true);
      await input.press('Enter');
      expect(await chips(page, 'when-chip')).toEqual([]);
      expect(await apply.isDisabled()).toBe(true);
      expect(await page.getByTestId('apply-why').textContent()).toContain(
        'Correct or clear the invalid value typed in the editor.',
      );
      expect(await exportBtn.isDisabled()).toBe(true);
      expect(await exportBtn.getAttribute('title')).toContain('the time window being typed');
    }
    await input.fill('Mon-Fir 08:00-18:00');
    await fieldError.scrollIntoViewIfNeeded();
    await screenshot(page, 'when-invalid');
    await input.fill('');
    await expect.poll(() => apply.isEnabled()).toBe(true);

    // Overnight windows are valid: from the evening of each listed day into the next morning.
    await addWindow(page, open.text);
    expect(await chips(page, 'when-chip')).toEqual([open.text]);
    let state = await windowState(page);
    expect(state).toMatch(
      new RegExp(`^Open now, closes ${dayTime(open.end)} \\(in [^)]+\\) · ${ZONE} time$`),
    );
    expectIn(state, open.closesAt);

    await addEndpoint(page, 'evening', 'bob');
    await addWindow(page, later.text);
    state = await windowState(page);
    expect(state).toMatch(
      new RegExp(`^Closed now, opens ${dayTime(later.start)} \\(in [^)]+\\) · ${ZONE} time$`),
    );
    expectIn(state, later.opensAt);

    // The endpoint list says of each endpoint whether it is open now and until when.
    const listed = (name: string) =>
      page.locator(`[data-testid="endpoint-item"][data-name="${name}"] [data-testid="endpoint-window"]`);
    expect(await listed('office').getAttribute('data-open')).toBe('1');
    expect(await listed('office').textContent()).toBe(`open now, until ${dayTime(open.end)}`);
    expect(await listed('office').getAttribute('title')).toContain(`${open.text}: open now, closes`);
    expect(await listed('evening').getAttribute('data-open')).toBe('0');
    expect(await listed('evening').textContent()).toBe(`closed now, opens ${dayTime(later.start)}`);
    // The pending changes name the windows of a new endpoint.
    const pending = page.getByTestId('pending-changes');
    expect(await pending.textContent()).toContain(`on ntf0 for alice, only ${open.text}`);
    expect(await pending.textContent()).toContain(`on ntf0 for bob, only ${later.text}`);

    // Export: `when:` parses back to the same windows.
    const out = `${env.sb.dir}/when-export.yml`;
    await host.dialog({ save: out });
    await exportBtn.click();
    await expect
      .poll(() =>
        page
          .getByTestId('notice')
          .textContent()
          .catch(() => ''),
      )
      .toContain('Exported');
    const text = readFileSync(out, 'utf8');
    const parsed = parsePolicy(text, out);
    expect(parsed.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const windowsOf = (name: string) =>
      parsed.policy!.endpoints.find((e) => e.name === name)!.when!.map(({ pos: _pos, ...w }) => w);
    expect(windowsOf('office')).toEqual([parseWindowText(open.text).window]);
    expect(windowsOf('evening')).toEqual([parseWindowText(later.text).window]);

    // Import a file with windows: the editor shows them (and their canonical reading).
    const seed = env.sb.writeFile(
      'when.yml',
      'endpoints:\n' +
        '  - backup:\n      iface: [ntf0]\n      range: [198.51.100.7/32]\n      allow: [alice]\n' +
        '      when: ["daily 22:00-06:00", "saturday,sunday 10:00-12:30"]\n',
    );
    await importFile(host, page, seed);
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    await page.getByRole('button', { name: 'Merge into the draft' }).click();
    await page.locator('[data-testid="endpoint-item"][data-name="backup"] button').click();
    await expect
      .poll(() => chips(page, 'when-chip'))
      .toEqual(['daily 22:00-06:00', 'saturday,sunday 10:00-12:30']);
    // Each chip says how it reads: the canonical days, and that an overnight window ends the next day.
    const tag = (text: string) => page.locator(`[data-testid="when-chip"][data-value="${text}"] .kind`);
    expect(await tag('daily 22:00-06:00').textContent()).toBe('overnight');
    expect(await tag('daily 22:00-06:00').getAttribute('title')).toBe(
      'from 22:00 on each day listed until 06:00 the next day',
    );
    expect(await tag('saturday,sunday 10:00-12:30').textContent()).toBe('Sat,Sun 10:00-12:30');
    // An end before the start is not an error: Friday's runs until Saturday 08:00.
    await addWindow(page, 'Mon-Fri 18:00-08:00');
    expect(await tag('Mon-Fri 18:00-08:00').textContent()).toBe('overnight');
    expect(await field.getByRole('alert').count()).toBe(0);
    expect(await listed('backup').count()).toBe(1);
    await page.getByTestId('notice').getByRole('button', { name: 'Dismiss message' }).click();
    await page.evaluate(() => document.querySelector('.panel')!.scrollTo({ top: 0 }));
    await screenshot(page, 'when-list');
    await page.getByTestId('window-state').scrollIntoViewIfNeeded();
    await screenshot(page, 'when-editor');

    // A file with a bad window: refused with file:line:col and why; the draft stays as it was.
    const broken = env.sb.writeFile(
      'bad-when.yml',
      'endpoints:\n  - lab:\n      iface: [ntf0]\n      range: [198.51.100.9/32]\n      allow: [bob]\n' +
        '      when: ["Mon-Fri 08:00-18:00", "Mon 25:00-26:00"]\n',
    );
    await importFile(host, page, broken);
    const importErrors = page.getByTestId('import-errors');
    await importErrors.waitFor({ state: 'attached' });
    const items = await importErrors.locator('li').allTextContents();
    expect(
      items.some((t) => t.includes(`${broken}:6:`) && t.includes('"25:00": hours go from 00 to 23')),
    ).toBe(true);
    expect(await page.locator('[data-testid="endpoint-item"]').count()).toBe(3);
    await page.getByTestId('import-notice').getByRole('button', { name: 'Dismiss' }).click();

    // Apply (the preview's Apply): the kernel lets alice (office, open) through, not bob (evening, closed).
    await page.getByRole('button', { name: 'Apply', exact: true }).click();
    const preview = page.getByRole('dialog');
    await preview.getByTestId('preview-effects').waitFor({ timeout: 15_000 });
    await preview.getByRole('button', { name: 'Apply', exact: true }).click();
    await preview.waitFor({ state: 'detached', timeout: 15_000 });
    const enforced = await call<Enforced>(host, 'getEnforced');
    expect(enforced.doc?.endpoints.find((e) => e.name === 'office')?.when).toEqual([open.text]);
    const udp = (uid: number) => env!.sb.probe(uid, ['udp', PEER, '7', '2', '300']);
    expect(udp(ALICE)).toMatchObject({ sent: 2, received: 2 });
    expect(udp(BOB)).toMatchObject({ sent: 2, received: 0 });

    // Status: which endpoint is open now and when that changes.
    await page.getByRole('tab', { name: 'Status' }).click();
    await page.getByTestId('status-view').waitFor();
    const row = (name: string) => page.locator(`[data-testid="status-window"][data-endpoint="${name}"]`);
    await row('office').waitFor({ timeout: 15_000 });
    expect(await page.getByTestId('status-windows').locator('h2').textContent()).toContain(`${ZONE} time`);
    expect(await row('office').getAttribute('data-open')).toBe('1');
    expect(await row('office').locator('td').allTextContents()).toEqual([
      'office',
      open.text,
      ' open',
      expect.stringMatching(new RegExp(`^closes ${dayTime(open.end)} \\(in [^)]+\\)$`)),
    ]);
    expectIn(await row('office').getByTestId('status-window-next').textContent().then(String), open.closesAt);
    expect(await row('evening').getAttribute('data-open')).toBe('0');
    const eveningNext = String(await row('evening').getByTestId('status-window-next').textContent());
    expect(eveningNext).toMatch(new RegExp(`^opens ${dayTime(later.start)} \\(in [^)]+\\)$`));
    expectIn(eveningNext, later.opensAt);
    await page.getByTestId('status-windows').scrollIntoViewIfNeeded();
    await screenshot(page, 'when-status');
    expect(app.problems).toEqual([]);
  });

  it('an edge seconds away: the endpoint list, the editor, Status and the kernel turn at it, not before', async () => {
    env = await setupSandbox();
    const host = await startSandboxHost(env);
    const soon = windowFromNow(Math.floor(Date.now() / 1000), -600, 40, 1);
    const doc: PolicyDoc = {
      endpoints: [
        { name: 'soon', iface: ['ntf0'], range: [`${PEER}/32`], allow: ['alice'], when: [soon.text] },
      ],
      interfaces: {},
      logging: {},
    };
    await call(host, 'apply', { doc, expectEpoch: null });
    const app = await openApp(host);
    env.apps.push(app);
    const page = app.page;
    const listed = page.locator(
      '[data-testid="endpoint-item"][data-name="soon"] [data-testid="endpoint-window"]',
    );
    await listed.waitFor();
    const udp = () => env!.sb.probe(ALICE, ['udp', PEER, '7', '2', '300']);

    // Before the edge: open, until the second it names; the kernel lets alice through.
    expect(Date.now() / 1000).toBeLessThan(soon.closesAt - 5); // else the machine was too slow to test this
    expect(await listed.textContent()).toBe(`open now, until ${dayTime(soon.end)}`);
    expect(await windowState(page)).toMatch(
      new RegExp(`^Open now, closes ${dayTime(soon.end)} \\(in [0-9]+ s\\)`),
    );
    expect(udp()).toMatchObject({ sent: 2, received: 2 });

    // At the edge, the list and the editor turn (without a reload), and not before it.
    await expect.poll(() => listed.getAttribute('data-open'), { timeout: 60_000 }).toBe('0');
    expect(Date.now() / 1000).toBeGreaterThanOrEqual(soon.closesAt);
    expect(await listed.textContent()).toBe(`closed now, opens ${dayTime(soon.start)}`);
    const state = await windowState(page);
    expect(state).toMatch(new RegExp(`^Closed now, opens ${dayTime(soon.start)} \\(in 6 d 2[23] h\\)`));
    expectIn(state, soon.opensAt + WEEK);
    // The kernel's verdict for the same flow does not outlive the edge.
    expect(udp()).toMatchObject({ sent: 2, received: 0 });

    // Status, from the engine: closed, opening a week after it opened.
    await page.getByRole('tab', { name: 'Status' }).click();
    const row = page.locator('[data-testid="status-window"][data-endpoint="soon"]');
    await expect.poll(() => row.getAttribute('data-open'), { timeout: 15_000 }).toBe('0');
    expect(await row.getByTestId('status-window-next').textContent()).toMatch(
      new RegExp(`^opens ${dayTime(soon.start)} \\(in 6 d 2[23] h\\)$`),
    );

    // Removing the last window is a pending change that says what it means.
    await page.getByRole('tab', { name: 'Policy' }).click();
    await page.getByRole('button', { name: `Remove ${soon.text}` }).click();
    expect(await windowState(page)).toBe('No time windows: always open.');
    expect(await listed.count()).toBe(0);
    expect(await page.getByTestId('pending-changes').textContent()).toContain(
      `time windows: −${soon.text} none left: always open`,
    );
    expect((await call<Enforced>(host, 'getEnforced')).doc?.endpoints[0]?.when).toEqual([soon.text]);
    expect(app.problems).toEqual([]);
  });
});
