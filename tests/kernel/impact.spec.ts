// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest), as root. `check --config OTHER --impact` against the flows a real
// `run` recorded from real uids: exactly the flows whose verdict OTHER changes, and none other.
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { stateDirFor } from '../../electron/engine/statedir.js';
import { ALICE, BOB, CAROL, cleanup, setup, udp } from './harness.js';
import type { Env } from './harness.js';

let env: Env | undefined;
let server: ChildProcess | undefined;
afterEach(async () => {
  if (server?.pid !== undefined && server.exitCode === null) {
    server.kill('SIGKILL');
    await new Promise((r) => server?.once('close', r));
  }
  server = undefined;
  const pinDir = env?.pinDir;
  await cleanup(env);
  env = undefined;
  if (pinDir) rmSync(stateDirFor(pinDir), { recursive: true, force: true });
});

/** A root TCP echo server on port 22 of the client namespace (stands in for sshd). */
async function startServer(e: Env): Promise<ChildProcess> {
  const script =
    "require('net').createServer((s)=>s.on('data',(d)=>s.write(d))).listen(22,()=>console.log('listening'))";
  const p = spawn('ip', ['netns', 'exec', e.sb.client, process.execPath, '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server did not start')), 10_000);
    p.stdout?.once('data', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  return p;
}

/** The far end connects to the client's port 22 and exchanges a few lines: the client's
 * replies leave ntf0 from source port 22 (a TCP flow of root to 192.0.2.1). */
function sessionFromPeer(e: Env): void {
  const script = `const s=require('net').connect(22,'192.0.2.2',()=>{let n=0;const t=setInterval(()=>{s.write('x'.repeat(100));if(++n===5){clearInterval(t);setTimeout(()=>{s.destroy();process.exit(0)},200)}},20)});s.on('error',(err)=>{console.error(err.message);process.exit(1)})`;
  execFileSync('ip', ['netns', 'exec', e.sb.server, process.execPath, '-e', script], { timeout: 10_000 });
}

type Row = {
  user: string;
  proto: string;
  dst: string;
  dport: number;
  sport: number;
  packets: number;
  before: { verdict: string; reason: string; endpoint: string | null };
  after: { verdict: string; reason: string; endpoint: string | null };
  server: { port: number; command: string | null } | null;
  warning: string | null;
};

function impact(
  e: Env,
  yaml: string,
): { code: number; out: { baseline: string; evaluated: number; changed: Row[] } } {
  const r = e.cli(['check', '--config', e.config(yaml), '--impact', '--json', '--pin-dir', e.pinDir]);
  expect(r.code, r.stderr).toBe(0);
  return {
    code: r.code,
    out: JSON.parse(r.stdout) as { baseline: string; evaluated: number; changed: Row[] },
  };
}

const summary = (c: Row) =>
  `${c.user} ${c.proto} ${c.dst}${c.proto === 'tcp' ? '' : `:${c.dport}`} ${c.before.verdict}→${c.after.verdict} ${c.after.reason}`;

