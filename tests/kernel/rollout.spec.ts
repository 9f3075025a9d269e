// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest), as root. Safe rollout on the real kernel, with real uids and traffic
// in network namespaces: audit mode, trials the kernel itself reverts (also with no process of
// ours left), confirm and revert, reload's outcomes, and the history of applied policies.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { accountName } from '../../electron/engine/history.js';
import { loadAccountDb } from '../../electron/policy/resolve.js';
import { ALICE, BOB, CAROL, DAVE, cleanup, decisions, setup, stop, udp } from './harness.js';
import type { Env } from './harness.js';
import {
  cliOk,
  historyJson,
  removeStateDir,
  runText,
  sentBetween,
  sleep,
  statusJson,
  textLines,
  udpStream,
} from './rollout-helpers.js';

/** The peer's 192.0.2.1 guarded on ntf0 for `who` only; everything else passes. */
const GUARD = (who: string) => `endpoints:
  - peer:
      iface: [ntf0]
      range: [192.0.2.1/32]
      allow: [${who}]
interfaces:
  ntf0: { default: allow }
`;
/** alice may reach the peer (A); bob may, alice not (B). */
const A = GUARD('alice');
const B = GUARD('bob');

/** Default deny on ntf0; only alice may reach 169.254.169.254; `mode` of ntf0. */
const AUDIT = (mode: 'audit' | 'enforce') => `endpoints:
  - imds:
      iface: [ntf0]
      range: [169.254.169.254/32]
      allow: [alice]
interfaces:
  ntf0: { default: deny, mode: ${mode} }
`;

/** A YAML error at 5:1 (the key is indented one column less than its siblings). */
const BAD_YAML = `endpoints:
  - peer:
      iface: [ntf0]
      range: [192.0.2.1/32]
     allow: [bob]
`;

let env: Env | undefined;

async function start(links = 1): Promise<Env> {
  env = await setup(links);
  removeStateDir(env); // a leftover of an earlier run with the same pin dir name
  return env;
}

afterEach(async () => {
  const e = env;
  env = undefined;
  try {
    await cleanup(e);
  } finally {
    if (e) removeStateDir(e);
  }
});

/** Whether one datagram of `uid` to 192.0.2.1 comes back. */
const passes = (e: Env, uid: number) => e.sb.probe(uid, ['udp', '192.0.2.1', '7', '1', '300']).received === 1;

/** Polls `cond` every 200 ms until wall time `until`; true as soon as it holds. */
async function eventually(cond: () => boolean, until: number): Promise<boolean> {
  while (Date.now() < until) {
    if (cond()) return true;
    await sleep(200);
  }
  return cond();
}

const FIELDS = ['iface', 'uid', 'user', 'family', 'proto', 'dst', 'dport', 'reason', 'endpoint'] as const;
const pick = (d: Record<string, unknown> | undefined) =>
  Object.fromEntries(FIELDS.map((k) => [k, d?.[k]])) as Record<string, unknown>;

