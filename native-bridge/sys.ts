// SPDX-License-Identifier: Apache-2.0
// Environment: Node (main process and CLI). No Electron import.
//
// Small libc and /proc helpers the engine needs: interface indexes in the calling thread's
// network namespace, program info, an advisory lock, capability reading.
import { closeSync, constants, openSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import koffi from 'koffi';
import { BpfError, check, ERRNO, errnoName } from './errors.js';
import { lib, TestRunOpts } from './libbpf.js';
import { cString, cStringBytes, fieldSize, readFields, SYS_LAYOUTS, writeFields } from './layouts.js';
import { objInfo } from './map.js';
import { commandLineText } from './escape.js';

/** ifindex of an interface in this network namespace, or undefined. (Not /sys/class/net: that
 * shows the namespace sysfs was mounted in, not ours.) */
export function ifNameToIndex(name: string): number | undefined {
  const i = lib().if_nametoindex(name) as number;
  return i > 0 ? i : undefined;
}

/** IFNAMSIZ: an interface name's char array, NUL included. */
const IFNAMSIZ = fieldSize(SYS_LAYOUTS.ifreq.fields.ifr_name.type);

export function ifIndexToName(index: number): string | undefined {
  const buf = Buffer.alloc(IFNAMSIZ);
  const p = lib().if_indextoname(index, buf);
  return p ? cString(buf, 0, IFNAMSIZ, 'utf8') : undefined;
}

export interface ProgInfo {
  type: number;
  id: number;
  tag: string;
  name: string;
}

export function progInfo(fd: number): ProgInfo {
  const r = readFields(SYS_LAYOUTS.progInfo, objInfo(fd));
  return {
    type: r.type,
    id: r.id,
    tag: Buffer.from(r.tag).toString('hex'),
    name: cString(Buffer.from(r.name), 0, r.name.length),
  };
}

export function progFdById(id: number): number {
  const fd = lib().bpf_prog_get_fd_by_id(id) as number;
  if (fd < 0) throw new BpfError('bpf_prog_get_fd_by_id', -fd, { context: String(id) });
  return fd;
}

export function pinFd(fd: number, path: string): void {
  check('bpf_obj_pin', lib().bpf_obj_pin(fd, path), path);
}

/** Removes a pin (the object lives on while something else holds it). */
export function unpin(path: string): void {
  unlinkSync(path);
}

export function closeFd(fd: number): void {
  lib().close(fd);
}

/** Turns on kernel.bpf_stats_enabled while the returned fd stays open (for benchmarks). */
export function enableRunTimeStats(): number {
  const fd = lib().bpf_enable_stats(0) as number; // BPF_STATS_RUN_TIME
  if (fd < 0) throw new BpfError('bpf_enable_stats', -fd);
  return fd;
}

const SIOCGIFHWADDR = 0x8927;
const ARPHRD_ETHER = 1;
const ARPHRD_LOOPBACK = 772;
const ARPHRD_NONE = 0xfffe;
let ifIoctl: { socket: (d: number, t: number, p: number) => number; ioctl: KoffiVariadic } | undefined;
type KoffiVariadic = (fd: number, req: number, ...args: unknown[]) => number;

/**
 * Length of the link-layer header the tc hook sees on an interface, from its hardware type
 * (ioctl SIOCGIFHWADDR, in this thread's network namespace): 14 for Ethernet and loopback,
 * 0 for devices without one (WireGuard, tun), undefined otherwise (the program then reads
 * headers relative to the network header, which is always right but slower).
 */
export function linkHeaderLen(name: string): number | undefined {
  if (!ifIoctl) {
    const libc = koffi.load('libc.so.6');
    ifIoctl = {
      socket: libc.func('int socket(int domain, int type, int protocol)') as (
        d: number,
        t: number,
        p: number,
      ) => number,
      ioctl: libc.func('int ioctl(int fd, unsigned long request, ...)') as KoffiVariadic,
    };
  }
  // AF_UNIX: allowed by the systemd unit's RestrictAddressFamilies, and enough for this ioctl.
  const fd = ifIoctl.socket(1, 2 | 0o2000000, 0); // AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC
  if (fd < 0) return undefined;
  try {
    const IFR = SYS_LAYOUTS.ifreq;
    const ifr = writeFields(IFR, { ifr_name: cStringBytes(name, IFR.fields.ifr_name.type) });
    if (ifIoctl.ioctl(fd, SIOCGIFHWADDR, 'uint8_t *', ifr) < 0) return undefined;
    const type = readFields(IFR, ifr)['ifr_hwaddr.sa_family'];
    if (type === ARPHRD_ETHER || type === ARPHRD_LOOPBACK) return 14;
    if (type === ARPHRD_NONE) return 0;
    return undefined;
  } finally {
    lib().close(fd);
  }
}

let libcFlock: ((fd: number, op: number) => number) | undefined;

const LOCK_EX = 2;
const LOCK_NB = 4;

/**
 * An exclusive flock(2) on a directory (our bpffs pin directory). The kernel drops it when the
 * process dies, even by SIGKILL, so a crash never leaves a stale lock.
 * Returns the open fd, or undefined when another process holds it.
 */
export function tryLockDir(dir: string): number | undefined {
  libcFlock ??= koffi.load('libc.so.6').func('int flock(int fd, int op)') as (
    fd: number,
    op: number,
  ) => number;
  // The directory itself, never a symlink in its place (electron/engine/pintrust.ts checks the
  // path above it).
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  if (libcFlock(fd, LOCK_EX | LOCK_NB) === 0) return fd;
  const errno = koffi.errno();
  closeSync(fd);
  if (errno === ERRNO.EWOULDBLOCK) return undefined;
  throw new BpfError('flock', errno, { context: dir });
}

type Fchmodat = (dirfd: number, path: string, mode: number, flags: number) => number;
let libcFchmodat: Fchmodat | undefined;

const AT_FDCWD = -100;
const AT_SYMLINK_NOFOLLOW = 0x100;

/**
 * chmod(2) that never follows a symlink at `path`: glibc's fchmodat with AT_SYMLINK_NOFOLLOW acts
 * on the file itself and fails (EOPNOTSUPP) on a symlink. For pins in a directory a group may
 * write to, where a member could swap the pin for a symlink between pinning and the chmod.
 */
export function chmodNoFollow(path: string, mode: number): void {
  libcFchmodat ??= koffi
    .load('libc.so.6')
    .func('int fchmodat(int dirfd, const char *path, unsigned int mode, int flags)') as Fchmodat;
  if (libcFchmodat(AT_FDCWD, path, mode, AT_SYMLINK_NOFOLLOW) !== 0) {
    throw new Error(`fchmodat(${path}, 0${mode.toString(8)}): ${errnoName(koffi.errno())}`);
  }
}

/** Which process holds a flock on `path` (from /proc/locks), with its command line. The command
 * line is the holder's to choose (any user can flock a directory it can open): it comes escaped
 * (commandLineText), so no caller can print a newline or a terminal escape from it. */
export function lockHolder(path: string): { pid: number; command: string } | undefined {
  const st = statSync(path);
  // /proc/locks prints the device as major:minor in hex; dev_t packs them as glibc's
  // gnu_dev_major/minor do (minors above 255 live in bits 20 and up).
  const dev = BigInt(st.dev);
  const major = Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn));
  const minor = Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn));
  for (const line of readFileSync('/proc/locks', 'utf8').split('\n')) {
    const f = line.trim().split(/\s+/);
    // "1: FLOCK  ADVISORY  WRITE 1234 00:17:5678 0 EOF"
    if (f[1] !== 'FLOCK' || !f[5]) continue;
    const [maj, min, ino] = f[5].split(':');
    if (Number(ino) !== Number(st.ino)) continue;
    if (parseInt(maj ?? '', 16) !== major || parseInt(min ?? '', 16) !== minor) continue;
    const pid = Number(f[4]);
    let command = '?';
    try {
      command = commandLineText(readFileSync(`/proc/${pid}/cmdline`));
    } catch {
      // The holder may have just exited.
    }
    return { pid, command };
  }
  return undefined;
}

