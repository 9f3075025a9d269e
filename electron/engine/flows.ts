// SPDX-License-Identifier: Apache-2.0
// Environment: Node (main process and CLI). No Electron import.
//
// Flow counters as readers want them: names, wall-clock times, numbers.
import { decodeFlowKey, decodeFlowVal, NTF, REASON_NAMES } from '../../native-bridge/index.js';
import type { BpfMap } from '../../native-bridge/index.js';
import { formatAddr } from '../policy/addr.js';
import { protoName } from './proto.js';
import { CgroupNames, unitOfPath } from '../policy/cgroups.js';

/** What the program did with a packet: would-drop is audit mode's drop (the packet passed). */
export type Verdict = 'allow' | 'drop' | 'would-drop';

export function verdictName(code: number): Verdict {
  return code === NTF.VERDICT_ALLOW ? 'allow' : code === NTF.VERDICT_WOULD_DROP ? 'would-drop' : 'drop';
}

/** Who sent a flow where: what a flow is keyed by (the interface by name), and its last source port. */
export type FlowTarget = Pick<FlowRow, 'iface' | 'uid' | 'family' | 'proto' | 'dst' | 'dport' | 'sport'>;

export interface FlowRow {
  ifindex: number;
  iface: string;
  /** null for packets without a local socket. */
  uid: number | null;
  family: 4 | 6;
  proto: string;
  dst: string;
  dport: number;
  allowedPackets: number;
  allowedBytes: number;
  droppedPackets: number;
  droppedBytes: number;
  /** Audit mode: what the policy would have dropped (passed). */
  wouldDropPackets: number;
  wouldDropBytes: number;
  /** The last packet's source port (22: most likely replies of sshd). */
  sport: number;
  /** Wall-clock milliseconds. */
  firstSeen: number;
  lastSeen: number;
  /** The verdict last cached for the flow, with its reason and endpoint id. */
  verdict: Verdict;
  reason: string;
  endpointId: number;
  /** The sending socket's cgroup v2 id (0: none known), its path below the root and its unit. */
  cgroupId: number;
  cgroup: string | null;
  unit: string | null;
}

/** Offset from CLOCK_MONOTONIC (bpf_ktime_get_ns, process.hrtime) to wall-clock, in ns. */
export function monotonicToWallNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
}

/** Every flow entry of the map (snapshot), most recently seen first. */
export function readFlows(
  map: BpfMap,
  ifname: (ifindex: number) => string,
  offsetNs = monotonicToWallNs(),
  cgroups: CgroupNames = new CgroupNames(),
): FlowRow[] {
  const ms = (ns: bigint) => Number((ns + offsetNs) / 1_000_000n);
  return map
    .entries()
    .map(([kb, vb]): FlowRow => {
      const k = decodeFlowKey(kb);
      const v = decodeFlowVal(vb);
      const family = k.family === NTF.AF_INET ? 4 : 6;
      const cgroup = cgroups.path(k.cgroup);
      return {
        ifindex: k.ifindex,
        iface: ifname(k.ifindex),
        uid: k.unowned ? null : k.uid,
        family,
        proto: protoName(k.proto),
        dst: formatAddr(family, k.daddr),
        dport: k.dport,
        allowedPackets: Number(v.allowedPackets),
        allowedBytes: Number(v.allowedBytes),
        droppedPackets: Number(v.droppedPackets),
        droppedBytes: Number(v.droppedBytes),
        wouldDropPackets: Number(v.wouldDropPackets),
        wouldDropBytes: Number(v.wouldDropBytes),
        sport: v.sport,
        firstSeen: ms(v.firstNs),
        lastSeen: ms(v.lastNs),
        verdict: verdictName(v.verdict),
        reason: REASON_NAMES[v.reason] ?? String(v.reason),
        endpointId: v.endpointId,
        cgroupId: k.cgroup,
        cgroup,
        unit: cgroup === null ? null : unitOfPath(cgroup),
      };
    })
    .sort((a, b) => b.lastSeen - a.lastSeen);
}
