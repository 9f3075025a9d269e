// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest), as root. The attacks of issue 7 item 1, performed for real.
//
// A pin directory planted by an unprivileged user, a map pinned under another owner, entries
// written into the policy maps behind the engine's back, and a lock holder whose command line
// carries a newline and a terminal escape. The vulnerable machine — bpffs mounted with the
// kernel's default mode 1777 — is reproduced in a private mount namespace with its own bpffs
// (tests/kernel/mountns.ts, as in tests/kernel/launcher.spec.ts), so the machine's /sys/fs/bpf is
// never touched; the attacker is uid 62002 (bob) through setpriv, without capabilities. Traffic
// only between the sandbox's network namespaces. Needs `npm run build` (the CLI runs from dist/).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, lstatSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EngineProcess, Sandbox } from '../../electron/demo/sandbox.js';
import {
  BpfMap,
  decodeFlowKey,
  decodeLpmKey,
  decodeSetKey,
  encodeSetKey,
} from '../../native-bridge/index.js';
import {
  ALICE,
  BOB,
  GROUP,
  PASSWD,
  assertPrivileged,
  cleanup,
  cliPath,
  exitWithin,
  setup,
  udp,
} from './harness.js';
import type { Env } from './harness.js';
import { MountNs } from './mountns.js';

const PIN_DIR = '/sys/fs/bpf/net-tc-filter';
const SHARE_GROUP = 'net-tc-filter';
const POLICY = `endpoints:
  - peer:
      iface: [ntf0]
      range: [192.0.2.1/32]
      allow: [alice]
interfaces:
  ntf0: { default: allow }
`;
/** The donor's network namespace (only lo): whatever its run attaches stays out of the sandbox. */
const DONOR_NETNS = `ntfpd${process.pid % 100000}`;

let dir = '';

/** Runs a shell script inside `ns` as the attacker: bob, no capabilities, no supplementary groups. */
function asAttacker(ns: MountNs, script: string): string {
  return ns.sh(['setpriv', `--reuid=${BOB}`, `--regid=${BOB}`, '--clear-groups', '--', 'sh', '-ec', script]);
}

function modeOf(p: string): string {
  const st = lstatSync(p);
  return `${st.uid}:${st.gid} ${(st.mode & 0o7777).toString(8).padStart(4, '0')}`;
}