describe('audit mode', () => {
  it('passes what the policy would drop, reports it as would-drop with the drop fields, counts it apart; enforce then drops it', async () => {
    const e = await start();
    const config = e.sb.writeFile('live.yml', AUDIT('audit'));
    let run = await e.runFile(config, ['--events-per-user', '0']);
    const ready = run.ofType('ready')[0] as { epoch: number; modes: Record<string, string> };
    expect(ready.modes).toEqual({ ntf0: 'audit' });

    const c0 = statusJson(e).counters;
    const peer0 = await e.sb.peerCounts();
    // bob: an unguarded destination (default deny) and the guarded one he is not listed for.
    expect(udp(e, BOB, '192.0.2.1', 5)).toEqual({ sent: 5, received: 5 });
    expect(udp(e, BOB, '169.254.169.254', 3)).toEqual({ sent: 3, received: 3 });
    expect(udp(e, ALICE, '169.254.169.254', 3)).toEqual({ sent: 3, received: 3 });
    const peer1 = await e.sb.peerCounts();
    expect(peer1.udpDatagrams - peer0.udpDatagrams).toBe(11); // the peer received every one

    const s = statusJson(e, true);
    const c1 = s.counters;
    const delta = (k: string) => Number(c1[k]) - Number(c0[k]);
    expect(delta('would_drop_packets')).toBe(8);
    expect(delta('dropped_packets')).toBe(0);
    expect(delta('allowed_packets')).toBeGreaterThanOrEqual(3); // alice's (and essentials), never bob's
    const flow = (uid: number, dst: string) =>
      (s.flows ?? []).filter((f) => f.uid === uid && f.proto === 'udp' && f.dst === dst);
    expect(flow(BOB, '192.0.2.1')).toEqual([
      expect.objectContaining({
        iface: 'ntf0',
        dport: 7,
        wouldDropPackets: 5,
        droppedPackets: 0,
        allowedPackets: 0,
        verdict: 'would-drop',
        reason: 'default-deny',
      }),
    ]);
    expect(flow(BOB, '169.254.169.254')).toEqual([
      expect.objectContaining({
        wouldDropPackets: 3,
        droppedPackets: 0,
        allowedPackets: 0,
        verdict: 'would-drop',
        reason: 'not-listed',
      }),
    ]);
    expect(flow(ALICE, '169.254.169.254')).toEqual([
      expect.objectContaining({
        allowedPackets: 3,
        wouldDropPackets: 0,
        droppedPackets: 0,
        verdict: 'allow',
      }),
    ]);
    expect(s.interfaces.find((i) => i.name === 'ntf0')?.settings?.mode).toBe('audit');
    expect(cliOk(e, ['status']).stdout).toMatch(/interface: ntf0 \(ifindex \d+\) attached AUDIT/);

    await run.waitFor((l) => l.type === 'decision' && l.uid === BOB && l.dst === '169.254.169.254');
    const wdDefault = decisions(run.lines, (d) => d.uid === BOB && d.dst === '192.0.2.1');
    const wdListed = decisions(run.lines, (d) => d.uid === BOB && d.dst === '169.254.169.254');
    expect(wdDefault.map((d) => d.verdict)).toEqual(Array(5).fill('would-drop'));
    expect(wdListed.map((d) => d.verdict)).toEqual(Array(3).fill('would-drop'));
    expect(pick(wdDefault[0])).toMatchObject({ user: 'bob', reason: 'default-deny', endpoint: null });
    expect(pick(wdListed[0])).toMatchObject({ user: 'bob', reason: 'not-listed', endpoint: null });

    // audit → enforce by SIGHUP under bob's steady traffic: one atomic apply, every datagram
    // before it passed (would-drop), every one after it dropped, none lost or decided twice.
    const count = 2000;
    const traffic = e.sb.probeAsync(BOB, ['udp', '192.0.2.1', '7', String(count), '500', '1']);
    await sleep(700);
    writeFileSync(config, AUDIT('enforce'));
    const from = run.lines.length;
    run.signal('SIGHUP');
    const applied = (await run.waitFor(
      (l) => l.type === 'applied' || l.type === 'reload-failed',
      10_000,
      from,
    )) as {
      type: string;
      epoch: number;
      modes: Record<string, string>;
    };
    expect(applied).toMatchObject({ type: 'applied', epoch: ready.epoch + 1, modes: { ntf0: 'enforce' } });
    const sent = (await traffic) as { sent: number; received: number };
    expect(sent.sent).toBe(count);
    expect(udp(e, BOB, '169.254.169.254', 3)).toMatchObject({ received: 0 });
    const lines = await stop(run);
    const stream = decisions(lines, (d) => d.uid === BOB && d.dst === '192.0.2.1').slice(5);
    const verdicts = stream.map((d) => d.verdict);
    const firstDrop = verdicts.indexOf('drop');
    expect(verdicts.length).toBe(count);
    expect(firstDrop).toBeGreaterThan(0); // some passed before the switch …
    expect(verdicts.slice(0, firstDrop).every((v) => v === 'would-drop')).toBe(true);
    expect(verdicts.slice(firstDrop).every((v) => v === 'drop')).toBe(true); // … none after it
    expect(sent.received).toBe(firstDrop);
    // A drop carries exactly the fields its would-drop had.
    expect(pick(stream[firstDrop])).toEqual(pick(wdDefault[0]));
    const dropListed = decisions(
      lines,
      (d) => d.uid === BOB && d.dst === '169.254.169.254' && d.verdict === 'drop',
    );
    expect(dropListed).toHaveLength(3);
    expect(pick(dropListed[0])).toEqual(pick(wdListed[0]));
    expect(statusJson(e).interfaces.find((i) => i.name === 'ntf0')?.settings?.mode).toBe('enforce');
    expect(cliOk(e, ['status']).stdout).toMatch(/interface: ntf0 \(ifindex \d+\) attached enforce/);

    // The text log says WOULD-DROP.
    writeFileSync(config, AUDIT('audit'));
    run = await runText(e, config);
    expect(textLines(run)[0]).toMatch(/AUDIT on ntf0/);
    expect(udp(e, BOB, '192.0.2.1', 2)).toMatchObject({ received: 2 });
    const line = (await run.waitFor((l) => typeof l.text === 'string' && /\bbob\b/.test(l.text))) as {
      text: string;
    };
    expect(line.text).toMatch(/ WOULD-DROP ntf0\s+bob\s+udp\s+192\.0\.2\.1:7 /);
    await stop(run);
  });
});