describe('check --impact', () => {
  it('lists exactly the recorded flows whose verdict changes, and warns about replies of the port-22 server', async () => {
    env = await setup();
    await env.run(`endpoints:
  - imds:
      iface: [ntf0]
      range: [169.254.169.254/32]
      allow: [alice]
interfaces:
  ntf0: { default: allow }
`);
    server = await startServer(env);
    expect(udp(env, ALICE, '169.254.169.254')).toMatchObject({ received: 3 });
    expect(udp(env, BOB, '169.254.169.254')).toMatchObject({ received: 0 });
    expect(udp(env, ALICE, '192.0.2.1')).toMatchObject({ received: 3 });
    expect(udp(env, BOB, '198.51.100.1')).toMatchObject({ received: 3 });
    expect(udp(env, CAROL, '2001:db8:1::1')).toMatchObject({ received: 3 });
    sessionFromPeer(env);

    // OTHER: the metadata service for bob instead of alice; 192.0.2.1 and 198.51.100.0/24 guarded for alice.
    const other = `endpoints:
  - imds:
      iface: [ntf0]
      range: [169.254.169.254/32]
      allow: [bob]
  - lab:
      iface: [ntf0]
      range: [192.0.2.1/32, 198.51.100.0/24]
      allow: [alice]
interfaces:
  ntf0: { default: allow }
`;
    const { out } = impact(env, other);
    expect(out.baseline).toBe('enforced');
    expect(out.evaluated).toBeGreaterThanOrEqual(6);
    expect(out.changed.map(summary).sort()).toEqual(
      [
        'alice udp 169.254.169.254:7 allow→drop not-listed',
        'bob udp 169.254.169.254:7 drop→allow endpoint',
        'bob udp 198.51.100.1:7 allow→drop not-listed',
        '0 tcp 192.0.2.1 allow→drop not-listed', // root: no account in the test's passwd,
      ].sort(),
    );
    const session = out.changed.find((c) => c.proto === 'tcp');
    expect(session).toMatchObject({ sport: 22, server: { port: 22, command: 'node' } });
    expect(session?.warning).toBe(
      'WARNING: replies of the service listening on TCP port 22 (node) to 192.0.2.1 on ntf0 would be DROPPED: this may be your own SSH session',
    );
    expect(out.changed.find((c) => c.user === 'bob' && c.after.verdict === 'allow')?.after.endpoint).toBe(
      'imds',
    );

    // The text says the same, with the warning in words.
    const text = env.cli(['check', '--config', env.config(other), '--impact', '--pin-dir', env.pinDir]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(
      /now: the enforced policy \(epoch \d+\)\.\n4 flow\(s\) change, biggest first:\n/,
    );
    expect(text.stdout).toContain('this may be your own SSH session');

    // The enforced policy itself changes nothing.
    const same = impact(
      env,
      `endpoints:
  - imds:
      iface: [ntf0]
      range: [169.254.169.254/32]
      allow: [alice]
interfaces:
  ntf0: { default: allow }
`,
    );
    expect(same.out.changed).toEqual([]);
  });

  it('audit mode: what would be dropped is recorded as would-drop; enforcing lists would-drop → drop', async () => {
    env = await setup();
    const audit = `endpoints:
  - imds:
      iface: [ntf0]
      range: [169.254.169.254/32]
      allow: [alice]
interfaces:
  ntf0: { default: deny, mode: audit }
`;
    await env.run(audit);
    expect(udp(env, ALICE, '169.254.169.254')).toMatchObject({ received: 3 });
    expect(udp(env, BOB, '169.254.169.254')).toMatchObject({ received: 3 }); // audit: passed
    expect(udp(env, BOB, '192.0.2.1')).toMatchObject({ received: 3 });

    const enforce = impact(env, audit.replace(', mode: audit', ''));
    expect(enforce.out.changed.map(summary).sort()).toEqual([
      'bob udp 169.254.169.254:7 would-drop→drop not-listed',
      'bob udp 192.0.2.1:7 would-drop→drop default-deny',
    ]);
    const allowBob = impact(env, audit.replace('allow: [alice]', 'allow: [alice, bob]'));
    expect(allowBob.out.changed.map(summary)).toEqual([
      'bob udp 169.254.169.254:7 would-drop→allow endpoint',
    ]);
  });

  it('exits 3 when nothing is loaded at the pin directory', async () => {
    env = await setup();
    const r = env.cli([
      'check',
      '--config',
      env.config(
        'endpoints:\n  - a:\n      iface: [ntf0]\n      range: [192.0.2.1/32]\n      allow: [alice]\n',
      ),
      '--impact',
      '--pin-dir',
      env.pinDir,
    ]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`nothing is loaded at ${env.pinDir}: no recorded flows to evaluate`);
  });
});
