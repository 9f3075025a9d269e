// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest), as root. The Backend through the real gateway and handler table
// against the real engine in a network-namespace sandbox (startHost + host.call, no browser):
// trials (kept, reverted, and reverted by the kernel after the app died), the engine view,
// preview, explain, history and propose.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { LIMITS } from '../../electron/ipc/contract.js';
import type {
  ApplyOutcome,
  EngineView,
  Enforced,
  PolicyDoc,
  TrialResult,
} from '../../electron/ipc/contract.js';
import { BOB } from '../kernel/harness.js';
import { setupSandbox, startHost, teardown, TEST_ORIGIN } from './harness.js';
import type { Host, UiEnv } from './harness.js';

const OWN = { url: `${TEST_ORIGIN}/index.html`, isMainFrame: true };
const TRIAL = LIMITS.trialSeconds.min;

let env: UiEnv | undefined;
afterEach(async () => {
  await teardown(env);
  env = undefined;
});

const imds = { name: 'imdsv2', iface: ['ntf0'], range: ['169.254.169.254/32'], allow: ['alice'] };

/** Only the metadata range is guarded on ntf0 (alice may reach it); everything else passes. */
const GUARD: PolicyDoc = { endpoints: [imds], interfaces: { ntf0: { default: 'allow' } }, logging: {} };
/** The original tool's policy: everything but the metadata range is dropped on ntf0. */
const DENY: PolicyDoc = { endpoints: [imds], interfaces: {}, logging: {} };

async function call<T>(host: Host, op: string, req?: unknown): Promise<T> {
  const r = await host.call(op, OWN, req);
  if (!r.ok) throw new Error(`${op}: ${r.error.code}: ${r.error.message}`);
  return r.value as T;
}

async function refused(host: Host, op: string, req?: unknown): Promise<{ code: string; message: string }> {
  const r = await host.call(op, OWN, req);
  if (r.ok) throw new Error(`${op} was not refused`);
  return r.error;
}

async function start(caps = true, policyFile = 'gui/policy.yml'): Promise<Host> {
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
  }, 120_000);
});
