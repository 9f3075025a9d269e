// SPDX-License-Identifier: Apache-2.0
// Environment: Node (main process and CLI). No Electron import.
//
// File → Policy → ResolvedPolicy, with every problem as a Diagnostic.
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import type { AccountDb } from './resolve.js';
import { loadAccountDb, resolvePolicy } from './resolve.js';
import { MAX_POLICY_BYTES, parsePolicy, policyTooLarge } from './yaml.js';
import type { Diagnostic, Policy, ResolvedPolicy } from './types.js';

export interface LoadedPolicy {
  policy?: Policy;
  resolved?: ResolvedPolicy;
  diagnostics: Diagnostic[];
}

/** Reads from `fd` until end of file or `max` + 1 bytes (in at most 1024 reads), whichever comes
 * first: a result longer than `max` means the file is too large. The buffer grows as the file
 * does (a small file under a large cap costs a small buffer). */
export function readCapped(fd: number, max: number): Buffer {
  let buf = Buffer.allocUnsafe(Math.min(max + 1, 1 << 20));
  let n = 0;
  for (let i = 0; i < 1024 && n <= max; i++) {
    if (n === buf.length) {
      const next = Buffer.allocUnsafe(Math.min(max + 1, buf.length * 2));
      buf.copy(next, 0, 0, n);
      buf = next;
    }
    const r = readSync(fd, buf, n, buf.length - n, null);
    if (r === 0) break;
    n += r;
  }
  return buf.subarray(0, n);
}

/** Reads at most `maxBytes` + 1 bytes, so an endless file (a FIFO, /dev/zero) cannot hang us. */
export function readConfigText(
  file: string,
  maxBytes: number = MAX_POLICY_BYTES,
  raise?: string,
): { text?: string; diagnostics: Diagnostic[] } {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then rejects it.
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    return {
      diagnostics: [{ severity: 'error', message: `cannot read ${file}: ${(err as Error).message}` }],
    };
  }
  try {
    if (!fstatSync(fd).isFile()) {
      return { diagnostics: [{ severity: 'error', message: `${file} is not a regular file` }] };
    }
    const buf = readCapped(fd, maxBytes);
    if (buf.length > maxBytes) {
      const message = policyTooLarge(maxBytes, raise);
      return { diagnostics: [{ severity: 'error', message, pos: { file, line: 1, col: 1 } }] };
    }
    return { text: buf.toString('utf8'), diagnostics: [] };
  } finally {
    closeSync(fd);
  }
}

export function loadPolicyText(
  text: string,
  file: string,
  db: AccountDb,
  maxBytes: number = MAX_POLICY_BYTES,
): LoadedPolicy {
  const parsed = parsePolicy(text, file, { maxBytes });
  if (!parsed.policy) return { diagnostics: parsed.diagnostics };
  const r = resolvePolicy(parsed.policy, db);
  return {
    policy: parsed.policy,
    resolved: r.resolved,
    diagnostics: [...parsed.diagnostics, ...r.diagnostics],
  };
}

export function loadPolicyFile(
  file: string,
  db: AccountDb = loadAccountDb(),
  maxBytes: number = MAX_POLICY_BYTES,
): LoadedPolicy {
  const { text, diagnostics } = readConfigText(file, maxBytes);
  if (text === undefined) return { diagnostics };
  return loadPolicyText(text, file, db, maxBytes);
}

export function hasErrors(d: readonly Diagnostic[]): boolean {
  return d.some((x) => x.severity === 'error');
}

/** The policy a YAML text holds, or undefined when it has errors (`where` names it in them). */
export function policyOfText(text: string, where: string): Policy | undefined {
  const parsed = parsePolicy(text, where);
  return parsed.policy && !hasErrors(parsed.diagnostics) ? parsed.policy : undefined;
}
