// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest), as root. The Backend through the real gateway and handler table
// against the real engine in a network-namespace sandbox (startHost + host.call, no browser):
// trials (kept, reverted, and reverted by the kernel after the app died), the engine view,
// preview, explain, history and propose.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LIMITS } from '../../electron/ipc/contract.js';
import type {
  ApplyOutcome,
  EngineView,
  Enforced,
  ExplainResult,
  HistoryEntryResult,
  HistoryListResult,
  Preview,
  ProposeResult,
  PolicyDoc,
  TrialResult,
} from '../../electron/ipc/contract.js';
import { ALICE, BOB, cliPath, GROUP, PASSWD } from '../kernel/harness.js';
import { call, OWN, setupSandbox, startHost, teardown } from './harness.js';
import type { Host, UiEnv } from './harness.js';

const TRIAL = LIMITS.trialSeconds.min;

let env: UiEnv | undefined;
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  await teardown(env);
  env = undefined;
});

/** A root-owned TCP echo service on port 2222 in the filtered namespace (sshd's stand-in), and a
 * client in the far namespace typing into it, like an admin's SSH session to this machine. */
async function sshLikeSession(): Promise<void> {
  const sb = env!.sb;
  const server = sb.writeFile(
    'echo-server.mjs',
    "import net from 'node:net';\n" +
      "net.createServer((s) => s.pipe(s)).listen(2222, '0.0.0.0', () => console.log('up'));\n",
  );
  const client = sb.writeFile(
    'typing-client.mjs',
    "import net from 'node:net';\n" +
      "const s = net.connect(2222, '192.0.2.2', () => setInterval(() => s.write('x'), 100));\n" +
      "let n = 0; s.on('data', (d) => { n += d.length; if (n >= 3) console.log('echoed'); });\n" +
      "s.on('error', () => undefined);\n",
  );
  const run = (ns: string, file: string) => {
    const p = spawn('ip', ['netns', 'exec', ns, process.execPath, file], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(p);
    return new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${file} did not start`)), 10_000);
      p.stdout?.once('data', () => {
        clearTimeout(t);
        resolve();
      });
    });
  };
  await run(sb.client, server);
  await run(sb.server, client);
}

const imds = { name: 'imdsv2', iface: ['ntf0'], range: ['169.254.169.254/32'], allow: ['alice'] };

/** Only the metadata range is guarded on ntf0 (alice may reach it); everything else passes. */
const GUARD: PolicyDoc = { endpoints: [imds], interfaces: { ntf0: { default: 'allow' } }, logging: {} };
/** The original tool's policy: everything but the metadata range is dropped on ntf0. */
const DENY: PolicyDoc = { endpoints: [imds], interfaces: {}, logging: {} };

async function refused(host: Host, op: string, req?: unknown): Promise<{ code: string; message: string }> {
  const r = await host.call(op, OWN, req);
  if (r.ok) throw new Error(`${op} was not refused`);
  return r.error;
}

async function start(caps = true, policyFile = join('gui', 'policy.yml')): Promise<Host> {
  env ??= await setupSandbox();
  const host = await startHost({
    sb: env.sb,
    pinDir: env.pinDir,
    policyFile: `${env.sb.dir}/${policyFile}`,
    caps,
  });
  env.hosts.push(host);
  return host;
}

const apply = (host: Host, doc: PolicyDoc, expectEpoch: number | null, trialSeconds?: number) =>
  call<ApplyOutcome>(host, 'apply', { doc, expectEpoch, ...(trialSeconds ? { trialSeconds } : {}) });

/** Bob's HTTP request to the peer's address outside every guarded range. */
const bobOut = () => env!.sb.probe(BOB, ['http', 'http://192.0.2.1/', '700']).ok === true;

describe('the Backend behind the gateway, on the real engine', () => {
  it('a trial left alone after the app was killed is reverted by the kernel, and the next start says so', async () => {
    const host = await start();
    const a = await apply(host, GUARD, null);
    expect(a.trial).toBeNull();
    expect(bobOut()).toBe(true);

    const b = await apply(host, DENY, a.epoch, TRIAL);
    expect(b.trial).toMatchObject({ policy: b.epoch, previous: a.epoch, expired: false });
    expect(b.trial!.secondsLeft).toBeGreaterThan(0);
    expect(b.enforced.doc).toEqual(DENY);
    const v = await call<EngineView>(host, 'getEngine');
    expect(v.policy).toBe(b.epoch);
    expect(v.trial).toMatchObject({ policy: b.epoch, previous: a.epoch, deadline: b.trial!.deadline });
    expect(v.configured).toEqual([
      { name: 'ntf0', present: true, attached: true, mode: 'enforce', default: 'deny' },
    ]);
    expect(v.owner).toBeNull();
    expect(bobOut()).toBe(false);

    // A second apply during the trial is refused in plain words.
    const second = await refused(host, 'apply', { doc: GUARD, expectEpoch: b.epoch });
    expect(second).toMatchObject({
      code: 'conflict',
      message: 'a trial is pending: keep it or revert it first',
    });

    // The window froze, the session died: nothing of ours runs any more.
    host.proc.kill('SIGKILL');
    await new Promise((r) => host.proc.once('exit', r));
    env!.hosts.splice(env!.hosts.indexOf(host), 1);
    await expect.poll(bobOut, { timeout: (TRIAL + 20) * 1000, interval: 500 }).toBe(true);

    const next = await start();
    await expect
      .poll(async () => (await call<EngineView>(next, 'getEngine')).lastTrial?.outcome, { timeout: 10_000 })
      .toBe('reverted-by-kernel');
    const view = await call<EngineView>(next, 'getEngine');
    expect(view.trial).toBeNull();
    expect(view.lastTrial).toMatchObject({ policy: b.epoch });
    expect(Math.abs(view.lastTrial!.time - b.trial!.deadline)).toBeLessThan(2000);
    expect(view.configured[0]).toMatchObject({ name: 'ntf0', default: 'allow' });
    const e = await call<Enforced>(next, 'getEnforced');
    expect(e.doc).toEqual(GUARD);
    expect(e.epoch).toBe(view.policy);
    // The policy file never held the trial.
    expect(readFileSync(`${env!.sb.dir}/gui/policy.yml`, 'utf8')).toContain('default: allow');
    // And the renderer's next apply against that number goes through.
    const c = await apply(next, GUARD, e.epoch);
    expect(c.trial).toBeNull();
  }, 120_000);

  it('keeps a trial, reverts the next one, and applies against the number after the revert', async () => {
    const host = await start();
    const a = await apply(host, GUARD, null);
    const b = await apply(host, DENY, a.epoch, TRIAL);
    const kept = await call<TrialResult>(host, 'confirmTrial');
    expect(kept).toMatchObject({ outcome: 'confirmed', policy: b.epoch, inForce: b.epoch });
    expect(kept.message).toContain(`policy ${b.epoch}`);
    expect(kept.enforced).toMatchObject({ epoch: b.epoch, doc: DENY });
    expect((await call<EngineView>(host, 'getEngine')).trial).toBeNull();
    expect(readFileSync(`${env!.sb.dir}/gui/policy.yml`, 'utf8')).not.toContain('default: allow');
    expect(bobOut()).toBe(false);
    expect(await refused(host, 'confirmTrial')).toMatchObject({ code: 'conflict' });

    const c = await apply(host, GUARD, b.epoch, TRIAL);
    expect(bobOut()).toBe(true);
    const back = await call<TrialResult>(host, 'revertTrial');
    expect(back).toMatchObject({ outcome: 'reverted', by: 'revert', policy: c.epoch });
    expect(back.enforced.doc).toEqual(DENY);
    expect(back.enforced.epoch).toBe(back.inForce);
    expect((await call<EngineView>(host, 'getEngine')).policy).toBe(back.inForce);
    expect(bobOut()).toBe(false);
    expect(await refused(host, 'revertTrial')).toMatchObject({ code: 'conflict' });
    // The saved file holds what is in force.
    expect(readFileSync(`${env!.sb.dir}/gui/policy.yml`, 'utf8')).not.toContain('default: allow');
    const d = await apply(host, GUARD, back.enforced.epoch);
    expect(d.trial).toBeNull();
    expect(bobOut()).toBe(true);

    const lt = (await call<EngineView>(host, 'getEngine')).lastTrial;
    expect(lt).toBeNull(); // a later policy was applied for good since

    // The history: every apply with its outcome, the revert, and which one is in force.
    const h = await call<HistoryListResult>(host, 'listHistory');
    const at = (policy: number, origin = 'app') =>
      h.entries.find((e) => e.policy === policy && e.origin === origin);
    expect(h.entries[0]).toMatchObject({ policy: d.epoch, origin: 'app', outcome: 'applied', current: true });
    expect(h.entries.filter((e) => e.current)).toHaveLength(1);
    expect(at(b.epoch)).toMatchObject({ outcome: 'replaced', trial: { seconds: TRIAL } });
    expect(at(c.epoch)).toMatchObject({ outcome: 'reverted' });
    expect(at(back.inForce, 'revert')).toMatchObject({ source: `history ${at(b.epoch)!.n}` });
    const entry = await call<HistoryEntryResult>(host, 'historyEntry', { n: h.entries[0]!.n });
    expect(entry.doc).toEqual(GUARD);
    expect(entry.previous).toBe(h.entries[1]!.n);
    expect(entry.diff).toMatch(/^\+ +default: allow$/m);
    expect((await refused(host, 'historyEntry', { n: 999_999 })).code).toBe('bad-request');

    // Going back to an entry, as a trial: recorded with where it came from.
    const old = await call<HistoryEntryResult>(host, 'historyEntry', { n: at(b.epoch)!.n });
    const again = await call<ApplyOutcome>(host, 'apply', {
      doc: old.doc,
      expectEpoch: d.epoch,
      trialSeconds: TRIAL,
      fromHistory: old.entry.n,
    });
    const newest = (await call<HistoryListResult>(host, 'listHistory')).entries[0];
    expect(newest).toMatchObject({ policy: again.epoch, source: `history ${old.entry.n}`, outcome: 'trial' });
    await call<TrialResult>(host, 'revertTrial');
  }, 120_000);

  it("previews a deny default: the root-owned service's replies first, with server set; explains a dropped flow", async () => {
    const host = await start();
    // Nothing applied yet: no flows were observed, and the preview says so.
    const early = await call<Preview>(host, 'preview', { doc: DENY });
    expect(early.impact).toBeNull();
    expect(early.impactNote).toMatch(/audit mode/);
    expect(early.trialDefault).toBe(true);

    const a = await apply(host, GUARD, null);
    await sshLikeSession();
    expect(bobOut()).toBe(true);
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
    expect(first).toMatchObject({
      iface: 'ntf0',
      user: 'root',
      uid: 0,
      proto: 'tcp',
      dst: '192.0.2.1',
      sport: 2222,
    });
    expect(first.before.verdict).toBe('allow');
    expect(first.after).toMatchObject({ verdict: 'drop', reason: 'default-deny' });
    expect(first.warning).toMatch(/TCP port 2222/);
    // Bob's HTTP flow is newly dropped too, after the server's replies.
    expect(p.impact!.newlyDropped.slice(1).some((f) => f.user === 'bob' && f.dport === 80)).toBe(true);
    expect(p.impact!.baseline).toBe('enforced');
    expect(p.effects[0]).toMatchObject({ iface: 'ntf0', tone: 'deny', turnsDeny: true });
    expect(p.effects[0]!.text).toBe(
      'ntf0: everything except 169.254.169.254/32 is dropped for every account, root included (alice may reach 169.254.169.254/32)',
    );
    expect(p.trialDefault).toBe(true);
    expect(p.unchanged).toBe(false);
    expect((await call<Preview>(host, 'preview', { doc: GUARD })).unchanged).toBe(true);
    // Audit: the same flows would be reported, none dropped.
    const audit = await call<Preview>(host, 'preview', {
      doc: { ...DENY, interfaces: { ntf0: { mode: 'audit' } } },
    });
    expect(audit.impact!.newlyDropped).toEqual([]);
    expect(audit.impact!.newlyReported[0]?.server?.port).toBe(2222);
    expect(audit.trialDefault).toBe(false);
    // A draft with an error: its diagnostics, nothing else.
    const bad = await call<Preview>(host, 'preview', {
      doc: { ...DENY, endpoints: [{ ...imds, allow: ['no-such-user'] }] },
    });
    expect(bad.diagnostics.some((d) => d.severity === 'error' && /no-such-user/.test(d.message))).toBe(true);
    expect(bad).toMatchObject({ effects: [], impact: null });

    // Applied (as a trial: the admin's session is in the list), Bob's request is explained.
    const b = await apply(host, DENY, a.epoch, TRIAL);
    expect(bobOut()).toBe(false);
    const x = await call<ExplainResult>(host, 'explain', {
      flow: { iface: 'ntf0', uid: BOB, family: 4, proto: 'tcp', dst: '192.0.2.1', dport: 80 },
    });
    expect(x).toMatchObject({
      unknown: false,
      verdict: 'drop',
      reason: 'default-deny',
      user: 'bob',
      destination: '192.0.2.1:80',
      endpoint: null,
      guarding: [],
      iface: { name: 'ntf0', default: 'deny', mode: 'enforce' },
    });
    expect(x.source).toBe(`the enforced policy (policy ${b.epoch})`);
    expect(x.lines.join(' ')).toMatch(/unless it is kept, the previous policy \(policy [0-9]+\) returns in/);
    expect(x.lines.join(' ')).not.toMatch(/epoch/);
    const m = await call<ExplainResult>(host, 'explain', {
      flow: { iface: 'ntf0', uid: BOB, family: 4, proto: 'tcp', dst: '169.254.169.254', dport: 80 },
    });
    expect(m).toMatchObject({
      verdict: 'drop',
      reason: 'not-listed',
      guarding: ['imdsv2'],
      covering: ['imdsv2'],
    });

    // Propose from what was dropped: the enforced policy plus an endpoint letting bob through.
    await call<TrialResult>(host, 'confirmTrial');
    expect(bobOut()).toBe(false);
    const pr = await call<ProposeResult>(host, 'propose');
    expect(pr.observed).toBeGreaterThan(0);
    expect(pr.added).toBeGreaterThan(0);
    expect(pr.doc!.endpoints[0]).toEqual(imds);
    expect(
      pr.doc!.endpoints.some(
        (e) => e.allow.includes('bob') && e.range.some((r) => r.startsWith('192.0.2.1')),
      ),
    ).toBe(true);
    expect(pr.message).toMatch(/nothing is applied until you apply them/);
  }, 120_000);

  it('a read-only window refuses to keep or revert, and says the state is unreadable', async () => {
    const owner = await start();
    const a = await apply(owner, GUARD, null);
    expect(a.epoch).toBeGreaterThan(0);
    const accounts = await call<{
      humanUids: { min: number; max: number };
      users: Array<{ name: string; uid: number }>;
    }>(owner, 'listAccounts');
    expect(accounts.humanUids.min).toBeLessThanOrEqual(accounts.humanUids.max);
    expect(accounts.users).toContainEqual({ name: 'root', uid: 0 });
    await owner.close();
    env!.hosts.splice(env!.hosts.indexOf(owner), 1);

    const ro = await start(false);
    expect(ro.state.mode).toBe('read-only');
    expect(await refused(ro, 'confirmTrial')).toMatchObject({ code: 'read-only' });
    expect(await refused(ro, 'revertTrial')).toMatchObject({ code: 'read-only' });
    const v = await call<EngineView>(ro, 'getEngine');
    // Root without capabilities can still read the pins on this kernel (6.5 moved bpf()'s
    // unprivileged checks to map and program creation): the header's truth, read-only.
    expect(v).toMatchObject({
      loaded: true,
      policy: a.epoch,
      configured: [{ name: 'ntf0', present: true, attached: true, mode: 'enforce', default: 'allow' }],
      trial: null,
    });
    expect(v.unreadable).toBeUndefined();
    // A preview decides the kernel's flows from the pins too (Bob's request, allowed now).
    expect(bobOut()).toBe(true);
    const p = await call<Preview>(ro, 'preview', { doc: DENY });
    expect(p.effects[0]).toMatchObject({ iface: 'ntf0', tone: 'deny' });
    expect(p.impact?.baseline).toBe('enforced');
    expect(p.impact?.newlyDropped.some((f) => f.user === 'bob' && f.dport === 80)).toBe(true);
    // Pins it cannot read: said, and nothing else is claimed.
    const mode = statSync(env!.pinDir).mode & 0o7777;
    chmodSync(env!.pinDir, 0);
    try {
      await expect
        .poll(async () => (await call<EngineView>(ro, 'getEngine')).unreadable, { timeout: 5000 })
        .toMatch(env!.pinDir);
      expect(await call<EngineView>(ro, 'getEngine')).toMatchObject({
        loaded: false,
        policy: null,
        configured: [],
        trial: null,
        lastTrial: null,
      });
    } finally {
      chmodSync(env!.pinDir, mode);
    }
  }, 120_000);

  it('beside the headless daemon: the engine view names the owner, explain and history read its policy', async () => {
    env = await setupSandbox();
    const config = env.sb.writeFile(
      'daemon.yml',
      'endpoints:\n  - imds:\n      iface: [ntf0]\n      range: [169.254.169.254/32]\n      allow: [alice]\n',
    );
    const daemon = env.sb.startEngine(
      cliPath(),
      ['run', '--config', config, '--log', 'json', '--pin-dir', env.pinDir],
      {
        NET_TC_FILTER_PASSWD: env.sb.writeFile('dpasswd', PASSWD),
        NET_TC_FILTER_GROUP: env.sb.writeFile('dgroup', GROUP),
      },
    );
    try {
      await daemon.waitFor((l) => l.type === 'ready');
      const host = await start();
      expect(host.state.readOnly?.reason).toBe('locked');
      const v = await call<EngineView>(host, 'getEngine');
      expect(v.owner?.pid).toBe(daemon.proc.pid);
      expect(v.policy).toBeGreaterThan(0);
      expect(v.configured).toEqual([
        { name: 'ntf0', present: true, attached: true, mode: 'enforce', default: 'deny' },
      ]);
      const x = await call<ExplainResult>(host, 'explain', {
        flow: { iface: 'ntf0', uid: ALICE, family: 4, proto: 'tcp', dst: '169.254.169.254', dport: 80 },
      });
      expect(x).toMatchObject({ unknown: false, verdict: 'allow', reason: 'endpoint', endpoint: 'imds' });
      const h = await call<HistoryListResult>(host, 'listHistory');
      expect(h.entries[0]).toMatchObject({ policy: v.policy, origin: 'run', current: true, source: config });
      expect(await refused(host, 'revertTrial')).toMatchObject({ code: 'read-only' });
    } finally {
      daemon.signal('SIGTERM');
      await daemon.exited;
    }
  }, 120_000);

  it('an interface the policy names that this host lacks: absent in the engine view and the preview', async () => {
    const host = await start();
    const doc: PolicyDoc = { endpoints: [{ ...imds, iface: ['eth0'] }], interfaces: {}, logging: {} };
    const p = await call<Preview>(host, 'preview', { doc });
    expect(p.effects[0]).toEqual({
      iface: 'eth0',
      text: 'eth0 does not exist on this host: nothing is filtered there until it appears',
      tone: 'absent',
      turnsDeny: false,
    });
    const a = await apply(host, doc, null);
    expect(a.missing).toEqual(['eth0']);
    const v = await call<EngineView>(host, 'getEngine');
    expect(v.policy).toBe(a.epoch);
    expect(v.configured).toEqual([
      { name: 'eth0', present: false, attached: false, mode: 'enforce', default: 'deny' },
    ]);
    // The guarded range is still guarded on the interfaces that exist (guard-only).
    expect(v.guardOnly.attached).toBeGreaterThan(0);
    expect(bobOut()).toBe(true);
  }, 120_000);

  it('a window restarted during a trial can keep it or revert it, and knows the policy in force', async () => {
    let host = await start();
    const a = await apply(host, GUARD, null);
    await apply(host, DENY, a.epoch, TRIAL);
    await host.close();
    env!.hosts.splice(env!.hosts.indexOf(host), 1);

    host = await start();
    const view = await call<EngineView>(host, 'getEngine');
    expect(view.trial?.expired).toBe(false);
    const kept = await call<TrialResult>(host, 'confirmTrial');
    expect(kept.outcome).toBe('confirmed');
    expect(kept.enforced.doc).toEqual(DENY);
    expect(readFileSync(`${env!.sb.dir}/gui/policy.yml`, 'utf8')).not.toContain('default: allow');

    const c = await apply(host, GUARD, kept.enforced.epoch, TRIAL);
    await host.close();
    env!.hosts.splice(env!.hosts.indexOf(host), 1);
    host = await start();
    const back = await call<TrialResult>(host, 'revertTrial');
    expect(back).toMatchObject({ outcome: 'reverted', by: 'revert', policy: c.epoch });
    expect(back.enforced).toMatchObject({ doc: DENY, epoch: back.inForce });
    expect(bobOut()).toBe(false);
  }, 120_000);

  it('a first policy applied as a trial and reverted leaves nothing enforced, and the next apply works', async () => {
    const host = await start();
    const t = await apply(host, DENY, null, TRIAL);
    expect(t.trial).toMatchObject({ previous: 0 });
    expect(bobOut()).toBe(false);
    const back = await call<TrialResult>(host, 'revertTrial');
    expect(back.enforced).toMatchObject({ epoch: back.inForce, doc: null });
    expect(back.enforced.note).toMatch(/Nothing is filtered/);
    expect(bobOut()).toBe(true);
    const v = await call<EngineView>(host, 'getEngine');
    expect(v).toMatchObject({ policy: back.inForce, configured: [], trial: null });
    const a = await apply(host, GUARD, back.enforced.epoch);
    expect(a.enforced.doc).toEqual(GUARD);
  }, 120_000);
});
