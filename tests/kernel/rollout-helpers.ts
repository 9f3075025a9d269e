// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest), as root. What the rollout tests need beyond the harness: the state
// directory of a test's pin directory, `run --log text`, the CLI's JSON answers, and a steady UDP
// stream (one socket, one 5-tuple) whose every datagram's fate is recorded with its send time.
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { stateDirFor } from '../../electron/engine/statedir.js';
import type { EngineProcess } from '../../electron/demo/sandbox.js';
import { cliPath } from './harness.js';
import type { Env } from './harness.js';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Removes the engine's state directory of the test's pin directory (history, requests). */
export function removeStateDir(env: Env): void {
  rmSync(stateDirFor(env.pinDir), { recursive: true, force: true });
}

/** `net-tc-filter <args> --pin-dir <the test's>`; fails with the output unless it exits `code`. */
export function cliOk(env: Env, args: string[], code = 0): { stdout: string; stderr: string } {
  const r = env.cli([...args, '--pin-dir', env.pinDir]);
  if (r.code !== code)
    throw new Error(
      `net-tc-filter ${args.join(' ')}: exit ${r.code}, expected ${code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`,
    );
  return r;
}

export interface StatusJson {
  loaded: boolean;
  epoch: number;
  owner?: { pid: number; command: string };
  trial?: { epoch: number; previousEpoch: number; deadline: number; secondsLeft: number; expired: boolean };
  interfaces: Array<{ name: string; guardOnly: boolean; settings?: { mode: string; default: string } }>;
  counters: Record<string, string>;
  flows?: Array<Record<string, unknown>>;
}

export function statusJson(env: Env, flows = false): StatusJson {
  return JSON.parse(cliOk(env, ['status', '--json', ...(flows ? ['--flows'] : [])]).stdout) as StatusJson;
}

export interface HistoryRow {
  n: number;
  epoch: number;
  origin: string;
  account: string;
  outcome: string;
  source?: string;
  trial?: { seconds: number; deadline: string };
}

/** history --json, newest first. */
export function historyJson(env: Env): HistoryRow[] {
  return (JSON.parse(cliOk(env, ['history', '--json']).stdout) as { entries: HistoryRow[] }).entries;
}

/** Starts `run --config FILE --log text` and waits for its first "enforcing policy" line. */
export async function runText(env: Env, file: string, extra: string[] = []): Promise<EngineProcess> {
  const e = env.sb.startEngine(
    cliPath(),
    ['run', '--config', file, '--log', 'text', '--pin-dir', env.pinDir, '--stats-interval', '3600'].concat(
      ['--log-interval', '0'],
      extra,
    ),
    { NET_TC_FILTER_PASSWD: join(env.sb.dir, 'passwd'), NET_TC_FILTER_GROUP: join(env.sb.dir, 'group') },
  );
  env.engines.push(e);
  await e.waitFor((l) => typeof l.text === 'string' && l.text.startsWith('enforcing policy'));
  return e;
}

/** Text lines of a `run --log text`. */
export function textLines(e: EngineProcess): string[] {
  return e.lines.map((l) => (typeof l.text === 'string' ? l.text : JSON.stringify(l)));
}

const STREAM = `import { createSocket } from 'node:dgram';
const [host, port, everyMs, durationMs] = process.argv.slice(2);
const sock = createSocket(host.includes(':') ? 'udp6' : 'udp4');
const sent = [];
const got = new Map();
sock.on('message', (m) => {
  const seq = m.readUInt32BE(0);
  if (!got.has(seq)) got.set(seq, Date.now());
});
sock.bind(0, () => {
  const start = Date.now();
  let seq = 0;
  const timer = setInterval(() => {
    if (Date.now() - start >= Number(durationMs)) {
      clearInterval(timer);
      setTimeout(() => {
        const sport = sock.address().port;
        sock.close();
        process.stdout.write(JSON.stringify({ sport, sent, got: [...got] }) + '\\n');
        process.exit(0);
      }, 400);
      return;
    }
    const b = Buffer.alloc(16, 0x61);
    b.writeUInt32BE(seq, 0);
    sent.push([seq, Date.now()]);
    sock.send(b, Number(port), host);
    seq++;
  }, Number(everyMs));
});
`;

export interface StreamResult {
  sport: number;
  /** [seq, wall ms when sent] */
  sent: Array<[number, number]>;
  /** [seq, wall ms when its echo came back] */
  got: Array<[number, number]>;
}

/**
 * Sends a 16-byte datagram every `everyMs` for `durationMs` from one socket as `uid` to the echo
 * service (HOST:7) and records which came back. Starts at once; resolves when done.
 */
export function udpStream(
  env: Env,
  uid: number,
  host: string,
  everyMs: number,
  durationMs: number,
): Promise<StreamResult> {
  const script = env.sb.writeFile('stream.mjs', STREAM);
  const argv = [
    'netns',
    'exec',
    env.sb.client,
    'setpriv',
    `--reuid=${uid}`,
    `--regid=${uid}`,
    '--clear-groups',
    process.execPath,
    script,
    host,
    '7',
    String(everyMs),
    String(durationMs),
  ];
  return new Promise((resolve, reject) => {
    const p = spawn('ip', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => p.kill('SIGKILL'), durationMs + 20_000);
    p.stdout.on('data', (c: Buffer) => (out += c.toString()));
    p.stderr.on('data', (c: Buffer) => (err += c.toString()));
    p.on('close', (code) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as StreamResult);
      } catch {
        reject(new Error(`udp stream exited with ${code} and no answer: ${err}`));
      }
    });
  });
}

/** The datagrams of a stream sent within [from, to) wall ms, split by whether their echo came. */
export function sentBetween(r: StreamResult, from: number, to: number): { passed: number; lost: number } {
  const got = new Set(r.got.map(([s]) => s));
  let passed = 0;
  let lost = 0;
  for (const [seq, t] of r.sent) {
    if (t < from || t >= to) continue;
    if (got.has(seq)) passed++;
    else lost++;
  }
  return { passed, lost };
}
