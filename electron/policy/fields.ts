// SPDX-License-Identifier: Apache-2.0
// Environment: any (pure functions; also bundled into the renderer for as-you-type validation).
//
// Validators for the single values of a policy: endpoint and interface names, ranges and
// `allow` entries. The YAML codec and the IPC contract use the same functions, so a value the
// editor accepts is a value the file accepts.
import ipaddr from 'ipaddr.js';
import { formatAddr } from './addr.js';
import type { AccountRef, AllowEntry, Range } from './types.js';

export function quote(s: string): string {
  return JSON.stringify(s);
}

const ENDPOINT_NAME_RE = /^[A-Za-z0-9_.-]{1,64}$/;
// POSIX-ish account names; upper case is accepted because LDAP/sssd directories use it.
const ACCOUNT_NAME_RE = /^[A-Za-z_][A-Za-z0-9_.-]*\$?$/;
const MAX_ACCOUNT_NAME = 32;
/** (uid_t)-1 is reserved (UID_ANY), so the largest real uid is one less. */
export const MAX_UID = 0xfffffffe;
/** IFNAMSIZ is 16 including the terminating NUL. */
const MAX_IFNAME_BYTES = 15;

/** Why `name` is not a valid endpoint name, or undefined when it is. */
export function checkEndpointName(name: string): string | undefined {
  if (ENDPOINT_NAME_RE.test(name)) return undefined;
  return `invalid endpoint name ${quote(name)}; use 1–64 letters, digits, "_", "." or "-"`;
}

/** Why `name` is not a valid Linux interface name (the kernel's dev_valid_name), or undefined. */
export function checkInterfaceName(name: string): string | undefined {
  const bad = (why: string): string => `invalid interface name ${quote(name)}: ${why}`;
  if (name.length === 0) return bad('it is empty');
  if (new TextEncoder().encode(name).length > MAX_IFNAME_BYTES) return bad('longer than 15 bytes');
  if (name === '.' || name === '..') return bad('"." and ".." are not interface names');
  if (name.includes('/')) return bad('it contains "/"');
  if (name.includes(':')) return bad('it contains ":"');
  if (/[\s\0]/u.test(name)) return bad('it contains whitespace or a NUL character');
  return undefined;
}

export type RangeValue = Omit<Range, 'pos'>;

/**
 * Parses one range as written: `a.b.c.d[/n]` or an IPv6 address `[/n]`. The family is kept as
 * written (`::ffff:10.0.0.1` stays IPv6), and host bits are cleared with a warning.
 */
export function parseRangeText(text: string): { range?: RangeValue; error?: string; warning?: string } {
  const range = canonicalRange(text);
  return range ? { range } : parseRangeTextByLibrary(text);
}

/**
 * parseRangeText through ipaddr.js, which decides what an address is: every text canonicalRange
 * leaves undefined goes here, and what canonicalRange reads, this reads the same (the tests
 * compare the two).
 */
