// SPDX-License-Identifier: Apache-2.0
// Environment: Node (main process and CLI). No Electron import.
//
// The engine's state directory: per pin directory, a directory on the regular filesystem for what
// does not belong in bpffs (the history of applied policies, docs/rollout.md "History"):
// /var/lib/net-tc-filter/state/<basename of the pin directory>/. It is trusted the way a pin
// directory is (pintrust.ts checkPinDir, whose rules decide here too): every directory down to it
// is a real directory, root's or ours and not writable by others (or root's and sticky); the state
// directory itself is root's or ours and writable by nobody else, or shared as the launcher
// shares a pin directory (root:net-tc-filter, setgid, nothing for others). A planted one is
// refused, never used. Files in it are opened without following symlinks and must be ours too.
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  chmodSync,
  openSync,
  readSync,
} from 'node:fs';
import type { Stats } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { writeFileAtomic } from '../backend/write-atomic.js';
import { chmodNoFollow, lockHolder, tryLockDir } from '../../native-bridge/index.js';
import { checkPinDir, PinTrustError, SHARE_GROUP } from './pintrust.js';
import type { PinDirTrust } from './pintrust.js';

/** Where every pin directory's state directory lives. Not settable from the environment. */
export const STATE_ROOT = '/var/lib/net-tc-filter/state';

/** A state directory (or a file or directory in it) that is not ours to use. A PinTrustError, so
 * that whoever handles a refused pin directory (exit UNTRUSTED_EXIT) handles this one too. */
export class StateTrustError extends PinTrustError {
  constructor(path: string, message: string) {
    super(path, message);
    this.name = 'StateTrustError';
  }
}

/** What the checks found out about a state directory (the same facts as for a pin directory:
 * `shared` says files in it are the group's, `gid` which group). */
export type StateDirTrust = PinDirTrust;

function euid(): number {
  return process.geteuid?.() ?? 0;
}

/** `owner uid 4242, group 0, mode 0770`, as pintrust.ts words it. */
export function describeStat(st: Stats): string {
  return `owner uid ${st.uid}, group ${st.gid}, mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')}`;
}

const NAME = /^[A-Za-z0-9._-]+$/;

/**
 * The state directory of `pinDir`: `<root>/<basename of pinDir>`. `root` is for tests (a
 * temporary directory); everything else uses STATE_ROOT.
 */
export function stateDirFor(pinDir: string, root: string = STATE_ROOT): string {
  if (!pinDir.startsWith('/')) throw new Error(`${pinDir}: the pin directory must be absolute`);
  const name = basename(resolve(pinDir));
  if (!NAME.test(name) || name === '.' || name === '..')
    throw new Error(
      `${pinDir}: the pin directory's name '${name}' cannot name a state directory (letters, digits, '.', '_', '-')`,
    );
  if (!root.startsWith('/')) throw new Error(`${root}: the state root must be absolute`);
  return `${resolve(root)}/${name}`;
}

function lstatOrUndefined(p: string): Stats | undefined {
  try {
    return lstatSync(p);
  } catch {
    return undefined;
  }
}

/** Why `st` fails the rules, in words (the decision is checkPinDir's; this only names it). */
function whyRefused(st: Stats, leaf: boolean): string {
  const me = euid();
  if (st.uid !== 0 && st.uid !== me)
    return `it is owned by uid ${st.uid}, neither root nor this process (uid ${me}): someone else created it`;
  if ((st.mode & 0o002) !== 0) return 'it is writable by everyone';
  if (leaf)
    return (
      `it is writable by its group, and it is not a directory shared through the group ${SHARE_GROUP} ` +
      `(root:${SHARE_GROUP}, setgid, no permission for others, mode 2770)`
    );
  return 'it is writable by its group';
}

