// SPDX-License-Identifier: Apache-2.0
// Environment: Node (main process and CLI). No Electron import.
//
// Whether a pin directory and the pins in it are ours to use. Where bpffs is mounted with the
// kernel's default mode (1777) any user can create the pin directory before we do, make it shared
// by mode bits, or pin a map of the right shape in it; the engine would then adopt that user's
// objects, or make its own pins openable by that user. So before the engine, `status` or `unload`
// touches a pin directory, every directory from the bpffs mount down to it is checked with lstat
// (a symlink anywhere is refused), and every pin before it is opened. docs/datapath.md "Lifetime".
import { spawnSync } from 'node:child_process';
import { fstatSync, lstatSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { resolve } from 'node:path';
import { BpfMap } from '../../native-bridge/index.js';
import { GETENT } from '../policy/resolve.js';

/** The system group through which the launcher shares a pin directory (bin/net-tc-filter-gui). */
export const SHARE_GROUP = 'net-tc-filter';

/** Exit code of the CLI when it refuses a pin directory or a pin (2: kernel or system error). */
export const UNTRUSTED_EXIT = 2;

const S_ISGID = 0o2000;
const S_ISVTX = 0o1000;

export class PinTrustError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
    this.name = 'PinTrustError';
  }
}

/** What the checks found out about a pin directory. */
export interface PinDirTrust {
  dir: string;
  /** Shared through SHARE_GROUP (root:net-tc-filter, setgid, nothing for others). */
  shared: boolean;
  /** The directory's group (pins in a shared directory must have it). */
  gid: number;
  dev: number;
  ino: number;
}

function euid(): number {
  return process.geteuid?.() ?? 0;
}

let shareGid: { gid: number | undefined } | undefined;

/**
 * The gid of SHARE_GROUP from the system's group database (getent, so NSS sources count, as in
 * the launcher), or undefined when there is no such group. Not NET_TC_FILTER_GROUP: that file
 * names the accounts a policy may mention (tests), never who may share the engine's state.
 */
export function shareGroupGid(): number | undefined {
  if (shareGid) return shareGid.gid;
  const r = spawnSync(GETENT, ['group', '--', SHARE_GROUP], { encoding: 'utf8', timeout: 10_000 });
  const gid = r.status === 0 ? Number(r.stdout.split(':')[2]) : NaN;
  // A failed lookup is not cached: the group may be created (groupadd) while we run.
  if (Number.isInteger(gid) && gid >= 0) shareGid = { gid };
  return Number.isInteger(gid) && gid >= 0 ? gid : undefined;
}

/** For tests: forget the cached gid. */
export function forgetShareGroup(): void {
  shareGid = undefined;
}

function describe(st: Stats): string {
  return `owner uid ${st.uid}, group ${st.gid}, mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')}`;
}

/** The fix, said the same way in every refusal. */
function remedy(dir: string): string {
  return (
    `Remove it as root (rm -r -- ${dir}), and mount bpffs root-only as systemd does ` +
    `(umount /sys/fs/bpf; mount -t bpf -o mode=0700 bpf /sys/fs/bpf) so that nobody else can plant it again`
  );
}