/** Effective capability bits of this process (from /proc/self/status). */
export function effectiveCaps(): bigint {
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return m?.[1] ? BigInt(`0x${m[1]}`) : 0n;
}

type Prctl = (option: number, ...args: unknown[]) => number;
let libcPrctl: Prctl | undefined;

const PR_CAP_AMBIENT = 47;
const PR_CAP_AMBIENT_CLEAR_ALL = 4;

/**
 * Empties the calling thread's ambient capability set (prctl PR_CAP_AMBIENT_CLEAR_ALL), so that
 * programs it starts from now on (and threads it creates, which copy its credentials) no longer
 * receive the capabilities the process was started with. Effective and permitted sets are kept.
 * Capabilities are per thread: threads that already exist keep their ambient set.
 */
export function clearAmbientCaps(): void {
  libcPrctl ??= koffi.load('libc.so.6').func('int prctl(int option, ...)') as Prctl;
  const ul = 'unsigned long';
  if (libcPrctl(PR_CAP_AMBIENT, ul, PR_CAP_AMBIENT_CLEAR_ALL, ul, 0, ul, 0, ul, 0) !== 0) {
    const errno = koffi.errno();
    throw new Error(`prctl(PR_CAP_AMBIENT_CLEAR_ALL): ${errnoName(errno)}`);
  }
}