export function parseRangeTextByLibrary(text: string): {
  range?: RangeValue;
  error?: string;
  warning?: string;
} {
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const prefixText = slash < 0 ? undefined : text.slice(slash + 1);
  const example = 'expected an address or CIDR range such as 169.254.169.254/32 or fd00:ec2::254/128';
  let family: 4 | 6;
  let bytes: number[];
  if (addrText.includes(':')) {
    if (addrText.includes('%')) return { error: `${quote(text)}: zone ids (%…) are not allowed in a range` };
    if (!ipaddr.IPv6.isValid(addrText))
      return { error: `${quote(text)} is not a valid IPv6 address; ${example}` };
    family = 6;
    bytes = ipaddr.IPv6.parse(addrText).toByteArray();
  } else {
    // Four-part decimal only: inet_aton forms such as 0x7f.1 or 010.0.0.1 mean surprising things.
    if (!ipaddr.IPv4.isValidFourPartDecimal(addrText)) {
      return { error: `${quote(text)} is not a valid IP address or range; ${example}` };
    }
    family = 4;
    bytes = ipaddr.IPv4.parse(addrText).toByteArray();
  }
  const max = family === 4 ? 32 : 128;
  let prefix = max;
  if (prefixText !== undefined) {
    if (!/^[0-9]{1,3}$/.test(prefixText)) {
      return { error: `${quote(text)}: the prefix after "/" must be a number from 0 to ${max}` };
    }
    prefix = Number(prefixText);
    if (prefix > max) {
      return { error: `${quote(text)}: prefix /${prefix} is out of range for IPv${family} (0–${max})` };
    }
  }
  const addr = Uint8Array.from(bytes);
  let hostBits = false;
  for (let i = 0; i < addr.length; i++) {
    const keep = Math.max(0, Math.min(8, prefix - i * 8));
    const masked = addr[i]! & ((0xff << (8 - keep)) & 0xff);
    if (masked !== addr[i]) hostBits = true;
    addr[i] = masked;
  }
  const range: RangeValue = { family, addr, prefix, text };
  if (!hostBits) return { range };
  return { range, warning: `${text} has host bits set; using ${formatAddr(family, addr)}/${prefix}` };
}

/**
 * A range in the form nearly every policy uses, read without ipaddr.js (a million-range policy
 * spent seconds in it): the address as canonicalAddr reads it, then nothing or `/` and 1–3
 * digits of a prefix the family allows, with no host bits set. Undefined for every other text.
 */
export function canonicalRange(text: string): RangeValue | undefined {
  const slash = text.indexOf('/');
  const end = slash < 0 ? text.length : slash;
  const addr = canonicalAddr(text, 0, end);
  if (addr === undefined) return undefined;
  const max = addr.length * 8;
  let prefix = max;
  if (slash >= 0) {
    if (text.length - slash - 1 > 3) return undefined;
    prefix = decimal(text, slash + 1, text.length);
    if (prefix < 0 || prefix > max) return undefined;
  }
  const whole = prefix >> 3;
  const bits = prefix & 7;
  if (bits !== 0 && (addr[whole]! & (0xff >> bits)) !== 0) return undefined;
  for (let i = bits === 0 ? whole : whole + 1; i < addr.length; i++) if (addr[i] !== 0) return undefined;
  return { family: addr.length === 4 ? 4 : 6, addr, prefix, text };
}

/** The value of text[from, to) when it is 1 to 15 ASCII digits, else -1. */
function decimal(text: string, from: number, to: number): number {
  if (to <= from || to - from > 15) return -1;
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/** The value of text[from, to) when it is 1 to 4 hex digits, else -1. */
function hexGroup(text: string, from: number, to: number): number {
  if (to <= from || to - from > 4) return -1;
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    let d: number;
    if (c >= 48 && c <= 57) d = c - 48;
    else if (c >= 97 && c <= 102) d = c - 87;
    else if (c >= 65 && c <= 70) d = c - 55;
    else return -1;
    n = n * 16 + d;
  }
  return n;
}

let chunk = new ArrayBuffer(1 << 16);
let used = chunk.byteLength;
function bytes(n: number): Uint8Array {
  if (used + n > chunk.byteLength) {
    chunk = new ArrayBuffer(1 << 16);
    used = 0;
  }
  const out = new Uint8Array(chunk, used, n);
  used += n;
  return out;
}

/** canonicalAddr's IPv6 groups as read (it runs to completion before anyone else uses it). */
const GROUPS = new Uint16Array(8);

/**
 * The bytes of text[from, to) when it is an address in one of the forms nearly every policy
 * uses: four-part decimal IPv4 with no leading zeros (`10.0.0.1`), or IPv6 as hex groups of 1–4
 * digits with at most one `::` (standing for at least one group) and nothing else (no embedded
 * IPv4, no zone id). Undefined for every other text, which ipaddr.js then decides; what this
 * accepts, ipaddr.js accepts with the same bytes (fields-fast.spec.ts).
 */
