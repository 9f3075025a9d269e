// SPDX-License-Identifier: Apache-2.0
// Environment: Node (CLI and main process). No Electron import.
//
// How `reload`, `confirm` and `revert` ask the `run` that owns a pinned state to act, without a
// socket: a request file in the state directory (root's or the engine's own, trust-checked), then
// SIGHUP to the owner (the pid holding the pin directory's flock). The owner answers with a file
// next to it; the requester waits for it, bounded. A SIGHUP with no request is a plain reload, as
// it always was. docs/rollout.md "Talking to run".
import { existsSync, readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { lockHolder } from '../../native-bridge/index.js';
import { checkStateDir, readStateFile, stateSubdir, writeStateFile } from './statedir.js';
import type { StateDirTrust } from './statedir.js';

export type RequestCmd = 'reload' | 'confirm' | 'revert';

export interface EngineRequest {
  id: string;
  cmd: RequestCmd;
  /** reload: apply as a trial of this many seconds. */
  confirmS?: number;
  /** Who asked (history's account). */
  account: string;
  pid: number;
  /** Wall ms. */
  time: number;
}

export interface RequestAnswer {
  /** 0 done, 1 refused or rejected (errors say why). */
  code: number;
  /** What happened, one line per fact, for the requester to print. */
  lines: string[];
  errors: string[];
  epoch?: number;
}

/** A request older than this is stale: its requester gave up long ago. */
const STALE_MS = 10 * 60_000;
const MAX_REQUEST_BYTES = 64 << 10;
const REQUESTS = 'requests';

/** The requests directory of a pin dir's state directory (trust-checked, statedir.ts). */
function requestsDir(pinDir: string, create: boolean): { trust: StateDirTrust; dir: string } | undefined {
  const trust = checkStateDir(pinDir, { create });
  const dir = trust && stateSubdir(trust, REQUESTS, create);
  return trust && dir ? { trust, dir } : undefined;
}

/** A request or answer file's text; undefined when absent or not a file of ours (refused). */
function readOwn(trust: StateDirTrust, path: string): string | undefined {
  try {
    return readStateFile(trust, path, MAX_REQUEST_BYTES);
  } catch {
    return undefined;
  }
}

/** The owner of a pin directory, when it is a headless `run` (the only host that takes requests:
 * SIGHUP would end the desktop app). */
export function runOwner(pinDir: string): { pid: number; command: string; isRun: boolean } | undefined {
  if (!existsSync(pinDir)) return undefined;
  const h = lockHolder(pinDir);
  if (!h) return undefined;
  return { ...h, isRun: /\brun\b/.test(h.command) && /net-tc-filter|cli\/main\.js/.test(h.command) };
}

let seq = 0;

/**
 * Asks the `run` owning pinDir to act and waits up to `timeoutMs` for its answer. Returns
 * undefined when no `run` holds the state (nothing was asked).
 */
export async function askRun(
  pinDir: string,
  req: Omit<EngineRequest, 'id' | 'pid' | 'time'>,
  timeoutMs: number,
): Promise<RequestAnswer | { timedOut: true; owner: number } | undefined> {
  const owner = runOwner(pinDir);
  if (!owner?.isRun) return undefined;
  const r = requestsDir(pinDir, true);
  if (!r) return undefined;
  const { trust, dir } = r;
  const id = `${process.pid}-${Date.now()}-${++seq}`;
  const full: EngineRequest = { ...req, id, pid: process.pid, time: Date.now() };
  writeStateFile(trust, join(dir, `${id}.req.json`), JSON.stringify(full));
  process.kill(owner.pid, 'SIGHUP');
  const answerPath = join(dir, `${id}.done.json`);
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const text = readOwn(trust, answerPath);
    if (text !== undefined) {
      unlinkSync(answerPath);
      return JSON.parse(text) as RequestAnswer;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  try {
    unlinkSync(join(dir, `${id}.req.json`));
  } catch {
    // taken meanwhile
  }
  return { timedOut: true, owner: owner.pid };
}

/** The owner's side: every waiting request, oldest first, each removed as it is taken. */
export function takeRequests(pinDir: string, now = Date.now()): EngineRequest[] {
  const r = requestsDir(pinDir, false);
  if (!r) return [];
  const { trust, dir } = r;
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.req.json'));
  } catch {
    return [];
  }
  const out: EngineRequest[] = [];
  for (const n of names) {
    const path = join(dir, n);
    const text = readOwn(trust, path);
    try {
      unlinkSync(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // someone else took it
      // A request that cannot be taken must not turn into something else (a plain reload, no
      // trial): say so, act on none.
      throw new Error(
        `cannot take the request ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)}): the state directory must be writable by run (systemd: StateDirectory=net-tc-filter/state)`,
        { cause: err },
      );
    }
    if (text === undefined) continue;
    try {
      const r = JSON.parse(text) as EngineRequest;
      const fresh = typeof r.time === 'number' && now - r.time < STALE_MS;
      const cmdOk = r.cmd === 'reload' || r.cmd === 'confirm' || r.cmd === 'revert';
      if (fresh && cmdOk && typeof r.id === 'string' && /^[0-9-]+$/.test(r.id)) out.push(r);
    } catch {
      // not a request of ours
    }
  }
  return out.sort((a, b) => a.time - b.time);
}

export function answerRequest(pinDir: string, id: string, a: RequestAnswer): void {
  const r = requestsDir(pinDir, false);
  if (!r) return;
  writeStateFile(r.trust, join(r.dir, `${id}.done.json`), JSON.stringify(a));
}
