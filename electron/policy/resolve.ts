// SPDX-License-Identifier: Apache-2.0
// Environment: Node (main process and CLI). No Electron import.
//
// Policy → ResolvedPolicy: account names to uids through the system's databases, complete
// interface settings, and the warnings an admin must see before applying (what `deny` cuts off).

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { adviceWarnings } from './advice.js';
import { systemCgroupTree } from './cgroups.js';
import type { CgroupTree } from './cgroups.js';
import { NTF } from '../../native-bridge/layouts.js';
import { loadSubuid, subuidWarnings } from './subid.js';
import { weekSegments } from './when.js';
import { rememberRanges } from './incremental.js';
import type { ListedUid, SubIdDb } from './subid.js';
import { DEFAULT_INTERFACE_SETTINGS } from './types.js';
import type {
  AccountRef,
  AllowEntry,
  Diagnostic,
  Endpoint,
  InterfaceSettings,
  Policy,
  Range,
  ResolvedCgroupEntry,
  ResolvedEndpoint,
  ResolvedPolicy,
  SourcePos,
} from './types.js';

export interface AccountDb {
  users: Map<string, { uid: number; gid: number }>;
  uidToName: Map<number, string>;
  groups: Map<string, { gid: number; members: string[] }>;
  /**
   * Single-name lookups for NSS sources that do not enumerate (sssd and LDAP usually don't):
   * consulted only for names missing from the maps above. Set by loadAccountDb when it used getent.
   */
  lookupUser?: (name: string) => { uid: number; gid: number } | undefined;
  lookupGroup?: (name: string) => { gid: number; members: string[] } | undefined;
  /** Subordinate uid ranges (/etc/subuid); absent: listed uids are not checked against them. */
  subuid?: SubIdDb;
  /** Where unit:/cgroup: entries are looked up (a string: why there is nowhere); absent: this
   * host's cgroup v2 hierarchy (systemCgroupTree). */
  cgroups?: () => CgroupTree | string;
}

/** Absolute: the privileged process never resolves a command through PATH. */
export const GETENT = '/usr/bin/getent';
const GETENT_TIMEOUT_MS = 5000;
const GETENT_MAX_BUFFER = 64 * 1024 * 1024;
const MAX_ID = 0xfffffffe;

function parseId(s: string | undefined): number | undefined {
  if (s === undefined || !/^[0-9]{1,10}$/.test(s)) return undefined;
  const n = Number(s);
  return n <= MAX_ID ? n : undefined;
}

/** passwd(5) lines; comments, blank, NIS (`+`/`-`) and malformed lines are skipped. */
export function parsePasswd(text: string): Pick<AccountDb, 'users' | 'uidToName'> {
  const users = new Map<string, { uid: number; gid: number }>();
  const uidToName = new Map<number, string>();
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (line === '' || line.startsWith('#') || line.startsWith('+') || line.startsWith('-')) continue;
    const f = line.split(':');
    const name = f[0];
    const uid = parseId(f[2]);
    const gid = parseId(f[3]);
    if (!name || f.length < 4 || uid === undefined || gid === undefined) continue;
    // First entry wins, as in getpwnam/getpwuid.
    if (!users.has(name)) users.set(name, { uid, gid });
    if (!uidToName.has(uid)) uidToName.set(uid, name);
  }
  return { users, uidToName };
}

/** group(5) lines; comments, blank, NIS and malformed lines are skipped. */
export function parseGroup(text: string): AccountDb['groups'] {
  const groups = new Map<string, { gid: number; members: string[] }>();
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (line === '' || line.startsWith('#') || line.startsWith('+') || line.startsWith('-')) continue;
    const f = line.split(':');
    const name = f[0];
    const gid = parseId(f[2]);
    if (!name || f.length < 3 || gid === undefined) continue;
    const members = (f[3] ?? '')
      .split(',')
      .map((m) => m.trim())
      .filter((m) => m !== '');
    if (!groups.has(name)) groups.set(name, { gid, members });
  }
  return groups;
}