export function canonicalAddr(text: string, from = 0, to = text.length): Uint8Array | undefined {
  if (to <= from || to - from > 39) return undefined;
  if (text.lastIndexOf(':', to - 1) < from) {
    let o0 = 0;
    let o1 = 0;
    let o2 = 0;
    let at = from;
    for (let k = 0; k < 4; k++) {
      let end = at;
      while (end < to && text.charCodeAt(end) !== 46) end++;
      if (k < 3 !== end < to) return undefined;
      const v = decimal(text, at, end);
      if (v < 0 || v > 255 || (end - at > 1 && text.charCodeAt(at) === 48)) return undefined;
      if (k === 0) o0 = v;
      else if (k === 1) o1 = v;
      else if (k === 2) o2 = v;
      else {
        const out = bytes(4);
        out[0] = o0;
        out[1] = o1;
        out[2] = o2;
        out[3] = v;
        return out;
      }
      at = end + 1;
    }
    return undefined;
  }
  // IPv6: the groups in order, and where among them `::` stands.
  let count = 0;
  let gap = -1;
  let i = from;
  if (to - from >= 2 && text.charCodeAt(from) === 58 && text.charCodeAt(from + 1) === 58) {
    gap = 0;
    i = from + 2;
  }
  while (i < to) {
    let end = i;
    while (end < to && text.charCodeAt(end) !== 58) end++;
    const v = hexGroup(text, i, end);
    if (v < 0 || count === 8) return undefined;
    GROUPS[count++] = v;
    if (end === to) break;
    if (end + 1 < to && text.charCodeAt(end + 1) === 58) {
      if (gap >= 0) return undefined;
      gap = count;
      i = end + 2;
    } else {
      if (end + 1 === to) return undefined; // a single trailing ':'
      i = end + 1;
    }
  }
  if (gap < 0 ? count !== 8 : count > 7) return undefined;
  const out = bytes(16);
  const tail = gap < 0 ? 0 : count - gap;
  for (let g = 0; g < count; g++) {
    const slot = gap < 0 || g < gap ? g : 8 - tail + (g - gap);
    out[2 * slot] = GROUPS[g]! >> 8;
    out[2 * slot + 1] = GROUPS[g]! & 0xff;
  }
  return out;
}

export type AllowValue = AllowEntry extends infer E ? (E extends AllowEntry ? Omit<E, 'pos'> : never) : never;

/** Unit types that have a cgroup of their own (a service's, a scope's processes, a slice's units). */
export const CGROUP_UNIT_SUFFIXES = ['.service', '.scope', '.slice'] as const;
// systemd's unit name characters (unit_name_is_valid): ASCII letters, digits, ":-_.\", "@" once.
const UNIT_NAME_RE = /^[A-Za-z0-9:_.\\-]+(@[A-Za-z0-9:_.\\-]*)?$/;
const MAX_UNIT_NAME = 255;
const MAX_CGROUP_PATH = 4096;
const AS_RE = /^(\S+)\s+as\s+(\S+)$/;

/** The account part of an entry, or why it is none. */
function parseAccount(text: string): { account?: AccountRef; error?: string } {
  const r = parseAllowText(text);
  if (r.error) return { error: r.error };
  const e = r.entry;
  if (e?.kind === 'user') return { account: { kind: 'user', name: e.name } };
  if (e?.kind === 'uid') return { account: { kind: 'uid', uid: e.uid } };
  if (e?.kind === 'group') return { account: { kind: 'group', name: e.name } };
  return { error: `after "as" comes a user name, a uid or an @group, not ${quote(text)}` };
}