/** checkPinDir's refusal, said for a state directory (its own words are about bpffs). */
function restate(err: PinTrustError, dir: string): StateTrustError {
  const p = err.path;
  const st = lstatOrUndefined(p);
  if (!st) return new StateTrustError(p, `refusing the state directory ${dir}: ${err.message}`);
  if (st.isSymbolicLink())
    return new StateTrustError(
      p,
      `refusing the state directory ${dir}: ${p} is a symlink (${describeStat(st)}); not following it. ` +
        `Remove it as root (rm -- ${p}) after checking who put it there`,
    );
  if (!st.isDirectory())
    return new StateTrustError(
      p,
      `refusing the state directory ${dir}: ${p} is not a directory (${describeStat(st)}). ` +
        `Remove it as root (rm -- ${p}) after checking who put it there`,
    );
  if (p === dir)
    return new StateTrustError(
      p,
      `refusing the state directory ${dir} (${describeStat(st)}): ${whyRefused(st, true)}; the policy ` +
        `history in it could be someone else's. Remove it as root (rm -r -- ${dir}) after checking who put it ` +
        `there; the engine creates it again, root-only (mode 0700)`,
    );
  return new StateTrustError(
    p,
    `refusing the state directory ${dir}: ${p} above it (${describeStat(st)}) is not trusted: ` +
      `${whyRefused(st, false)}, and whoever can rename what is in it could swap the state directory. ` +
      `Make it root's and not writable by group or others (chown root: -- ${p}; chmod go-w -- ${p})`,
  );
}

function checked(dir: string, allowMissing: boolean): StateDirTrust | undefined {
  try {
    return checkPinDir(dir, { allowMissing });
  } catch (err) {
    if (err instanceof PinTrustError) throw restate(err, dir);
    throw err;
  }
}

/** mkdir of one level with exactly `mode` (not reduced by the umask); an existing one is kept as
 * it is (e.g. /var/lib/net-tc-filter, 0711 from the desktop launcher). */
function mkdirExact(p: string, mode: number): void {
  try {
    mkdirSync(p, { mode });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return;
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new Error(
      `cannot create ${p} (${code})` +
        (code === 'EACCES' || code === 'EPERM'
          ? `: the state directory is made by root (this process is uid ${euid()})`
          : ''),
      { cause: err },
    );
  }
  chmodSync(p, mode);
}

/**
 * Trust-checks the state directory of `pinDir` (and every directory above it) and returns what
 * the files in it must look like; undefined when it does not exist and `create` is false. With
 * `create`, missing directories are made: the parents 0755, the state directory 0700 (its owner is
 * this process: root for the daemon). Throws StateTrustError for a planted directory, naming it,
 * its owner and mode, and the fix.
 */
export function checkStateDir(
  pinDir: string,
  opts: { create: boolean; root?: string },
): StateDirTrust | undefined {
  const dir = stateDirFor(pinDir, opts.root);
  const found = checked(dir, true);
  if (found) return found;
  if (!opts.create) return undefined;
  // The chain that exists was checked (allowMissing): what is created below it is ours.
  const missing: string[] = [];
  for (let p = dir; !lstatOrUndefined(p); p = dirname(p)) missing.unshift(p);
  for (const p of missing) mkdirExact(p, p === dir ? 0o700 : 0o755);
  return checked(dir, false);
}

/** checkStateDir's directory path (see there). */
export function openStateDir(pinDir: string, opts: { create: boolean; root?: string }): string | undefined {
  return checkStateDir(pinDir, opts)?.dir;
}

/**
 * A directory inside a checked state directory, made when missing with `create` (0700, or 2770
 * with the state directory's group when that one is shared). Undefined when missing. It must be
 * a directory (not a symlink) that passes the file rules below.
 */
export function stateSubdir(trust: StateDirTrust, name: string, create: boolean): string | undefined {
  if (!NAME.test(name) || name === '.' || name === '..')
    throw new Error(`bad state subdirectory name '${name}'`);
  const p = `${trust.dir}/${name}`;
  let st = lstatOrUndefined(p);
  if (!st) {
    if (!create) return undefined;
    mkdirExact(p, trust.shared ? 0o2770 : 0o700);
    st = lstatSync(p);
  }
  if (st.isSymbolicLink() || !st.isDirectory())
    throw new StateTrustError(
      p,
      `refusing ${p} (${describeStat(st)}): it is ${st.isSymbolicLink() ? 'a symlink' : 'not a directory'}. ` +
        `Remove it as root (rm -- ${p}) after checking who put it there`,
    );
  assertOurs(trust, p, st);
  return p;
}

/**
 * The rules for what is in a state directory, as pintrust.ts checkPin has them for pins: no
 * permission for others; in a shared directory, the directory's group; otherwise owned by root or
 * by this process and not writable by its group.
 */
