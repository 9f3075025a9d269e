// SPDX-License-Identifier: Apache-2.0
// Environment: main process (Node; no Electron import).
//
// The launcher starts the app with CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON as *ambient*
// capabilities, the only way a non-root program keeps capabilities across execve. Ambient
// capabilities are also inherited by every program the process runs (ip, getent, xdg-open…),
// which must not get them: main clears the set first thing. See docs/desktop.md for what this
// does not cover (Chromium's own child processes started before our code runs).
import { readFileSync } from 'node:fs';
import { clearAmbientCaps, getDumpable, setUndumpable } from '../../native-bridge/sys.js';
import { capNames, parseCapField } from './caps.js';

export interface AmbientReport {
  /** Ambient set of this thread before and after, as cap names. */
  before: string[];
  after: string[];
  /** Effective set (unchanged by clearing the ambient set). */
  effective: string[];
  error?: string;
}

function threadStatus(): string {
  // thread-self: capabilities are per thread, and this is the thread that clears them.
  try {
    return readFileSync('/proc/thread-self/status', 'utf8');
  } catch {
    return readFileSync('/proc/self/status', 'utf8');
  }
}

/**
 * Clears the calling thread's ambient capability set. Call it on the main thread before anything
 * spawns a process or a worker thread (new threads copy the creating thread's credentials, so the
 * engine worker started afterwards has an empty ambient set too).
 */
export function dropAmbientCaps(): AmbientReport {
  const before = parseCapField(threadStatus(), 'CapAmb');
  let error: string | undefined;
  if (before !== 0n) {
    try {
      clearAmbientCaps();
    } catch (err) {
      error = (err as Error).message;
    }
  }
  const status = threadStatus();
  return {
    before: capNames(before),
    after: capNames(parseCapField(status, 'CapAmb')),
    effective: capNames(parseCapField(status, 'CapEff')),
    ...(error ? { error } : {}),
  };
}

/**
 * Makes the process non-dumpable (prctl PR_SET_DUMPABLE 0) and returns the flag before and after.
 * A process started with ambient capabilities is left dumpable by execve (measured in
 * tests/kernel/launcher.spec.ts). The capability check of ptrace already keeps a same-user
 * process without capabilities out; this also keeps out one that holds the same capabilities
 * (Chromium helpers started with them, another process the launcher ran) and stops core dumps of
 * the privileged process. Call it first: the flag covers every thread, present and future.
 */
export function makeUndumpable(): { before: number; after: number; error?: string } {
  let before = -1;
  try {
    before = getDumpable();
    setUndumpable();
    return { before, after: getDumpable() };
  } catch (err) {
    return { before, after: before, error: (err as Error).message };
  }
}
