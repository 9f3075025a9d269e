// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest). The state directory: where it is, how it is made, what is refused.
import {
  chmodSync,
  chownSync,
  closeSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PinTrustError } from '../../../electron/engine/pintrust.js';
import {
  checkStateDir,
  openStateDir,
  readStateFile,
  STATE_ROOT,
  StateTrustError,
  stateDirFor,
  stateSubdir,
  withDirLock,
  writeStateFile,
} from '../../../electron/engine/statedir.js';
import { tryLockDir } from '../../../native-bridge/index.js';

// chown to another uid needs root; under CI=true (which runs as root) these never skip.
const asRoot = process.geteuid?.() === 0 || process.env.CI === 'true';
const PIN = '/sys/fs/bpf/ntft-hist';
let tmp: string;
let root: string;
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'ntf-state-'));
  root = join(tmp, 'var/lib/net-tc-filter/state');
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

const mode = (p: string) => statSync(p).mode & 0o7777;

describe('stateDirFor', () => {
  it('is the pin directory’s basename under /var/lib/net-tc-filter/state', () => {
    expect(STATE_ROOT).toBe('/var/lib/net-tc-filter/state');
    expect(stateDirFor('/sys/fs/bpf/net-tc-filter')).toBe('/var/lib/net-tc-filter/state/net-tc-filter');
    expect(stateDirFor('/sys/fs/bpf/ntft-a/', '/tmp/x/')).toBe('/tmp/x/ntft-a');
  });
  it('refuses names that cannot name a directory of its own', () => {
    expect(() => stateDirFor('relative/dir')).toThrow(/must be absolute/);
    expect(() => stateDirFor('/sys/fs/bpf/a b')).toThrow(/'a b' cannot name a state directory/);
    expect(() => stateDirFor('/')).toThrow(/cannot name a state directory/);
    expect(() => stateDirFor(PIN, 'rel')).toThrow(/state root must be absolute/);
  });
});

