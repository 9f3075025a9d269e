// SPDX-License-Identifier: Apache-2.0
// Environment: Node, as root (benchmark), in the bench process (run.ts).
//
// The live view under load: the built renderer in Debian's headless Chromium, its API bound to
// the real Backend (engine worker, batching, handler table, gateway) through the browser tests'
// harness (tests/ui/harness.ts), in a sandbox of its own. Two paced senders (alice allowed with
// `logging.allowed: all`, bob dropped) make every datagram a decision. An init script in the page
// counts animation frames while it scrolls the decisions table, and stamps each batch when the
// page receives it and again in the first frame whose table shows it; the bench reads the
// renderer's heap through CDP. Batches can reach the page as Playwright's serialized values (the
// harness's binding) or as one JSON string (closer to Electron's structured clone); see
// docs/benchmarks.md. Returns raw figures; run.ts formats them.
import { rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CDPSession, Page } from 'playwright-core';
import type { TrafficBatch, TrafficCounters } from '../electron/ipc/contract.js';
import { openApp, setupSandbox, startHost, teardown, TEST_ORIGIN } from '../tests/ui/harness.js';
export { VIEWPORT } from '../tests/ui/harness.js';
import type { Host, UiEnv } from '../tests/ui/harness.js';
import { ALICE, BOB, run } from './lib.js';

export interface LiveArgs {
  /** The paced sender (bench/udpflood.c, built by buildTools). */
  flood: string;
  /** Decisions per second, split evenly between alice (allowed) and bob (dropped). */
  rate: number;
  /** Length of the load (udpflood stops at 60 s whatever it is asked). */
  seconds: number;
  /** One scroll window, and one still window after it, under load (ms). */
  windowMs: number;
  /** Scroll windows without traffic, before and again after the load. */
  baselineWindows: number;
  /** Traffic before the baseline so the table holds a full ring (s). */
  prefillSeconds: number;
  /** How batches reach the page: Playwright's serialized values (the harness's binding), or one
   * JSON string parsed in the page (closer to Electron's structured clone). */
  transport: 'playwright' | 'json';
}

export interface FpsWindow {
  fps: number;
  /** Longest gap between two frames (ms). */
  maxGapMs: number;
}

export interface HeapSample {
  label: string;
  /** Seconds into the load (NaN: before it). */
  at: number;
  jsHeapUsed: number;
  domNodes: number;
  /** Rows the page holds in its ring. */
  ringRows: number;
}

/** A histogram in 1-ms bins: [ms, count] pairs. */
export type Histogram = Array<[number, number]>;

export interface LiveResult {
  browser: string;
  rate: number;
  seconds: number;
  /** Datagrams the two senders got through during the load. */
  sent: number;
  /** Growth of the engine's counters (allowed + dropped packets) during the load. */
  decided: number;
  /** Decisions the page received during the load. */
  received: number;
  lostKernel: number;
  lostBatching: number;
  /** Batches the page received during the load. */
  batches: number;
  baseline: FpsWindow[];
  /** Scroll windows under load: scrolled away from the newest rows, the table holds still. */
  load: FpsWindow[];
  /** Still windows under load: the table at the top, re-rendered with every batch. */
  live: FpsWindow[];
  heap: HeapSample[];
  /** Per decision: sent → first frame showing it; sent → its batch reaches the page. Per batch:
   * reaches the page → first frame showing it. */
  latency: Histogram;
  toPage: Histogram;
  toPaint: Histogram;
  /** Decisions received while the table was not being scrolled (those get a latency). */
  measured: number;
  /** Latencies below 0 (clock trouble; counted in the 0 bin). */
  negative: number;
}

/** Frames counted in a window: how many, over how long, the longest gap between two (ms). */
interface FrameCount {
  frames: number;
  ms: number;
  maxGap: number;
}

/** The page-side probe, as the bench drives it. */
interface Probe {
  scroll(on: boolean): FrameCount;
  record(on: boolean): FrameCount;
  stats(): {
    batches: number;
    received: number;
    measured: number;
    negative: number;
    counters: TrafficCounters | null;
    ringRows: number;
    lat: Histogram;
    toPage: Histogram;
    toPaint: Histogram;
  };
}
type ProbeWindow = { __ntfBench: Probe };

/** Dropped for bob, allowed and reported for alice: every datagram is a decision. */
const POLICY = `endpoints:
  - bench-live:
      iface: [ntf0]
      range: [192.0.2.0/24]
      allow: [alice]
logging:
  allowed: all
`;
/** The sandbox's server address; port 9 has no listener, so the far end just drops them. */
const DST = '192.0.2.1';
const OWN = { url: `${TEST_ORIGIN}/index.html`, isMainFrame: true };
/** Pixels scrolled per frame (about 3.5 rows), back and forth over the newest ~700 rows. */
export const SCROLL_STEP = 100;
const SCROLL_SPAN = 20_000;

