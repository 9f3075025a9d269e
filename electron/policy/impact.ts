// SPDX-License-Identifier: Apache-2.0
// Environment: any (pure functions)
//
// Impact preview: every flow the kernel recorded, decided under a new policy by the engine's
// own evaluator (referenceEvaluate, evaluate.ts) and compared with the verdict it has now; the
// flows whose verdict changes, biggest first, and plain-words warnings for those that look like
// replies of a local server (sshd's to the admin's own session).
import ipaddr from 'ipaddr.js';
import { hostPort } from './addr.js';
import { referenceEvaluate } from './evaluate.js';
import type { Decision, Packet } from './evaluate.js';
import type { ResolvedPolicy } from './types.js';
import type { FlowRow, FlowTarget } from '../engine/flows.js';

/** What impact needs of a kernel flow entry. */
export type ImpactFlow = Omit<FlowRow, 'firstSeen'>;

export type FlowVerdictName = 'allow' | 'drop' | 'would-drop';

export interface FlowVerdict {
  verdict: FlowVerdictName;
  reason: string;
  endpointId: number;
  /** The endpoint's name when known, else null. */
  endpoint: string | null;
}

export interface ImpactInput {
  flows: readonly ImpactFlow[];
  /** The policy previewed (FILE). */
  next: ResolvedPolicy;
  /** The enforced policy; undefined: the verdicts the flows have recorded are the baseline. */
  current?: ResolvedPolicy;
  /** This host's interface name → index (the flows' ifindexes are this host's). */
  ifindexOf: (name: string) => number | undefined;
  /** Local listening TCP ports → the command listening (undefined: not known). */
  listening: ReadonlyMap<number, string | undefined>;
  /** How a sender is named ('(unowned)' for null). */
  nameOf: (uid: number | null) => string;
  /** The ids of a cgroup and its ancestors by level, root first, for unit:/cgroup: entries
   * (explain.ts cgroupIdsOf); absent, or undefined for a path: none match the flow. */
  cgroupIds?: (path: string) => readonly number[] | undefined;
}

export interface ImpactRow extends FlowTarget {
  user: string;
  /** The sending socket's unit and cgroup path (null: not known). */
  unit: string | null;
  cgroup: string | null;
  packets: number;
  bytes: number;
  lastSeen: number;
  before: FlowVerdict;
  after: FlowVerdict;
  /** The flow's source port is a local listening TCP port: replies of that server. */
  server?: { port: number; command: string | undefined };
  /** Plain-words warning for a server's replies that FILE would drop or report. */
  warning?: string;
}

export interface ImpactReport {
  /** Flows evaluated. */
  evaluated: number;
  /** Where the verdict now comes from. */
  baseline: 'enforced' | 'recorded';
  /** Flows whose verdict changes, biggest (bytes, then packets) first. */
  changed: ImpactRow[];
}

/** A flow as the evaluator's packet. Throws when its destination is not an address of its family. */
export function flowPacket(f: ImpactFlow): Packet {
  if (!ipaddr.isValid(f.dst)) throw new Error(`flow on ${f.iface}: invalid destination ${f.dst}`);
  const ip = ipaddr.parse(f.dst);
  const bytes = ip.toByteArray();
  if (bytes.length !== (f.family === 4 ? 4 : 16))
    throw new Error(`flow on ${f.iface}: destination ${f.dst} is not an IPv${f.family} address`);
  return { ifindex: f.ifindex, family: f.family, daddr: Uint8Array.from(bytes), uid: f.uid };
}

function endpointName(p: ResolvedPolicy | undefined, id: number): string | null {
  if (id === 0 || p === undefined) return null;
  return p.endpoints.find((e) => e.id === id)?.name ?? null;
}

/** 'pass' (untouched: no endpoint names the interface, unguarded) lets the packet through like an allow. */
function flowVerdict(p: ResolvedPolicy, d: Decision): FlowVerdict {
  return {
    verdict: d.verdict === 'pass' ? 'allow' : d.verdict,
    reason: d.reason,
    endpointId: d.endpointId,
    endpoint: endpointName(p, d.endpointId),
  };
}

export function guessService(port: number, command: string | undefined): string | undefined {
  return command ?? (port === 22 ? 'sshd?' : undefined);
}

function sessionWarning(r: ImpactRow): string | undefined {
  if (!r.server) return undefined;
  const svc = guessService(r.server.port, r.server.command);
  const what = `replies of the service listening on TCP port ${r.server.port}${svc ? ` (${svc})` : ''} to ${r.dst} on ${r.iface}`;
  const ssh = r.server.port === 22 || /ssh/.test(r.server.command ?? '');
  if (r.after.verdict === 'drop' && r.before.verdict !== 'drop') {
    return (
      `WARNING: ${what} would be DROPPED: ` +
      (ssh ? 'this may be your own SSH session' : `clients connected from ${r.dst} would lose the connection`)
    );
  }
  if (r.after.verdict === 'would-drop' && r.before.verdict === 'allow') {
    return `NOTE: ${what} would be reported as WOULD-DROP (audit mode: they still pass; enforcing would cut them off)`;
  }
  return undefined;
}

