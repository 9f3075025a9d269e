// SPDX-License-Identifier: Apache-2.0
// Environment: any (pure functions)
//
// Why a policy decides what it decides for one sender, destination and interface, in plain
// words: the CLI's `explain` prints it, and the desktop app shows the same text for a clicked row.
// The decision is the engine's own (referenceTrace in evaluate.ts); this module only words it,
// plus the essentials exemption the tc program applies before the policy (docs/datapath.md,
// "Per packet" step 5).
import { formatAddr, hostPort } from './addr.js';
import { referenceTrace } from './evaluate.js';
import type { Decision, DecisionReason, Trace } from './evaluate.js';
import type { CgroupTree } from './cgroups.js';
import type { InterfaceSettings, ResolvedCgroupEntry, ResolvedEndpoint, ResolvedPolicy } from './types.js';
import { hostEvalTime, openAt, openStateText } from './when.js';
import type { EvalTime } from './when.js';

/** A trial apply that is pending: the kernel goes back to `previousEpoch` in `secondsLeft` s. */
export interface TrialDescription {
  previousEpoch: number;
  secondsLeft: number;
  /** 'app': worded for the desktop app ("unless it is kept", "policy N"); default: the CLI's. */
  words?: 'cli' | 'app';
}

export interface ExplainQuery {
  policy: ResolvedPolicy;
  /** Where the policy comes from, for the text ("/etc/net-tc-filter.yml", "the enforced policy (epoch 7)"). */
  source: string;
  /** The sender; null: a packet without a local socket (unowned). */
  uid: number | null;
  /** Account name of a uid (undefined: none; the uid is shown). */
  nameOf: (uid: number) => string | undefined;
  family: 4 | 6;
  /** Destination address, network byte order (4 or 16 bytes). */
  daddr: Uint8Array;
  port?: number;
  proto?: 'tcp' | 'udp' | 'icmp';
  /** The packet's source port when known; the DHCP exemption needs the client port (68, 546). */
  sport?: number;
  /** The interface the packet leaves by; undefined: any interface the policy does not configure. */
  iface?: string;
  /** Set only when the policy explained is the one on trial. */
  trial?: TrialDescription;
  /** Binding the DHCP client ports needs privilege on this host (links.ts dhcpPortsPrivileged):
   * unicast DHCP is exempt too. Default false: only what a client broadcasts. */
  dhcpUnicast?: boolean;
  /** When the packet is sent, for `when:` windows; default: now, in the host's time zone. */
  at?: EvalTime;
  /** The sending socket's cgroup (socketCgroup): its path below the cgroup v2 root and the ids of
   * it and its ancestors by level, root first. unit:/cgroup: entries are matched from it; absent:
   * not known (they take nothing, and the words say so). */
  cgroup?: SocketCgroup;
  /** The systemd unit of that cgroup (cgroups.ts unitOfPath), for the words; null: none. */
  unit?: string | null;
}

/** A socket's cgroup as the kernel program sees it: its id and its ancestors' ids, by level. */
export interface SocketCgroup {
  path: string;
  /** Index 0: the root's id; the last: the cgroup's own. */
  ids: readonly number[];
}

/** The cgroup at `path` below the tree's root with its ancestors' ids, or why there is none
 * (a component that does not exist: the cgroup is gone, or was never made). */
export function socketCgroup(tree: Pick<CgroupTree, 'path' | 'root'>, path: string): SocketCgroup | string {
  const parts = path === '/' ? [] : path.split('/').slice(1);
  if (!path.startsWith('/') || parts.some((p) => p === '' || p === '.' || p === '..'))
    return `${JSON.stringify(path)} is not a cgroup path below the cgroup v2 root (e.g. /system.slice/backup.service)`;
  const ids: number[] = [];
  for (let i = 0; i <= parts.length; i++) {
    const p = i === 0 ? '/' : `/${parts.slice(0, i).join('/')}`;
    const node = tree.path(p);
    if (!node) return `there is no cgroup ${p} (below ${tree.root})`;
    ids.push(node.id);
  }
  return { path, ids };
}

/** cgroup path → the ids of it and its ancestors (socketCgroup) in `tree`, remembered per path:
 * what impactOf matches unit:/cgroup: entries of observed flows by. */
export function cgroupIdsOf(
  tree: Pick<CgroupTree, 'path' | 'root'> | string,
): (path: string) => readonly number[] | undefined {
  const seen = new Map<string, readonly number[] | undefined>();
  return (path) => {
    if (typeof tree === 'string') return undefined;
    if (!seen.has(path)) {
      const s = socketCgroup(tree, path);
      seen.set(path, typeof s === 'string' ? undefined : s.ids);
    }
    return seen.get(path);
  };
}

