// SPDX-License-Identifier: Apache-2.0
// Environment: Node (main process, worker and CLI). No Electron import.
//
// Link events from the kernel (rtnetlink, group RTMGRP_LINK: RTM_NEWLINK / RTM_DELLINK) in the
// calling thread's network namespace, read without blocking: the engine polls it often, so an
// interface that appears is guarded within milliseconds instead of at the next periodic check.
// (Node cannot wait on a netlink socket; one non-blocking recv per poll costs a syscall.)
import koffi from 'koffi';
import { ERRNO, errnoName } from './errors.js';
import { SYS_LAYOUTS, writeFields } from './layouts.js';

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const NETLINK_ROUTE = 0;
const RTMGRP_LINK = 1;
const { ENOBUFS } = ERRNO;

interface Libc {
  socket: (d: number, t: number, p: number) => number;
  bind: (fd: number, addr: Buffer, len: number) => number;
  recv: (fd: number, buf: Buffer, len: number, flags: number) => number;
  close: (fd: number) => number;
}
let libc: Libc | undefined;

function load(): Libc {
  if (libc) return libc;
  const c = koffi.load('libc.so.6');
  libc = {
    socket: c.func('int socket(int domain, int type, int protocol)') as Libc['socket'],
    bind: c.func('int bind(int fd, const uint8_t *addr, uint32_t len)') as Libc['bind'],
    recv: c.func('long recv(int fd, uint8_t *buf, size_t len, int flags)') as Libc['recv'],
    close: c.func('int close(int fd)') as Libc['close'],
  };
  return libc;
}

export class LinkEvents {
  private readonly buf = Buffer.alloc(64 * 1024);
  private closed = false;

  private constructor(private readonly fd: number) {}

  /** Subscribes to link events. Throws when netlink is unavailable (the caller then relies on
   * its periodic check alone). */
  static open(): LinkEvents {
    const c = load();
    const fd = c.socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) throw new Error(`socket(AF_NETLINK): ${errnoName(koffi.errno())}`);
    // nl_pid 0: the kernel picks
    const sa = writeFields(SYS_LAYOUTS.sockaddrNl, { nl_family: AF_NETLINK, nl_groups: RTMGRP_LINK });
    if (c.bind(fd, sa, sa.length) !== 0) {
      const errno = koffi.errno();
      c.close(fd);
      throw new Error(`bind(AF_NETLINK, RTMGRP_LINK): ${errnoName(errno)}`);
    }
    return new LinkEvents(fd);
  }

  /** Takes every pending message (at most `maxReads` reads); true when a link appeared, changed or
   * went since the last call (also when the kernel dropped events for a full socket buffer). */
  poll(maxReads = 64): boolean {
    if (this.closed) return false;
    const c = load();
    let seen = false;
    for (let i = 0; i < maxReads; i++) {
      const n = c.recv(this.fd, this.buf, this.buf.length, 0);
      if (n > 0) {
        seen = true;
        continue;
      }
      const errno = n < 0 ? koffi.errno() : 0;
      if (errno === ENOBUFS) seen = true; // overflowed: something changed, we missed what
      if (errno !== ENOBUFS) break; // EAGAIN: nothing more; other errors: try again next poll
    }
    return seen;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    load().close(this.fd);
  }
}
