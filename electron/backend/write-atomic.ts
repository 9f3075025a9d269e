// SPDX-License-Identifier: Apache-2.0
// Environment: Node (main process, engine worker). No Electron import.
import {
  closeSync,
  fsyncSync,
  openSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Replaces `file` with `text` so that a reader sees the old content or the new, never half of
 * it, and a crash leaves one of the two: a sibling temp file, flushed, renamed over the target.
 * What the admin set up stays: a symlink is followed (its target is replaced, the link kept) and
 * an existing file keeps its mode; a new one gets `mode`.
 */
export function writeFileAtomic(file: string, text: string, mode: number): void {
  let target = file;
  let keepMode = mode;
  try {
    target = realpathSync(file);
    keepMode = statSync(target).mode & 0o7777;
  } catch {
    // does not exist yet
  }
  const tmp = join(dirname(target), `.${basename(target)}.${process.pid}.${Date.now()}.tmp`);
  const fd = openSync(tmp, 'wx', keepMode);
  try {
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, target);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}