export type ExplainReason = DecisionReason | 'essential';

export interface Explanation {
  /** The interface named in the query; null: any interface the policy does not configure. */
  iface: string | null;
  user: string;
  uid: number | null;
  /** The sending socket's unit and cgroup path, when given (ExplainQuery.unit, .cgroup). */
  unit: string | null;
  cgroup: string | null;
  /** ADDR, ADDR:PORT or [ADDR]:PORT. */
  destination: string;
  proto: string | null;
  verdict: Decision['verdict'];
  reason: ExplainReason;
  endpointId: number;
  /** The endpoint reported with an allow (its name), else null. */
  endpoint: string | null;
  /** Audit mode holds on the interface: what the policy drops passes and is reported. */
  audit: boolean;
  /** The endpoints whose ranges contain the destination (on any interface), in policy order. */
  guarding: string[];
  /** Of those, the ones that name the interface. */
  covering: string[];
  /** The explanation, one sentence per line. */
  lines: string[];
}

/** Synthetic interface indexes: the explanation is about names, not this host's interfaces. */
const OTHER_IFINDEX = 0xfffffff0;

const DHCP = {
  4: { client: 68, server: 67, dest: '255.255.255.255' },
  6: { client: 546, server: 547, dest: 'ff02::1:2' },
} as const;

const SHOWN_USERS = 8;

export const VERDICT_WORDS: Record<Decision['verdict'], string> = {
  allow: 'ALLOW',
  drop: 'DROP',
  'would-drop': 'WOULD-DROP',
  pass: 'PASS',
};

function joinWords(xs: string[], last = 'and'): string {
  if (xs.length <= 1) return xs.join('');
  return `${xs.slice(0, -1).join(', ')} ${last} ${xs[xs.length - 1] ?? ''}`;
}

/** Whom an endpoint lists, by account name (uid without one), '*' as everyone, then its
 * unit:/cgroup: entries as written. */
function listed(e: ResolvedEndpoint, nameOf: (uid: number) => string | undefined): string {
  const names = e.uids.map((u) => nameOf(u) ?? `uid ${u}`);
  const shown = names.slice(0, SHOWN_USERS);
  if (names.length > SHOWN_USERS) shown.push(`${names.length - SHOWN_USERS} more`);
  if (e.any) shown.unshift('every user (*)');
  shown.push(...(e.cgroups ?? []).map((c) => c.text));
  return shown.length === 0 ? 'nobody' : joinWords(shown);
}

function settingsText(s: InterfaceSettings): string {
  return (
    `default ${s.default}, unowned ${s.unowned}, essentials ${s.essentials ? 'on' : 'off'}, ` +
    `mode ${s.mode}`
  );
}

/** The DHCP exemption's destination test (is_dhcp_client in the tc program, sport aside). */
function dhcpShaped(q: ExplainQuery, addr: string): boolean {
  const d = DHCP[q.family];
  return q.port === d.server && (q.dhcpUnicast === true || addr === d.dest);
}