/** The full name of a `unit:` entry's unit ("backup" is "backup.service"), or why it is invalid. */
export function unitName(name: string): { unit?: string; error?: string } {
  const example = 'e.g. unit:backup.service';
  if (name.length === 0) return { error: `"unit:" needs a unit name, ${example}` };
  if (name.length > MAX_UNIT_NAME || !UNIT_NAME_RE.test(name))
    return { error: `${quote(name)} is not a systemd unit name; ${example}` };
  const dot = name.lastIndexOf('.');
  const suffix = dot > 0 ? name.slice(dot) : '';
  if ((CGROUP_UNIT_SUFFIXES as readonly string[]).includes(suffix)) return { unit: name };
  if (/^\.(socket|timer|target|mount|automount|swap|path|device)$/.test(suffix))
    return {
      error: `unit ${quote(name)}: only ${CGROUP_UNIT_SUFFIXES.join(', ')} units have processes of their own; name the service it starts`,
    };
  return { unit: `${name}.service` };
}

/** Why `path` is not a cgroup path below the hierarchy's root, or undefined. */
export function checkCgroupPath(path: string): string | undefined {
  const example = 'e.g. cgroup:/system.slice/backup.service';
  if (!path.startsWith('/'))
    return `cgroup path ${quote(path)} must start with "/" (below the cgroup v2 root), ${example}`;
  if (path.length > MAX_CGROUP_PATH) return `cgroup path is longer than ${MAX_CGROUP_PATH} characters`;
  if (/[\s\0]/u.test(path)) return `cgroup path ${quote(path)} contains whitespace or a NUL character`;
  const parts = path.split('/').slice(1);
  if (path !== '/' && parts.some((p) => p === '' || p === '.' || p === '..'))
    return `cgroup path ${quote(path)} has an empty, "." or ".." component; ${example}`;
  return undefined;
}

/** Parses one `allow` entry: a user name, a decimal uid, `@group`, `*`, `unit:NAME` or
 * `cgroup:PATH`, the last two optionally followed by `as ACCOUNT`. */
export function parseAllowText(text: string): { entry?: AllowValue; error?: string } {
  if (text.startsWith('unit:') || text.startsWith('cgroup:')) {
    const m = AS_RE.exec(text);
    const head = m ? (m[1] as string) : text;
    let as: AccountRef | undefined;
    if (m) {
      const a = parseAccount(m[2] as string);
      if (a.error) return { error: `${quote(text)}: ${a.error}` };
      as = a.account;
    } else if (/\s/u.test(text)) {
      return { error: `${quote(text)}: expected "unit:NAME", "cgroup:PATH" or either followed by "as USER"` };
    }
    const extra = as ? { as } : {};
    if (head.startsWith('unit:')) {
      const u = unitName(head.slice('unit:'.length));
      if (u.error) return { error: u.error };
      return { entry: { kind: 'unit', unit: u.unit as string, ...extra, text } };
    }
    const path = head.slice('cgroup:'.length);
    const bad = checkCgroupPath(path);
    if (bad) return { error: bad };
    return {
      entry: { kind: 'cgroup', path: path.length > 1 ? path.replace(/\/+$/, '') : path, ...extra, text },
    };
  }
  if (text === '*') return { entry: { kind: 'any', text } };
  if (/^[0-9]+$/.test(text)) {
    // Leading zeros are refused: YAML 1.1 tools read 0755 as octal, YAML 1.2 as decimal.
    if (text.length > 1 && text.startsWith('0')) {
      return { error: `uid ${text} has a leading zero; write it as ${text.replace(/^0+(?=.)/, '')}` };
    }
    const uid = text.length > 10 ? Infinity : Number(text);
    if (uid > MAX_UID) return { error: `uid ${text} is out of range (0–${MAX_UID})` };
    return { entry: { kind: 'uid', uid, text } };
  }
  if (text.startsWith('@')) {
    const name = text.slice(1);
    if (name.length <= MAX_ACCOUNT_NAME && ACCOUNT_NAME_RE.test(name))
      return { entry: { kind: 'group', name, text } };
    return { error: `invalid group ${quote(text)}; expected @ followed by a group name` };
  }
  if (text.length <= MAX_ACCOUNT_NAME && ACCOUNT_NAME_RE.test(text))
    return { entry: { kind: 'user', name: text, text } };
  return { error: `${quote(text)} is not a user name, a uid, an @group, *, unit:NAME or cgroup:PATH` };
}