function lstatOrUndefined(p: string): Stats | undefined {
  try {
    return lstatSync(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Checks the directories from the bpffs mount down to `pinDir` (both included) and returns what
 * the pins in it must look like. A missing pin directory is fine when `allowMissing` (its parent
 * chain is then checked, so that creating it creates it in a trusted place). Throws PinTrustError.
 *
 * Every directory on bpffs above the pin directory: a directory (not a symlink), owned by root or
 * by this process's euid, and not writable by its group or others — except a root-owned directory
 * with the sticky bit (the kernel's default bpffs root, 1777): others may create entries in it
 * but not rename or remove ours.
 *
 * The pin directory: shared when it is root:net-tc-filter with setgid and no permission for
 * others (what the launcher prepares); otherwise owned by root or by our euid and not writable by
 * its group or others. Anything else — in particular a directory another user planted — is
 * refused, never taken over (docs/datapath.md "Lifetime" says why).
 */
export function checkPinDir(pinDir: string, opts: { allowMissing?: boolean } = {}): PinDirTrust | undefined {
  if (!pinDir.startsWith('/'))
    throw new PinTrustError(pinDir, `${pinDir}: the pin directory must be absolute`);
  const dir = resolve(pinDir);
  const parts = dir.split('/').filter(Boolean);
  const stats: Array<{ path: string; st: Stats }> = [];
  let path = '';
  for (const part of parts) {
    path += `/${part}`;
    const st = lstatOrUndefined(path);
    if (!st) break;
    if (st.isSymbolicLink())
      throw new PinTrustError(
        path,
        `${path} is a symlink; not following it to a pin directory. ${remedy(path)}`,
      );
    if (!st.isDirectory()) throw new PinTrustError(path, `${path} is not a directory`);
    stats.push({ path, st });
  }
  const missing = stats.length < parts.length;
  // Only the deepest may be missing… or any number below it: creating them is mkdir -p.
  if (missing && !opts.allowMissing) throw new PinTrustError(dir, `${dir} does not exist`);
  const last = stats[stats.length - 1];
  if (!last) return undefined; // nothing of it exists (allowMissing)
  // The bpffs mount holding it: the topmost of the trailing run of directories on the deepest one's
  // device. (That it is bpffs is the caller's check, assertBpffs.)
  let top = stats.length - 1;
  while (top > 0 && stats[top - 1]?.st.dev === last.st.dev) top--;
  const me = euid();
  const ancestors = missing ? stats.slice(top) : stats.slice(top, -1);
  for (const { path: p, st } of ancestors) {
    const ownerOk = st.uid === 0 || st.uid === me;
    const writable = (st.mode & 0o022) !== 0;
    const stickyRoot = st.uid === 0 && (st.mode & S_ISVTX) !== 0;
    if (!ownerOk || (writable && !stickyRoot)) {
      throw new PinTrustError(
        p,
        `${p} (${describe(st)}) is ${ownerOk ? 'writable by others' : "not root's"}: whoever can rename ` +
          `what is in it could swap the pin directory; not using ${dir} below it. Make it root's and not ` +
          `writable by group or others (or sticky), or choose another --pin-dir`,
      );
    }
  }
  if (missing) return undefined;
  const st = last.st;
  const mode = st.mode & 0o7777;
  const gid = shareGroupAllowed(st) ? shareGroupGid() : undefined;
  const shared =
    gid !== undefined && st.uid === 0 && st.gid === gid && (mode & S_ISGID) !== 0 && (mode & 0o007) === 0;
  if (shared) return { dir, shared, gid: st.gid, dev: st.dev, ino: st.ino };
  if ((st.uid === 0 || st.uid === me) && (mode & 0o022) === 0)
    return { dir, shared: false, gid: st.gid, dev: st.dev, ino: st.ino };
  const why =
    st.uid !== 0 && st.uid !== me
      ? 'it was not created by root or by this engine (where bpffs is mounted world-writable, any user can create it first)'
      : (mode & 0o002) !== 0
        ? 'it is writable by everyone'
        : `it is writable by its group, which is not a directory shared through the group ${SHARE_GROUP} (root:${SHARE_GROUP}, setgid, no permission for others, as the launcher prepares it)`;
  throw new PinTrustError(
    dir,
    `refusing the pin directory ${dir} (${describe(st)}): ${why}; its pins could be someone else's, ` +
      `and pins made in it could be opened by them. ${remedy(dir)}`,
  );
}

/** Looking the group up is only needed for a directory that could be shared. */
function shareGroupAllowed(st: Stats): boolean {
  return st.uid === 0 && (st.mode & S_ISGID) !== 0 && (st.mode & 0o070) !== 0;
}

/** After opening the directory (the lock fd): it is still the one checked. */
export function assertSameDir(trust: PinDirTrust, fd: number): void {
  const st = fstatSync(fd);
  if (st.dev !== trust.dev || st.ino !== trust.ino)
    throw new PinTrustError(trust.dir, `${trust.dir} was replaced while it was being opened; try again`);
}

/**
 * Checks the pin `name` in a checked directory before it is opened. Returns false when there is
 * none. A pin is used only when it is a regular bpffs file (not a symlink), has no permission for
 * others, and: in a shared directory, has the directory's group (only root and the group's
 * members can create entries there, the setgid bit gives new ones the group, and membership is
 * what the launcher's password prompt grants — the desktop app pins as the administrator's uid
 * and the daemon adopts those pins); otherwise is owned by root or by this process's euid.
 * Anything else is refused, naming the file: a map of the right shape that someone else pinned is
 * not ours.
 */
export function checkPin(trust: PinDirTrust, name: string): boolean {
  const path = `${trust.dir}/${name}`;
  const st = lstatOrUndefined(path);
  if (!st) return false;
  const refuse = (why: string) => {
    throw new PinTrustError(
      path,
      `refusing the pin ${path} (${describe(st)}): ${why}; not adopting an object this engine or root did ` +
        `not create. Remove it as root (rm -- ${path}) after checking who put it there, or remove the whole ` +
        `state with \`net-tc-filter unload\` if it is yours`,
    );
  };
  if (st.isSymbolicLink()) refuse('it is a symlink');
  if (!st.isFile()) refuse('it is not a pinned object');
  if ((st.mode & 0o007) !== 0) refuse('others have permissions on it');
  if (trust.shared) {
    if (st.gid !== trust.gid) refuse(`its group is not the shared directory's (${trust.gid})`);
  } else if (st.uid !== 0 && st.uid !== euid()) {
    refuse('it is owned by another user');
  }
  return true;
}

/** Opens a pinned map after checkPin (undefined when it is not pinned). */
export function openTrustedPin(trust: PinDirTrust, name: string): BpfMap | undefined {
  return checkPin(trust, name) ? BpfMap.fromPin(`${trust.dir}/${name}`) : undefined;
}