describe('trials', () => {
  it('the kernel goes back to the previous policy by itself after the run that started the trial got SIGKILL', async () => {
    const e = await start();
    const config = e.sb.writeFile('live.yml', A);
    const run = await e.runFile(config);
    const epochA = (run.ofType('ready')[0] as { epoch: number }).epoch;
    expect(passes(e, ALICE)).toBe(true);

    writeFileSync(config, B);
    const from = run.lines.length;
    const r = cliOk(e, ['reload', '--confirm', '3']);
    expect(r.stdout).toMatch(/TRIAL: policy \d+ returns at .* unless 'net-tc-filter confirm' runs/);
    const pid = run.proc.pid as number;
    process.kill(pid, 'SIGKILL');
    await run.exited;
    const trialApplied = (await run.waitFor((l) => l.type === 'applied', 1000, from)) as {
      epoch: number;
      trial: { previousEpoch: number };
    };
    expect(trialApplied.trial.previousEpoch).toBe(epochA);
    const trialEpoch = trialApplied.epoch;

    // No process of ours is left; the kernel holds the trial.
    const during = statusJson(e);
    expect(during.owner).toBeUndefined();
    expect(during.trial).toMatchObject({ epoch: trialEpoch, previousEpoch: epochA, expired: false });
    expect(passes(e, ALICE)).toBe(false); // B: alice cut off
    expect(passes(e, BOB)).toBe(true);

    const deadline = during.trial?.deadline as number;
    expect(await eventually(() => passes(e, ALICE), deadline + 5000)).toBe(true);
    expect(passes(e, BOB)).toBe(false); // A again, whole
    const after = statusJson(e);
    expect(after.owner).toBeUndefined();
    expect(after.epoch).toBe(epochA);
    expect(after.trial).toMatchObject({ epoch: trialEpoch, previousEpoch: epochA, expired: true });
    expect(cliOk(e, ['status']).stdout).toMatch(
      new RegExp(
        `trial: +REVERTED by the kernel at .*: policy ${trialEpoch} was not confirmed, policy ${epochA} is enforced again`,
      ),
    );

    // The next start says so, and the engine follows the kernel.
    writeFileSync(config, A);
    const next = await e.runFile(config);
    expect(next.ofType('reverted')).toEqual([
      expect.objectContaining({ type: 'reverted', by: 'kernel', epoch: trialEpoch, previousEpoch: epochA }),
    ]);
    expect(passes(e, ALICE)).toBe(true);
    await stop(next);
    expect(statusJson(e).trial).toBeUndefined();

    const h = historyJson(e);
    expect(h.find((x) => x.epoch === trialEpoch)).toMatchObject({
      origin: 'reload',
      outcome: 'reverted-by-kernel',
      trial: { seconds: 3 },
    });
    expect(h.find((x) => x.origin === 'revert')).toMatchObject({ account: 'the kernel (trial deadline)' });
    expect(cliOk(e, ['history']).stdout).toMatch(/reload .* reverted by the kernel/);
  });

  it('apply --confirm one-shot: revert brings the previous policy back at once; confirm keeps the trial past its deadline', async () => {
    const e = await start();
    const a = e.config(A);
    const b = e.config(B);
    expect(cliOk(e, ['apply', '--config', a]).stdout).toMatch(/applied policy \d+ .* on ntf0/);
    expect(passes(e, ALICE)).toBe(true);

    const r = cliOk(e, ['apply', '--config', b, '--confirm', '5']);
    expect(r.stdout).toMatch(/TRIAL: unless 'net-tc-filter confirm' runs by .* \(5 s\)/);
    const trial1 = statusJson(e).trial;
    expect(trial1).toMatchObject({ expired: false });
    expect(passes(e, ALICE)).toBe(false);
    expect(cliOk(e, ['revert']).stdout).toMatch(
      new RegExp(
        `reverted: policy ${trial1?.previousEpoch} is enforced again \\(policy ${trial1?.epoch} was on trial\\)`,
      ),
    );
    expect(passes(e, ALICE)).toBe(true); // at once, long before the deadline
    expect(passes(e, BOB)).toBe(false);
    const back = statusJson(e);
    expect(back.trial).toBeUndefined();
    expect(Date.now()).toBeLessThan(trial1?.deadline as number); // it was the revert, not the deadline
    expect(historyJson(e).find((x) => x.epoch === trial1?.epoch)).toMatchObject({
      origin: 'apply',
      outcome: 'reverted',
    });

    cliOk(e, ['apply', '--config', b, '--confirm', '5']);
    const trial2 = statusJson(e).trial;
    expect(passes(e, ALICE)).toBe(false);
    expect(cliOk(e, ['confirm']).stdout).toMatch(new RegExp(`confirmed: policy ${trial2?.epoch} stays`));
    expect(statusJson(e).trial).toBeUndefined();
    await sleep(Math.max(0, (trial2?.deadline as number) + 1000 - Date.now()));
    expect(passes(e, ALICE)).toBe(false); // B stays
    expect(passes(e, BOB)).toBe(true);
    const st = statusJson(e);
    expect(st.epoch).toBe(trial2?.epoch);
    expect(st.trial).toBeUndefined();
    expect(historyJson(e).find((x) => x.epoch === trial2?.epoch)).toMatchObject({
      origin: 'apply',
      outcome: 'confirmed',
      trial: { seconds: 5 },
    });
  });

  it('confirm after the deadline is too late, and records the revert the kernel made', async () => {
    const e = await start();
    cliOk(e, ['apply', '--config', e.config(A)]);
    cliOk(e, ['apply', '--config', e.config(B), '--confirm', '2']);
    const trial = statusJson(e).trial;
    expect(trial).toMatchObject({ expired: false });
    await sleep(Math.max(0, (trial?.deadline as number) + 500 - Date.now()));
    const late = cliOk(e, ['confirm'], 1);
    expect(late.stderr).toMatch(
      new RegExp(
        `too late: the trial of policy ${trial?.epoch} ended at .* went back to policy ${trial?.previousEpoch}`,
      ),
    );
    expect(passes(e, ALICE)).toBe(true); // A, as the kernel left it
    const h = historyJson(e);
    expect(h.find((x) => x.epoch === trial?.epoch)).toMatchObject({ outcome: 'reverted-by-kernel' });
    expect(h[0]).toMatchObject({ origin: 'revert', account: 'the kernel (trial deadline)' });
    expect(statusJson(e).trial).toBeUndefined();
  });

  for (const [name, before, trial, uid] of [
    ['a trial that denies a flow the policy before it allowed', A, B, ALICE],
    ['a trial that allows a flow the policy before it denied', B, A, ALICE],
  ] as const) {
    it(`no cached verdict outlives the deadline: ${name}`, async () => {
      const e = await start();
      cliOk(e, ['apply', '--config', e.config(before)]);
      const allowedBefore = before === A;
      const c0 = statusJson(e).counters;
      const stream = udpStream(e, uid, '192.0.2.1', 50, 7500);
      await sleep(1200);
      const t0 = Date.now();
      cliOk(e, ['apply', '--config', e.config(trial), '--confirm', '3']);
      const t1 = Date.now();
      const st = statusJson(e);
      expect(st.owner).toBeUndefined(); // nobody of ours runs: the kernel alone
      const deadline = st.trial?.deadline as number;
      const r = await stream;
      const c1 = statusJson(e).counters;
      // The flow's verdict was cached (the stream is one 5-tuple).
      expect(Number(c1.flow_cache_hits) - Number(c0.flow_cache_hits)).toBeGreaterThan(50);

      const pre = sentBetween(r, 0, t0);
      const mid = sentBetween(r, t1 + 200, deadline - 300);
      const post = sentBetween(r, deadline + 500, Infinity);
      for (const w of [pre, mid, post]) expect(w.passed + w.lost).toBeGreaterThan(8);
      expect(pre).toMatchObject(allowedBefore ? { lost: 0 } : { passed: 0 });
      expect(mid).toMatchObject(allowedBefore ? { passed: 0 } : { lost: 0 });
      // Within 500 ms after the deadline, and with no process of ours, the previous verdict is back.
      expect(post).toMatchObject(allowedBefore ? { lost: 0 } : { passed: 0 });
      expect(statusJson(e).trial).toMatchObject({ expired: true });
    });
  }

  it('refuses a second apply during a trial, and apply while a run owns the state (exit 3, naming it)', async () => {
    const e = await start();
    const a = e.config(A);
    const b = e.config(B);
    cliOk(e, ['apply', '--config', a]);
    cliOk(e, ['apply', '--config', b, '--confirm', '5']);
    const trial = statusJson(e).trial;
    for (const args of [
      ['apply', '--config', a],
      ['apply', '--config', a, '--confirm', '5'],
    ]) {
      const r = cliOk(e, args, 1);
      expect(r.stderr).toMatch(
        new RegExp(
          `not applied, nothing changed: policy ${trial?.epoch} is on trial: policy ${trial?.previousEpoch} returns in \\d+ s unless confirmed; a second apply during a trial is refused`,
        ),
      );
    }
    expect(statusJson(e).trial).toMatchObject({
      epoch: trial?.epoch,
      previousEpoch: trial?.previousEpoch,
      expired: false,
    });
    expect(passes(e, ALICE)).toBe(false); // still B on trial
    cliOk(e, ['revert']);

    const config = e.sb.writeFile('live.yml', A);
    const run = await e.runFile(config);
    const pid = run.proc.pid as number;
    for (const args of [
      ['apply', '--config', b],
      ['apply', '--from-history', '1'],
    ]) {
      const r = cliOk(e, args, 3);
      expect(r.stderr).toMatch(
        new RegExp(
          `is owned by pid ${pid} \\(.*\\brun\\b.*\\); edit its config and run 'net-tc-filter reload`,
        ),
      );
    }
    expect(passes(e, ALICE)).toBe(true); // nothing changed

    // Through run: a second reload during a trial is refused the same way.
    writeFileSync(config, B);
    cliOk(e, ['reload', '--confirm', '5']);
    writeFileSync(config, A);
    const r = cliOk(e, ['reload'], 1);
    expect(`${r.stdout}${r.stderr}`).toMatch(/a second apply during a trial is refused/);
    expect(passes(e, ALICE)).toBe(false);
    const from = run.lines.length;
    expect(cliOk(e, ['revert']).stdout).toMatch(/reverted: policy \d+ is enforced again/);
    expect(await run.waitFor((l) => l.type === 'reverted', 5000, from)).toMatchObject({ by: 'revert' });
    expect(passes(e, ALICE)).toBe(true);
    await stop(run);
  });
});

