// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest), as root. The desktop app's main-process side (Backend, handler
// table, gateway) in a real process, against the real kernel, through the same calls the
// renderer makes: mode decision, apply, traffic batches, restart and adoption, stop filtering.
import { chmodSync, existsSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type {
  ApplyOutcome,
  AppState,
  Enforced,
  PolicyDoc,
  TrafficBatch,
} from '../../electron/ipc/contract.js';
import { setupSandbox, startHost, teardown, TEST_ORIGIN } from '../ui/harness.js';
import type { Host, UiEnv } from '../ui/harness.js';
import { ALICE, BOB, cliPath } from './harness.js';

const OWN = { url: `${TEST_ORIGIN}/index.html`, isMainFrame: true };
const DOC: PolicyDoc = {
  endpoints: [
    { name: 'imds', iface: ['ntf0'], range: ['169.254.169.254/32', 'fd00:ec2::254/128'], allow: ['alice'] },
  ],
  interfaces: { ntf0: { default: 'allow' } },
  logging: { allowed: 'all' },
};

async function ok<T>(host: Host, op: string, req?: unknown): Promise<T> {
  const r = await host.call(op, OWN, req);
  if (!r.ok) throw new Error(`${op}: ${r.error.code}: ${r.error.message}`);
  return r.value as T;
}

/** Batches until `pred` holds for the decisions seen so far (bounded). */
async function collect(host: Host, pred: (rows: TrafficBatch['decisions']) => boolean) {
  const rows: TrafficBatch['decisions'] = [];
  let last: TrafficBatch | undefined;
  for (let i = 0; i < 40 && !pred(rows); i++) {
    last = await ok<TrafficBatch>(host, 'nextTraffic', { after: last?.seq ?? 0 });
    rows.push(...last.decisions);
  }
  return { rows, last };
}

let env: UiEnv | undefined;
afterEach(async () => {
  await teardown(env);
  env = undefined;
});

describe('desktop backend (real process, real kernel)', () => {
  it('owns the engine, applies, reports traffic in batches, and survives a restart by adopting', async () => {
    env = await setupSandbox();
    const policyFile = `${env.sb.dir}/gui/policy.yml`;
    const host = await startHost({ sb: env.sb, pinDir: env.pinDir, policyFile, caps: true });
    env.hosts.push(host);
    expect(host.state.mode).toBe('enforcing');
    expect(host.state.readOnly).toBeUndefined();

    const applied = await ok<ApplyOutcome>(host, 'apply', { doc: DOC, expectEpoch: null });
    expect(applied.attached).toEqual(['ntf0']);
    expect(applied.enforced.doc).toEqual(DOC);
    // The applied policy is kept in the file format, for the next start.
    expect(readFileSync(policyFile, 'utf8')).toContain('169.254.169.254/32');

    expect(env.sb.probe(ALICE, ['http', 'http://169.254.169.254/', '1000']).ok).toBe(true);
    expect(env.sb.probe(BOB, ['http', 'http://169.254.169.254/', '500']).ok).toBe(false);
    const { rows, last } = await collect(
      host,
      (r) => r.some((d) => d.verdict === 'drop') && r.some((d) => d.verdict === 'allow'),
    );
    const allowed = rows.filter((d) => d.verdict === 'allow' && d.dst === '169.254.169.254');
    const dropped = rows.filter((d) => d.verdict === 'drop' && d.dst === '169.254.169.254');
    expect(allowed[0]).toMatchObject({
      user: 'alice',
      uid: ALICE,
      endpoint: 'imds',
      dport: 80,
      iface: 'ntf0',
    });
    expect(dropped[0]).toMatchObject({ user: 'bob', uid: BOB, endpoint: null, proto: 'tcp' });
    expect(last?.counters?.dropped).toBeGreaterThanOrEqual(1);
    // Sequence numbers increase: the renderer can order and de-duplicate.
    const seqs = rows.map((r) => r.seq);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);

    // A stale editor (made against no policy) cannot overwrite the enforced one.
    const stale = await host.call('apply', OWN, { doc: DOC, expectEpoch: null });
    expect(stale.ok ? undefined : stale.error.code).toBe('conflict');
    // An invalid policy is refused whole, with the problem located.
    const bad = await host.call('apply', OWN, {
      doc: { ...DOC, endpoints: [{ ...DOC.endpoints[0], range: ['169.254.169.300'] }] },
      expectEpoch: applied.epoch,
    });
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.error.code).toBe('invalid-policy');
      expect(bad.error.diagnostics?.[0]?.path).toEqual(['endpoints', 0, 'range', 0]);
    }
    expect(env.sb.probe(ALICE, ['http', 'http://169.254.169.254/', '1000']).ok).toBe(true);

    // Quit (keep enforcing) and start again: the pinned state is adopted and the saved policy,
    // compared with the kernel's maps, is what they hold: it becomes the enforced policy without
    // anything being written (same epoch), and enforcement never stopped.
    await host.close();
    expect(env.sb.probe(BOB, ['http', 'http://169.254.169.254/', '500']).ok).toBe(false);
    const again = await startHost({ sb: env.sb, pinDir: env.pinDir, policyFile, caps: true });
    env.hosts.push(again);
    expect(again.state.mode).toBe('enforcing');
    const enforced = await ok<Enforced>(again, 'getEnforced');
    expect(enforced.doc).toEqual(DOC);
    expect(enforced.saved).toBeUndefined();
    expect(enforced.epoch).toBe(applied.epoch);
    expect(env.sb.probe(BOB, ['http', 'http://169.254.169.254/', '500']).ok).toBe(false);

    // Stop filtering removes everything; the window drops to read-only.
    const stopped = await ok<{ filtersRemoved: string[] }>(again, 'stopFiltering', {
      confirm: 'stop-filtering',
    });
    // ntf0, and lo where only the guarded ranges were checked.
    expect([...stopped.filtersRemoved].sort()).toEqual(['lo', 'ntf0']);
    expect(existsSync(env.pinDir)).toBe(false);
    expect(env.sb.execClient(['tc', 'filter', 'show', 'dev', 'ntf0', 'egress'])).toBe('');
    expect(env.sb.execClient(['tc', 'filter', 'show', 'dev', 'lo', 'egress'])).toBe('');
    expect(env.sb.probe(BOB, ['http', 'http://169.254.169.254/', '1000']).ok).toBe(true);
    expect((await ok<AppState>(again, 'getState')).mode).toBe('read-only');
  });

  it('never applies a saved policy that differs from what the kernel enforces: it reports the difference and offers it', async () => {
    env = await setupSandbox();
    const policyFile = `${env.sb.dir}/gui/policy.yml`;
    const host = await startHost({ sb: env.sb, pinDir: env.pinDir, policyFile, caps: true });
    env.hosts.push(host);
    const applied = await ok<ApplyOutcome>(host, 'apply', { doc: DOC, expectEpoch: null });
    await host.close();
    // Unchanged, it is adopted as what is enforced, without writing (same epoch).
    const same = await startHost({ sb: env.sb, pinDir: env.pinDir, policyFile, caps: true });
    env.hosts.push(same);
    expect(await ok<Enforced>(same, 'getEnforced')).toMatchObject({ epoch: applied.epoch, doc: DOC });
    await same.close();

    // The issue-7 attack, here by root (the file's owner, so it is trusted): let everyone in.
    const text = readFileSync(policyFile, 'utf8');
    const edited = text.replace('allow: [alice]', "allow: [alice, '*']");
    expect(edited).not.toBe(text);
    writeFileSync(policyFile, edited);

    const again = await startHost({ sb: env.sb, pinDir: env.pinDir, policyFile, caps: true });
    env.hosts.push(again);
    expect(again.state.mode).toBe('enforcing');
    const e = await ok<Enforced>(again, 'getEnforced');
    // Not applied: same epoch, bob still dropped.
    expect(e.epoch).toBe(applied.epoch);
    expect(env.sb.probe(BOB, ['http', 'http://169.254.169.254/', '500']).ok).toBe(false);
    expect(e.doc).toBeNull();
    expect(e.saved).toMatchObject({
      file: policyFile,
      status: 'differs',
      // Both ranges (v4 and v6) are guarded for other users; interface settings are the same.
      differences: {
        ranges: { onlySaved: 0, onlyEnforced: 0, changed: 2 },
        interfaces: { onlySaved: 0, onlyEnforced: 0, changed: 0 },
      },
    });
    expect(e.saved?.message).toMatch(
      /differs from what the kernel enforces: 2 guarded ranges with other users/,
    );
    expect(e.saved?.doc?.endpoints[0]?.allow).toEqual(['alice', '*']);
    // The admin applies it: now it is enforced, and the notice is gone.
    const r = await ok<ApplyOutcome>(again, 'apply', { doc: e.saved!.doc, expectEpoch: e.epoch });
    expect(r.enforced.saved).toBeUndefined();
    expect(env.sb.probe(BOB, ['http', 'http://169.254.169.254/', '1000']).ok).toBe(true);
    await again.close();

    // A saved policy others may write, or a symlink, is not even read.
    const untrusted = async (expected: RegExp) => {
      const h = await startHost({ sb: env!.sb, pinDir: env!.pinDir, policyFile, caps: true });
      env!.hosts.push(h);
      const u = await ok<Enforced>(h, 'getEnforced');
      expect(u.doc).toBeNull();
      expect(u.saved).toMatchObject({ status: 'untrusted' });
      expect(u.saved?.doc).toBeUndefined();
      expect(u.saved?.message).toMatch(expected);
      await h.close();
    };
    chmodSync(policyFile, 0o666);
    await untrusted(/writable by everyone \(mode 0666\)/);
    chmodSync(policyFile, 0o620);
    await untrusted(/writable by its group/);
    chmodSync(policyFile, 0o600);
    renameSync(policyFile, `${policyFile}.real`);
    symlinkSync(`${policyFile}.real`, policyFile);
    await untrusted(/is a symbolic link/);
  });

  it('runs read-only and names the owner when the headless daemon holds the engine', async () => {
    env = await setupSandbox();
    const config = env.sb.writeFile(
      'daemon.yml',
      'endpoints:\n  - imds:\n      iface: [ntf0]\n      range: [169.254.169.254/32]\n      allow: [alice]\n',
    );
    const daemon = env.sb.startEngine(
      cliPath(),
      ['run', '--config', config, '--log', 'json', '--pin-dir', env.pinDir],
      {
        NET_TC_FILTER_PASSWD: env.sb.writeFile('dpasswd', 'alice:x:62001:62001::/:/bin/false\n'),
        NET_TC_FILTER_GROUP: env.sb.writeFile('dgroup', 'alice:x:62001:\n'),
      },
    );
    try {
      await daemon.waitFor((l) => l.type === 'ready');
      const host = await startHost({
        sb: env.sb,
        pinDir: env.pinDir,
        policyFile: `${env.sb.dir}/p.yml`,
        caps: true,
      });
      env.hosts.push(host);
      expect(host.state.mode).toBe('read-only');
      expect(host.state.readOnly?.reason).toBe('locked');
      expect(host.state.readOnly?.holder?.pid).toBe(daemon.proc.pid);
      expect(host.state.readOnly?.message).toContain('cli/main.js run');
      const r = await host.call('apply', OWN, { doc: DOC, expectEpoch: null });
      expect(r.ok ? undefined : r.error.code).toBe('read-only');
      // It still observes: counters come from the daemon's pinned maps.
      env.sb.probe(BOB, ['http', 'http://169.254.169.254/', '300']);
      let batch: TrafficBatch | undefined;
      for (let i = 0; i < 10 && !(batch?.counters && batch.counters.dropped > 0); i++) {
        batch = await ok<TrafficBatch>(host, 'nextTraffic', { after: batch?.seq ?? 0 });
      }
      expect(batch?.counters?.dropped).toBeGreaterThan(0);
      expect(batch?.decisions).toEqual([]); // the ring buffer is the owner's
    } finally {
      daemon.signal('SIGTERM');
      await daemon.exited;
    }
  });

  it('runs read-only without capabilities and says what is missing and how to grant it', async () => {
    env = await setupSandbox();
    const host = await startHost({
      sb: env.sb,
      pinDir: env.pinDir,
      policyFile: `${env.sb.dir}/p.yml`,
      caps: false,
    });
    env.hosts.push(host);
    expect(host.state.mode).toBe('read-only');
    expect(host.state.readOnly?.reason).toBe('capabilities');
    expect(host.state.readOnly?.missing).toEqual(['CAP_BPF', 'CAP_NET_ADMIN', 'CAP_PERFMON']);
    expect(host.state.readOnly?.howTo).toContain('net-tc-filter-gui');
    for (const [op, req] of [
      ['apply', { doc: DOC, expectEpoch: null }],
      ['stopFiltering', { confirm: 'stop-filtering' }],
    ] as const) {
      const r = await host.call(op, OWN, req);
      expect(r.ok ? undefined : r.error.code).toBe('read-only');
    }
    // Editing support still works: validation and the system's lists.
    const v = await ok<{ ok: boolean }>(host, 'validate', { doc: DOC });
    expect(v.ok).toBe(true);
    const ifaces = await ok<Array<{ name: string }>>(host, 'listInterfaces');
    expect(ifaces.map((i) => i.name)).toContain('ntf0');
    expect(existsSync(env.pinDir)).toBe(false); // it created nothing
  });
});
