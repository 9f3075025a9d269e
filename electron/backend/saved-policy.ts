// SPDX-License-Identifier: Apache-2.0
// Environment: main process (no Electron import).
//
// Reading the saved policy (the one this app applied last) without trusting more than it should.
// It is never applied on its own (the backend compares it with what the kernel enforces and
// offers it as pending changes when they differ), and it is not even read when it is a symlink,
// belongs to someone other than root or this process's uid, or others may write it: then whoever
// controls it could put words in the admin's mouth. The launcher keeps it in a directory that only
// root and the group net-tc-filter can enter (docs/desktop.md).
import { closeSync, constants, fstatSync, openSync } from 'node:fs';
import { readCapped } from '../policy/load.js';
import { MAX_POLICY_BYTES } from '../policy/yaml.js';
import { policyToDoc } from '../policy/doc.js';
import type { PolicyDoc } from '../policy/doc.js';
import { parsePolicy } from '../policy/yaml.js';

export type SavedRead =
  | { kind: 'none' }
  | { kind: 'ok'; doc: PolicyDoc }
  | { kind: 'untrusted'; reason: string }
  | { kind: 'invalid'; reason: string };

/**
 * Opens `file` without following a symlink (O_NOFOLLOW) and checks the opened file itself
 * (fstat, so nothing can be swapped in between): a regular file, owned by root or `uid`, not
 * writable by its group or by others. Then parses it.
 */
export function readSavedPolicy(file: string, uid: number): SavedRead {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { kind: 'none' };
    if (code === 'ELOOP') return { kind: 'untrusted', reason: `${file} is a symbolic link` };
    return { kind: 'invalid', reason: `cannot read ${file}: ${(err as Error).message}` };
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return { kind: 'untrusted', reason: `${file} is not a regular file` };
    if (st.uid !== 0 && st.uid !== uid)
      return {
        kind: 'untrusted',
        reason: `${file} belongs to uid ${st.uid}, not to root or to this app (uid ${uid})`,
      };
    if (st.mode & 0o022)
      return {
        kind: 'untrusted',
        reason: `${file} is writable by ${st.mode & 0o002 ? 'everyone' : 'its group'} (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')})`,
      };
    const buf = readCapped(fd, MAX_POLICY_BYTES);
    if (buf.length > MAX_POLICY_BYTES)
      return { kind: 'invalid', reason: `${file} is larger than ${MAX_POLICY_BYTES} bytes` };
    const parsed = parsePolicy(buf.toString('utf8'), file);
    const errors = parsed.diagnostics.filter((d) => d.severity === 'error');
    if (!parsed.policy || errors.length)
      return {
        kind: 'invalid',
        reason: `${file} is not a valid policy: ${errors.map((d) => d.message).join('; ') || 'no policy'}`,
      };
    return { kind: 'ok', doc: policyToDoc(parsed.policy) };
  } finally {
    closeSync(fd);
  }
}
