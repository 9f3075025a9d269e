// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest), as root. The desktop launcher for real: setpriv, real uids, real
// capability sets read back from /proc; the main process's clearing of its ambient set; and the
// pin directory shared through the group net-tc-filter, with the engine running as a user and as
// a root daemon restricted like the systemd unit.
//
// The launcher changes the system (a group, bpffs modes), so every run of it happens inside a
// private mount namespace (MountNs) that has its own bpffs at /sys/fs/bpf, mounted as systemd
// mounts it (mode 0700), and /etc as an overlay of the real one, where the test accounts are
// added and where groupadd works. The machine's /sys/fs/bpf, /etc/group and /etc/passwd are
// never touched: the last test checks that. Namespaces die with their last process, also when
// the test fails. Needs `npm run build` (the engine and CLI run from dist/).
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import {
  appendFileSync,
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineProcess, Sandbox } from '../../electron/demo/sandbox.js';
import { capNames, ENGINE_CAPS, parseCapField } from '../../electron/main/caps.js';
import { packageRoot } from '../../electron/engine/paths.js';
import { PIN_NAMES } from '../../electron/engine/engine.js';
import { ALICE, BOB, cliPath, exitWithin } from './harness.js';
import { MountNs } from './mountns.js';

const NAME = 'alice';
const NO_ACCOUNT_UID = 62999;

const GROUP = 'net-tc-filter';
const PIN_DIR = '/sys/fs/bpf/net-tc-filter';
const CAPS = '-all,+bpf,+net_admin,+perfmon';
const root = packageRoot();
const LAUNCHER = join(root, 'bin/net-tc-filter-gui');
const PINS = [...PIN_NAMES].sort();

let dir = '';
let probe = '';
let step = '';
let host: ReturnType<typeof machine> | undefined;

/** A private mount namespace (tests/kernel/mountns.ts): bpffs at /sys/fs/bpf with mode 0700 (as
 * systemd mounts it), /etc and /var/lib as writable overlays (the launcher prepares
 * /var/lib/net-tc-filter: in the namespace's /var/lib only), and the test accounts added to its
 * /etc. */
async function openNs(name: string): Promise<MountNs> {
  const ns = await MountNs.open(name, { dir, bpfMode: '0700', varLib: true });
  // The test accounts, in the namespace's /etc only.
  appendFileSync(
    ns.at('/etc/passwd'),
    `${NAME}:x:${ALICE}:${ALICE}::/nonexistent:/usr/sbin/nologin\nbob:x:${BOB}:${BOB}::/nonexistent:/usr/sbin/nologin\n`,
  );
  appendFileSync(ns.at('/etc/group'), `${NAME}:x:${ALICE}:\nbob:x:${BOB}:\n`);
  return ns;
}

