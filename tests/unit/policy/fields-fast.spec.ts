// SPDX-License-Identifier: Apache-2.0
// Environment: Node (unit).
//
// canonicalAddr / canonicalRange read the common address forms without ipaddr.js: everything
// they accept, ipaddr.js accepts with the same bytes, and parseRangeText gives what the path
// through ipaddr.js alone (parseRangeTextByLibrary) gives, for random and edge-case strings.
import ipaddr from 'ipaddr.js';
import { describe, expect, it } from 'vitest';
import {
  canonicalAddr,
  canonicalRange,
  parseRangeText,
  parseRangeTextByLibrary,
} from '../../../electron/policy/fields.js';

/** What ipaddr.js makes of an address as parseRangeText asks it (four-part decimal IPv4). */
function library(text: string): number[] | undefined {
  if (text.includes(':')) {
    if (text.includes('%') || !ipaddr.IPv6.isValid(text)) return undefined;
    return ipaddr.IPv6.parse(text).toByteArray();
  }
  return ipaddr.IPv4.isValidFourPartDecimal(text) ? ipaddr.IPv4.parse(text).toByteArray() : undefined;
}

const EDGE_ADDRS = [
  '0.0.0.0',
  '255.255.255.255',
  '10.0.0.1',
  '1.2.3.4',
  '01.2.3.4',
  '1.2.3.04',
  '1.2.3.256',
  '1.2.3',
  '1.2.3.4.5',
  '1..3.4',
  '.1.2.3',
  '1.2.3.',
  '0x7f.0.0.1',
  '127.1',
  '2130706433',
  '1.2.3.4 ',
  ' 1.2.3.4',
  '１.2.3.4',
  '1.2.3.٤',
  '',
  '::',
  '::1',
  '1::',
  '1::2',
  ':::',
  '1:::2',
  '::1::',
  '1::2::3',
  ':1',
  '1:',
  '1:2:3:4:5:6:7:8',
  '1:2:3:4:5:6:7:8:9',
  '1:2:3:4:5:6:7',
  '1:2:3:4:5:6:7::',
  '::2:3:4:5:6:7:8',
  '1:2:3:4::5:6:7:8',
  '::1:2:3:4:5:6:7:8',
  '1:2:3:4:5:6:7:8::',
  'fd00:ec2::254',
  'FD00:EC2::254',
  'fD00:Ec2::2A4',
  '2001:db8:1000:1a::',
  '2001:0db8:0000:0000:0000:0000:0000:0001',
  '2001:db8::00001',
  '2001:db8::g',
  '::ffff:1.2.3.4',
  '::1.2.3.4',
  '1::1.2.3.4',
  'fe80::1%eth0',
  'fe80::1%1',
  'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
  '0:0:0:0:0:0:0:0',
  '0::0',
  '1:2:3:4:5:6::7',
  ' ::1',
  '::1 ',
  '::x',
];

const EDGE_RANGES = [
  ...EDGE_ADDRS,
  ...EDGE_ADDRS.flatMap((a) =>
    ['/0', '/1', '/8', '/24', '/29', '/32', '/33', '/64', '/128', '/129'].map((p) => a + p),
  ),
  '10.0.0.0/',
  '10.0.0.0/08',
  '10.0.0.0/008',
  '10.0.0.0/0008',
  '10.0.0.0/-1',
  '10.0.0.0/+8',
  '10.0.0.0/8/8',
  '10.0.0.0/ 8',
  '10.0.0.1/8',
  '10.0.0.0/999',
  '10.0.0.0/1000',
  '10.0.0.0/1e1',
  '10.255.0.0/9',
  '10.128.0.0/9',
  '10.0.0.8/29',
  '10.0.0.9/29',
  '::/0',
  '::1/0',
  '::1/127',
  '::2/127',
  'fd00::/7',
  'fe00::/7',
  '2001:db8::/32',
  '2001:db8::/31',
  '2001:db9::/31',
  '::ffff:1.2.3.0/120',
  'fe80::1%eth0/64',
  '/8',
  '/',
];

let seed = 12345;
function rand(n: number): number {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return (seed >>> 8) % n; // the high bits: the low ones of this generator repeat quickly
}

