// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest). Export and the saved policy replace files whole.
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../../electron/backend/write-atomic.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ntf-write-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('writeFileAtomic', () => {
  it('creates a new file with the given mode and leaves no temp file', () => {
    const f = join(dir, 'policy.yml');
    writeFileAtomic(f, 'endpoints: []\n', 0o600);
    expect(readFileSync(f, 'utf8')).toBe('endpoints: []\n');
    expect(statSync(f).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['policy.yml']);
  });

  it('replaces an existing file whole and keeps the mode the admin gave it', () => {
    const f = join(dir, 'export.yml');
    writeFileSync(f, 'old content that is longer than the new one\n');
    chmodSync(f, 0o640);
    writeFileAtomic(f, 'new\n', 0o644);
    expect(readFileSync(f, 'utf8')).toBe('new\n');
    expect(statSync(f).mode & 0o777).toBe(0o640);
  });

  it('follows a symlink: the link stays, its target gets the content', () => {
    const target = join(dir, 'real.yml');
    const link = join(dir, 'link.yml');
    writeFileSync(target, 'old\n');
    symlinkSync(target, link);
    writeFileAtomic(link, 'new\n', 0o644);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readFileSync(target, 'utf8')).toBe('new\n');
    expect(readdirSync(dir).sort()).toEqual(['link.yml', 'real.yml']);
  });

  it('fails without touching anything when the directory is missing', () => {
    expect(() => writeFileAtomic(join(dir, 'nope', 'x.yml'), 'x', 0o644)).toThrow(/ENOENT/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('removes its temp file when the rename fails (the target is a directory)', () => {
    const d = join(dir, 'taken');
    mkdirSync(d);
    writeFileSync(join(d, 'inside'), '');
    expect(() => writeFileAtomic(d, 'x', 0o644)).toThrow(/EISDIR/);
    expect(readdirSync(dir)).toEqual(['taken']);
  });
});
