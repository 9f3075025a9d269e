// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest), as root. The attacks behind the subordinate-range warning, performed:
// an unprivileged user in a user namespace mapped from their subordinate uid range fchown(2)s a
// socket to a uid of that range — the kernel then reports that uid as the socket's owner, but the
// filter decides by the uid recorded when the socket was created (ntf_sock_create) —, and then
// becomes that uid, which the warning is about.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ALICE, BOB, cleanup, cliPath, decisions, setup, stop, udp } from './harness.js';
import type { Env } from './harness.js';

/** bob's subordinate range, as `usermod --add-subuids` or useradd would allocate it. */
const SUB_START = 296608;
const SUB_COUNT = 65536;
/** The listed uid: a directory (SSSD-style) uid that falls inside bob's range. */
const LISTED = 296614;
/** Inside the namespace: 0 → bob, 1.. → the range, so LISTED is this inner uid. */
const INNER = 1 + (LISTED - SUB_START);

const POLICY = `endpoints:
  - imds:
      iface: [ntf0]
      range: [192.0.2.1/32]
      allow: ['${LISTED}']
interfaces:
  ntf0: { default: allow }
`;

/** Runs in the client namespace as bob inside a fresh user namespace, started by a shell that
 * waits until root has written its uid_map and gid_map (as newuidmap would from /etc/subuid):
 * exec'ed as uid 0 of the namespace, it holds the namespace's capabilities, as after
 * `podman unshare`. Sends from a socket as created, then from one fchown'ed to INNER. */
const CHILD = `
import { createSocket } from 'node:dgram';
import { fchownSync } from 'node:fs';
const [host, port, inner] = process.argv.slice(2);
const send = (chown, count) => new Promise((resolve) => {
  const sock = createSocket('udp4');
  let received = 0;
  sock.on('message', () => received++);
  sock.bind(0, () => {
    let chownError = null;
    if (chown) {
      try { fchownSync(sock._handle.fd, Number(inner), -1); } catch (e) { chownError = e.message; }
    }
    for (let i = 0; i < count; i++) sock.send(Buffer.alloc(16, 0x61), Number(port), host);
    setTimeout(() => { sock.close(); resolve({ sent: count, received, chownError }); }, 600);
  });
});
const uid = process.getuid();
const asCreated = await send(false, 2);
const borrowed = await send(true, 3);
// Becoming the uid (as the namespace's root may): its sockets are then that uid's from creation.
process.setgid(Number(inner));
process.setuid(Number(inner));
const became = await send(false, 2);
process.stdout.write(JSON.stringify({ uid, asCreated, borrowed, became }) + '\\n');
process.exit(0);
`;

interface Borrow {
  uid: number;
  asCreated: { sent: number; received: number; chownError: string | null };
  borrowed: { sent: number; received: number; chownError: string | null };
  became: { sent: number; received: number; chownError: string | null };
}