export function explain(q: ExplainQuery): Explanation {
  const p = q.policy;
  const names = [...p.interfaces.keys()];
  const configured = q.iface !== undefined && p.interfaces.has(q.iface);
  const ifindexOf = (n: string) => {
    const i = names.indexOf(n);
    return i < 0 ? undefined : i + 1;
  };
  const ifindex = configured ? (ifindexOf(q.iface as string) as number) : OTHER_IFINDEX;
  const at = q.at ?? (p.endpoints.some((e) => e.when) ? hostEvalTime() : undefined);
  const t = referenceTrace(
    p,
    ifindexOf,
    {
      ifindex,
      family: q.family,
      daddr: q.daddr,
      uid: q.uid,
      ...(q.cgroup && q.uid !== null ? { cgroups: q.cgroup.ids } : {}),
    },
    at,
  );
  const addr = formatAddr(q.family, q.daddr);
  const user = q.uid === null ? '(unowned)' : (q.nameOf(q.uid) ?? String(q.uid));
  const who = q.uid === null ? 'a packet without a local socket' : (q.nameOf(q.uid) ?? `uid ${q.uid}`);
  const ifWords = q.iface ?? 'an interface no endpoint names';
  const lines: string[] = [`Policy: ${q.source}.`];
  if (q.trial?.words === 'app') {
    lines.push(
      `This is the verdict of the policy on trial: unless it is kept, the previous policy ` +
        `(policy ${q.trial.previousEpoch}) returns in ${q.trial.secondsLeft} s.`,
    );
  } else if (q.trial) {
    lines.push(
      `This is the verdict of the policy on trial: unless \`net-tc-filter confirm\` runs, the previous ` +
        `policy (epoch ${q.trial.previousEpoch}) returns in ${q.trial.secondsLeft} s.`,
    );
  }

  // The interface.
  if (t.iface) {
    lines.push(`${t.iface.name}: ${settingsText(t.iface.settings)}.`);
  } else {
    lines.push(
      q.iface === undefined
        ? 'Interfaces no endpoint names (and `interfaces:` does not configure): only the guarded ranges are ' +
            'checked there, and nobody may reach them through such an interface; everything else passes ' +
            'untouched and unreported.'
        : `No endpoint names ${q.iface} and \`interfaces:\` does not configure it: only the guarded ranges ` +
            `are checked there, and nobody may reach them through ${q.iface}; everything else passes ` +
            'untouched and unreported.',
    );
  }

  // What guards the address.
  lines.push(...guardLines(q, t, addr, at));

  // The decision.
  lines.push(...decisionLines(q, t, who, ifWords));
  if (at) lines.push(...closedLines(q, t, who, at));

  const decision = t.decision;
  let verdict = decision.verdict;
  let reason: ExplainReason = decision.reason;
  const essentials = t.iface ? t.iface.settings.essentials : t.guarding.length > 0; // ifindex 0: on
  const guarded = t.guarding.length > 0;

  // The essentials exemption, which the program applies before the policy.
  if (q.proto !== 'icmp' && q.proto !== 'tcp' && dhcpShaped(q, addr) && (t.iface || guarded)) {
    const d = DHCP[q.family];
    const what =
      `what a DHCP client sends (UDP ${d.client}→${d.server} to ${d.dest}` +
      `${q.dhcpUnicast ? `, and unicast to port ${d.server}, since binding port ${d.client} needs privilege here` : ''})`;
    if (!essentials) {
      lines.push(`essentials is off on ${ifWords}: DHCP is decided by the policy like any other traffic.`);
    } else if (q.uid === null) {
      lines.push(
        'Packets without a local socket (forwarded) never use the essentials exemption: the policy decides.',
      );
    } else if (guarded) {
      lines.push(
        `The essentials exemption passes ${what}, but never to a guarded range: ${addr} is guarded, so the policy decides.`,
      );
    } else if (q.sport !== undefined && q.sport !== d.client) {
      lines.push(
        `The essentials exemption passes ${what} only from the client port ${d.client}; from port ${q.sport} the policy decides.`,
      );
    } else if (q.proto === undefined) {
      lines.push(
        `Over UDP from the DHCP client port ${d.client}, the essentials exemption passes it (${what}; never a guarded range).`,
      );
    } else {
      lines.push(
        `Essentials: sent from the DHCP client port ${d.client} (what a DHCP client does), it passes anyway — the ` +
          `exemption covers ${what} and never a guarded range. From any other source port the policy's verdict holds.`,
      );
      verdict = 'allow';
      reason = 'essential';
    }
  }
  if (q.family === 6 && q.proto !== 'tcp' && q.proto !== 'udp' && (t.iface || guarded)) {
    if (q.uid === null) {
      if (q.proto === 'icmp')
        lines.push('Packets without a local socket (forwarded) never use the essentials exemption.');
    } else if (essentials) {
      lines.push(
        'IPv6 neighbour discovery and MLD (ICMPv6 types 130–137 and 143, which only the kernel or CAP_NET_RAW ' +
          'sends) pass whatever the destination, a guarded one included (essentials); echo requests (ping) ' +
          'are decided as above.',
      );
    } else if (q.proto === 'icmp') {
      lines.push(`essentials is off on ${ifWords}: neighbour discovery and MLD are decided as above too.`);
    }
  }

  if (q.uid === null) {
    lines.push(
      '(unowned) means packets without a local socket: traffic this host forwards or routes (a container ' +
        'or VM behind it) and packets of connections no longer held by a full socket (TIME-WAIT).',
    );
  }

  const endpointId = reason === 'essential' ? 0 : decision.endpointId;
  const endpoint = endpointId === 0 ? null : (p.endpoints.find((e) => e.id === endpointId)?.name ?? null);
  return {
    iface: q.iface ?? null,
    user,
    uid: q.uid,
    unit: q.uid === null ? null : (q.unit ?? null),
    cgroup: q.uid === null ? null : (q.cgroup?.path ?? null),
    destination: hostPort(q.family, addr, q.port),
    proto: q.proto ?? null,
    verdict,
    reason,
    endpointId,
    endpoint,
    audit: t.audit,
    guarding: t.guarding.map((g) => g.endpoint.name),
    covering: t.covering.map((e) => e.name),
    lines,
  };
}

