// SPDX-License-Identifier: Apache-2.0
// Environment: Node (main process and CLI). No Electron import.
//
// The TCP ports something listens on in this network namespace (/proc/self/net/tcp and tcp6
// follow the calling thread's namespace), with the command that holds each listening socket
// when it can be found. The impact preview uses them to recognise replies of a local server
// (sshd's to the admin's own session) among the recorded flows.
import { escapeUntrusted } from '../../native-bridge/escape.js';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** TCP_LISTEN in /proc/net/tcp's `st` column. */
const TCP_LISTEN = '0A';

export interface ListeningSocket {
  port: number;
  inode: number;
}

/** The listening sockets of a /proc/net/tcp or tcp6 table (header line skipped, bad lines too). */
export function parseProcNetTcp(text: string): ListeningSocket[] {
  const out: ListeningSocket[] = [];
  for (const line of text.split('\n').slice(1)) {
    // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || f[3] !== TCP_LISTEN) continue;
    const m = /:([0-9A-Fa-f]{4})$/.exec(f[1] ?? '');
    const inode = Number(f[9]);
    if (!m?.[1] || !Number.isSafeInteger(inode)) continue;
    out.push({ port: parseInt(m[1], 16), inode });
  }
  return out;
}

/** socket inode → command (comm) of a process holding it; processes we may not read are skipped. */
function socketOwners(inodes: ReadonlySet<number>): Map<number, string> {
  const owners = new Map<number, string>();
  if (inodes.size === 0) return owners;
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((n) => /^[0-9]+$/.test(n));
  } catch {
    return owners;
  }
  for (const pid of pids) {
    if (owners.size === inodes.size) break; // every socket named
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // gone, or not ours to read
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const m = /^socket:\[([0-9]+)\]$/.exec(target);
      const inode = m?.[1] ? Number(m[1]) : NaN;
      if (!inodes.has(inode) || owners.has(inode)) continue;
      try {
        // The process's own choice (prctl PR_SET_NAME): escaped, never printed raw to a terminal.
        owners.set(inode, escapeUntrusted(readFileSync(`/proc/${pid}/comm`, 'utf8').trim()));
      } catch {
        // the process ended meanwhile
      }
    }
  }
  return owners;
}

/** Listening TCP port → the command listening on it (undefined when not found). IPv4 and IPv6. */
export function listeningTcpPorts(): Map<number, string | undefined> {
  const sockets: ListeningSocket[] = [];
  for (const file of ['/proc/self/net/tcp', '/proc/self/net/tcp6']) {
    try {
      sockets.push(...parseProcNetTcp(readFileSync(file, 'utf8')));
    } catch {
      // no IPv6 (or no IPv4) in this kernel: nothing listens there
    }
  }
  const owners = socketOwners(new Set(sockets.map((s) => s.inode)));
  const out = new Map<number, string | undefined>();
  for (const s of sockets.sort((a, b) => a.port - b.port)) {
    const owner = owners.get(s.inode);
    if (!out.has(s.port) || (out.get(s.port) === undefined && owner !== undefined)) out.set(s.port, owner);
  }
  return out;
}