/** The environment of a run in progress, for abandonLiveView(). */
let current: UiEnv | undefined;

/** Installed before the renderer's own scripts (init script): wraps nextTraffic to stamp each
 * batch on arrival, and runs one requestAnimationFrame loop that scrolls the table when asked
 * and notices the first frame whose top row is a batch's newest decision. Self-contained: it is
 * serialized into the page. */
function installProbe(o: { step: number; span: number; json: boolean }): void {
  type Batch = { arrived: number; maxSeq: number; times: number[] };
  type Api = { nextTraffic(req: unknown): Promise<{ ok: boolean; value?: unknown }> };
  type Invoke = (op: string, req: unknown) => Promise<string>;
  const w = window as unknown as { netTcFilter?: Api; __ntfBench?: unknown; __ntfInvokeJson?: Invoke };
  const api = w.netTcFilter;
  const json = w.__ntfInvokeJson;
  if (!api || !json) return;
  const next = o.json
    ? async (req: unknown) => JSON.parse(await json('nextTraffic', req)) as { ok: boolean; value?: unknown }
    : (req: unknown) => api.nextTraffic(req);
  const lat = new Map<number, number>();
  const toPage = new Map<number, number>();
  const toPaint = new Map<number, number>();
  let negative = 0;
  const add = (h: Map<number, number>, ms: number) => {
    if (ms < 0) negative++;
    const b = Math.max(0, Math.round(ms));
    h.set(b, (h.get(b) ?? 0) + 1);
  };
  // Frames of the current window, scrolling or still (one window at a time).
  const win = { frames: 0, t0: 0, last: 0, maxGap: 0 };
  const startWindow = () => Object.assign(win, { frames: 0, last: 0, maxGap: 0, t0: performance.now() });
  const endWindow = () => ({ frames: win.frames, ms: performance.now() - win.t0, maxGap: win.maxGap });
  const s = {
    scrolling: false,
    recording: false,
    dir: 1,
    pending: [] as Batch[],
    batches: 0,
    received: 0,
    measured: 0,
    counters: null as TrafficCounters | null,
  };
  const table = () => document.querySelector<HTMLElement>('[aria-label="Decision rows"]');
  w.netTcFilter = Object.freeze({
    ...api,
    nextTraffic: async (req: unknown) => {
      const r = await next(req);
      if (r.ok) {
        const b = r.value as TrafficBatch;
        const now = Date.now();
        s.batches++;
        s.received += b.decisions.length;
        if (b.counters) s.counters = b.counters;
        if (s.recording && b.decisions.length) {
          const times = b.decisions.map((d) => d.time);
          s.pending.push({ arrived: now, maxSeq: Math.max(...b.decisions.map((d) => d.seq)), times });
        }
      }
      return r;
    },
  });
  const frame = () => {
    const t = performance.now();
    if (s.scrolling || s.recording) {
      win.frames++;
      if (win.last) win.maxGap = Math.max(win.maxGap, t - win.last);
      win.last = t;
    }
    if (s.scrolling) {
      const el = table();
      if (el) {
        let y = el.scrollTop + o.step * s.dir;
        if (y >= o.span) [y, s.dir] = [o.span, -1];
        else if (y <= 0) [y, s.dir] = [0, 1];
        el.scrollTop = y;
      }
    }
    if (s.pending.length) {
      const top = document.querySelector('[data-testid="traffic-row"]');
      const seq = top ? Number(top.getAttribute('data-seq')) : -1;
      const now = Date.now();
      while (s.pending.length && (s.pending[0] as Batch).maxSeq <= seq) {
        const p = s.pending.shift() as Batch;
        add(toPaint, now - p.arrived);
        for (const d of p.times) {
          add(lat, now - d);
          add(toPage, p.arrived - d);
        }
        s.measured += p.times.length;
      }
    }
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
  const pairs = (h: Map<number, number>) => [...h.entries()].sort((a, b) => a[0] - b[0]);
  w.__ntfBench = {
    scroll(on: boolean) {
      if (on) {
        startWindow();
        s.dir = 1;
      }
      s.scrolling = on;
      const r = endWindow();
      const el = table();
      if (!on && el) el.scrollTop = 0;
      return r;
    },
    record(on: boolean) {
      if (on) startWindow();
      s.recording = on;
      // Batches not yet shown when recording stops are not measured.
      if (!on) s.pending = [];
      return endWindow();
    },
    stats() {
      const count = document.querySelector('[data-testid="row-count"]')?.textContent ?? '';
      const m = /\/\s*([\d,.\s]+)\s+in memory/.exec(count);
      return {
        batches: s.batches,
        received: s.received,
        measured: s.measured,
        negative,
        counters: s.counters,
        ringRows: m ? Number((m[1] ?? '').replace(/[^\d]/g, '')) : NaN,
        lat: pairs(lat),
        toPage: pairs(toPage),
        toPaint: pairs(toPaint),
      };
    },
  } satisfies Probe;
}

const probe = (page: Page) => ({
  scroll: (on: boolean) => page.evaluate((v) => (window as unknown as ProbeWindow).__ntfBench.scroll(v), on),
  record: (on: boolean) => page.evaluate((v) => (window as unknown as ProbeWindow).__ntfBench.record(v), on),
  stats: () => page.evaluate(() => (window as unknown as ProbeWindow).__ntfBench.stats()),
});

async function until(what: string, ok: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`live view: ${what} within ${timeoutMs / 1000} s`);
    await sleep(100);
  }
}