const PR_GET_DUMPABLE = 3;
const PR_SET_DUMPABLE = 4;

/**
 * Makes this process non-dumpable (prctl PR_SET_DUMPABLE, 0): no core dump, /proc/<pid>/* files
 * owned by root, and ptrace attach or reads of /proc/<pid>/mem, environ, fd… refused to processes
 * of the same user that lack CAP_SYS_PTRACE (ptrace_may_access). The flag belongs to the process
 * (its mm), not a thread, and is reset by execve: children that exec are not covered.
 */
export function setUndumpable(): void {
  libcPrctl ??= koffi.load('libc.so.6').func('int prctl(int option, ...)') as Prctl;
  const ul = 'unsigned long';
  if (libcPrctl(PR_SET_DUMPABLE, ul, 0, ul, 0, ul, 0, ul, 0) !== 0) {
    throw new Error(`prctl(PR_SET_DUMPABLE, 0): ${errnoName(koffi.errno())}`);
  }
}

/** prctl(PR_GET_DUMPABLE): 0 not dumpable, 1 dumpable by its user, 2 dumpable by root only. */
export function getDumpable(): number {
  libcPrctl ??= koffi.load('libc.so.6').func('int prctl(int option, ...)') as Prctl;
  const ul = 'unsigned long';
  const r = libcPrctl(PR_GET_DUMPABLE, ul, 0, ul, 0, ul, 0, ul, 0);
  if (r < 0) throw new Error(`prctl(PR_GET_DUMPABLE): ${errnoName(koffi.errno())}`);
  return r;
}

const CLOCK_BOOTTIME = 7;
type ClockGettime = (clock: number, ts: Buffer) => number;
let libcClockGettime: ClockGettime | undefined;

/**
 * CLOCK_BOOTTIME in ns: the clock of bpf_ktime_get_boot_ns(), the one trial deadlines use (unlike
 * CLOCK_MONOTONIC it keeps counting while the machine is suspended).
 */
export function bootTimeNs(): bigint {
  libcClockGettime ??= koffi
    .load('libc.so.6')
    .func('int clock_gettime(int clk, _Out_ uint8_t *ts)') as ClockGettime;
  const ts = Buffer.alloc(SYS_LAYOUTS.timespec.size);
  if (libcClockGettime(CLOCK_BOOTTIME, ts) !== 0)
    throw new Error(`clock_gettime(CLOCK_BOOTTIME): ${errnoName(koffi.errno())}`);
  const t = readFields(SYS_LAYOUTS.timespec, ts); // never negative on CLOCK_BOOTTIME
  return t.tv_sec * 1_000_000_000n + t.tv_nsec;
}

/**
 * Runs a program once with `ctx` as its context (BPF_PROG_RUN; for a syscall program the context
 * is this buffer) and returns the program's return value.
 */
export function progRun(fd: number, ctx: Buffer): number {
  const opts = {
    sz: koffi.sizeof(TestRunOpts),
    data_in: null,
    data_out: null,
    data_size_in: 0,
    data_size_out: 0,
    ctx_in: ctx,
    ctx_out: null,
    ctx_size_in: ctx.length,
    ctx_size_out: 0,
    retval: 0,
    repeat: 0,
    duration: 0,
    flags: 0,
    cpu: 0,
    batch_size: 0,
  };
  check('bpf_prog_test_run_opts', lib().bpf_prog_test_run_opts(fd, opts) as number);
  return opts.retval;
}