describe('reload', () => {
  it('exit 0 applied (run logs it), 1 rejected with file:line:col and the old policy kept, 3 without a run', async () => {
    const e = await start();
    const config = e.sb.writeFile('live.yml', A);
    let r = cliOk(e, ['reload'], 3);
    expect(r.stderr).toMatch(/no 'net-tc-filter run' holds .*; nothing reloaded/);

    const run = await e.runFile(config);
    expect(passes(e, ALICE)).toBe(true);
    writeFileSync(config, B);
    let from = run.lines.length;
    r = cliOk(e, ['reload']);
    const m = /applied policy (\d+) from (\S+) on ntf0/.exec(r.stdout);
    expect(m?.[2]).toBe(config);
    const epochB = Number(m?.[1]);
    expect(await run.waitFor((l) => l.type === 'applied', 5000, from)).toMatchObject({ epoch: epochB });
    expect(passes(e, ALICE)).toBe(false);
    expect(passes(e, BOB)).toBe(true);

    writeFileSync(config, BAD_YAML);
    from = run.lines.length;
    r = cliOk(e, ['reload'], 1);
    expect(`${r.stdout}${r.stderr}`).toContain(
      `${config}:5:1: error: All mapping items must start at the same column`,
    );
    expect(r.stderr).toMatch(/reload rejected; the policy before it stays/);
    expect(await run.waitFor((l) => l.type === 'reload-failed', 5000, from)).toMatchObject({
      errors: [expect.objectContaining({ file: config, line: 5, col: 1 })],
    });
    expect(statusJson(e).epoch).toBe(epochB);
    expect(passes(e, ALICE)).toBe(false); // B still enforced
    expect(passes(e, BOB)).toBe(true);
    await stop(run);

    r = cliOk(e, ['reload'], 3); // pinned, enforcing, but no run
    expect(r.stderr).toMatch(/no 'net-tc-filter run' holds/);
  });
});

