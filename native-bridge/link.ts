// SPDX-License-Identifier: Apache-2.0
// Environment: Node (main process and CLI), root or CAP_BPF + CAP_NET_ADMIN.
//
// BPF links to a cgroup (bpf_link_create): how the socket-creation program is attached to the
// root of the cgroup v2 hierarchy, so that it sees every socket created below it. A pinned link
// keeps the program attached after the process that made it exits; bpf_link_update swaps the
// program in place (no socket is created unrecorded in between).
import { closeSync, constants, openSync } from 'node:fs';
import { BpfError } from './errors.js';
import { lib } from './libbpf.js';
import { objInfo } from './map.js';

/** enum bpf_attach_type: BPF_CGROUP_INET_SOCK_CREATE. */
export const BPF_CGROUP_INET_SOCK_CREATE = 2;

/** Attaches `progFd` to the cgroup directory `cgroupDir`; returns the link's descriptor. */
export function linkCgroup(progFd: number, cgroupDir: string, attachType: number): number {
  const dir = openSync(cgroupDir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    const fd = lib().bpf_link_create(progFd, dir, attachType, null) as number;
    if (fd < 0) throw new BpfError('bpf_link_create', -fd, { context: cgroupDir });
    return fd;
  } finally {
    closeSync(dir);
  }
}

/** Makes the link run `progFd` from now on. */
export function updateLink(linkFd: number, progFd: number): void {
  const r = lib().bpf_link_update(linkFd, progFd, null) as number;
  if (r < 0) throw new BpfError('bpf_link_update', -r);
}

export interface LinkInfo {
  /** enum bpf_link_type (BPF_LINK_TYPE_CGROUP = 3). */
  type: number;
  id: number;
  progId: number;
}

export const BPF_LINK_TYPE_CGROUP = 3;

/** struct bpf_link_info: type@0 id@4 prog_id@8. */
export function linkInfo(fd: number): LinkInfo {
  const b = objInfo(fd);
  return { type: b.readUInt32LE(0), id: b.readUInt32LE(4), progId: b.readUInt32LE(8) };
}
