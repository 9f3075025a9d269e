// SPDX-License-Identifier: Apache-2.0
// Environment: Node (main process and CLI). No Electron import.
//
// Subordinate uid ranges (/etc/subuid, subuid(5)) and the warning they call for: inside a user
// namespace whose uid_map newuidmap wrote from the owner's range, the owner can fchown(2) a
// socket to any uid of that range, and the kernel then reports the socket's owner
// (bpf_get_socket_uid → sk->sk_uid) as that uid. A listed uid inside another user's range can
// therefore be borrowed by that user.
import { readFileSync } from 'node:fs';
import type { AccountDb } from './resolve.js';
import type { AllowEntry, Diagnostic, Endpoint, ResolvedEndpoint, SourcePos } from './types.js';

export const SYSTEM_SUBUID = '/etc/subuid';

export interface SubIdRange {
  /** The first field as written: a login name or a numeric uid. */
  owner: string;
  start: number;
  count: number;
}

export interface SubIdDb {
  /** The file the ranges came from (for messages). */
  file: string;
  ranges: SubIdRange[];
  /** Set when the system file exists but could not be read: the check was not made. */
  error?: string;
}

const MAX_ID = 0xfffffffe;

function parseNum(s: string | undefined): number | undefined {
  if (s === undefined || !/^[0-9]{1,10}$/.test(s)) return undefined;
  const n = Number(s);
  return n <= MAX_ID + 1 ? n : undefined;
}

/** subuid(5) lines `owner:start:count`; comments, blank and malformed lines are skipped. */
export function parseSubid(text: string): SubIdRange[] {
  const out: SubIdRange[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '').trim();
    if (line === '' || line.startsWith('#')) continue;
    const f = line.split(':');
    const owner = f[0];
    const start = parseNum(f[1]);
    const count = parseNum(f[2]);
    if (!owner || f.length !== 3 || start === undefined || count === undefined || count === 0) continue;
    if (start > MAX_ID) continue;
    out.push({ owner, start, count: Math.min(count, MAX_ID + 1 - start) });
  }
  return out;
}

/**
 * Reads the subordinate uid file: `file`, else NET_TC_FILTER_SUBUID, else /etc/subuid. An explicit
 * file that cannot be read throws (as the passwd and group overrides do); a missing /etc/subuid
 * means no ranges, and any other failure to read it is kept in `error` for a warning.
 */
export function loadSubuid(file?: string): SubIdDb {
  const explicit = file ?? process.env.NET_TC_FILTER_SUBUID;
  if (explicit) {
    let text: string;
    try {
      text = readFileSync(explicit, 'utf8');
    } catch (e) {
      throw new Error(`cannot read the subuid file ${explicit}: ${(e as Error).message}`, { cause: e });
    }
    return { file: explicit, ranges: parseSubid(text) };
  }
  try {
    return { file: SYSTEM_SUBUID, ranges: parseSubid(readFileSync(SYSTEM_SUBUID, 'utf8')) };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { file: SYSTEM_SUBUID, ranges: [] };
    return { file: SYSTEM_SUBUID, ranges: [], error: (e as Error).message };
  }
}

/** The uid of a range's owner (a numeric owner is a uid; a name is looked up), if known. */
function ownerUid(owner: string, db: AccountDb): number | undefined {
  if (/^[0-9]{1,10}$/.test(owner)) return Number(owner);
  return db.users.get(owner)?.uid ?? db.lookupUser?.(owner)?.uid;
}

function ownerLabel(owner: string, db: AccountDb): string {
  if (!/^[0-9]{1,10}$/.test(owner)) return owner;
  const name = db.uidToName.get(Number(owner));
  return name ?? `uid ${owner}`;
}

export interface ListedUid {
  uid: number;
  /** How the uid got into the endpoint, for the message: undefined for an explicit uid. */
  via?: string;
  entry: AllowEntry;
}

/**
 * Warnings for listed uids that lie in another user's subordinate range. `listed[i]` are the uids
 * endpoint `endpoints[i]` lists, each with the allow entry it came from (first entry wins).
 *
 * No warning when the range's owner is allowed by the same endpoint (listed, or `*`): borrowing a
 * uid of that endpoint then gains the owner nothing there — the usual case of a user listed
 * together with the uids of their own rootless containers. Each endpoint is checked on its own:
 * an owner allowed by one endpoint is still warned about where another endpoint lists the uid.
 * root's ranges are the exception: the containers mapped from them (LXD, systemd-nspawn) do not
 * run as root, so listing root does not make a uid of its range harmless.
 */
export function subuidWarnings(
  endpoints: readonly Endpoint[],
  resolved: readonly ResolvedEndpoint[],
  listed: readonly ListedUid[][],
  db: AccountDb,
): Diagnostic[] {
  const sub = db.subuid;
  if (!sub) return [];
  const out: Diagnostic[] = [];
  if (sub.error) {
    out.push({
      severity: 'warning',
      message:
        `cannot read ${sub.file}: ${sub.error}; listed uids were not checked against ` +
        'subordinate ranges (uids other users can take inside a user namespace)',
    });
  }
  if (sub.ranges.length === 0) return out;
  const owners = sub.ranges.map((r) => ownerUid(r.owner, db));
  endpoints.forEach((ep, i) => {
    const res = resolved[i];
    if (!res || res.any) return;
    const allowedUids = new Set(res.uids);
    for (const l of listed[i] ?? []) {
      sub.ranges.forEach((r, j) => {
        if (l.uid < r.start || l.uid >= r.start + r.count) return;
        const owner = owners[j];
        // root's ranges (LXD, nspawn) serve containers that do not run as root: they would gain.
        if (owner !== undefined && owner !== 0 && allowedUids.has(owner)) return;
        const who = ownerLabel(r.owner, db);
        const message =
          `uid ${l.uid}${l.via ? ` (${l.via})` : ''} listed in endpoint ${JSON.stringify(ep.name)} lies in ` +
          `${who}'s subordinate range ${r.start}-${r.start + r.count - 1} (${sub.file}): ` +
          (owner === 0
            ? 'any process in a container mapped from that range can act as that uid'
            : `${who} can act as that uid inside a user namespace`);
        const pos: SourcePos | undefined = l.entry.pos ?? ep.pos;
        out.push(pos ? { severity: 'warning', message, pos } : { severity: 'warning', message });
      });
    }
  });
  return out;
}
