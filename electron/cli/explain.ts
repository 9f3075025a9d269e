// SPDX-License-Identifier: Apache-2.0
// Environment: Node (CLI). No Electron import.
//
// `net-tc-filter explain`: the verdict for a user and destination, and why, in plain words.
// Also the loading of the enforced policy (from the history) that explain and impact share.
import ipaddr from 'ipaddr.js';
import { readStatus } from '../engine/status.js';
import type { EngineStatus } from '../engine/status.js';
import { dhcpPortsPrivileged } from '../engine/links.js';
import { explain, explanationText, socketCgroup } from '../policy/explain.js';
import type { Explanation, SocketCgroup, TrialDescription } from '../policy/explain.js';
import { MAX_UID, parseAllowText } from '../policy/fields.js';
import { systemCgroupTree, unitOfPath } from '../policy/cgroups.js';
import type { CgroupTree } from '../policy/cgroups.js';
import { hasErrors, loadPolicyFile } from '../policy/load.js';
import { findUser, loadAccountDb, userName } from '../policy/resolve.js';
import type { AccountDb } from '../policy/resolve.js';
import type { ResolvedPolicy } from '../policy/types.js';
import { loadEnforcedPolicy } from '../engine/enforced.js';
import type { EnforcedLoad } from '../engine/enforced.js';
import { diagnosticText } from './format.js';

export interface ExplainOptions {
  user: string;
  /** ADDR or ADDR:PORT ([v6]:PORT). */
  dest: string;
  iface?: string;
  proto?: 'tcp' | 'udp' | 'icmp';
  /** The socket is in this systemd system unit's cgroup (NAME without a suffix: NAME.service). */
  unit?: string;
  /** The socket is in this cgroup (a path below the cgroup v2 root). */
  cgroup?: string;
  /** Default: the enforced policy (from the history of pinDir). */
  config?: string;
  pinDir: string;
  json: boolean;
}

/** Bad input: a clear message, exit 1. */
export class ExplainInputError extends Error {}

/** `--user`: an account name, a uid (an account is not needed) or '(unowned)'. */
export function parseUser(text: string, db: AccountDb): { uid: number | null } {
  if (text === '(unowned)') return { uid: null };
  if (/^[0-9]+$/.test(text)) {
    const uid = text.length > 10 ? Infinity : Number(text);
    if (uid > MAX_UID) throw new ExplainInputError(`--user ${text}: a uid is at most ${MAX_UID}`);
    return { uid };
  }
  const found = findUser(db, text);
  if (!found)
    throw new ExplainInputError(
      `--user ${text}: no such account (give an account name, a uid, or '(unowned)' for packets without a local socket)`,
    );
  return { uid: found.uid };
}

/** `--dest`: ADDR, ADDR:PORT, [ADDR]:PORT (IPv6) or a bare IPv6 address. */
export function parseDest(text: string): { family: 4 | 6; daddr: Uint8Array; port?: number } {
  let addr = text;
  let portText: string | undefined;
  const bracket = /^\[([^\]]+)\](?::([0-9]+))?$/.exec(text);
  if (bracket) {
    addr = bracket[1] ?? '';
    portText = bracket[2];
  } else if (/^[0-9.]+:[0-9]+$/.test(text)) {
    [addr, portText] = text.split(':') as [string, string];
  }
  const bad = (why: string) =>
    new ExplainInputError(`--dest ${text}: ${why} (expected ADDR, ADDR:PORT or [IPv6]:PORT)`);
  if (addr.includes('%')) throw bad('zone ids (%…) are not allowed');
  let family: 4 | 6;
  let bytes: number[];
  if (ipaddr.IPv4.isValidFourPartDecimal(addr)) {
    family = 4;
    bytes = ipaddr.IPv4.parse(addr).toByteArray();
  } else if (ipaddr.IPv6.isValid(addr)) {
    family = 6;
    bytes = ipaddr.IPv6.parse(addr).toByteArray();
  } else {
    throw bad('not an IP address');
  }
  if (portText === undefined) return { family, daddr: Uint8Array.from(bytes) };
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw bad('the port must be 0–65535');
  return { family, daddr: Uint8Array.from(bytes), port };
}

/** `--unit NAME` / `--cgroup PATH`: the socket's cgroup now, with its ancestors' ids (undefined:
 * neither given). Errors name the flag: a bad name, a unit that is not running, a cgroup that
 * does not exist, no cgroup v2 hierarchy. */