/** The gid of the group net-tc-filter in `ns`'s /etc, if it has one. */
function groupGid(ns: MountNs): number | undefined {
  const r = spawnSync(ns.enter()[0] as string, [...ns.enter().slice(1), 'getent', 'group', GROUP], {
    encoding: 'utf8',
  });
  return r.status === 0 ? Number(r.stdout.split(':')[2]) : undefined;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the launcher inside `ns` (and a netns) as sudo would: root, with an explicit environment. */
function launch(ns: MountNs, env: Record<string, string>, args: string[] = [], netns?: string): Run {
  const argv = [...ns.enter(netns), LAUNCHER, ...args];
  // An explicit environment: nothing from the test runner's (it may itself run under sudo).
  const r = spawnSync(argv[0] as string, argv.slice(1), {
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', NET_TC_FILTER_GUI_EXEC: probe, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function idLine(status: string, field: 'Uid' | 'Gid' | 'Groups'): number[] {
  const m = new RegExp(`^${field}:\\s*(.*)$`, 'm').exec(status);
  return (m?.[1] ?? '').trim().split(/\s+/).filter(Boolean).map(Number);
}

/** The environment the stand-in printed (ENV lines). */
function envOf(out: string): Map<string, string> {
  return new Map(
    out
      .split('\n')
      .filter((l) => l.startsWith('ENV '))
      .map((l) => {
        const kv = l.slice(4);
        const i = kv.indexOf('=');
        return [kv.slice(0, i), kv.slice(i + 1)] as const;
      }),
  );
}

/** A shell command run inside `ns` as alice — her uid and group — without capabilities, as her
 * other programs run: without the group net-tc-filter, or (`withGroup`) with it, as the app. The
 * script gets `arg` as $0. */
function asAlice(ns: MountNs, withGroup: boolean, gid: number, script: string, arg: string): Run {
  const argv = [
    ...ns.enter(),
    'setpriv', `--reuid=${ALICE}`, `--regid=${ALICE}`, `--groups=${withGroup ? `${ALICE},${gid}` : ALICE}`,
    '--inh-caps=-all', '--', 'sh', '-c', script, arg,
  ]; // prettier-ignore
  const r = spawnSync(argv[0] as string, argv.slice(1), { encoding: 'utf8', timeout: 15_000, cwd: '/' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** What the engine step (run as the app would be) printed: its last stdout line. */
interface StepOut {
  ok: boolean;
  uid: number;
  groups: number[];
  capEff: string;
  adopted?: boolean;
  attached?: string[];
  status?: {
    loaded: boolean;
    owner?: number;
    attached: [string, boolean][];
    counters?: Record<string, string>;
  };
  error?: string;
}

function stepOut(r: Run): StepOut {
  const last = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(last) as StepOut;
  } catch {
    throw new Error(`no answer from the engine step (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
  }
}

/** What the tests must leave as they found it on the machine itself. */
function machine() {
  const st = (p: string) => {
    if (!existsSync(p)) return null;
    const s = statSync(p);
    return `${s.mode.toString(8)} ${s.uid}:${s.gid}`;
  };
  const ntf = spawnSync('getent', ['group', GROUP], { encoding: 'utf8' });
  return {
    bpffs: st('/sys/fs/bpf'),
    stateDir: st('/var/lib/net-tc-filter'),
    pinDir: st(PIN_DIR),
    group: readFileSync('/etc/group', 'utf8'),
    passwd: readFileSync('/etc/passwd', 'utf8'),
    ntfGroup: ntf.status === 0 ? ntf.stdout : null,
  };
}

function modeOf(p: string): { mode: number; uid: number; gid: number } {
  const st = lstatSync(p);
  return { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
}

beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error('launcher tests need root (setpriv, namespaces, mounts)');
  for (const f of ['engine/engine.js', 'engine/status.js', 'policy/load.js', 'cli/main.js']) {
    const p = join(root, 'dist/electron', f);
    if (!existsSync(p)) throw new Error(`${p} is missing: run \`npm run build\` first`);
  }
  // The accounts are added inside each namespace's /etc; the real one must not have them (the
  // overlay would hide ours behind them).
  for (const [db, key] of [
    ['passwd', ALICE],
    ['passwd', BOB],
    ['passwd', NAME],
    ['group', ALICE],
    ['group', BOB],
    ['passwd', NO_ACCOUNT_UID],
  ] as const) {
    if (spawnSync('getent', [db, String(key)]).status === 0)
      throw new Error(`${db} entry ${key} exists already; the test needs it free`);
  }
  host = machine();
  // Readable and executable by the test accounts.
  dir = mkdtempSync(join(tmpdir(), 'ntf-launcher-'));
  chmodSync(dir, 0o755);
  probe = join(dir, 'probe.sh');
  writeFileSync(
    probe,
    '#!/bin/sh\ngrep -E "^(Uid|Gid|Groups|Cap[A-Za-z]+):" /proc/self/status\necho "ARGS $*"\necho "PWD $(pwd)"\nenv | sed "s/^/ENV /"\n',
    { mode: 0o755 },
  );
  // The engine as the app's main process would run it: open (create or adopt), apply the policy
  // file, close keeping enforcement (or with --stop, "Stop filtering"); --observe reads the pinned
  // state as a read-only window does. Run by the launcher in place of Electron, with its arguments.
  const mod = (f: string) => JSON.stringify(pathToFileURL(join(root, 'dist/electron', f)).href);
  const stepJs = join(dir, 'step.mjs');
  writeFileSync(
    stepJs,
    `import { readFileSync } from 'node:fs';
const { Engine } = await import(${mod('engine/engine.js')});
const { readStatus } = await import(${mod('engine/status.js')});
const { hasErrors, loadPolicyFile } = await import(${mod('policy/load.js')});
const args = process.argv.slice(2);
const value = (flag) => { const i = args.indexOf(flag); return i >= 0 ? args[i + 1] : undefined; };
const status = readFileSync('/proc/self/status', 'utf8');
const field = (f) => (new RegExp('^' + f + ':\\\\s*(.*)$', 'm').exec(status)?.[1] ?? '').trim();
const out = {
  uid: Number(field('Uid').split(/\\s+/)[0]),
  groups: field('Groups').split(/\\s+/).filter(Boolean).map(Number),
  capEff: field('CapEff'),
};
const pinDir = value('--pin-dir') ?? ${JSON.stringify(PIN_DIR)};
try {
  if (args.includes('--observe')) {
    const s = readStatus(pinDir);
    out.status = { loaded: s.loaded, owner: s.owner?.pid, attached: s.interfaces.filter((i) => !i.guardOnly).map((i) => [i.name, i.attached]), counters: s.counters };
  } else {
    const engine = Engine.open({ pinDir });
    out.adopted = engine.adopted;
    try {
      const file = value('--policy-file');
      if (file) {
        const loaded = loadPolicyFile(file);
        if (!loaded.resolved || hasErrors(loaded.diagnostics)) throw new Error(JSON.stringify(loaded.diagnostics));
        out.attached = engine.apply(loaded.resolved).attached.map((a) => a.name);
      }
    } finally {
      engine.close({ unload: args.includes('--stop') });
    }
  }
  out.ok = true;
} catch (err) {
  out.ok = false;
  out.error = err.name + ': ' + err.message;
}
process.stdout.write(JSON.stringify(out) + '\\n');
`,
    { mode: 0o644 },
  );
  step = join(dir, 'step.sh');
  writeFileSync(step, `#!/bin/sh\nexec ${process.execPath} ${stepJs} "$@"\n`, { mode: 0o755 });
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('bin/net-tc-filter-gui', () => {
  let ns: MountNs | undefined;
  let gid = 0;
  const run = (env: Record<string, string>, args: string[] = []) => launch(ns as MountNs, env, args);

  beforeAll(async () => {
    ns = await openNs('basic');
    ns.sh(['groupadd', '--system', GROUP]); // as the deb's postinst does
    gid = groupGid(ns) ?? 0;
  });
  afterAll(async () => {
    await ns?.close();
  });

  it('runs the app as the sudo user with exactly CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON (effective, permitted, inheritable, ambient)', () => {
    const r = run(
      {
        SUDO_UID: String(ALICE),
        SUDO_GID: String(ALICE),
        DISPLAY: ':7',
        XAUTHORITY: '/tmp/xauth-test',
        // Root's environment must not reach the app.
        LD_PRELOAD: 'libdoesnotexist.so',
        NODE_OPTIONS: '--require /tmp/evil.js',
        ELECTRON_RUN_AS_NODE: '1',
      },
      ['--pin-dir', '/sys/fs/bpf/some where'],
    );
    expect(r.code, r.stderr).toBe(0);
    const out = r.stdout;
    expect(idLine(out, 'Uid')).toEqual([ALICE, ALICE, ALICE, ALICE]);
    expect(idLine(out, 'Gid')).toEqual([ALICE, ALICE, ALICE, ALICE]);
    // The account's groups plus the one that shares the pin directory (for this process only).
    expect(idLine(out, 'Groups').sort()).toEqual([gid, ALICE].sort());
    for (const f of ['CapEff', 'CapPrm', 'CapInh', 'CapAmb'] as const) {
      expect(capNames(parseCapField(out, f)), f).toEqual(['CAP_NET_ADMIN', 'CAP_PERFMON', 'CAP_BPF']);
      expect(parseCapField(out, f), f).toBe(ENGINE_CAPS);
    }
    expect(out).toContain('ARGS --pin-dir /sys/fs/bpf/some where');
    expect(out).toContain('PWD /');
    const env = envOf(out);
    expect(env.get('USER')).toBe(NAME);
    // The app's own HOME and XDG base directories, not the account's home (below).
    const udir = `/var/lib/net-tc-filter/users/${ALICE}`;
    expect(env.get('HOME')).toBe(`${udir}/home`);
    expect(env.get('XDG_CONFIG_HOME')).toBe(`${udir}/config`);
    expect(env.get('XDG_CACHE_HOME')).toBe(`${udir}/cache`);
    expect(env.get('XDG_DATA_HOME')).toBe(`${udir}/data`);
    expect(env.get('XDG_STATE_HOME')).toBe(`${udir}/state`);
    expect(env.get('NET_TC_FILTER_USER_DATA_DIR')).toBe(`${udir}/data/profile`);
    expect(env.get('DISPLAY')).toBe(':7');
    expect(env.get('XAUTHORITY')).toBe('/tmp/xauth-test');
    for (const bad of [
      'LD_PRELOAD',
      'NODE_OPTIONS',
      'ELECTRON_RUN_AS_NODE',
      'SUDO_UID',
      'NET_TC_FILTER_GUI_EXEC',
    ])
      expect(env.has(bad), bad).toBe(false);
    // It prepared the directory it was given.
    expect(modeOf(ns!.at('/sys/fs/bpf/some where'))).toEqual({ mode: 0o2770, uid: 0, gid });
  });

  it('takes the user from PKEXEC_UID under pkexec', () => {
    const r = run({ PKEXEC_UID: String(ALICE) });
    expect(r.code, r.stderr).toBe(0);
    expect(idLine(r.stdout, 'Uid')).toEqual([ALICE, ALICE, ALICE, ALICE]);
    expect(parseCapField(r.stdout, 'CapAmb')).toBe(ENGINE_CAPS);
  });

  it('refuses when it cannot tell who is asking', () => {
    const r = run({});
    expect(r.code).toBe(77);
    expect(r.stderr).toMatch(/neither PKEXEC_UID nor SUDO_UID/);
    expect(r.stdout).toBe('');
  });

  it('refuses a non-numeric uid and a uid without an account', () => {
    expect(run({ SUDO_UID: '0; id' }).code).toBe(77);
    const r = run({ SUDO_UID: String(NO_ACCOUNT_UID) });
    expect(r.code).toBe(77);
    expect(r.stderr).toMatch(/has no account/);
    expect(r.stdout).toBe('');
  });

  it('refuses root as the invoking user unless --allow-root, and then turns the sandbox off explicitly', () => {
    const refused = run({ SUDO_UID: '0' });
    expect(refused.code).toBe(77);
    expect(refused.stderr).toMatch(/invoking user is root/);
    expect(refused.stdout).toBe('');

    const allowed = run({ SUDO_UID: '0' }, ['--allow-root']);
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(allowed.stderr).toMatch(/WARNING: running as root/);
    expect(idLine(allowed.stdout, 'Uid')).toEqual([0, 0, 0, 0]);
    expect(allowed.stdout).toContain('ARGS --no-sandbox --allow-root');
  });

  it('refuses to run unless it is root itself', () => {
    const r = spawnSync(
      'setpriv',
      ['--reuid', String(ALICE), '--regid', String(ALICE), '--clear-groups', LAUNCHER],
      { env: { PATH: '/usr/bin:/bin', SUDO_UID: String(ALICE) }, encoding: 'utf8' },
    );
    expect(r.status).toBe(77);
    expect(r.stderr).toMatch(/pkexec or sudo/);
  });

  it('refuses a --pin-dir outside bpffs, at the root of a bpffs mount, or that does not resolve to itself, before changing anything', () => {
    const user = { SUDO_UID: String(ALICE) };
    const cases: [string[], RegExp][] = [
      [['--pin-dir', join(dir, 'pins')], /not inside a bpffs mount/],
      [['--pin-dir=/sys/fs/bpf'], /root of a bpffs mount/],
      [['--pin-dir', '/sys/fs/bpf/x/../../../../etc'], /give it as it resolves \(\/etc\)/],
      [['--pin-dir', '/sys/fs/bpf/x/'], /give it as it resolves/],
      [['--pin-dir', 'relative'], /absolute path/],
    ];
    for (const [args, msg] of cases) {
      const r = run(user, args);
      expect(r.code, args.join(' ')).toBe(64);
      expect(r.stderr).toMatch(msg);
      expect(r.stdout).toBe('');
    }
    expect(existsSync(join(dir, 'pins'))).toBe(false);
    expect(existsSync(ns!.at('/sys/fs/bpf/x'))).toBe(false);
  });

  it("points HOME and XDG_*_HOME at directories root:net-tc-filter that the user's other processes can neither write nor enter", () => {
    const r = run({ SUDO_UID: String(ALICE) });
    expect(r.code, r.stderr).toBe(0);
    const env = envOf(r.stdout);
    const udir = `/var/lib/net-tc-filter/users/${ALICE}`;
    expect(modeOf(ns!.at('/var/lib/net-tc-filter'))).toEqual({ mode: 0o711, uid: 0, gid: 0 });
    expect(modeOf(ns!.at('/var/lib/net-tc-filter/users'))).toEqual({ mode: 0o711, uid: 0, gid: 0 });
    expect(modeOf(ns!.at(udir))).toEqual({ mode: 0o2750, uid: 0, gid });
    const dirs = ['HOME', 'XDG_CONFIG_HOME', 'XDG_CACHE_HOME', 'XDG_DATA_HOME', 'XDG_STATE_HOME'].map(
      (k) => env.get(k) as string,
    );
    for (const d of dirs) {
      expect(d.startsWith(`${udir}/`), d).toBe(true);
      expect(modeOf(ns!.at(d)), d).toEqual({ mode: 0o2770, uid: 0, gid });
    }
    // The attack: another program of alice's (her uid, no net-tc-filter) plants a GTK module for
    // the privileged process to load (GTK reads gtk-modules from $XDG_CONFIG_HOME/gtk-3.0).
    const plant = `mkdir -p "$0/gtk-3.0" && printf '[Settings]\\ngtk-modules=/tmp/evil.so\\n' >"$0/gtk-3.0/settings.ini"`;
    for (const d of dirs) {
      const a = asAlice(ns!, false, gid, plant, d);
      expect(a.code, d).not.toBe(0);
      expect(a.stderr, d).toMatch(/Permission denied/);
      expect(existsSync(ns!.at(`${d}/gtk-3.0`)), d).toBe(false);
    }
    expect(asAlice(ns!, false, gid, 'ls "$0"', udir).stderr).toMatch(/Permission denied/);
    // Control: the app's process (with the group) can; what it makes there is alice's own …
    const config = env.get('XDG_CONFIG_HOME') as string;
    const made = asAlice(ns!, true, gid, plant, config);
    expect(made.code, made.stderr).toBe(0);
    const ini = `${config}/gtk-3.0/settings.ini`;
    expect(modeOf(ns!.at(ini)).uid).toBe(ALICE);
    // … and still out of reach of her other processes: they cannot get to it to change it.
    const edit = asAlice(ns!, false, gid, 'echo gtk-modules=/tmp/evil2.so >>"$0"', ini);
    expect(edit.code).not.toBe(0);
    expect(edit.stderr).toMatch(/Permission denied/);
    expect(readFileSync(ns!.at(ini), 'utf8')).not.toContain('evil2');
    rmSync(ns!.at(`${config}/gtk-3.0`), { recursive: true });
  });

  it("keeps the saved policy where the user's other processes cannot edit it (the sed attack)", () => {
    const r = run({ SUDO_UID: String(ALICE) });
    expect(r.code, r.stderr).toBe(0);
    const config = envOf(r.stdout).get('XDG_CONFIG_HOME') as string;
    // Where the backend keeps it ($XDG_CONFIG_HOME/net-tc-filter/policy.yml), written as the
    // engine worker writes it (directory 0700, file 0600), by the app's process.
    const file = `${config}/net-tc-filter/policy.yml`;
    const save = `mkdir -p -m 0700 "$(dirname "$0")" && umask 077 && printf 'endpoints:\\n  - imds:\\n      iface: [ntf0]\\n      range: [169.254.169.254/32]\\n      allow: [alice]\\n' >"$0"`;
    expect(asAlice(ns!, true, gid, save, file).code).toBe(0);
    expect(modeOf(ns!.at(file))).toMatchObject({ uid: ALICE, gid });
    // The attack of issue 7: another of alice's programs lets everyone in for the next start.
    const sed = `sed -i "s/allow: \\[alice\\]/allow: [alice, '*']/" "$0"`;
    const a = asAlice(ns!, false, gid, sed, file);
    expect(a.code).not.toBe(0);
    expect(a.stderr).toMatch(/Permission denied/);
    expect(readFileSync(ns!.at(file), 'utf8')).toContain('allow: [alice]\n');
    // Control: the same sed with the group works (so the refusal above is the directory's doing).
    expect(asAlice(ns!, true, gid, sed, file).code).toBe(0);
    expect(readFileSync(ns!.at(file), 'utf8')).toContain("allow: [alice, '*']");
    rmSync(ns!.at(`${config}/net-tc-filter`), { recursive: true });
  });

  it("refuses per-user directories that are not root's, or symlinks, saying which", () => {
    const udir = `/var/lib/net-tc-filter/users/${ALICE}`;
    ns!.sh(['chown', `${ALICE}:${ALICE}`, `${udir}/cache`]);
    ns!.sh(['chmod', '0777', `${udir}/cache`]);
    const r = run({ SUDO_UID: String(ALICE) });
    expect(r.code).toBe(78);
    expect(r.stderr).toMatch(/cache belongs to uid 62001, not root/);
    ns!.sh(['rm', '-r', `${udir}/cache`]);
    ns!.sh(['ln', '-s', '/tmp', `${udir}/cache`]);
    const l = run({ SUDO_UID: String(ALICE) });
    expect(l.code).toBe(78);
    expect(l.stderr).toMatch(/cache exists and is not a directory/);
    ns!.sh(['rm', `${udir}/cache`]);
    expect(run({ SUDO_UID: String(ALICE) }).code).toBe(0);
    expect(modeOf(ns!.at(`${udir}/cache`))).toEqual({ mode: 0o2770, uid: 0, gid });
  });

  it('does not change a bpffs directory whose group someone else set: it says why and stops', () => {
    // A second bpffs in the namespace whose root belongs to group bob, mode 0750.
    const mnt = join(dir, 'bpf2');
    mkdirSync(mnt);
    ns!.sh(['mount', '-t', 'bpf', '-o', 'mode=0750', 'bpf', mnt]);
    ns!.sh(['chgrp', String(BOB), mnt]);
    const before = modeOf(ns!.at(mnt));
    const r = run({ SUDO_UID: String(ALICE) }, ['--pin-dir', `${mnt}/pins`]);
    expect(r.code).toBe(78);
    expect(r.stderr).toMatch(/group bob, mode 1750\) does not let group net-tc-filter through/);
    expect(r.stdout).toBe('');
    expect(modeOf(ns!.at(mnt))).toEqual(before);
    expect(existsSync(ns!.at(`${mnt}/pins`))).toBe(false);
  });

  it("refuses a pin directory another user planted where bpffs is 1777, and a pin of theirs in alice's own directory; it takes over neither", () => {
    // A bpffs with the kernel's default mode, as on a machine that mounts it by hand.
    const mnt = join(dir, 'bpf1777');
    mkdirSync(mnt);
    ns!.sh(['mount', '-t', 'bpf', 'bpf', mnt]);
    expect(modeOf(ns!.at(mnt)).mode).toBe(0o1777);
    // The attack: bob makes the directory before the first run and opens it to everyone.
    const planted = `${mnt}/net-tc-filter`;
    ns!.sh([
      'setpriv',
      `--reuid=${BOB}`,
      `--regid=${BOB}`,
      '--clear-groups',
      'sh',
      '-c',
      `mkdir "$0" && chmod 2777 "$0"`,
      planted,
    ]);
    const before = modeOf(ns!.at(planted));
    expect(before).toEqual({ mode: 0o2777, uid: BOB, gid: BOB });
    const r = run({ SUDO_UID: String(ALICE) }, ['--pin-dir', planted]);
    expect(r.code).toBe(78);
    expect(r.stderr).toMatch(/belongs to uid 62002 .*another user planted it.*rm -r -- .*mode=0700/);
    expect(r.stdout).toBe('');
    expect(modeOf(ns!.at(planted))).toEqual(before); // not taken over: still bob's

    // alice's own directory (left by the app without the launcher), open to everyone, where bob
    // put an entry of his (a symlink; pinning needs CAP_BPF, but a pin of his is refused alike):
    // the directory is alice's, but what is in it is not trusted.
    const mine = `${mnt}/alice-pins`;
    ns!.sh([
      'setpriv',
      `--reuid=${ALICE}`,
      `--regid=${ALICE}`,
      '--clear-groups',
      'sh',
      '-c',
      `mkdir "$0" && chmod 0777 "$0"`,
      mine,
    ]);
    ns!.sh([
      'setpriv',
      `--reuid=${BOB}`,
      `--regid=${BOB}`,
      '--clear-groups',
      'ln',
      '-s',
      '/tmp',
      `${mine}/ntf_sets`,
    ]);
    const r2 = run({ SUDO_UID: String(ALICE) }, ['--pin-dir', mine]);
    expect(r2.code).toBe(78);
    expect(r2.stderr).toMatch(/ntf_sets belongs to uid 62002, neither root nor you: not trusting/);
    expect(modeOf(ns!.at(mine)).uid).toBe(ALICE); // not made root:net-tc-filter
    expect(lstatSync(ns!.at(`${mine}/ntf_sets`)).uid).toBe(BOB);
  });
});

describe('bin/net-tc-filter-gui when the group is missing', () => {
  let ns: MountNs | undefined;
  afterAll(async () => {
    await ns?.close();
  });

  it('creates it as a system group (groupadd --system) and gives it to the app', async () => {
    ns = await openNs('nogroup');
    // The machine may have it (the deb installed here): remove it from the namespace's /etc only.
    if (groupGid(ns) !== undefined) ns.sh(['groupdel', GROUP]);
    expect(groupGid(ns)).toBeUndefined();
    const r = launch(ns, { SUDO_UID: String(ALICE) });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`created the system group ${GROUP}`);
    const gid = groupGid(ns);
    expect(gid).toBeDefined();
    expect(gid).toBeLessThan(1000); // the system range (SYS_GID_MAX)
    expect(idLine(r.stdout, 'Groups')).toContain(gid);
    expect(modeOf(ns.at(PIN_DIR))).toEqual({ mode: 0o2770, uid: 0, gid });
  });
});

describe('the pin directory shared through the group, on a bpffs mounted like systemd (0700)', () => {
  let ns: MountNs | undefined;
  let sb: Sandbox | undefined;
  let gid = 0;
  let policy = '';
  const daemons: EngineProcess[] = [];

  /** The launcher started by alice through sudo, running the engine step in the client netns. */
  const gui = (args: string[] = []) =>
    launch(ns as MountNs, { SUDO_UID: String(ALICE), NET_TC_FILTER_GUI_EXEC: step }, args, sb?.client);

  /** The engine step as alice with the capabilities, but not through the launcher. */
  const direct = (groups: string, args: string[] = []) => {
    const argv = [
      ...(ns as MountNs).enter(sb?.client),
      'setpriv', `--reuid=${ALICE}`, `--regid=${ALICE}`, groups, `--inh-caps=${CAPS}`, `--ambient-caps=${CAPS}`,
      '--', step, ...args,
    ]; // prettier-ignore
    const r = spawnSync(argv[0] as string, argv.slice(1), { encoding: 'utf8', timeout: 60_000, cwd: '/' });
    return stepOut({ code: r.status, stdout: r.stdout, stderr: r.stderr });
  };

  /** `net-tc-filter run` as the systemd unit runs it: uid 0, only the three capabilities (bounding
   * set too), no new privileges, and SupplementaryGroups=net-tc-filter (its drop-in
   * desktop-app.conf) unless `withGroup` is false. */
  const unitLike = (withGroup: boolean, pinDir = PIN_DIR) => {
    const argv = [
      ...(ns as MountNs).enter(sb?.client),
      'setpriv', '--reuid=0', '--regid=0', withGroup ? `--groups=${gid}` : '--clear-groups',
      `--bounding-set=${CAPS}`, `--inh-caps=${CAPS}`, `--ambient-caps=${CAPS}`, '--no-new-privs',
      '--', process.execPath, cliPath(), 'run', '--config', policy, '--log', 'json', '--pin-dir', pinDir,
      '--stats-interval', '3600',
    ]; // prettier-ignore
    const e = new EngineProcess(
      spawn(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] }),
    );
    daemons.push(e);
    return e;
  };

  const udp = (uid: number, host: string) =>
    (sb as Sandbox).probe(uid, ['udp', host, '7', '3', '400']) as { sent: number; received: number };
  /** The policy: only alice reaches 192.0.2.1; everything else on ntf0 is allowed. */
  const expectEnforced = () => {
    expect(udp(ALICE, '192.0.2.1')).toMatchObject({ sent: 3, received: 3 });
    expect(udp(BOB, '192.0.2.1')).toMatchObject({ sent: 3, received: 0 });
    expect(udp(BOB, '198.51.100.1')).toMatchObject({ sent: 3, received: 3 });
  };
  const pins = (pinDir = PIN_DIR) => readdirSync(ns!.at(pinDir)).sort();

  beforeAll(async () => {
    sb = Sandbox.create(`ntfl${process.pid % 100000}`, 1);
    await sb.startPeer();
    ns = await openNs('shared');
    ns.sh(['groupadd', '--system', GROUP]); // as the deb's postinst does
    gid = groupGid(ns) ?? 0;
    policy = sb.writeFile(
      'policy.yml',
      `endpoints:\n  - peer:\n      iface: [ntf0]\n      range: [192.0.2.1/32]\n      allow: [${NAME}]\ninterfaces:\n  ntf0: { default: allow }\n`,
    );
    chmodSync(policy, 0o644);
  });

  afterAll(async () => {
    for (const e of daemons) {
      if (e.proc.exitCode === null && e.proc.signalCode === null) {
        e.signal('SIGKILL');
        await e.exited;
      }
    }
    // Filters and pins go with the network and mount namespaces; unload first all the same.
    if (ns && sb) {
      for (const d of [PIN_DIR, '/sys/fs/bpf/legacy']) {
        const argv = [...ns.enter(sb.client), process.execPath, cliPath(), 'unload', '--pin-dir', d];
        spawnSync(argv[0] as string, argv.slice(1), { timeout: 30_000 });
      }
    }
    sb?.destroy();
    await ns?.close();
  });

  it('control: the bpffs is root-only, so without the launcher alice cannot make the pin directory, capabilities or not', () => {
    expect(modeOf(ns!.at('/sys/fs/bpf'))).toEqual({ mode: 0o1700, uid: 0, gid: 0 });
    const out = direct('--init-groups', ['--policy-file', policy]);
    expect(out.ok).toBe(false);
    expect(BigInt(`0x${out.capEff}`)).toBe(ENGINE_CAPS);
    expect(out.error).toMatch(/EACCES/);
    expect(existsSync(ns!.at(PIN_DIR))).toBe(false);
    expect(udp(BOB, '192.0.2.1')).toMatchObject({ received: 3 });
  });

  it('through the launcher, alice opens the engine, pins, applies a policy that enforces, and leaves it enforcing', () => {
    const r = gui(['--policy-file', policy]);
    expect(r.code, r.stderr).toBe(0);
    const out = stepOut(r);
    expect(out, r.stderr).toMatchObject({ ok: true, uid: ALICE, adopted: false, attached: ['ntf0'] });
    expect(out.groups).toContain(gid);
    // What it changed, and said it changed.
    expect(r.stderr).toMatch(/\/sys\/fs\/bpf: group net-tc-filter may now pass \(was root:root 1700/);
    expect(r.stderr).toMatch(/\/sys\/fs\/bpf\/net-tc-filter: now root:net-tc-filter 2770/);
    // The process has exited; the filter stays.
    expectEnforced();
  });

  it('made /sys/fs/bpf passable (not listable) for the group, the pin directory 2770, and every pin 0660 in the group', () => {
    expect(modeOf(ns!.at('/sys/fs/bpf'))).toEqual({ mode: 0o1710, uid: 0, gid });
    expect(modeOf(ns!.at(PIN_DIR))).toEqual({ mode: 0o2770, uid: 0, gid });
    expect(pins()).toEqual(PINS);
    // Created by alice; the group from the setgid directory (the kernel), 0660 from the engine.
    for (const p of pins())
      expect(modeOf(ns!.at(`${PIN_DIR}/${p}`)), p).toEqual({ mode: 0o660, uid: ALICE, gid });
  });

  it('control: the group is what lets alice in — with her own groups only, she still cannot open the pins', () => {
    const out = direct('--init-groups');
    expect(out.ok).toBe(false);
    expect(out.error).toMatch(/EACCES/);
    expectEnforced();
  });

  it('a root daemon restricted like the unit cannot open her pins without SupplementaryGroups=net-tc-filter', async () => {
    const e = unitLike(false);
    expect(await exitWithin(e, 30_000)).toBe(2);
    expect(e.stderr).toMatch(/EACCES/);
    expectEnforced();
  });

  it('with the group it adopts them, and alice (through the launcher) observes it read-only meanwhile', async () => {
    const e = unitLike(true);
    const ready = await e.waitFor((l) => l.type === 'ready', 30_000);
    expect(ready).toMatchObject({ adopted: true, interfaces: [{ name: 'ntf0' }] });
    const status = readFileSync(`/proc/${e.proc.pid}/status`, 'utf8');
    expect(idLine(status, 'Uid')).toEqual([0, 0, 0, 0]);
    expect(idLine(status, 'Groups')).toEqual([gid]);
    expect(parseCapField(status, 'CapEff')).toBe(ENGINE_CAPS);
    expect(parseCapField(status, 'CapBnd')).toBe(ENGINE_CAPS);
    expectEnforced();

    // The daemon holds the lock: alice's window would run read-only and show its counters.
    const observed = stepOut(gui(['--observe']));
    expect(observed).toMatchObject({
      ok: true,
      status: { loaded: true, owner: e.proc.pid, attached: [['ntf0', true]] },
    });
    expect(Number(observed.status?.counters?.dropped_packets)).toBeGreaterThan(0);
    const locked = stepOut(gui());
    expect(locked.ok).toBe(false);
    expect(locked.error).toMatch(/EngineLockedError: .* is owned by another instance: pid \d+/);

    e.signal('SIGTERM');
    expect(await exitWithin(e, 30_000)).toBe(0);
    expectEnforced();
    // The daemon pinned its program again: root's, in the group, 0660.
    expect(modeOf(ns!.at(`${PIN_DIR}/ntf_egress`))).toEqual({ mode: 0o660, uid: 0, gid });
  });

  it('after the daemon, alice adopts again through the launcher', () => {
    const r = gui(['--policy-file', policy]);
    expect(r.code, r.stderr).toBe(0);
    expect(stepOut(r)).toMatchObject({ ok: true, uid: ALICE, adopted: true, attached: ['ntf0'] });
    expect(r.stderr).toBe(''); // nothing left to prepare
    expectEnforced();
    expect(modeOf(ns!.at(`${PIN_DIR}/ntf_egress`))).toEqual({ mode: 0o660, uid: ALICE, gid });
  });

  it('"Stop filtering" by alice removes the filter and the pins, and keeps the prepared directory', () => {
    const r = gui(['--stop']);
    expect(stepOut(r), r.stderr).toMatchObject({ ok: true, adopted: true });
    expect(pins()).toEqual([]);
    expect(modeOf(ns!.at(PIN_DIR))).toEqual({ mode: 0o2770, uid: 0, gid });
    expect(udp(BOB, '192.0.2.1')).toMatchObject({ received: 3 });
  });

  it('pins an earlier root run left unshared (0600, root:root) are given to the group, and alice adopts them', async () => {
    // A full-root daemon as before this change: it makes its pin directory 0700 and pins 0600.
    const legacy = '/sys/fs/bpf/legacy';
    const argv = [
      ...ns!.enter(sb!.client),
      process.execPath,
      cliPath(),
      'run',
      '--config',
      policy,
      '--log',
      'json',
    ];
    const e = new EngineProcess(
      spawn(argv[0] as string, [...argv.slice(1), '--pin-dir', legacy, '--stats-interval', '3600'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    daemons.push(e);
    await e.waitFor((l) => l.type === 'ready', 30_000);
    e.signal('SIGTERM');
    expect(await exitWithin(e, 30_000)).toBe(0);
    expect(modeOf(ns!.at(legacy))).toEqual({ mode: 0o700, uid: 0, gid: 0 });
    for (const p of pins(legacy))
      expect(modeOf(ns!.at(`${legacy}/${p}`)), p).toEqual({ mode: 0o600, uid: 0, gid: 0 });
    expectEnforced();
    // A symlink among the pins that need fixing up: the fix-up must not follow it to its target.
    const target = join(dir, 'not-a-pin');
    writeFileSync(target, 'x', { mode: 0o600 });
    ns!.sh(['ln', '-s', target, `${legacy}/zz-link`]);

    const r = gui(['--pin-dir', legacy, '--policy-file', policy]);
    expect(r.code, r.stderr).toBe(0);
    expect(modeOf(target)).toEqual({ mode: 0o600, uid: 0, gid: 0 });
    ns!.sh(['rm', `${legacy}/zz-link`]);
    expect(stepOut(r)).toMatchObject({ ok: true, uid: ALICE, adopted: true, attached: ['ntf0'] });
    expect(r.stderr).toMatch(/legacy: pins made group net-tc-filter, mode 0660/);
    expect(modeOf(ns!.at(legacy))).toEqual({ mode: 0o2770, uid: 0, gid });
    expect(pins(legacy)).toEqual(PINS);
    for (const p of pins(legacy)) {
      // Maps adopted from root keep their owner; the program alice pinned again is hers.
      expect(modeOf(ns!.at(`${legacy}/${p}`)), p).toEqual({
        mode: 0o660,
        uid: p === 'ntf_egress' ? ALICE : 0,
        gid,
      });
    }
    expectEnforced();
    expect(stepOut(gui(['--pin-dir', legacy, '--stop']))).toMatchObject({ ok: true });
    expect(pins(legacy)).toEqual([]);
  });
});

describe('clearAmbientCaps (native-bridge)', () => {
  it('leaves programs started afterwards without capabilities, on the main thread and in threads created afterwards', () => {
    const bridge = join(root, 'dist/native-bridge/index.js');
    if (!existsSync(bridge)) throw new Error(`${bridge} is missing: run \`npm run build:ts\` first`);
    const script = join(dir, 'clear.mjs');
    writeFileSync(
      script,
      `import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
const { clearAmbientCaps } = await import(${JSON.stringify(pathToFileURL(bridge).href)});
const child = () => execFileSync('cat', ['/proc/self/status'], { encoding: 'utf8' });
const workerCode = \`const { execFileSync } = require('node:child_process');
const { parentPort } = require('node:worker_threads');
parentPort.on('message', () => parentPort.postMessage(execFileSync('cat', ['/proc/self/status'], { encoding: 'utf8' })));\`;
const ask = (w) => new Promise((resolve) => { w.once('message', resolve); w.postMessage('go'); });
// A thread that exists before the clearing (like Chromium's and libuv's own threads).
const early = new Worker(workerCode, { eval: true });
const out = { before: readFileSync('/proc/thread-self/status', 'utf8'), childBefore: child() };
clearAmbientCaps();
out.after = readFileSync('/proc/thread-self/status', 'utf8');
out.childAfter = child();
const late = new Worker(workerCode, { eval: true });
out.lateWorkerChild = await ask(late);
out.earlyWorkerChild = await ask(early);
await late.terminate();
await early.terminate();
process.stdout.write(JSON.stringify(out));
`,
      { mode: 0o644 },
    );
    const r = spawnSync(
      'setpriv',
      [
        `--reuid=${ALICE}`, `--regid=${ALICE}`, '--clear-groups', `--inh-caps=${CAPS}`, `--ambient-caps=${CAPS}`,
        '--', process.execPath, script,
      ], // prettier-ignore
      { env: { PATH: '/usr/bin:/bin', HOME: '/nonexistent' }, encoding: 'utf8', timeout: 30_000, cwd: '/' },
    );
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, string>;
    const cap = (k: string, f: 'CapAmb' | 'CapEff') => parseCapField(out[k] ?? '', f);
    // Started with the three as ambient: a child inherits them as effective (the control).
    expect(cap('before', 'CapAmb')).toBe(ENGINE_CAPS);
    expect(cap('childBefore', 'CapEff')).toBe(ENGINE_CAPS);
    // After clearing: this thread keeps its effective set (the engine needs it) …
    expect(cap('after', 'CapAmb')).toBe(0n);
    expect(cap('after', 'CapEff')).toBe(ENGINE_CAPS);
    // … and what it starts from now on gets nothing, also from a worker created afterwards
    // (the backend's engine worker, which runs ip and getent).
    expect(cap('childAfter', 'CapAmb')).toBe(0n);
    expect(cap('childAfter', 'CapEff')).toBe(0n);
    expect(cap('lateWorkerChild', 'CapAmb')).toBe(0n);
    expect(cap('lateWorkerChild', 'CapEff')).toBe(0n);
    // The documented limit: capabilities are per thread, so a thread that existed before keeps
    // its ambient set and its children get the capabilities (docs/desktop.md).
    expect(cap('earlyWorkerChild', 'CapEff')).toBe(ENGINE_CAPS);
  });
});

describe('the privileged process is undumpable (PR_SET_DUMPABLE 0)', () => {
  let ns: MountNs | undefined;
  let gid = 0;
  let target = '';
  let attacker = '';
  const started: ChildProcess[] = [];

  beforeAll(async () => {
    const bridge = join(root, 'dist/native-bridge/index.js');
    if (!existsSync(bridge)) throw new Error(`${bridge} is missing: run \`npm run build:ts\` first`);
    ns = await openNs('dump');
    ns.sh(['groupadd', '--system', GROUP]);
    gid = groupGid(ns) ?? 0;
    // What main.ts does first, then waits (until its stdin closes) with a secret in its memory and
    // environment.
    const js = join(dir, 'undumpable.mjs');
    writeFileSync(
      js,
      `const { getDumpable, setUndumpable } = await import(${JSON.stringify(pathToFileURL(bridge).href)});
const before = getDumpable();
if (process.argv.includes('--undumpable')) setUndumpable();
globalThis.secret = 'ntf-secret-' + process.pid;
process.stdout.write(JSON.stringify({ pid: process.pid, before, after: getDumpable() }) + '\\n');
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
setTimeout(() => process.exit(3), 60_000);
`,
      { mode: 0o644 },
    );
    target = join(dir, 'undumpable.sh');
    writeFileSync(target, `#!/bin/sh\nexec ${process.execPath} ${js} "$@"\n`, { mode: 0o755 });
    // The other process of the same user: reads /proc/<pid>/environ and /proc/<pid>/mem, and
    // PTRACE_ATTACHes; prints what each gave (ok or the errno's name).
    attacker = join(dir, 'attack.py');
    writeFileSync(
      attacker,
      `import ctypes, errno, json, os, sys
pid = int(sys.argv[1])
out = {}
def attempt(name, fn):
    try:
        fn()
        out[name] = 'ok'
    except OSError as e:
        out[name] = errno.errorcode.get(e.errno, str(e.errno))
def environ():
    with open('/proc/%d/environ' % pid, 'rb') as f:
        f.read(64)
def mem():
    fd = os.open('/proc/%d/mem' % pid, os.O_RDONLY)
    try:
        with open('/proc/%d/maps' % pid) as m:
            start = int(m.readline().split('-')[0], 16)
        os.pread(fd, 16, start)
    finally:
        os.close(fd)
def ptrace():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    if libc.ptrace(16, pid, None, None) != 0:  # PTRACE_ATTACH
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    os.waitpid(pid, 0)
    libc.ptrace(17, pid, None, None)  # PTRACE_DETACH
attempt('environ', environ)
attempt('mem', mem)
attempt('ptrace', ptrace)
print(json.dumps(out))
`,
      { mode: 0o644 },
    );
  });

  afterAll(async () => {
    for (const p of started) {
      p.stdin?.end();
      if (p.exitCode === null && p.signalCode === null) {
        const t = setTimeout(() => p.kill('SIGKILL'), 5_000);
        await new Promise((r) => p.once('exit', r));
        clearTimeout(t);
      }
    }
    await ns?.close();
  });

  /** The stand-in started through the real launcher by alice (sudo), running until stdin closes. */
  async function launchTarget(args: string[]): Promise<{ pid: number; before: number; after: number }> {
    const argv = [...ns!.enter(), LAUNCHER, ...args];
    const p = spawn(argv[0] as string, argv.slice(1), {
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', NET_TC_FILTER_GUI_EXEC: target, SUDO_UID: String(ALICE) },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    started.push(p);
    let err = '';
    p.stderr?.on('data', (c: Buffer) => (err += c.toString()));
    const line = await new Promise<string>((resolve, reject) => {
      const t = setTimeout(
        () => reject(new Error(`no answer from the stand-in within 20 s: ${err}`)),
        20_000,
      );
      p.stdout?.once('data', (c: Buffer) => {
        clearTimeout(t);
        resolve(c.toString());
      });
      p.once('exit', (code) => {
        clearTimeout(t);
        reject(new Error(`the launcher exited with ${code}: ${err}`));
      });
    });
    const out = JSON.parse(line) as { pid: number; before: number; after: number };
    const status = readFileSync(`/proc/${out.pid}/status`, 'utf8');
    expect(idLine(status, 'Uid')).toEqual([ALICE, ALICE, ALICE, ALICE]);
    expect(parseCapField(status, 'CapPrm')).toBe(ENGINE_CAPS);
    return out;
  }

  /** The attack from another process of alice's: no group; no capabilities, or (`caps`) the same
   * three the app has (as Chromium's helpers started with them, or another program the launcher
   * ran, have). */
  function attack(pid: number, caps: boolean): Record<'environ' | 'mem' | 'ptrace', string> {
    const r = spawnSync(
      'setpriv',
      [
        `--reuid=${ALICE}`, `--regid=${ALICE}`, `--groups=${ALICE}`,
        ...(caps ? [`--inh-caps=${CAPS}`, `--ambient-caps=${CAPS}`] : ['--inh-caps=-all']),
        '--', '/usr/bin/python3', attacker, String(pid),
      ], // prettier-ignore
      { encoding: 'utf8', timeout: 15_000, cwd: '/', env: { PATH: '/usr/bin:/bin' } },
    );
    expect(r.status, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as Record<'environ' | 'mem' | 'ptrace', string>;
  }

  it('control: launched with the ambient capabilities it is still dumpable; only the capability check keeps a process without them out, one with the same capabilities reads its memory and traces it', async () => {
    const t = await launchTarget([]);
    // Measured on this kernel: execve with ambient capabilities leaves the process dumpable (1).
    expect(t).toMatchObject({ before: 1, after: 1 });
    expect(statSync(`/proc/${t.pid}/environ`).uid).toBe(ALICE);
    // ptrace_may_access: a tracer must hold every capability in the target's permitted set.
    expect(attack(t.pid, false)).toEqual({ environ: 'EACCES', mem: 'EACCES', ptrace: 'EPERM' });
    // … which a same-user process with the same three has: then nothing but dumpable stands.
    expect(attack(t.pid, true)).toEqual({ environ: 'ok', mem: 'ok', ptrace: 'ok' });
  });

  it('after setUndumpable() (what main.ts does first) no process of the same user reads its memory or environment or traces it, capabilities or not', async () => {
    const t = await launchTarget(['--undumpable']);
    expect(t).toMatchObject({ before: 1, after: 0 });
    // The files in its /proc directory now belong to root (the directory itself stays alice's).
    expect(statSync(`/proc/${t.pid}/environ`).uid).toBe(0);
    expect(attack(t.pid, false)).toEqual({ environ: 'EACCES', mem: 'EACCES', ptrace: 'EPERM' });
    expect(attack(t.pid, true)).toEqual({ environ: 'EACCES', mem: 'EACCES', ptrace: 'EPERM' });
    // The stand-in got the group; the attacker did not need it for the control above.
    expect(idLine(readFileSync(`/proc/${t.pid}/status`, 'utf8'), 'Groups')).toContain(gid);
  });
});

describe('the machine', () => {
  it('kept its own /sys/fs/bpf, pin directory, /etc/group, /etc/passwd and group net-tc-filter (or their absence): the launcher ran only in namespaces', () => {
    expect(host).toBeDefined();
    expect(machine()).toEqual(host);
  });
});