function assertOurs(trust: StateDirTrust, path: string, st: Stats): void {
  const mode = st.mode & 0o7777;
  let why: string | undefined;
  if ((mode & 0o007) !== 0) why = 'others have permissions on it';
  else if (trust.shared) {
    if (st.gid !== trust.gid) why = `its group is not the shared state directory's (${trust.gid})`;
  } else if (st.uid !== 0 && st.uid !== euid())
    why = `it is owned by uid ${st.uid}, neither root nor uid ${euid()}`;
  else if ((mode & 0o020) !== 0) why = 'it is writable by its group';
  if (why)
    throw new StateTrustError(
      path,
      `refusing ${path} (${describeStat(st)}): ${why}; not using a file this engine or root did not write. ` +
        `Remove it as root (rm -r -- ${path}) after checking who put it there`,
    );
}

/**
 * Reads a regular file in a checked state directory: opened with O_NOFOLLOW (a symlink is
 * refused, not followed) and O_NONBLOCK (a FIFO cannot hang us), checked on the open fd (ours or
 * root's, or the shared group's; not writable by others), at most `maxBytes`. Undefined when it
 * does not exist; StateTrustError when it is not ours; Error when it is too large.
 */
export function readStateFile(trust: StateDirTrust, path: string, maxBytes: number): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP') {
      const st = lstatOrUndefined(path);
      throw new StateTrustError(
        path,
        `refusing ${path}${st ? ` (${describeStat(st)})` : ''}: it is a symlink; not following it. ` +
          `Remove it as root (rm -- ${path}) after checking who put it there`,
      );
    }
    throw err;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile())
      throw new StateTrustError(
        path,
        `refusing ${path} (${describeStat(st)}): it is not a regular file. Remove it as root (rm -r -- ${path})`,
      );
    assertOurs(trust, path, st);
    if (st.size > maxBytes) throw new Error(`${path}: ${st.size} bytes, more than the ${maxBytes} expected`);
    const buf = Buffer.alloc(st.size);
    let got = 0;
    while (got < buf.length) {
      const k = readSync(fd, buf, got, buf.length - got, got);
      if (k === 0) break;
      got += k;
    }
    return buf.subarray(0, got).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/**
 * Replaces (or creates) a regular file in a checked state directory, atomically
 * (backend/write-atomic.ts). Something other than a regular file in its place (a symlink, which
 * writeFileAtomic would follow) is refused. Mode 0600, or 0640 in a shared directory so that the
 * other side (daemon or desktop app, both in the group) can read it; updates are renames, which
 * need no write permission on the file.
 */
export function writeStateFile(trust: StateDirTrust, path: string, text: string): void {
  const st = lstatOrUndefined(path);
  if (st && !st.isFile())
    throw new StateTrustError(
      path,
      `refusing to write ${path} (${describeStat(st)}): it is ${st.isSymbolicLink() ? 'a symlink' : 'not a regular file'}. ` +
        `Remove it as root (rm -- ${path}) after checking who put it there`,
    );
  const mode = trust.shared ? 0o640 : 0o600;
  writeFileAtomic(path, text, mode);
  // The umask may have taken the group's read bit (shared); a file that existed keeps its mode.
  if (!st && trust.shared && (lstatSync(path).mode & 0o777) !== mode) chmodNoFollow(path, mode);
}

/** How long withDirLock waits for another writer (they hold it for a few file writes). */
export const LOCK_WAIT_MS = 10_000;
const LOCK_STEP_MS = 10;

/**
 * Runs `fn` holding an exclusive flock on the directory `dir` (one of a checked state directory's),
 * waiting up to `waitMs` for another process (a `run` and a one-shot `confirm` may both write).
 * The kernel drops the lock when its holder dies, even by SIGKILL. Not reentrant: a second
 * withDirLock on the same directory inside `fn` waits for itself and times out.
 */
export function withDirLock<T>(dir: string, fn: () => T, waitMs: number = LOCK_WAIT_MS): T {
  const started = Date.now();
  let fd = tryLockDir(dir);
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  while (fd === undefined) {
    if (Date.now() - started >= waitMs) {
      const holder = lockHolder(dir);
      throw new Error(
        `${dir} is locked by another writer${holder ? ` (pid ${holder.pid}: ${holder.command})` : ''} ` +
          `for more than ${Math.round(waitMs / 1000)} s; try again`,
      );
    }
    Atomics.wait(sleeper, 0, 0, LOCK_STEP_MS);
    fd = tryLockDir(dir);
  }
  try {
    return fn();
  } finally {
    closeSync(fd);
  }
}