async function borrowUid(env: Env): Promise<Borrow> {
  const script = env.sb.writeFile('userns-child.mjs', CHILD);
  const argv = [
    'netns',
    'exec',
    env.sb.client,
    'setpriv',
    `--reuid=${BOB}`,
    `--regid=${BOB}`,
    '--clear-groups',
    'unshare',
    '--user',
    '--',
    'sh',
    '-c',
    'echo "{\\"pid\\":$$}"; read go; exec "$0" "$@"',
    process.execPath,
    '--no-deprecation',
    script,
    '192.0.2.1',
    '7',
    String(INNER),
  ];
  const p = spawn('ip', argv, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const timer = setTimeout(() => p.kill('SIGKILL'), 30_000);
  try {
    const lines = createInterface({ input: p.stdout })[Symbol.asyncIterator]();
    const next = async (): Promise<Record<string, unknown>> => {
      const r = await lines.next();
      if (r.done) throw new Error(`user-namespace child ended early: ${stderr}`);
      return JSON.parse(r.value) as Record<string, unknown>;
    };
    const { pid } = (await next()) as { pid: number };
    // What newuidmap/newgidmap write for a user with "bob:296608:65536" in /etc/subuid and
    // /etc/subgid; root may write any map, so the test needs no entry in the host's files.
    writeFileSync(`/proc/${pid}/uid_map`, `0 ${BOB} 1\n1 ${SUB_START} ${SUB_COUNT}\n`);
    writeFileSync(`/proc/${pid}/gid_map`, `0 ${BOB} 1\n1 ${SUB_START} ${SUB_COUNT}\n`);
    p.stdin.write('go\n');
    return (await next()) as unknown as Borrow;
  } finally {
    clearTimeout(timer);
    if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  }
}

let env: Env | undefined;
afterEach(async () => {
  vi.unstubAllEnvs();
  await cleanup(env);
  env = undefined;
});

describe('a listed uid borrowed through a user namespace', () => {
  it('bob takes a listed uid from his subordinate range: fchown on a socket no longer moves it (the uid recorded at creation counts), becoming that uid does; check and run warn', async () => {
    env = await setup();
    const subuid = env.sb.writeFile('subuid', `bob:${SUB_START}:${SUB_COUNT}\n`);
    vi.stubEnv('NET_TC_FILTER_SUBUID', subuid); // read by check and by run (env.cli, startEngine)
    const file = env.config(POLICY);
    const warning =
      `uid ${LISTED} listed in endpoint "imds" lies in bob's subordinate range ` +
      `${SUB_START}-${SUB_START + SUB_COUNT - 1} (${subuid}): bob can act as that uid inside a user namespace`;

    const check = spawnSync(process.execPath, [cliPath(), 'check', '--config', file], {
      encoding: 'utf8',
      env: {
        ...process.env,
        NET_TC_FILTER_PASSWD: join(env.sb.dir, 'passwd'),
        NET_TC_FILTER_GROUP: join(env.sb.dir, 'group'),
      },
      timeout: 30_000,
    });
    expect(check.status).toBe(0);
    expect(check.stderr).toContain(`${file}:5:15: warning: ${warning}`);

    const e = await env.runFile(file);
    expect(e.ofType('warning')).toContainEqual(
      expect.objectContaining({ message: warning, file, line: 5, col: 15 }),
    );

    expect(udp(env, BOB, '192.0.2.1')).toMatchObject({ sent: 3, received: 0 }); // bob himself: dropped
    const r = await borrowUid(env);
    expect(r.uid).toBe(0); // root of the namespace, i.e. bob outside
    expect(r.asCreated).toEqual({ sent: 2, received: 0, chownError: null }); // bob's socket
    // The kernel took the fchown (before the creation record, this socket counted as the listed
    // uid and got through), but the socket is still the one bob created.
    expect(r.borrowed).toEqual({ sent: 3, received: 0, chownError: null });
    // Really running as the listed uid (the warning's point): allowed.
    expect(r.became).toEqual({ sent: 2, received: 2, chownError: null });

    const lines = await stop(e);
    const to = (uid: number) =>
      decisions(lines, (d) => d.uid === uid && d.dst === '192.0.2.1' && d.proto === 'udp');
    expect(to(BOB).map((d) => d.verdict)).toEqual(Array<string>(8).fill('drop'));
    expect(to(LISTED)[0]).toMatchObject({ verdict: 'allow', endpoint: 'imds', user: String(LISTED) });
    const status = JSON.parse(env.cli(['status', '--json', '--flows', '--pin-dir', env.pinDir]).stdout) as {
      flows: Array<Record<string, unknown>>;
    };
    expect(status.flows.filter((f) => f.uid === LISTED && f.dst === '192.0.2.1')).toEqual([
      expect.objectContaining({ allowedPackets: 2, droppedPackets: 0, verdict: 'allow' }),
    ]);
  });
});

describe('the uid recorded at socket creation', () => {
  it('is the one the kernel gives the socket (the file-system uid), not the real uid', async () => {
    env = await setup();
    const e = await env.run(`endpoints:
  - imds:
      iface: [ntf0]
      range: [192.0.2.1/32]
      allow: [alice]
interfaces:
  ntf0: { default: allow }
`);
    // Real uid bob, effective (and so file-system) uid alice, as in a set-user-ID program of alice's.
    const run = (ruid: number, euid: number) =>
      JSON.parse(
        execFileSync(
          'ip',
          [
            'netns',
            'exec',
            env!.sb.client,
            'setpriv',
            `--ruid=${ruid}`,
            `--euid=${euid}`,
            `--rgid=${ruid}`,
            `--egid=${euid}`,
            '--clear-groups',
            process.execPath,
            join(env!.sb.dir, 'probe.mjs'),
            'udp',
            '192.0.2.1',
            '7',
            '3',
            '400',
          ],
          { encoding: 'utf8', timeout: 15_000 },
        )
          .trim()
          .split('\n')
          .pop() ?? '{}',
      ) as { sent: number; received: number };
    expect(run(BOB, ALICE)).toMatchObject({ sent: 3, received: 3 });
    expect(run(ALICE, BOB)).toMatchObject({ sent: 3, received: 0 });
    const lines = await stop(e);
    const sent = decisions(lines, (d) => d.dst === '192.0.2.1');
    expect(sent.filter((d) => d.verdict === 'allow').every((d) => d.uid === ALICE)).toBe(true);
    expect(sent.filter((d) => d.verdict === 'drop').every((d) => d.uid === BOB)).toBe(true);
    // Both recorded at creation (no uidRecorded:false on any line).
    expect(sent.filter((d) => 'uidRecorded' in d)).toEqual([]);
  });
});