/** Both senders in the sandbox's client namespace; resolves with the datagrams they sent. */
async function send(env: UiEnv, flood: string, rate: number, seconds: number): Promise<number> {
  const [cmd, ...pre] = env.sb.nsenter();
  const one = async (uid: number) => {
    const args = [...pre, 'setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', flood];
    const o = await run(
      cmd as string,
      [...args, '-s', '64', '-p', '9', '-r', String(rate / 2), '-t', String(seconds), DST],
      (seconds + 30) * 1000,
    );
    return Number(o.trim().split(' ')[1]);
  };
  const [a, b] = await Promise.all([one(ALICE), one(BOB)]);
  return (a ?? 0) + (b ?? 0);
}

async function heap(cdp: CDPSession, page: Page, label: string, at: number): Promise<HeapSample> {
  await cdp.send('HeapProfiler.collectGarbage');
  const { metrics } = await cdp.send('Performance.getMetrics');
  const m = (name: string) => metrics.find((x) => x.name === name)?.value ?? NaN;
  const { ringRows } = await probe(page).stats();
  return { label, at, jsHeapUsed: m('JSHeapUsedSize'), domNodes: m('Nodes'), ringRows };
}

const fpsOf = (r: FrameCount): FpsWindow => ({ fps: (1000 * r.frames) / r.ms, maxGapMs: r.maxGap });

async function scrollWindow(page: Page, ms: number): Promise<FpsWindow> {
  await probe(page).scroll(true);
  await sleep(ms);
  return fpsOf(await probe(page).scroll(false));
}

async function applyPolicy(env: UiEnv, host: Host, page: Page): Promise<void> {
  await host.dialog({ open: env.sb.writeFile('live.yml', POLICY) });
  await page.getByRole('button', { name: 'Import YAML…' }).click();
  await page.locator('[data-testid="endpoint-item"][data-name="bench-live"]').waitFor({ timeout: 15_000 });
  // Apply opens the preview; its "Apply" (for good, no trial) applies.
  await page.getByRole('button', { name: 'Apply', exact: true }).click();
  const dialog = page.getByRole('dialog');
  await dialog.waitFor({ timeout: 15_000 });
  await dialog.getByRole('button', { name: 'Apply', exact: true }).click({ timeout: 15_000 });
  await until(
    'the policy was not enforced',
    async () => {
      const r = await host.call('getEnforced', OWN, undefined);
      return r.ok && (r.value as { epoch: number | null }).epoch !== null;
    },
    15_000,
  );
}