function guardLines(q: ExplainQuery, t: Trace, addr: string, at: EvalTime | undefined): string[] {
  if (t.guarding.length === 0) {
    if (!t.iface) return [`No endpoint guards ${addr}.`];
    return [
      `No endpoint guards ${addr}: the interface default decides (default ${t.iface.settings.default}).`,
    ];
  }
  const out = [
    `${addr} is guarded by ${t.guarding.length === 1 ? 'one endpoint' : `${t.guarding.length} endpoints`} ` +
      '(a guarded range is guarded on every interface):',
  ];
  for (const g of t.guarding) {
    const e = g.endpoint;
    out.push(
      `  ${e.name} (${g.ranges.map((r) => r.text).join(', ')}) lets ${listed(e, q.nameOf)} reach it ` +
        `through ${joinWords(e.ifaces, 'or')}${at ? windowWords(e, at) : ''}.`,
    );
  }
  return out;
}

function decisionLines(q: ExplainQuery, t: Trace, who: string, ifWords: string): string[] {
  const d = t.decision;
  const reached = d.verdict === 'would-drop' ? 'would be dropped' : 'dropped';
  const out: string[] = [];
  const coveringNames = joinWords(t.covering.map((e) => e.name));
  switch (d.reason) {
    case 'endpoint': {
      const first = t.listing.length > 0 ? t.listing : t.listingAny;
      if (first.length === 0) {
        out.push(...cgroupAllowLines(q, t, ifWords));
        break;
      }
      const by = first.find((e) => e.id === d.endpointId);
      const how = t.listing.length > 0 ? `lists ${who}` : 'lists * (every user)';
      const also =
        first.length > 1
          ? ` (so do ${joinWords(first.filter((e) => e !== by).map((e) => e.name))}; the first in the file is reported)`
          : '';
      out.push(`On ${ifWords} ${by?.name ?? `endpoint ${d.endpointId}`} ${how}${also}: allowed.`);
      break;
    }
    case 'not-listed': {
      const cgroupLines = cgroupMissLines(q, t, who);
      const entries = cgroupLines.length > 0 ? ', and no unit:/cgroup: entry takes this socket' : '';
      out.push(
        `On ${ifWords} the endpoints that guard it are ${coveringNames}; none lists ${who} or *${entries}: ${reached} (not-listed).`,
        ...cgroupLines,
      );
      break;
    }
    case 'iface-not-listed':
      out.push(
        t.iface
          ? `None of them names ${ifWords}: nobody may reach it through ${ifWords}: ${reached} (iface-not-listed).`
          : `Nobody may reach a guarded range through ${q.iface ?? 'such an interface'}: ${reached} (iface-not-listed).`,
      );
      break;
    case 'default-allow':
      out.push(`Unguarded, with default allow on ${ifWords}: allowed (default-allow).`);
      break;
    case 'default-deny':
      out.push(
        `Unguarded, and default deny on ${ifWords} drops what no endpoint allows, for every account including root: ` +
          `${reached} (default-deny).`,
      );
      break;
    case 'unowned-allow':
      out.push(
        `Packets without a local socket are decided by unowned allow on ${ifWords}: allowed (unowned-allow).`,
      );
      break;
    case 'unowned-deny':
      out.push(
        t.iface
          ? `Packets without a local socket are decided by unowned deny on ${ifWords}: ${reached} (unowned-deny).`
          : `Packets without a local socket may not reach a guarded range through an interface no endpoint names: ${reached} (unowned-deny).`,
      );
      break;
    case 'not-configured':
      out.push(`Not guarded on ${ifWords}: passes untouched (not-configured).`);
      break;
  }
  if (d.verdict === 'would-drop') {
    out.push(
      t.iface
        ? `${t.iface.name} is in audit mode: nothing is dropped there; this packet passes and is reported as WOULD-DROP.`
        : 'Every configured interface is in audit mode, so the interfaces no endpoint names audit too: this packet passes and is reported as WOULD-DROP.',
    );
  } else if (t.audit && d.verdict === 'allow') {
    out.push(`${t.iface?.name ?? ifWords} is in audit mode, but the policy allows this packet anyway.`);
  } else if (
    !t.iface &&
    d.verdict === 'drop' &&
    [...q.policy.interfaces.values()].some((s) => s.mode === 'audit')
  ) {
    out.push(
      'Some configured interfaces are in audit mode, but not all: the guarded ranges stay enforced on interfaces no endpoint names.',
    );
  }
  return out;
}