describe('history', () => {
  it('lists what was applied (origin, account, outcome), shows a policy with its diff, and goes back to one as a trial', async () => {
    const e = await start();
    const a = e.config(A);
    const b = e.config(B);
    cliOk(e, ['apply', '--config', a]);
    cliOk(e, ['apply', '--config', b]);
    const config = e.sb.writeFile('live.yml', GUARD('carol'));
    const run = await e.runFile(config);
    writeFileSync(config, GUARD('dave'));
    cliOk(e, ['reload']);
    await stop(run);
    expect(passes(e, DAVE)).toBe(true);
    expect(passes(e, CAROL)).toBe(false);

    const h = historyJson(e);
    expect(h.map((x) => [x.origin, x.outcome, x.source])).toEqual([
      ['reload', 'applied', config],
      ['run', 'replaced', config],
      ['apply', 'replaced', b],
      ['apply', 'replaced', a],
    ]);
    // The CLI ran as uid 0 with the harness's account database (which names no uid 0), and with
    // this process's sudo variables, if any.
    const db = loadAccountDb({ passwdFile: join(e.sb.dir, 'passwd'), groupFile: join(e.sb.dir, 'group') });
    const account = accountName({ db, uid: 0, env: process.env });
    expect(account).toMatch(/^uid 0\b/);
    for (const x of h) expect(x.account).toBe(account);
    expect(h.map((x) => x.epoch)).toEqual([...h.map((x) => x.epoch)].sort((p, q) => q - p));
    const [nA, nB] = [h[3]?.n as number, h[2]?.n as number];

    const show = cliOk(e, ['history', '--show', String(nB)]).stdout;
    expect(show).toContain(B);
    expect(show).toMatch(/# origin: +apply/);
    expect(show).toContain(`# changes from history ${nA}:`);
    expect(show).toContain('# -      allow: [alice]');
    expect(show).toContain('# +      allow: [bob]');

    const r = cliOk(e, ['apply', '--from-history', String(nA), '--confirm', '5']);
    expect(r.stdout).toMatch(/TRIAL/);
    expect(passes(e, ALICE)).toBe(true); // A's policy is back, on trial
    expect(passes(e, DAVE)).toBe(false);
    const st = statusJson(e);
    expect(st.trial).toMatchObject({ expired: false, previousEpoch: h[0]?.epoch });
    expect(historyJson(e)[0]).toMatchObject({
      origin: 'apply',
      source: `history ${nA}`,
      outcome: 'trial',
      epoch: st.trial?.epoch,
    });
    cliOk(e, ['revert']);
    expect(passes(e, DAVE)).toBe(true);
  });
});