export async function measureLiveView(a: LiveArgs): Promise<LiveResult> {
  const env = await setupSandbox();
  current = env;
  try {
    const host = await startHost({
      sb: env.sb,
      pinDir: env.pinDir,
      policyFile: `${env.sb.dir}/gui/policy.yml`,
      caps: true,
      // Every decision reported: the section measures the live view at 5,000 decisions/s from two
      // senders, above the kernel's default per-user event budget.
      eventsPerUser: 0,
    });
    env.hosts.push(host);
    const app = await openApp(host);
    env.apps.push(app);
    const { page } = app;
    // The probe must wrap the API before the renderer's store takes it: add it, then reload.
    await page.context().exposeBinding('__ntfInvokeJson', async (source, op: string, req: unknown) => {
      const sender = { url: source.frame.url(), isMainFrame: source.frame === source.page.mainFrame() };
      return JSON.stringify(await host.call(op, sender, req));
    });
    await page
      .context()
      .addInitScript(installProbe, { step: SCROLL_STEP, span: SCROLL_SPAN, json: a.transport === 'json' });
    await page.reload();
    await page.waitForSelector('html[data-ready="1"]', { timeout: 20_000 });
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Performance.enable');
    const p = probe(page);

    await applyPolicy(env, host, page);
    await page.getByRole('tab', { name: 'Live traffic' }).click();
    await page.locator('[aria-label="Decision rows"]').waitFor({ timeout: 10_000 });
    const heaps = [await heap(cdp, page, 'empty table', NaN)];

    // Fill the ring, then the baseline: the same scroll over a full table with no traffic. What
    // the baseline needs is a full table: the store's ring holding fewer rows than were received
    // has evicted the oldest. The first seconds of traffic in a fresh page lose decisions to
    // batching (a cold page and transport); those are not the load's, which reports its own, so
    // the prefill is repeated (up to three times) until the ring is full.
    let filled = 0;
    let pre = await p.stats();
    for (let round = 0; round < 3 && !(pre.ringRows < pre.received); round++) {
      filled += await send(env, a.flood, a.rate, a.prefillSeconds);
      await sleep(1500);
      pre = await p.stats();
    }
    if (!(pre.ringRows < pre.received)) {
      const c = pre.counters;
      throw new Error(
        `live view: ${filled} datagrams sent but only ${pre.received} decisions reached the page, the table is not full` +
          (c
            ? ` (engine counters: ${c.allowed} allowed, ${c.dropped} dropped; lost in the kernel ${c.lostKernel}, in batching ${c.lostBatching})`
            : ''),
      );
    }
    const baseline: FpsWindow[] = [];
    for (let i = 0; i < a.baselineWindows; i++) baseline.push(await scrollWindow(page, a.windowMs));
    heaps.push(await heap(cdp, page, 'full ring, before the load', 0));

    // The load: scroll windows alternate with still ones, where every batch gets a latency.
    const before = await p.stats();
    const t0 = Date.now();
    const sending = send(env, a.flood, a.rate, a.seconds);
    sending.catch(() => undefined); // awaited below; a failure must not be unhandled meanwhile
    const load: FpsWindow[] = [];
    const live: FpsWindow[] = [];
    const heapAt = [20, 40].filter((x) => x < a.seconds);
    while (Date.now() - t0 < a.seconds * 1000 - 2 * a.windowMs) {
      load.push(await scrollWindow(page, a.windowMs));
      const at = (Date.now() - t0) / 1000;
      if (heapAt.length && at >= (heapAt[0] as number)) {
        heapAt.shift();
        heaps.push(await heap(cdp, page, 'under load', at));
      }
      await p.record(true);
      await sleep(a.windowMs);
      live.push(fpsOf(await p.record(false)));
    }
    await p.record(true);
    const sent = await sending;
    await sleep(1500); // the last batches
    await p.record(false);
    const after = await p.stats();
    heaps.push(await heap(cdp, page, 'end of the load', (Date.now() - t0) / 1000));
    for (let i = 0; i < a.baselineWindows; i++) baseline.push(await scrollWindow(page, a.windowMs));

    const c0 = before.counters;
    const c1 = after.counters;
    if (!c0 || !c1) throw new Error('live view: no counters reached the page');
    if (app.problems.length) throw new Error(`live view: the page reported ${app.problems.join('; ')}`);
    return {
      browser: app.browser.version(),
      rate: a.rate,
      seconds: a.seconds,
      sent,
      decided: c1.allowed + c1.dropped - (c0.allowed + c0.dropped),
      received: after.received - before.received,
      lostKernel: c1.lostKernel - c0.lostKernel,
      lostBatching: c1.lostBatching - c0.lostBatching,
      batches: after.batches - before.batches,
      baseline,
      load,
      live,
      heap: heaps,
      latency: after.lat,
      toPage: after.toPage,
      toPaint: after.toPaint,
      measured: after.measured,
      negative: after.negative,
    };
  } finally {
    current = undefined;
    await teardown(env);
  }
}

/** Synchronous last resort (SIGINT, SIGTERM): the host, the pins and the sandbox. Chromium is
 * killed by playwright-core's own exit handler. */
export function abandonLiveView(): void {
  const env = current;
  current = undefined;
  if (!env) return;
  for (const h of env.hosts) h.proc.kill('SIGKILL');
  env.sb.destroy(); // the filter goes with the namespace's veth
  try {
    rmSync(env.pinDir, { recursive: true, force: true });
  } catch {
    // nothing pinned
  }
}

/** The value at quantile q of a histogram (1-ms bins). */
export function quantile(h: Histogram, q: number): number {
  const total = h.reduce((n, [, c]) => n + c, 0);
  if (!total) return NaN;
  let seen = 0;
  for (const [ms, c] of h) {
    seen += c;
    if (seen >= q * total) return ms;
  }
  return (h[h.length - 1] as [number, number])[0];
}