function getent(args: string[]): string | undefined {
  try {
    return execFileSync(GETENT, args, {
      encoding: 'utf8',
      timeout: GETENT_TIMEOUT_MS,
      maxBuffer: GETENT_MAX_BUFFER,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
  } catch {
    // Exit status 2 means "not found"; anything else (no getent, timeout) is treated the same.
    return undefined;
  }
}

/** A database through getent (so every NSS source counts), else the file. */
function systemDb(db: 'passwd' | 'group'): { text: string; viaGetent: boolean } {
  const text = getent([db]);
  if (text !== undefined) return { text, viaGetent: true };
  const file = `/etc/${db}`;
  try {
    return { text: readFileSync(file, 'utf8'), viaGetent: false };
  } catch (e) {
    throw new Error(`cannot read the ${db} database: getent failed and ${file}: ${(e as Error).message}`, {
      cause: e,
    });
  }
}

function readDbFile(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read the ${what} file ${file}: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Loads users and groups. Explicit files (options, else NET_TC_FILTER_PASSWD / NET_TC_FILTER_GROUP)
 * are read as passwd(5)/group(5); otherwise `getent passwd` / `getent group`, falling back to
 * /etc/passwd and /etc/group. Throws when an explicit file, or both system sources, cannot be read.
 * Subordinate uid ranges: `subuidFile`, else NET_TC_FILTER_SUBUID, else /etc/subuid (see subid.ts).
 */
export function loadAccountDb(opts?: {
  passwdFile?: string;
  groupFile?: string;
  subuidFile?: string;
}): AccountDb {
  const passwdFile = opts?.passwdFile ?? process.env.NET_TC_FILTER_PASSWD;
  const groupFile = opts?.groupFile ?? process.env.NET_TC_FILTER_GROUP;

  const passwd = passwdFile
    ? { text: readDbFile(passwdFile, 'passwd'), viaGetent: false }
    : systemDb('passwd');
  const group = groupFile ? { text: readDbFile(groupFile, 'group'), viaGetent: false } : systemDb('group');
  const db: AccountDb = {
    ...parsePasswd(passwd.text),
    groups: parseGroup(group.text),
    subuid: loadSubuid(opts?.subuidFile),
  };

  if (passwd.viaGetent) {
    const misses = new Set<string>();
    db.lookupUser = (name) => {
      if (misses.has(name)) return undefined;
      const found = parsePasswd(getent(['passwd', '--', name]) ?? '').users.get(name);
      if (!found) misses.add(name);
      return found;
    };
  }
  if (group.viaGetent) {
    const misses = new Set<string>();
    db.lookupGroup = (name) => {
      if (misses.has(name)) return undefined;
      const found = parseGroup(getent(['group', '--', name]) ?? '').get(name);
      if (!found) misses.add(name);
      return found;
    };
  }
  return db;
}

/** The account name of a uid, for reporting. */
export function userName(db: AccountDb, uid: number): string | undefined {
  return db.uidToName.get(uid);
}

/** An account by name: the database, else NSS (remembered). */
export function findUser(db: AccountDb, name: string): { uid: number; gid: number } | undefined {
  const known = db.users.get(name);
  if (known) return known;
  const found = db.lookupUser?.(name);
  if (found) {
    db.users.set(name, found);
    if (!db.uidToName.has(found.uid)) db.uidToName.set(found.uid, name);
  }
  return found;
}

function findGroup(db: AccountDb, name: string): { gid: number; members: string[] } | undefined {
  const known = db.groups.get(name);
  if (known) return known;
  const found = db.lookupGroup?.(name);
  if (found) db.groups.set(name, found);
  return found;
}

/** Uids of a group: supplementary members (group file) and primary members (passwd gid). */
function groupUids(db: AccountDb, group: { gid: number; members: string[] }): number[] {
  const uids = new Set<number>();
  for (const member of group.members) {
    // Stale members (deleted accounts) are common in group files; they simply grant nothing.
    const u = findUser(db, member);
    if (u) uids.add(u.uid);
  }
  for (const u of db.users.values()) if (u.gid === group.gid) uids.add(u.uid);
  return [...uids];
}

/** The cgroup a unit:/cgroup: entry stands for now (`now` undefined: none yet), or undefined
 * after an error. */
function resolveCgroupEntry(
  entry: Extract<AllowEntry, { kind: 'unit' | 'cgroup' }>,
  tree: CgroupTree | string,
  where: string,
  error: (message: string, pos: SourcePos | undefined) => void,
  warning: (message: string, pos: SourcePos | undefined) => void,
  fallback: SourcePos | undefined,
): Omit<ResolvedCgroupEntry, 'uids'> | undefined {
  const pos = entry.pos ?? fallback;
  if (typeof tree === 'string') {
    error(`${entry.text} ${where}: ${tree}`, pos);
    return undefined;
  }
  const name = entry.kind === 'unit' ? entry.unit : entry.path;
  const now = entry.kind === 'unit' ? tree.unit(name) : tree.path(name);
  if (!now) {
    const what =
      entry.kind === 'unit' ? `unit ${name} is not running` : `there is no cgroup ${tree.root}${name}`;
    warning(
      `${entry.text} ${where}: ${what} now; it matches nothing until it exists (a running engine adds it when it appears)`,
      pos,
    );
  } else if (now.level >= NTF.CG_LEVELS) {
    error(
      `${entry.text} ${where}: the cgroup ${now.path} is ${now.level} levels deep; the filter checks the first ${NTF.CG_LEVELS - 1}`,
      pos,
    );
    return undefined;
  }
  return { text: entry.text, kind: entry.kind, name, now };
}

/** SHA-256 of a range list's prefixes in order (family, length, address): what the compiler reads
 * of it (incremental.ts rememberRanges). */
function rangesDigest(ranges: readonly Range[]): string {
  const b = Buffer.allocUnsafe(ranges.length * 18);
  let at = 0;
  for (const r of ranges) {
    b[at++] = r.family;
    b[at++] = r.prefix;
    b.set(r.addr, at);
    at += r.addr.length;
  }
  return createHash('sha256').update(b.subarray(0, at)).digest('base64');
}

export interface ResolveResult {
  /** Present only when there are no errors (warnings allowed). */
  resolved?: ResolvedPolicy;
  diagnostics: Diagnostic[];
}

export function resolvePolicy(policy: Policy, db: AccountDb): ResolveResult {
  const diagnostics: Diagnostic[] = [];
  let cgroupTree: CgroupTree | string | undefined;
  const tree = (): CgroupTree | string => (cgroupTree ??= (db.cgroups ?? systemCgroupTree)());
  const error = (message: string, pos: SourcePos | undefined): void => {
    diagnostics.push(pos ? { severity: 'error', message, pos } : { severity: 'error', message });
  };
  const warning = (message: string, pos: SourcePos | undefined): void => {
    diagnostics.push(pos ? { severity: 'warning', message, pos } : { severity: 'warning', message });
  };

  // Per endpoint, each listed uid with the first allow entry that lists it (subordinate-range check).
  const listed: ListedUid[][] = [];
  const endpoints: ResolvedEndpoint[] = policy.endpoints.map((ep, i) => {
    const uids = new Set<number>();
    const origins = new Map<number, ListedUid>();
    const note = (uid: number, entry: ListedUid['entry'], via?: string) => {
      if (!origins.has(uid)) origins.set(uid, via === undefined ? { uid, entry } : { uid, entry, via });
    };
    let any = false;
    const cgroups: ResolvedCgroupEntry[] = [];
    const where = `in endpoint ${JSON.stringify(ep.name)}`;
    /** The uids an account stands for (noted for the subordinate-range check), or undefined. */
    const accountUids = (ref: AccountRef, entry: AllowEntry): number[] | undefined => {
      const pos = entry.pos ?? ep.pos;
      switch (ref.kind) {
        case 'uid':
          // A uid with no account is legitimate (containers, services created later).
          note(ref.uid, entry);
          return [ref.uid];
        case 'user': {
          const u = findUser(db, ref.name);
          if (!u) {
            error(`unknown user ${JSON.stringify(ref.name)} ${where}`, pos);
            return undefined;
          }
          note(u.uid, entry, ref.name);
          return [u.uid];
        }
        case 'group': {
          const g = findGroup(db, ref.name);
          if (!g) {
            error(`unknown group ${JSON.stringify(ref.name)} ${where}`, pos);
            return undefined;
          }
          const members = groupUids(db, g);
          if (members.length === 0)
            warning(`group ${JSON.stringify(ref.name)} has no members; it allows nobody`, pos);
          for (const uid of members) {
            const name = db.uidToName.get(uid);
            note(uid, entry, `${name ? `${name}, ` : ''}member of @${ref.name}`);
          }
          return members;
        }
      }
    };
    for (const entry of ep.allow) {
      if (entry.kind === 'any') {
        any = true;
      } else if (entry.kind === 'unit' || entry.kind === 'cgroup') {
        const c = resolveCgroupEntry(entry, tree(), where, error, warning, ep.pos);
        if (!c) continue;
        const limited = entry.as ? accountUids(entry.as, entry) : undefined;
        if (entry.as && !limited) continue;
        cgroups.push({ ...c, uids: limited?.slice().sort((a, b) => a - b) });
      } else {
        for (const uid of accountUids(entry, entry) ?? []) uids.add(uid);
      }
    }
    listed[i] = [...origins.values()];
    rememberRanges(ep.range, rangesDigest(ep.range));
    return {
      id: i + 1,
      name: ep.name,
      ifaces: [...new Set(ep.iface)],
      ranges: ep.range,
      uids: [...uids].sort((a, b) => a - b),
      any,
      ...(cgroups.length > 0 ? { cgroups } : {}),
      ...(ep.when ? { when: { windows: ep.when.map((w) => w.text), segments: weekSegments(ep.when) } } : {}),
    };
  });

  // Every interface an endpoint names, then those only configured under `interfaces:`.
  const interfaces = new Map<string, InterfaceSettings>();
  const firstUse = new Map<string, Endpoint>();
  for (const ep of policy.endpoints) {
    for (const iface of ep.iface) if (!firstUse.has(iface)) firstUse.set(iface, ep);
  }
  const names = [...firstUse.keys(), ...Object.keys(policy.interfaces).filter((n) => !firstUse.has(n))];
  for (const name of names) {
    const written = Object.prototype.hasOwnProperty.call(policy.interfaces, name)
      ? policy.interfaces[name]
      : undefined;
    const settings: InterfaceSettings = { ...DEFAULT_INTERFACE_SETTINGS };
    if (written?.default !== undefined) settings.default = written.default;
    if (written?.unowned !== undefined) settings.unowned = written.unowned;
    if (written?.essentials !== undefined) settings.essentials = written.essentials;
    if (written?.mode !== undefined) settings.mode = written.mode;
    interfaces.set(name, settings);
  }

  diagnostics.push(...adviceWarnings({ interfaces, endpoints: policy.endpoints }));
  diagnostics.push(...subuidWarnings(policy.endpoints, endpoints, listed, db));

  const ok = !diagnostics.some((d) => d.severity === 'error');
  const resolved: ResolvedPolicy = { endpoints, interfaces, logAllowed: policy.logging.allowed ?? 'sample' };
  return ok ? { resolved, diagnostics } : { diagnostics };
}