export function impactOf(i: ImpactInput): ImpactReport {
  const changed: ImpactRow[] = [];
  for (const f of i.flows) {
    const ids = f.cgroup !== null ? i.cgroupIds?.(f.cgroup) : undefined;
    const pkt = ids ? { ...flowPacket(f), cgroups: ids } : flowPacket(f);
    const after = flowVerdict(i.next, referenceEvaluate(i.next, i.ifindexOf, pkt));
    const before: FlowVerdict = i.current
      ? flowVerdict(i.current, referenceEvaluate(i.current, i.ifindexOf, pkt))
      : { verdict: f.verdict, reason: f.reason, endpointId: f.endpointId, endpoint: null };
    if (after.verdict === before.verdict) continue;
    const command = f.proto === 'tcp' && i.listening.has(f.sport) ? i.listening.get(f.sport) : undefined;
    const row: ImpactRow = {
      iface: f.iface,
      uid: f.uid,
      user: i.nameOf(f.uid),
      unit: f.unit,
      cgroup: f.cgroup,
      family: f.family,
      proto: f.proto,
      dst: f.dst,
      dport: f.dport,
      sport: f.sport,
      packets: f.allowedPackets + f.droppedPackets + f.wouldDropPackets,
      bytes: f.allowedBytes + f.droppedBytes + f.wouldDropBytes,
      lastSeen: f.lastSeen,
      before,
      after,
      ...(f.proto === 'tcp' && i.listening.has(f.sport) ? { server: { port: f.sport, command } } : {}),
    };
    const warning = sessionWarning(row);
    changed.push(warning ? { ...row, warning } : row);
  }
  changed.sort((a, b) => b.bytes - a.bytes || b.packets - a.packets || b.lastSeen - a.lastSeen);
  return { evaluated: i.flows.length, baseline: i.current ? 'enforced' : 'recorded', changed };
}

const WORDS: Record<FlowVerdictName, string> = { allow: 'allow', drop: 'DROP', 'would-drop': 'WOULD-DROP' };

function verdictText(v: FlowVerdict): string {
  const ep = v.endpoint ?? (v.endpointId !== 0 ? `#${v.endpointId}` : undefined);
  return `${WORDS[v.verdict]} (${v.reason}${ep ? ` ${ep}` : ''})`;
}

function dest(r: ImpactRow): string {
  return hostPort(r.family, r.dst, r.dport, r.proto);
}

/** The report as text. `file`: the policy previewed; `baseline`: what "now" is, in words. */
export function impactText(r: ImpactReport, file: string, baseline: string): string {
  const lines = [`${file} against ${r.evaluated} recorded flow(s); now: ${baseline}.`];
  if (r.changed.length === 0) {
    lines.push(`No recorded flow changes its verdict under ${file}.`);
    return `${lines.join('\n')}\n`;
  }
  lines.push(`${r.changed.length} flow(s) change, biggest first:`);
  lines.push(
    'IFACE    USER           PROTO  DESTINATION                      PACKETS        BYTES  LAST SEEN     NOW → WITH FILE',
  );
  for (const c of r.changed) {
    lines.push(
      `${c.iface.padEnd(8)} ${c.user.padEnd(14)} ${c.proto.padEnd(6)} ${dest(c).padEnd(32)} ` +
        `${String(c.packets).padStart(7)} ${String(c.bytes).padStart(12)}  ` +
        `${new Date(c.lastSeen).toISOString().slice(11, 23)}  ${verdictText(c.before)} → ${verdictText(c.after)}`,
    );
  }
  for (const c of r.changed) if (c.warning) lines.push(c.warning);
  return `${lines.join('\n')}\n`;
}

/** The report as one JSON object. */
export function impactJson(r: ImpactReport, file: string): Record<string, unknown> {
  return {
    config: file,
    baseline: r.baseline,
    evaluated: r.evaluated,
    changed: r.changed.map((c) => ({
      iface: c.iface,
      uid: c.uid,
      user: c.user,
      family: c.family,
      proto: c.proto,
      dst: c.dst,
      dport: c.dport,
      sport: c.sport,
      packets: c.packets,
      bytes: c.bytes,
      lastSeen: new Date(c.lastSeen).toISOString(),
      before: c.before,
      after: c.after,
      server: c.server ? { port: c.server.port, command: c.server.command ?? null } : null,
      warning: c.warning ?? null,
    })),
  };
}
