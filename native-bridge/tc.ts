// SPDX-License-Identifier: Apache-2.0
// Environment: Node (main process and CLI). No Electron import.
//
// tc clsact hooks and BPF filters through libbpf's netlink API (bpf_tc_*, libbpf >= 0.8).
// Operates in the network namespace of the calling thread.
import koffi from 'koffi';
import { BpfError, check, ERRNO } from './errors.js';
import { BPF_TC_EGRESS, BPF_TC_F_REPLACE, BPF_TC_INGRESS, lib, TcHook, TcOpts } from './libbpf.js';

const HOOK_SZ = koffi.sizeof(TcHook);
const OPTS_SZ = koffi.sizeof(TcOpts);

/** What libbpf returns when the hook or filter is not there (no qdisc, no device, no filter). */
const GONE = new Set([-ERRNO.ENOENT, -ERRNO.ENODEV, -ERRNO.EINVAL]);

function hook(ifindex: number, attachPoint: number) {
  return { sz: HOOK_SZ, ifindex, attach_point: attachPoint, parent: 0 };
}

/** Creates the clsact qdisc. Returns true when we created it, false when it already existed. */
export function tcHookCreate(ifindex: number, ifname: string): boolean {
  const ret = lib().bpf_tc_hook_create(hook(ifindex, BPF_TC_EGRESS));
  if (ret === -ERRNO.EEXIST) return false;
  check('bpf_tc_hook_create', ret, ifname);
  return true;
}

/** Removes the clsact qdisc (both directions, with every filter on it). */
export function tcHookDestroy(ifindex: number, ifname: string): void {
  const ret = lib().bpf_tc_hook_destroy(hook(ifindex, BPF_TC_INGRESS | BPF_TC_EGRESS));
  if (GONE.has(ret)) return; // already gone
  check('bpf_tc_hook_destroy', ret, ifname);
}

export interface TcFilterId {
  handle: number;
  priority: number;
}

/** Attaches (or atomically replaces) our egress filter. Returns the attached program id. */
export function tcAttach(
  ifindex: number,
  ifname: string,
  progFd: number,
  id: TcFilterId,
  replace: boolean,
): number {
  const opts = {
    sz: OPTS_SZ,
    prog_fd: progFd,
    flags: replace ? BPF_TC_F_REPLACE : 0,
    prog_id: 0,
    handle: id.handle,
    priority: id.priority,
  };
  check('bpf_tc_attach', lib().bpf_tc_attach(hook(ifindex, BPF_TC_EGRESS), opts), ifname);
  return opts.prog_id;
}

/** Removes our egress filter; false when it was not there. */
export function tcDetach(ifindex: number, ifname: string, id: TcFilterId): boolean {
  const opts = { sz: OPTS_SZ, prog_fd: 0, flags: 0, prog_id: 0, handle: id.handle, priority: id.priority };
  const ret = lib().bpf_tc_detach(hook(ifindex, BPF_TC_EGRESS), opts);
  if (GONE.has(ret)) return false;
  check('bpf_tc_detach', ret, ifname);
  return true;
}

/** The program id of the filter at (handle, priority) on egress, or undefined. */
export function tcQuery(ifindex: number, ifname: string, id: TcFilterId): number | undefined {
  const opts = { sz: OPTS_SZ, prog_fd: 0, flags: 0, prog_id: 0, handle: id.handle, priority: id.priority };
  const ret = lib().bpf_tc_query(hook(ifindex, BPF_TC_EGRESS), opts);
  if (GONE.has(ret)) return undefined;
  if (ret < 0) throw new BpfError('bpf_tc_query', -ret, { context: ifname });
  return opts.prog_id;
}