beforeAll(() => {
  assertPrivileged();
  cliPath(); // built?
  dir = mkdtempSync(join(tmpdir(), 'ntf-pintrust-'));
  chmodSync(dir, 0o755);
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('a pin directory planted by another user, on a bpffs mounted world-writable (1777)', () => {
  let ns: MountNs | undefined;
  let sb: Sandbox | undefined;
  let policy = '';
  let accounts: Record<string, string> = {};
  let gid = 0;
  const engines: EngineProcess[] = [];

  /** `net-tc-filter <args>` as root inside the namespace (and the sandbox's client netns). */
  const cli = (args: string[], netns = sb?.client) => {
    const argv = [...(ns as MountNs).enter(netns), process.execPath, cliPath(), ...args];
    const r = spawnSync(argv[0] as string, argv.slice(1), {
      encoding: 'utf8',
      env: { ...process.env, ...accounts },
      timeout: 30_000,
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const run = (pinDir = PIN_DIR, netns = sb?.client) => {
    const argv = [
      ...(ns as MountNs).enter(netns),
      process.execPath, cliPath(), 'run', '--config', policy, '--log', 'json', '--pin-dir', pinDir,
      '--stats-interval', '3600',
    ]; // prettier-ignore
    const e = new EngineProcess(
      spawn(argv[0] as string, argv.slice(1), {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, ...accounts },
      }),
    );
    engines.push(e);
    return e;
  };
  /** Removes whatever a test left at `d` in the namespace (as root with every capability). */
  const wipe = (d: string, netns = sb?.client) => {
    cli(['unload', '--pin-dir', d], netns);
    ns?.sh(['rm', '-rf', '--', d]);
  };

  beforeAll(async () => {
    sb = Sandbox.create(`ntfp${process.pid % 100000}`, 1);
    await sb.startPeer();
    // /var/lib too: the engine's state directories stay in the namespace.
    ns = await MountNs.open('planted', { dir, bpfMode: '1777', varLib: true });
    ns.sh(['groupadd', '--system', SHARE_GROUP]);
    gid = Number(ns.sh(['getent', 'group', SHARE_GROUP]).split(':')[2]);
    policy = sb.writeFile('policy.yml', POLICY);
    accounts = {
      NET_TC_FILTER_PASSWD: sb.writeFile('passwd', PASSWD),
      NET_TC_FILTER_GROUP: sb.writeFile('group', GROUP),
    };
    execFileSync('ip', ['netns', 'add', DONOR_NETNS], { timeout: 10_000 });
  });

  afterEach(async () => {
    for (const e of engines.splice(0)) {
      if (e.proc.exitCode === null && e.proc.signalCode === null) {
        e.signal('SIGKILL');
        await e.exited;
      }
    }
    if (ns) {
      wipe(PIN_DIR);
      wipe('/sys/fs/bpf/bob');
      wipe('/sys/fs/bpf/donor', DONOR_NETNS);
    }
  });

  afterAll(async () => {
    // Filters go with the network namespaces, pins with the mount namespace.
    sb?.destroy();
    spawnSync('ip', ['netns', 'del', DONOR_NETNS], { timeout: 10_000 });
    await ns?.close();
  });

  it('control: the namespace has the vulnerable bpffs (1777), and a directory root creates there is used', async () => {
    expect(modeOf(ns!.at('/sys/fs/bpf'))).toBe('0:0 1777');
    const e = run();
    const ready = await e.waitFor((l) => l.type === 'ready', 30_000);
    expect(ready).toMatchObject({ adopted: false, interfaces: [{ name: 'ntf0' }] });
    expect(modeOf(ns!.at(PIN_DIR))).toBe('0:0 0700');
    expect(sb!.probe(BOB, ['udp', '192.0.2.1', '7', '3', '400'])).toMatchObject({ sent: 3, received: 0 });
    e.signal('SIGTERM');
    expect(await exitWithin(e, 30_000)).toBe(0);
  });

  it('bob plants it (mkdir + chmod 2777) before the first run: run refuses, naming it, its owner and mode, and the fix; nothing is pinned, nothing enforced from it', async () => {
    asAttacker(ns!, `mkdir ${PIN_DIR} && chmod 2777 ${PIN_DIR}`);
    expect(modeOf(ns!.at(PIN_DIR))).toBe(`${BOB}:${BOB} 2777`);
    const e = run();
    expect(await exitWithin(e, 30_000)).toBe(2);
    expect(e.stderr).toContain(
      `refusing the pin directory ${PIN_DIR} (owner uid ${BOB}, group ${BOB}, mode 2777): it was not created by root or by this engine`,
    );
    expect(e.stderr).toContain(`rm -r -- ${PIN_DIR}`);
    expect(e.stderr).toContain('mount -t bpf -o mode=0700 bpf /sys/fs/bpf');
    // Without the fix every pin came out root:bob 0660 in it, openable by bob.
    expect(readdirSync(ns!.at(PIN_DIR))).toEqual([]);
    expect(e.lines.filter((l) => l.type === 'ready')).toEqual([]);
    // status and unload do not use it either.
    const st = cli(['status', '--pin-dir', PIN_DIR]);
    expect(st.code).toBe(2);
    expect(st.stderr).toContain(`refusing the pin directory ${PIN_DIR}`);
    const un = cli(['unload', '--pin-dir', PIN_DIR]);
    expect(un.code).toBe(2);
    expect(un.stderr).toContain(`refusing the pin directory ${PIN_DIR}`);
  });

  it('… also while bob holds an flock on it: refused as planted (exit 2), not "owned by another instance" (exit 3)', async () => {
    asAttacker(ns!, `mkdir ${PIN_DIR} && chmod 2777 ${PIN_DIR}`);
    const holderArgv = [
      ...ns!.enter(), 'setpriv', `--reuid=${BOB}`, `--regid=${BOB}`, '--clear-groups', '--',
      'flock', '--nonblock', PIN_DIR, 'sleep', '600',
    ]; // prettier-ignore
    // Its own process group, ended whole: flock's child (sleep) inherits the locked descriptor.
    const holder = spawn(holderArgv[0] as string, holderArgv.slice(1), { stdio: 'ignore', detached: true });
    try {
      // Bounded wait until the lock shows in /proc/locks.
      for (
        let i = 0;
        i < 50 && !execFileSync('cat', ['/proc/locks'], { encoding: 'utf8' }).includes(` ${holder.pid} `);
        i++
      )
        await new Promise((r) => setTimeout(r, 100));
      expect(execFileSync('cat', ['/proc/locks'], { encoding: 'utf8' })).toContain(` ${holder.pid} `);
      const e = run();
      expect(await exitWithin(e, 30_000)).toBe(2);
      expect(e.stderr).toContain(`refusing the pin directory ${PIN_DIR} (owner uid ${BOB}`);
      expect(e.stderr).not.toContain('owned by another instance');
    } finally {
      if (holder.pid !== undefined && holder.exitCode === null) {
        const gone = new Promise((r) => holder.once('exit', r));
        process.kill(-holder.pid, 'SIGKILL');
        await gone;
      }
    }
  });

  it('bob plants a symlink to a directory of his: refused (a symlink anywhere is)', async () => {
    asAttacker(ns!, `mkdir -m 0700 /sys/fs/bpf/bob && ln -s /sys/fs/bpf/bob ${PIN_DIR}`);
    const e = run();
    expect(await exitWithin(e, 30_000)).toBe(2);
    expect(e.stderr).toContain(`${PIN_DIR} is a symlink`);
    expect(readdirSync(ns!.at('/sys/fs/bpf/bob'))).toEqual([]);
  });

  it('bob plants a directory shaped like the shared one (setgid, group-writable, his group, no bits for others): refused', async () => {
    asAttacker(ns!, `mkdir ${PIN_DIR} && chmod 2770 ${PIN_DIR}`);
    const e = run();
    expect(await exitWithin(e, 30_000)).toBe(2);
    expect(e.stderr).toContain(
      `refusing the pin directory ${PIN_DIR} (owner uid ${BOB}, group ${BOB}, mode 2770)`,
    );
    expect(readdirSync(ns!.at(PIN_DIR))).toEqual([]);
  });

  /** Pins from a real run at /sys/fs/bpf/donor (maps of exactly the right shape), left pinned; in
   * a network namespace of its own, without ntf0, so nothing of it is attached in the sandbox. */
  const donor = async () => {
    const e = run('/sys/fs/bpf/donor', DONOR_NETNS);
    await e.waitFor((l) => l.type === 'ready', 30_000);
    e.signal('SIGTERM');
    expect(await exitWithin(e, 30_000)).toBe(0);
  };

  it('a map of the right shape pinned in a root directory under another owner (bob) is refused, naming the file, not adopted', async () => {
    await donor();
    // Root's directory, but bob's ntf_sets in it (created as root and given to bob: bpf() map
    // creation needs CAP_BPF here, unprivileged_bpf_disabled; the owner is what the engine sees).
    ns!.sh(['mkdir', '-m', '0700', PIN_DIR]);
    ns!.sh(['mv', '/sys/fs/bpf/donor/ntf_sets', `${PIN_DIR}/ntf_sets`]);
    ns!.sh(['chown', `${BOB}:${BOB}`, `${PIN_DIR}/ntf_sets`]);
    const e = run();
    expect(await exitWithin(e, 30_000)).toBe(2);
    expect(e.stderr).toContain(
      `refusing the pin ${PIN_DIR}/ntf_sets (owner uid ${BOB}, group ${BOB}, mode 0600): it is owned by another user`,
    );
    expect(readdirSync(ns!.at(PIN_DIR))).toEqual(['ntf_sets']);
    // status does not read it either.
    ns!.sh(['mv', '/sys/fs/bpf/donor/ntf_state', `${PIN_DIR}/ntf_state`]);
    const st = cli(['status', '--pin-dir', PIN_DIR]);
    expect(st.code).toBe(2);
    expect(st.stderr).toContain(`refusing the pin ${PIN_DIR}/ntf_sets`);
  });

  it('in a real shared directory (root:net-tc-filter 2770) a pin of another group is refused; the group’s own are used', async () => {
    await donor();
    ns!.sh(['mkdir', '-m', '0700', PIN_DIR]);
    ns!.sh(['chown', `0:${gid}`, PIN_DIR]);
    ns!.sh(['chmod', '2770', PIN_DIR]);
    ns!.sh(['mv', '/sys/fs/bpf/donor/ntf_flows', `${PIN_DIR}/ntf_flows`]);
    ns!.sh(['chown', `${BOB}:${BOB}`, `${PIN_DIR}/ntf_flows`]);
    ns!.sh(['chmod', '0660', `${PIN_DIR}/ntf_flows`]);
    const e = run();
    expect(await exitWithin(e, 30_000)).toBe(2);
    expect(e.stderr).toContain(
      `refusing the pin ${PIN_DIR}/ntf_flows (owner uid ${BOB}, group ${BOB}, mode 0660)`,
    );
    expect(e.stderr).toContain("its group is not the shared directory's");
    // Control: without the foreign pin the shared directory is used, and the pins get its group.
    ns!.sh(['rm', `${PIN_DIR}/ntf_flows`]);
    const ok = run();
    await ok.waitFor((l) => l.type === 'ready', 30_000);
    expect(modeOf(ns!.at(`${PIN_DIR}/ntf_sets`))).toBe(`0:${gid} 0660`);
    ok.signal('SIGTERM');
    expect(await exitWithin(ok, 30_000)).toBe(0);
  });
});

describe('the policy maps read back before every write', () => {
  let env: Env | undefined;
  afterEach(async () => {
    await cleanup(env);
    env = undefined;
  });

  it('entries written behind the engine’s back (bob added to alice’s set in both generations, his cached drop deleted) are reported and removed on SIGHUP; bob is dropped again', async () => {
    env = await setup();
    const file = env.config(POLICY);
    const e = await env.runFile(file);
    expect(udp(env, ALICE, '192.0.2.1')).toMatchObject({ sent: 3, received: 3 });
    expect(udp(env, BOB, '192.0.2.1')).toMatchObject({ sent: 3, received: 0 });

    // The attack, as whoever can open the pins would do it: copy alice's entries under bob's uid
    // into both generations, and delete bob's cached drop.
    const sets = BpfMap.fromPin(`${env.pinDir}/ntf_sets`);
    const flows = BpfMap.fromPin(`${env.pinDir}/ntf_flows`);
    try {
      let copied = 0;
      for (const [k, v] of sets.entries()) {
        const sk = decodeSetKey(k);
        if (sk.uid !== ALICE) continue;
        const bob = encodeSetKey(sk.gen, sk.setId, BOB, sk.cg);
        sets.update(bob, v);
        copied++;
      }
      expect(copied).toBe(2); // one per generation
      for (const k of flows.keys()) if (decodeFlowKey(k).uid === BOB) flows.delete(k);
    } finally {
      flows.close();
    }
    // It works: bob reaches the peer.
    expect(udp(env, BOB, '192.0.2.1')).toMatchObject({ sent: 3, received: 3 });

    const from = e.lines.length;
    e.signal('SIGHUP');
    const applied = await e.waitFor((l) => l.type === 'applied', 30_000, from);
    try {
      expect(sets.entries().filter(([k]) => decodeSetKey(k).uid === BOB)).toEqual([]);
    } finally {
      sets.close();
    }
    expect(udp(env, BOB, '192.0.2.1')).toMatchObject({ sent: 3, received: 0 });
    expect(udp(env, ALICE, '192.0.2.1')).toMatchObject({ sent: 3, received: 3 });
    const warnings = e.lines.slice(from).filter((l) => l.type === 'warning');
    expect(warnings).toHaveLength(1);
    const unexpected = warnings[0]?.unexpected as string[];
    expect(unexpected).toHaveLength(2);
    for (const u of unexpected)
      expect(u).toMatch(
        new RegExp(
          `^ntf_sets generation [01]: set \\d+ uid ${BOB} → endpoint \\d+ was added behind the engine's back; removed$`,
        ),
      );
    expect(e.lines.indexOf(warnings[0] as Record<string, unknown>)).toBeLessThan(e.lines.indexOf(applied));
    // The next reload finds nothing unexpected.
    const from2 = e.lines.length;
    e.signal('SIGHUP');
    await e.waitFor((l) => l.type === 'applied', 30_000, from2);
    expect(e.lines.slice(from2).filter((l) => l.type === 'warning')).toEqual([]);
  });
});

describe('the tries read back during a range change applied in place', () => {
  let env: Env | undefined;
  afterEach(async () => {
    await cleanup(env);
    env = undefined;
  });

  it('a guarded range deleted from the trie behind the engine’s back (bob then passes) is written again by the next range change applied in place, and reported', async () => {
    env = await setup();
    const policy = (other: string) => `endpoints:
  - peer:
      iface: [ntf0]
      range: [192.0.2.1/32, ${other}]
      allow: [alice]
interfaces:
  ntf0: { default: allow }
`;
    const file = env.config(policy('198.51.100.0/24'));
    const e = await env.runFile(file);
    expect(udp(env, BOB, '192.0.2.1')).toMatchObject({ sent: 3, received: 0 });
    const reload = async (other: string) => {
      writeFileSync(file, policy(other));
      const from = e.lines.length;
      e.signal('SIGHUP');
      const applied = await e.waitFor((l) => l.type === 'applied', 30_000, from);
      expect(applied.incremental).toBe(true);
      return e.lines.slice(from).filter((l) => l.type === 'warning');
    };
    // Two clean changes first: from the second on, the engine knows the order the kernel lists
    // the trie in and compares it as bytes (docs/datapath.md "Read back").
    expect(await reload('198.51.100.0/25')).toEqual([]);
    expect(await reload('198.51.100.128/25')).toEqual([]);

    // The attack: remove the peer's range from the trie (every interface, both generations), so
    // that the default lets bob through, and his cached drop.
    const lpm = BpfMap.fromPin(`${env.pinDir}/ntf_lpm4`);
    const flows = BpfMap.fromPin(`${env.pinDir}/ntf_flows`);
    let deleted = 0;
    try {
      for (const k of lpm.keys()) {
        const l = decodeLpmKey(k, 4);
        if (l.prefix === 32 && [...l.addr].join('.') === '192.0.2.1' && lpm.delete(k)) deleted++;
      }
      for (const k of flows.keys()) if (decodeFlowKey(k).uid === BOB) flows.delete(k);
    } finally {
      lpm.close();
      flows.close();
    }
    expect(deleted).toBeGreaterThanOrEqual(2); // ntf0's entry in each generation
    expect(udp(env, BOB, '192.0.2.1')).toMatchObject({ sent: 3, received: 3 });

    // A change of the other range only: applied in place, and the kernel, read back, differs
    // from the record the change starts from.
    const warnings = await reload('198.51.100.0/25');
    expect(udp(env, BOB, '192.0.2.1')).toMatchObject({ sent: 3, received: 0 });
    expect(udp(env, ALICE, '192.0.2.1')).toMatchObject({ sent: 3, received: 3 });
    expect(warnings).toHaveLength(1);
    const unexpected = warnings[0]?.unexpected as string[];
    expect(unexpected).toHaveLength(deleted);
    for (const u of unexpected)
      expect(u).toMatch(
        /^ntf_lpm4 generation [01]: ifindex \d+ 192\.0\.2\.1\/32 → set \d+ was deleted behind the engine's back; written again$/,
      );
    // The next changes in place find the kernel as recorded.
    expect(await reload('198.51.100.0/24')).toEqual([]);
    expect(await reload('198.51.100.0/25')).toEqual([]);
    expect(udp(env, BOB, '192.0.2.1')).toMatchObject({ sent: 3, received: 0 });
  });
});

describe('a lock holder’s command line is printed escaped', () => {
  let env: Env | undefined;
  let holder: ChildProcess | undefined;
  afterEach(async () => {
    // The whole group: flock's child (sh, then sleep) inherits the locked descriptor, and would
    // otherwise keep the lock — and the pins — for ten minutes.
    if (holder?.pid !== undefined && holder.exitCode === null) {
      const gone = new Promise((r) => holder?.once('exit', r));
      process.kill(-holder.pid, 'SIGKILL');
      await gone;
    }
    holder = undefined;
    await cleanup(env);
    env = undefined;
  });

  it('by run (exit 3) and by status (text and JSON): a newline and ESC [31m become \\n and \\x1b', async () => {
    env = await setup();
    const e = await env.run(POLICY);
    e.signal('SIGTERM');
    await e.exited;
    // A process holding the lock whose command line would start a new line and turn the
    // terminal red. flock(1) keeps its own arguments in its command line and holds the lock.
    const evil = 'x\n\x1b[31mFAKE: all clear\x1b[0m';
    holder = spawn('flock', ['--nonblock', env.pinDir, 'sh', '-c', 'sleep 600', evil], {
      stdio: 'ignore',
      detached: true, // its own process group, ended whole afterwards
    });
    const pid = holder.pid as number;
    for (
      let i = 0;
      i < 50 && !execFileSync('cat', ['/proc/locks'], { encoding: 'utf8' }).includes(` ${pid} `);
      i++
    )
      await new Promise((r) => setTimeout(r, 100));
    const shown = `flock --nonblock ${env.pinDir} sh -c sleep 600 x\\n\\x1b[31mFAKE: all clear\\x1b[0m`;

    const r = env.cli(['run', '--config', env.config(POLICY), '--pin-dir', env.pinDir]);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain(`is owned by another instance: pid ${pid} (${shown}); stop it first`);
    expect(r.stderr).not.toContain('\x1b');
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);

    const st = env.cli(['status', '--pin-dir', env.pinDir]);
    expect(st.code).toBe(0);
    expect(st.stdout).toContain(`owner:     pid ${pid} (${shown})`);
    expect(st.stdout).not.toContain('\x1b');
    const js = env.cli(['status', '--json', '--pin-dir', env.pinDir]);
    expect((JSON.parse(js.stdout) as { owner: { command: string } }).owner.command).toBe(shown);

    const un = env.cli(['unload', '--pin-dir', env.pinDir]);
    expect(un.code).toBe(3);
    expect(un.stderr).toContain(`(${shown})`);
    expect(un.stderr).not.toContain('\x1b');
  });
});
