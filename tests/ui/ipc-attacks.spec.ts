// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest), as root. Attacks on issue 9's IPC operations from an untrusted
// renderer (any request shape, order and timing through the real gateway) and from a confused
// admin (two calls racing, planted history files), against the real Backend, engine worker and
// kernel in a network-namespace sandbox (same harness as backend.spec.ts, no browser).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chownSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LIMITS } from '../../electron/ipc/contract.js';
import type {
  ApplyOutcome,
  Preview,
  EngineView,
  Enforced,
  ExplainResult,
  HistoryEntryResult,
  HistoryListResult,
  PolicyDoc,
  TrafficBatch,
  TrialResult,
} from '../../electron/ipc/contract.js';
import { stateDirFor } from '../../electron/engine/statedir.js';
import { BOB } from '../kernel/harness.js';
import { call, OWN, setupSandbox, startSandboxHost, teardown } from './harness.js';
import type { Host, UiEnv } from './harness.js';

const TRIAL = LIMITS.trialSeconds.min;

let env: UiEnv | undefined;
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  await teardown(env);
  env = undefined;
});

type Answer = { ok: true; value: unknown } | { ok: false; error: { code: string; message: string } };

const raw = (host: Host, op: string, req?: unknown) => host.call(op, OWN, req) as Promise<Answer>;

async function start(): Promise<Host> {
  env ??= await setupSandbox();
  const host = await startSandboxHost(env);
  return host;
}

const imds = { name: 'imdsv2', iface: ['ntf0'], range: ['169.254.169.254/32'], allow: ['alice'] };
const GUARD: PolicyDoc = { endpoints: [imds], interfaces: { ntf0: { default: 'allow' } }, logging: {} };
const DENY: PolicyDoc = { endpoints: [imds], interfaces: {}, logging: {} };

const apply = (host: Host, doc: PolicyDoc, expectEpoch: number | null, extra: Record<string, unknown> = {}) =>
  call<ApplyOutcome>(host, 'apply', { doc, expectEpoch, ...extra });

const bobOut = () => env!.sb.probe(BOB, ['http', 'http://192.0.2.1/', '700']).ok === true;

/** The host still answers (the worker neither crashed nor hangs). */
async function alive(host: Host): Promise<void> {
  const v = await call<EngineView>(host, 'getEngine');
  expect(v.loaded).toBe(true);
}