/** Where the socket is, in words: "this socket (in /system.slice/backup.service)". */
function socketWords(q: ExplainQuery): string {
  return q.cgroup ? `this socket (in ${q.cgroup.path})` : 'this socket';
}

/** Allowed by a unit:/cgroup: entry (nothing listed the user or *): which entry of which
 * endpoint, and where the socket is. */
function cgroupAllowLines(q: ExplainQuery, t: Trace, ifWords: string): string[] {
  const first = t.listingCgroup[0];
  if (!first) return [`On ${ifWords} endpoint ${t.decision.endpointId} allows it.`];
  const { endpoint, entry } = first;
  const inside =
    entry.now && q.cgroup && entry.now.path !== q.cgroup.path ? ` is below ${entry.now.path} and` : '';
  const also =
    t.listingCgroup.length > 1
      ? ` (so do ${joinWords(t.listingCgroup.slice(1).map((x) => `${x.entry.text} in ${x.endpoint.name}`))}; the shallowest cgroup, then an entry with "as", then the first in the file is reported)`
      : '';
  return [
    `On ${ifWords} ${socketWords(q)}${inside} is taken by ${entry.text}${also}: allowed: ${entry.text} in endpoint ${endpoint.name}.`,
  ];
}

/** Why each unit:/cgroup: entry of the endpoints guarding it here did not take the socket. */
function cgroupMissLines(q: ExplainQuery, t: Trace, who: string): string[] {
  const out: string[] = [];
  const uid = q.uid;
  if (uid === null) return out;
  for (const e of t.covering) {
    if (t.closed.includes(e)) continue;
    for (const c of e.cgroups ?? []) out.push(`${e.name} lists ${c.text}${missWords(q, c, uid, who)}.`);
  }
  return out;
}

function missWords(q: ExplainQuery, c: ResolvedCgroupEntry, uid: number, who: string): string {
  const now = c.now;
  if (!now)
    return c.kind === 'unit'
      ? `, but ${c.name} is not running (no cgroup to match)`
      : `, but there is no cgroup ${c.name} (nothing to match)`;
  if (!q.cgroup) return `, but the socket's cgroup is not known: no unit:/cgroup: entry can take it`;
  if (q.cgroup.ids[now.level] !== now.id)
    return `${c.kind === 'unit' ? ` (${now.path})` : ''}; this socket is in ${q.cgroup.path}, not in it`;
  if (c.uids && !c.uids.includes(uid))
    return `: this socket is in ${now.path}, but it counts as ${who}, whom "as" leaves out`;
  return '';
}

/** `, only Mon-Fri 08:00-18:00: open now, closes …` for an endpoint with `when:` windows. */
function windowWords(e: ResolvedEndpoint, at: EvalTime): string {
  if (!e.when) return '';
  const state = openAt(e.when.segments, at.nowSec, at.tz);
  return `, only ${joinWords(e.when.windows, 'or')}: ${openStateText(state, at.nowSec, at.tz)}`;
}

/** The endpoints that would grant this sender but are outside their windows now. */
function closedLines(q: ExplainQuery, t: Trace, who: string, at: EvalTime): string[] {
  const uid = q.uid;
  if (uid === null) return [];
  const out: string[] = [];
  for (const e of t.closed) {
    if (!e.when || !(e.any || e.uids.includes(uid))) continue;
    const state = openAt(e.when.segments, at.nowSec, at.tz);
    out.push(
      `${e.name} would allow ${who}, but only ${joinWords(e.when.windows, 'or')}: ` +
        `${openStateText(state, at.nowSec, at.tz)}; outside its windows it grants nothing.`,
    );
  }
  return out;
}

/** The explanation as text: a headline, then its lines indented. */
export function explanationText(e: Explanation): string {
  const proto = e.proto ? ` (${e.proto})` : '';
  const endpoint = e.endpoint ? ` ${e.endpoint}` : '';
  const where = e.iface ?? 'interfaces no endpoint names';
  const place = e.unit ?? e.cgroup;
  const head = `${e.user}${place ? ` (${place})` : ''} → ${e.destination}${proto} on ${where}: ${VERDICT_WORDS[e.verdict]} (${e.reason}${endpoint})`;
  return `${[head, ...e.lines.map((l) => `  ${l}`)].join('\n')}\n`;
}