/** Random strings built from the pieces addresses are made of, mostly near-valid ones. */
function randomAddr(): string {
  const kind = rand(3);
  if (kind === 0) {
    const parts = Array.from({ length: 2 + rand(4) }, () =>
      rand(8) === 0 ? ['', '0', '00', '01', '256', '999', '0x1', 'a', '1 '][rand(9)]! : String(rand(300)),
    );
    return parts.join(rand(20) === 0 ? ',' : '.');
  }
  const hex = '0123456789abcdefABCDEFg';
  const group = () => {
    const len = rand(10) === 0 ? rand(7) : 1 + rand(4);
    let g = '';
    for (let i = 0; i < len; i++) g += hex[rand(rand(10) === 0 ? hex.length : 16)];
    return g;
  };
  let s = '';
  const n = 1 + rand(10);
  for (let i = 0; i < n; i++) {
    s += group();
    if (i < n - 1) s += rand(8) === 0 ? '::' : rand(30) === 0 ? ':::' : ':';
  }
  if (rand(6) === 0) s = `::${s}`;
  if (rand(6) === 0) s = `${s}::`;
  if (rand(15) === 0) s += `:${rand(256)}.${rand(256)}.${rand(256)}.${rand(256)}`;
  if (rand(20) === 0) s += '%eth0';
  if (kind === 2 && rand(10) === 0) s = s.toUpperCase();
  return s;
}

function randomRange(): string {
  const a = randomAddr();
  const p = rand(4);
  if (p === 0) return a;
  const prefixes = ['', '0', '00', '007', '0008', '-1', ' 1', 'x', '1e1', '128', '129', '32', '33', '255'];
  return `${a}/${rand(3) === 0 ? prefixes[rand(prefixes.length)]! : String(rand(140))}`;
}

describe('canonicalAddr', () => {
  it('accepts only what ipaddr.js accepts, with the same bytes (edge cases)', () => {
    let accepted = 0;
    for (const a of EDGE_ADDRS) {
      const fast = canonicalAddr(a);
      if (fast === undefined) continue;
      accepted++;
      expect([a, [...fast]]).toEqual([a, library(a)]);
    }
    expect(accepted).toBeGreaterThan(15);
  });

  it('accepts only what ipaddr.js accepts, with the same bytes (100,000 random strings)', () => {
    let accepted = 0;
    let refusedValid = 0;
    for (let i = 0; i < 100_000; i++) {
      const a = randomAddr();
      const fast = canonicalAddr(a);
      if (fast === undefined) {
        if (library(a) !== undefined) refusedValid++;
        continue;
      }
      accepted++;
      const slow = library(a);
      if (slow === undefined || slow.join() !== [...fast].join()) expect([a, [...fast]]).toEqual([a, slow]);
    }
    // Both outcomes happen often: the comparison covers the fast path and what it leaves alone.
    expect(accepted).toBeGreaterThan(5_000);
    expect(refusedValid).toBeGreaterThan(200);
  });

  it('reads the part of a text it is given', () => {
    expect([...canonicalAddr('x10.1.2.3/8', 1, 9)!]).toEqual([10, 1, 2, 3]);
    expect(canonicalAddr('10.1.2.3/8', 0, 10)).toBeUndefined();
    expect([...canonicalAddr('[::1]', 1, 4)!]).toEqual([...Array(15).fill(0), 1]);
  });
});

describe('parseRangeText', () => {
  /** A result as text, bytes included (expect is called on a difference only: it is slow). */
  const shown = (r: ReturnType<typeof parseRangeText>): string =>
    JSON.stringify({ ...r, range: r.range && { ...r.range, addr: [...r.range.addr] } });
  const check = (text: string): boolean => {
    const fast = parseRangeText(text);
    const slow = parseRangeTextByLibrary(text);
    if (shown(fast) !== shown(slow)) expect([text, fast]).toEqual([text, slow]);
    return canonicalRange(text) !== undefined;
  };

  it('gives what the path through ipaddr.js gives (edge cases)', () => {
    const fast = EDGE_RANGES.filter(check).length;
    expect(fast).toBeGreaterThan(50);
    expect(EDGE_RANGES.length - fast).toBeGreaterThan(200);
  });

  it('gives what the path through ipaddr.js gives (100,000 random strings)', () => {
    let fast = 0;
    for (let i = 0; i < 100_000; i++) if (check(randomRange())) fast++;
    expect(fast).toBeGreaterThan(2_000);
  });

  it('takes the fast path only without host bits, and keeps the text as written', () => {
    expect(canonicalRange('10.0.0.0/8')).toEqual({
      family: 4,
      addr: Uint8Array.from([10, 0, 0, 0]),
      prefix: 8,
      text: '10.0.0.0/8',
    });
    expect(canonicalRange('10.0.0.1/8')).toBeUndefined();
    expect(parseRangeText('10.0.0.1/8').warning).toBe('10.0.0.1/8 has host bits set; using 10.0.0.0/8');
    expect(canonicalRange('FD00:EC2::254')).toMatchObject({ family: 6, prefix: 128, text: 'FD00:EC2::254' });
  });
});