describe('attacks on the rollout operations, on the real engine', () => {
  it('explain: hostile flows are answered or refused as bad requests, never crash the worker', async () => {
    const host = await start();
    const flow = { iface: 'ntf0', uid: BOB, family: 4, proto: 'tcp', dst: '192.0.2.1', dport: 80 };
    const hostile: Array<Record<string, unknown>> = [
      { family: 4, dst: '2001:db8::1' },
      { family: 6, dst: '192.0.2.1' },
      { family: 4, dst: '::ffff:192.0.2.1' },
      { family: 6, dst: 'fe80::1%ntf0' },
      { family: 4, dst: '3232235777' },
      { family: 4, dst: '0x7f.1' },
      { family: 4, dst: '' },
      { family: 4, dst: 'x'.repeat(LIMITS.text) },
      { iface: '\u001b[31m\nfake line'.padEnd(LIMITS.text, 'y') },
      { iface: '' },
      { uid: 0xfffffffe },
      { uid: null },
      { proto: 'other', dport: 0 },
      { proto: 'icmp', dport: 65535, sport: 0 },
    ];
    const check = async () => {
      for (const h of hostile) {
        const r = await raw(host, 'explain', { flow: { ...flow, ...h } });
        if (!r.ok) expect(r.error.code, JSON.stringify(h)).toBe('bad-request');
        else expect(typeof (r.value as ExplainResult).lines[0]).toBe('string');
      }
      // Shapes the schema refuses.
      for (const bad of [
        { flow: { ...flow, uid: 0xffffffff } },
        { flow: { ...flow, uid: -1 } },
        { flow: { ...flow, family: 5 } },
        { flow: { ...flow, dport: 70000 } },
        { flow: { ...flow, iface: 'x'.repeat(LIMITS.text + 1) } },
        { flow: { ...flow, extra: 1 } },
        { flow: [] },
        null,
      ])
        expect((await raw(host, 'explain', bad)).ok).toBe(false);
      await alive(host);
    };
    await check(); // nothing applied
    // The destination as the kernel's rows show it, whatever the request's spelling.
    const odd = await call<ExplainResult>(host, 'explain', { flow: { ...flow, dst: '0x7f.1' } });
    expect(odd).toMatchObject({ unknown: true, destination: '127.0.0.1:80' });
    const v6 = await call<ExplainResult>(host, 'explain', {
      flow: { ...flow, family: 6, dst: '2001:DB8:0:0:0:0:0:1' },
    });
    expect(v6.destination).toBe('[2001:db8::1]:80');
    await apply(host, DENY, null);
    await check(); // a policy in force
    // A family mismatch is refused, whatever the address looks like.
    const mism = await raw(host, 'explain', { flow: { ...flow, family: 4, dst: '2001:db8::1' } });
    expect(mism.ok).toBe(false);
  }, 120_000);

  it('historyEntry and listHistory: planted, foreign and corrupt files are skipped, never read or shown', async () => {
    const host = await start();
    const a = await apply(host, GUARD, null);
    const dir = join(stateDirFor(env!.pinDir), 'history');
    const secret = env!.sb.writeFile('secret.txt', 'TOP-SECRET-CONTENT\n');
    symlinkSync(secret, join(dir, '000900.json'));
    symlinkSync('/etc/shadow', join(dir, '000901.json'));
    const foreign = join(dir, '000902.json');
    const good = readFileSync(join(dir, '000001.json'), 'utf8').replace('"n": 1', '"n": 902');
    writeFileSync(foreign, good, { mode: 0o600 });
    chownSync(foreign, 1000, 1000);
    writeFileSync(
      join(dir, '000903.json'),
      '{"format": "net-tc-filter history 1", "n": 903, "text": "\u001b[2J',
      {
        mode: 0o600,
      },
    );
    const h = await call<HistoryListResult>(host, 'listHistory');
    expect(h.entries.map((e) => e.n)).not.toContain(900);
    expect(h.entries.map((e) => e.n)).not.toContain(902);
    expect(h.warnings.length).toBeGreaterThanOrEqual(4);
    const all = JSON.stringify(h);
    expect(all).not.toMatch(/TOP-SECRET|root:/);
    expect(all).not.toContain('\u001b');
    for (const n of [900, 901, 902, 903]) {
      const r = await raw(host, 'historyEntry', { n });
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error.code).toBe('bad-request');
      expect(JSON.stringify(r)).not.toMatch(/TOP-SECRET|root:/);
    }
    expect((await call<HistoryEntryResult>(host, 'historyEntry', { n: 1 })).entry.policy).toBe(a.epoch);
    for (const bad of [{ n: 0 }, { n: -1 }, { n: 1.5 }, { n: '1' }, { n: 2 ** 60 }, {}, null])
      expect((await raw(host, 'historyEntry', bad)).ok).toBe(false);
    await alive(host);
  }, 120_000);

  it('apply fromHistory with a document that is not that entry: the history does not claim it came from there', async () => {
    const host = await start();
    const a = await apply(host, DENY, null);
    const b = await apply(host, GUARD, a.epoch);
    const h = await call<HistoryListResult>(host, 'listHistory');
    const denyEntry = h.entries.find((e) => e.policy === a.epoch)!;
    // The renderer says "from history <DENY's entry>" but sends another policy.
    const other: PolicyDoc = {
      endpoints: [imds, { name: 'extra', iface: ['ntf0'], range: ['198.51.100.0/24'], allow: ['bob'] }],
      interfaces: { ntf0: { default: 'allow' } },
      logging: {},
    };
    const c = await apply(host, other, b.epoch, { fromHistory: denyEntry.n });
    const newest = (await call<HistoryListResult>(host, 'listHistory')).entries[0]!;
    expect(newest.policy).toBe(c.epoch);
    expect(newest.source).not.toBe(`history ${denyEntry.n}`);
    expect(c.diagnostics.some((d) => d.severity === 'warning' && /history/.test(d.message))).toBe(true);
    // An entry that does not exist is no source either.
    const d = await apply(host, DENY, c.epoch, { fromHistory: 999_999 });
    const n2 = (await call<HistoryListResult>(host, 'listHistory')).entries[0]!;
    expect(n2.policy).toBe(d.epoch);
    expect(n2.source).not.toBe('history 999999');
    // The honest case still records it.
    const old = await call<HistoryEntryResult>(host, 'historyEntry', { n: denyEntry.n });
    const e = await apply(host, old.doc!, d.epoch, { fromHistory: denyEntry.n });
    const n3 = (await call<HistoryListResult>(host, 'listHistory')).entries[0]!;
    expect(n3).toMatchObject({ policy: e.epoch, source: `history ${denyEntry.n}` });
    expect(e.diagnostics.some((x) => /history/.test(x.message))).toBe(false);
  }, 120_000);

  it('revertTrial racing an apply made against the trial: the apply does not go through on a policy it was not made against', async () => {
    const host = await start();
    const a = await apply(host, GUARD, null);
    const t = await apply(host, DENY, a.epoch, { trialSeconds: TRIAL });
    const [rev, app] = await Promise.all([
      raw(host, 'revertTrial'),
      raw(host, 'apply', { doc: DENY, expectEpoch: t.epoch }),
    ]);
    expect(rev.ok).toBe(true);
    expect(app.ok).toBe(false);
    const v = await call<EngineView>(host, 'getEngine');
    const e = await call<Enforced>(host, 'getEnforced');
    expect(e.epoch).toBe(v.policy);
    expect(e.doc).toEqual(GUARD);
    expect(bobOut()).toBe(true);
  }, 120_000);

  it('applies made against a trial, sent one after another across the moment the kernel went back from it: every one refused, none applied over the policy before', async () => {
    const host = await start();
    const a = await apply(host, GUARD, null);
    const t = await apply(host, DENY, a.epoch, { trialSeconds: TRIAL });
    const deadline = t.trial?.deadline as number;
    await new Promise((r) => setTimeout(r, Math.max(0, deadline - 300 - Date.now())));
    // From 300 ms before the deadline until 300 ms after the window heard of the revert: one
    // of them lands between the engine settling the trial and main hearing of it (main's copy
    // of the policy number still the trial's), which is what the worker's own check is for.
    const codes = new Set<string>();
    let heard: number | undefined;
    for (let i = 0; i < 2000 && (heard === undefined || Date.now() < heard + 300); i++) {
      const late = await raw(host, 'apply', { doc: DENY, expectEpoch: t.epoch });
      expect(late.ok).toBe(false);
      if (!late.ok) codes.add(late.error.code);
      if (heard === undefined && Date.now() > deadline) {
        const seen = await call<EngineView>(host, 'getEngine');
        if (seen.lastTrial?.policy === t.epoch) heard = Date.now();
      }
    }
    expect(heard).toBeDefined();
    expect([...codes].every((c) => c === 'conflict' || c === 'busy')).toBe(true);
    const v = await call<EngineView>(host, 'getEngine');
    const e = await call<Enforced>(host, 'getEnforced');
    expect(v.lastTrial).toMatchObject({ policy: t.epoch, outcome: 'reverted-by-kernel' });
    expect(e).toMatchObject({ epoch: v.policy, doc: GUARD });
    expect(bobOut()).toBe(true);
  }, 120_000);

  it('confirm and revert at once, twice each: one wins, the others are conflicts, and the state agrees with the kernel', async () => {
    const host = await start();
    const a = await apply(host, GUARD, null);
    await apply(host, DENY, a.epoch, { trialSeconds: TRIAL });
    const rs = await Promise.all([
      raw(host, 'confirmTrial'),
      raw(host, 'revertTrial'),
      raw(host, 'confirmTrial'),
      raw(host, 'revertTrial'),
    ]);
    expect(rs.filter((r) => r.ok)).toHaveLength(1);
    for (const r of rs) if (!r.ok) expect(['conflict', 'busy']).toContain(r.error.code);
    const won = (rs.find((r) => r.ok) as { value: TrialResult }).value;
    const v = await call<EngineView>(host, 'getEngine');
    const e = await call<Enforced>(host, 'getEnforced');
    expect(v.trial).toBeNull();
    expect(e.epoch).toBe(v.policy);
    expect(e.doc).toEqual(won.outcome === 'confirmed' ? DENY : GUARD);
    expect(bobOut()).toBe(won.outcome !== 'confirmed');
  }, 120_000);

  it('trialSeconds at and beyond its bounds; a second trial while one is pending', async () => {
    const host = await start();
    const a = await apply(host, GUARD, null);
    for (const s of [LIMITS.trialSeconds.min - 1, LIMITS.trialSeconds.max + 1, 10.5, -10, '60', 1e20])
      expect((await raw(host, 'apply', { doc: DENY, expectEpoch: a.epoch, trialSeconds: s })).ok).toBe(false);
    const t = await apply(host, DENY, a.epoch, { trialSeconds: LIMITS.trialSeconds.max });
    expect(t.trial!.secondsLeft).toBeGreaterThan(LIMITS.trialSeconds.max - 30);
    expect(t.trial!.secondsLeft).toBeLessThanOrEqual(LIMITS.trialSeconds.max);
    const again = await raw(host, 'apply', { doc: GUARD, expectEpoch: t.epoch, trialSeconds: TRIAL });
    expect(again.ok).toBe(false);
    expect((await call<EngineView>(host, 'getEngine')).trial?.policy).toBe(t.epoch);
    const back = await call<TrialResult>(host, 'revertTrial');
    expect(back.outcome).toBe('reverted');
    const m = await apply(host, DENY, back.inForce, { trialSeconds: LIMITS.trialSeconds.min });
    expect(m.trial!.secondsLeft).toBeLessThanOrEqual(LIMITS.trialSeconds.min);
    await call<TrialResult>(host, 'revertTrial');
  }, 120_000);

  it('previews of a large policy sent in a loop: one runs, only the newest waits, the ones it overtook are busy', async () => {
    const host = await start();
    await apply(host, GUARD, null);
    // About 700 kB: 1000 endpoints of 40 ranges each (a second or more of the worker's time each).
    const big: PolicyDoc = {
      endpoints: Array.from({ length: 1000 }, (_, i) => ({
        name: `e${i}`,
        iface: ['ntf0'],
        range: Array.from({ length: 40 }, (_, j) => `10.${i >> 8}.${i & 255}.${j}/32`),
        allow: ['alice', 'bob'],
      })),
      interfaces: { ntf0: { default: 'allow' } },
      logging: {},
    };
    expect(JSON.stringify({ doc: big }).length).toBeLessThan(LIMITS.policyBytes);
    const rs = await Promise.all(Array.from({ length: 6 }, () => raw(host, 'preview', { doc: big })));
    expect(rs.map((r) => (r.ok ? 'ok' : r.error.code))).toEqual(['ok', 'busy', 'busy', 'busy', 'busy', 'ok']);
    const v = await Promise.all(Array.from({ length: 4 }, () => raw(host, 'validate', { doc: big })));
    expect(v.map((r) => (r.ok ? 'ok' : r.error.code))).toEqual(['ok', 'busy', 'busy', 'ok']);
    // One over the policy cap is refused before it is parsed.
    const huge = { ...big, endpoints: [...big.endpoints, ...big.endpoints] };
    expect(await raw(host, 'preview', { doc: huge })).toMatchObject({
      ok: false,
      error: { code: 'too-large' },
    });
    await alive(host);
  }, 120_000);

  it('historyEntry of two large, very different policies answers (no diff that holds the worker for minutes)', async () => {
    const host = await start();
    // Two policies of 20 000 guarded addresses each (about 450 kB of YAML, within the cap), no
    // line in common: a full diff of them takes the worker minutes.
    const wide = (b: number): PolicyDoc => ({
      endpoints: [
        {
          name: 'wide',
          iface: ['ntf0'],
          range: Array.from({ length: 20_000 }, (_, i) => `10.${b}.${i >> 8}.${i & 255}/32`),
          allow: ['alice'],
        },
      ],
      interfaces: { ntf0: { default: 'allow' } },
      logging: {},
    });
    const a = await apply(host, wide(1), null);
    const b = await apply(host, wide(2), a.epoch);
    const h = await call<HistoryListResult>(host, 'listHistory');
    const n = h.entries.find((e) => e.policy === b.epoch)!.n;
    const [entry, view] = await Promise.all([
      call<HistoryEntryResult>(host, 'historyEntry', { n }),
      call<EngineView>(host, 'getEngine'),
    ]);
    expect(view.policy).toBe(b.epoch);
    expect(entry.previous).toBe(n - 1);
    expect(entry.diff).toMatch(/too many to compare here/);
    expect(entry.text).toContain('10.2.78.31/32');
    await alive(host);
  }, 60_000);

  it("a listening process named with terminal escapes and a newline: the preview's server and warning carry it escaped", async () => {
    const host = await start();
    const a = await apply(host, GUARD, null);
    const sb = env!.sb;
    // Any user may name its process (prctl PR_SET_NAME, /proc/self/comm) and listen on a port.
    const server = sb.writeFile(
      'named-server.mjs',
      "import net from 'node:net';\nimport { writeFileSync } from 'node:fs';\n" +
        "writeFileSync('/proc/self/comm', '\\x1b[2J\\x1b]0;x\\x07\\nok');\n" +
        "net.createServer((s) => s.pipe(s)).listen(2222, '0.0.0.0', () => console.log('up'));\n",
    );
    const client = sb.writeFile(
      'named-client.mjs',
      "import net from 'node:net';\n" +
        "const s = net.connect(2222, '192.0.2.2', () => { console.log('up'); setInterval(() => s.write('x'), 100); });\n" +
        "s.on('error', () => undefined);\n",
    );
    for (const [ns, file] of [
      [sb.client, server],
      [sb.server, client],
    ] as const) {
      const p = spawn('ip', ['netns', 'exec', ns, process.execPath, file], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      children.push(p);
      await new Promise((r) => p.stdout?.once('data', r));
    }
    await expect
      .poll(
        async () =>
          (await call<Preview>(host, 'preview', { doc: DENY })).impact?.newlyDropped[0]?.server?.port,
        {
          timeout: 10_000,
        },
      )
      .toBe(2222);
    const p = await call<Preview>(host, 'preview', { doc: DENY });
    const first = p.impact!.newlyDropped[0]!;
    expect(first.server?.command).toBeDefined();
    // eslint-disable-next-line no-control-regex
    const control = /[\u0000-\u001f\u007f]/;
    expect(first.server!.command).not.toMatch(control);
    expect(first.warning).not.toMatch(control);
    expect(first.server!.command).toContain('\\x1b');
    expect(a.epoch).toBeGreaterThan(0);
  }, 120_000);

  it('a storm of history reads during a trial: Keep still lands before the deadline (identical reads share one answer)', async () => {
    const host = await start();
    const wide: PolicyDoc = {
      endpoints: [
        {
          name: 'wide',
          iface: ['ntf0'],
          range: Array.from({ length: 20_000 }, (_, i) => `10.1.${i >> 8}.${i & 255}/32`),
          allow: ['alice'],
        },
      ],
      interfaces: { ntf0: { default: 'allow' } },
      logging: {},
    };
    const a = await apply(host, wide, null);
    // A full history of large policies (48 more copies of that entry, root's as the engine writes).
    const dir = join(stateDirFor(env!.pinDir), 'history');
    const first = readFileSync(join(dir, '000001.json'), 'utf8');
    for (let n = 2; n <= 49; n++)
      writeFileSync(join(dir, `${String(n).padStart(6, '0')}.json`), first.replace('"n": 1,', `"n": ${n},`), {
        mode: 0o600,
      });
    expect((await call<HistoryListResult>(host, 'listHistory')).entries).toHaveLength(49);
    const t = await apply(host, { ...wide, interfaces: {} }, a.epoch, { trialSeconds: TRIAL });
    const storm = Array.from({ length: 300 }, () => raw(host, 'listHistory'));
    const entries = Array.from({ length: 100 }, () => raw(host, 'historyEntry', { n: 20 }));
    const keep = await raw(host, 'confirmTrial');
    expect(keep).toMatchObject({ ok: true, value: { outcome: 'confirmed', policy: t.epoch } });
    const all = await Promise.all([...storm, ...entries]);
    expect(all.every((r) => r.ok)).toBe(true);
    expect((await call<EngineView>(host, 'getEngine')).policy).toBe(t.epoch);
  }, 180_000);

  it('distinct reads in a burst during a trial: Keep is not queued behind them', async () => {
    const host = await start();
    const a = await apply(host, GUARD, null);
    // A full history of entries of about 1 MB each (a long comment in the policy text).
    const dir = join(stateDirFor(env!.pinDir), 'history');
    const entry = JSON.parse(readFileSync(join(dir, '000001.json'), 'utf8')) as Record<string, unknown>;
    const text = `${String(entry.text)}# ${'x'.repeat(1_000_000)}\n`;
    for (let n = 2; n <= 49; n++)
      writeFileSync(join(dir, `${String(n).padStart(6, '0')}.json`), JSON.stringify({ ...entry, n, text }), {
        mode: 0o600,
      });
    expect((await call<HistoryListResult>(host, 'listHistory')).entries).toHaveLength(49);
    const t = await apply(host, DENY, a.epoch, { trialSeconds: TRIAL });
    const burst = Array.from({ length: 49 }, (_, i) => raw(host, 'historyEntry', { n: i + 1 }));
    const flows = Array.from({ length: 100 }, (_, i) =>
      raw(host, 'explain', {
        flow: { iface: 'ntf0', uid: BOB, family: 4, proto: 'tcp', dst: `192.0.2.${i + 1}`, dport: 80 },
      }),
    );
    const keep = await raw(host, 'confirmTrial');
    expect(keep).toMatchObject({ ok: true, value: { outcome: 'confirmed', policy: t.epoch } });
    const all = await Promise.all([...burst, ...flows]);
    expect(all.filter((r) => !r.ok)).toEqual([]);
    expect(bobOut()).toBe(false);
  }, 240_000);

  it('keep and revert after the kernel reverted: said, and the state agrees with the kernel', async () => {
    const host = await start();
    const a = await apply(host, GUARD, null);
    const t = await apply(host, DENY, a.epoch, { trialSeconds: TRIAL });
    expect(bobOut()).toBe(false);
    await expect.poll(bobOut, { timeout: (TRIAL + 20) * 1000, interval: 500 }).toBe(true);
    const [keep, back] = await Promise.all([raw(host, 'confirmTrial'), raw(host, 'revertTrial')]);
    for (const r of [keep, back]) {
      if (r.ok) expect(r.value).toMatchObject({ outcome: 'reverted', by: 'kernel', policy: t.epoch });
      else expect(['conflict', 'busy']).toContain(r.error.code);
    }
    expect(keep.ok && (keep.value as TrialResult).outcome === 'confirmed').toBe(false);
    const v = await call<EngineView>(host, 'getEngine');
    const e = await call<Enforced>(host, 'getEnforced');
    expect(v.trial).toBeNull();
    expect(v.lastTrial).toMatchObject({ policy: t.epoch, outcome: 'reverted-by-kernel' });
    expect(e).toMatchObject({ epoch: v.policy, doc: GUARD });
    expect(bobOut()).toBe(true);
    // The history says so too, and the next apply against the number in force goes through.
    const h = await call<HistoryListResult>(host, 'listHistory');
    expect(h.entries.find((x) => x.policy === t.epoch)).toMatchObject({ outcome: 'reverted-by-kernel' });
    expect((await apply(host, GUARD, e.epoch)).trial).toBeNull();
  }, 120_000);

  it('a storm of getEngine calls: every one is answered, and traffic keeps coming', async () => {
    const host = await start();
    await apply(host, GUARD, null);
    const storm = await Promise.all(Array.from({ length: 500 }, () => raw(host, 'getEngine')));
    expect(storm.every((r) => r.ok)).toBe(true);
    const t = await call<TrafficBatch>(host, 'nextTraffic', { after: 0 });
    expect(t.counters).not.toBeNull();
  }, 120_000);
});