export function parseSocketCgroup(
  o: { unit?: string; cgroup?: string },
  tree: CgroupTree | string = systemCgroupTree(),
): { cgroup: SocketCgroup; unit: string | null } | undefined {
  if (o.unit === undefined && o.cgroup === undefined) return undefined;
  if (o.unit !== undefined && o.cgroup !== undefined)
    throw new ExplainInputError('give --unit or --cgroup, not both (a socket is in one cgroup)');
  const flag = o.unit !== undefined ? `--unit ${o.unit}` : `--cgroup ${o.cgroup}`;
  const parsed = parseAllowText(o.unit !== undefined ? `unit:${o.unit}` : `cgroup:${o.cgroup}`);
  if (!parsed.entry) throw new ExplainInputError(`${flag}: ${parsed.error ?? 'not valid'}`);
  if (typeof tree === 'string') throw new ExplainInputError(`${flag}: ${tree}`);
  let path: string;
  if (parsed.entry.kind === 'unit') {
    const unit = parsed.entry.unit;
    const node = tree.unit(unit);
    if (!node)
      throw new ExplainInputError(
        `${flag}: ${unit} is not running (no cgroup named ${unit} in the slices below ${tree.root}, user.slice aside); start it, or give --cgroup PATH`,
      );
    path = node.path;
  } else if (parsed.entry.kind === 'cgroup') {
    path = parsed.entry.path;
  } else {
    throw new ExplainInputError(`${flag}: not a unit or a cgroup path`);
  }
  const cg = socketCgroup(tree, path);
  if (typeof cg === 'string') throw new ExplainInputError(`${flag}: ${cg}`);
  return { cgroup: cg, unit: unitOfPath(path) };
}

/** The pending trial as explain words it, when there is one (not when its deadline passed). */
export function pendingTrial(s: EngineStatus | undefined): TrialDescription | undefined {
  const t = s?.trial;
  if (!t || t.expired) return undefined;
  return { previousEpoch: t.previousEpoch, secondsLeft: Math.max(0, Math.round(t.secondsLeft)) };
}

/** readStatus, or why it failed (no permission, a planted pin directory). */
function tryReadStatus(pinDir: string): { status?: EngineStatus; error?: string } {
  try {
    return { status: readStatus(pinDir) };
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}

export async function explainCommand(o: ExplainOptions): Promise<number> {
  const db = loadAccountDb();
  let resolved: ResolvedPolicy;
  let source: string;
  let trial: TrialDescription | undefined;
  if (o.config !== undefined) {
    const r = loadPolicyFile(o.config, db);
    for (const d of r.diagnostics) if (d.severity === 'error') process.stderr.write(`${diagnosticText(d)}\n`);
    if (hasErrors(r.diagnostics) || !r.resolved) return 1;
    resolved = r.resolved;
    source = o.config;
  } else {
    const { status, error } = tryReadStatus(o.pinDir);
    const e: EnforcedLoad = status
      ? loadEnforcedPolicy(status, db)
      : { problem: `the enforced policy is not known (cannot read the state at ${o.pinDir}: ${error})` };
    if (!e.resolved) {
      process.stderr.write(
        `net-tc-filter: ${e.problem ?? 'the enforced policy is not known'}; pass --config FILE\n`,
      );
      return 1;
    }
    resolved = e.resolved;
    source = `the enforced policy (epoch ${e.epoch})`;
    trial = pendingTrial(status);
  }

  let uid: number | null;
  let dest: ReturnType<typeof parseDest>;
  let socket: ReturnType<typeof parseSocketCgroup>;
  try {
    uid = parseUser(o.user, db).uid;
    dest = parseDest(o.dest);
    socket = parseSocketCgroup(o);
    if (socket && uid === null)
      throw new ExplainInputError(
        `--user '(unowned)' has no socket, so no cgroup: leave out --unit/--cgroup`,
      );
  } catch (err) {
    if (!(err instanceof ExplainInputError)) throw err;
    process.stderr.write(`net-tc-filter: ${err.message}\n`);
    return 1;
  }

  // Without --iface: every interface the policy configures, then the others.
  const ifaces: Array<string | undefined> =
    o.iface !== undefined ? [o.iface] : [...resolved.interfaces.keys(), undefined];
  const dhcpUnicast = dhcpPortsPrivileged();
  const results: Explanation[] = ifaces.map((iface) =>
    explain({
      policy: resolved,
      source,
      uid,
      nameOf: (u) => userName(db, u),
      ...dest,
      ...(o.proto !== undefined ? { proto: o.proto } : {}),
      ...(iface !== undefined ? { iface } : {}),
      ...(trial ? { trial } : {}),
      ...(socket ? { cgroup: socket.cgroup, unit: socket.unit } : {}),
      dhcpUnicast,
    }),
  );
  if (o.json) {
    process.stdout.write(`${JSON.stringify(results, null, 2)}\n`); // one per interface explained
  } else {
    process.stdout.write(results.map((r) => explanationText(r)).join('\n'));
  }
  return 0;
}