describe('openStateDir', () => {
  it('is undefined when missing and not asked to create it', () => {
    expect(openStateDir(PIN, { create: false, root })).toBeUndefined();
  });

  it('creates it 0700 below parents 0755, whatever the umask', () => {
    const old = process.umask(0o077);
    try {
      expect(openStateDir(PIN, { create: true, root })).toBe(`${root}/ntft-hist`);
    } finally {
      process.umask(old);
    }
    expect(mode(`${root}/ntft-hist`)).toBe(0o700);
    expect(mode(root)).toBe(0o755);
    expect(mode(join(tmp, 'var/lib/net-tc-filter'))).toBe(0o755);
    // Again: found, not made.
    expect(openStateDir(PIN, { create: true, root })).toBe(`${root}/ntft-hist`);
    expect(openStateDir(PIN, { create: false, root })).toBe(`${root}/ntft-hist`);
  });

  it('keeps a parent the launcher made (0711) as it is', () => {
    mkdirSync(join(tmp, 'var/lib/net-tc-filter'), { recursive: true });
    chmodSync(join(tmp, 'var/lib/net-tc-filter'), 0o711);
    openStateDir(PIN, { create: true, root });
    expect(mode(join(tmp, 'var/lib/net-tc-filter'))).toBe(0o711);
    expect(mode(root)).toBe(0o755);
  });

  it('refuses a group-writable state directory, naming it, its mode and the fix', () => {
    mkdirSync(`${root}/ntft-hist`, { recursive: true });
    chmodSync(`${root}/ntft-hist`, 0o770);
    let err: unknown;
    try {
      openStateDir(PIN, { create: true, root });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StateTrustError);
    expect(err).toBeInstanceOf(PinTrustError); // handled like a refused pin directory
    const msg = (err as Error).message;
    expect(msg).toContain(`refusing the state directory ${root}/ntft-hist (owner uid`);
    expect(msg).toContain('mode 0770');
    expect(msg).toContain('writable by its group');
    expect(msg).toContain(`rm -r -- ${root}/ntft-hist`);
    expect(mode(`${root}/ntft-hist`)).toBe(0o770); // not "repaired"
  });

  it('refuses an other-writable directory above it', () => {
    mkdirSync(root, { recursive: true });
    chmodSync(root, 0o777);
    expect(() => openStateDir(PIN, { create: true, root })).toThrow(
      new RegExp(`${root} above it .*mode 0777.*writable by everyone.*chmod go-w -- ${root}`),
    );
  });

  it('refuses a symlink in place of the state directory', () => {
    mkdirSync(root, { recursive: true });
    mkdirSync(join(tmp, 'elsewhere'));
    symlinkSync(join(tmp, 'elsewhere'), `${root}/ntft-hist`);
    expect(() => openStateDir(PIN, { create: false, root })).toThrow(
      /ntft-hist is a symlink .*not following it/,
    );
  });

  it.skipIf(!asRoot)('refuses a state directory another user planted (uid 4242)', () => {
    mkdirSync(`${root}/ntft-hist`, { recursive: true, mode: 0o700 });
    chownSync(`${root}/ntft-hist`, 4242, 4242);
    expect(() => openStateDir(PIN, { create: true, root })).toThrow(
      /refusing the state directory .*ntft-hist \(owner uid 4242, group 4242, mode 0700\): it is owned by uid 4242, neither root nor this process/,
    );
  });

  it.skipIf(!asRoot)('refuses a directory above it that another user owns', () => {
    mkdirSync(root, { recursive: true, mode: 0o755 });
    chownSync(root, 4242, 0);
    expect(() => openStateDir(PIN, { create: true, root })).toThrow(
      /above it \(owner uid 4242.*owned by uid 4242/,
    );
  });
});

describe('files in the state directory', () => {
  it('reads and writes regular files 0600, replacing them whole', () => {
    const trust = checkStateDir(PIN, { create: true, root })!;
    const f = `${trust.dir}/x.json`;
    expect(readStateFile(trust, f, 100)).toBeUndefined();
    writeStateFile(trust, f, 'one\n');
    writeStateFile(trust, f, 'two\n');
    expect(readStateFile(trust, f, 100)).toBe('two\n');
    expect(mode(f)).toBe(0o600);
    expect(() => readStateFile(trust, f, 2)).toThrow(/4 bytes, more than the 2 expected/);
  });

  it('refuses a symlink: never followed, neither to read nor to write', () => {
    const trust = checkStateDir(PIN, { create: true, root })!;
    const target = join(tmp, 'target');
    writeFileSync(target, 'secret\n', { mode: 0o600 });
    symlinkSync(target, `${trust.dir}/link`);
    expect(() => readStateFile(trust, `${trust.dir}/link`, 100)).toThrow(
      /link .*it is a symlink; not following it/,
    );
    expect(() => writeStateFile(trust, `${trust.dir}/link`, 'x')).toThrow(
      /refusing to write .*link.*a symlink/,
    );
    expect(readFileSync(target, 'utf8')).toBe('secret\n');
  });

  it('refuses a file others may write, and (as root) one another user owns', () => {
    const trust = checkStateDir(PIN, { create: true, root })!;
    const f = `${trust.dir}/f`;
    writeFileSync(f, 'x');
    chmodSync(f, 0o646);
    expect(() => readStateFile(trust, f, 100)).toThrow(/mode 0646\): others have permissions on it/);
    chmodSync(f, 0o620);
    expect(() => readStateFile(trust, f, 100)).toThrow(/writable by its group/);
    if (asRoot) {
      chmodSync(f, 0o600);
      chownSync(f, 4242, 4242);
      expect(() => readStateFile(trust, f, 100)).toThrow(/owner uid 4242.*owned by uid 4242/);
    }
  });

  it('makes a subdirectory 0700 and refuses a symlink in its place', () => {
    const trust = checkStateDir(PIN, { create: true, root })!;
    expect(stateSubdir(trust, 'history', false)).toBeUndefined();
    expect(stateSubdir(trust, 'history', true)).toBe(`${trust.dir}/history`);
    expect(mode(`${trust.dir}/history`)).toBe(0o700);
    symlinkSync(tmp, `${trust.dir}/other`);
    expect(() => stateSubdir(trust, 'other', true)).toThrow(/other .*it is a symlink/);
  });
});

describe('withDirLock', () => {
  it('waits for another holder, then says who holds it', () => {
    const trust = checkStateDir(PIN, { create: true, root })!;
    const fd = tryLockDir(trust.dir)!;
    expect(fd).toBeDefined();
    try {
      const t0 = Date.now();
      expect(() => withDirLock(trust.dir, () => 1, 150)).toThrow(
        new RegExp(`${trust.dir} is locked by another writer \\(pid ${process.pid}: .*\\) for more than 0 s`),
      );
      expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    } finally {
      closeSync(fd);
    }
    expect(withDirLock(trust.dir, () => 7)).toBe(7);
    // Released after fn (also when it throws).
    expect(() =>
      withDirLock(trust.dir, () => {
        throw new Error('inside');
      }),
    ).toThrow('inside');
    expect(withDirLock(trust.dir, () => 8, 0)).toBe(8);
  });
});
