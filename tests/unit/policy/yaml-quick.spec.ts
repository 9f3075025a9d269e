// SPDX-License-Identifier: Apache-2.0
// Environment: Node (main process and CLI). No Electron import.
//
// The quick lists of yaml.ts (`range:`, `allow:` and `iface:` flow lists read without the yaml
// library) change nothing: every text parses to the same policy and the same diagnostics, at the
// same positions, as when the library reads every list.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MAX_LIST_ITEMS, MAX_PARSED_BYTES, parsePolicy } from '../../../electron/policy/yaml.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

function same(text: string): ReturnType<typeof parsePolicy> {
  const quick = parsePolicy(text, 'q.yml');
  const slow = parsePolicy(text, 'q.yml', { quickLists: false });
  expect(quick).toEqual(slow);
  return quick;
}

const ep = (body: string) => `endpoints:\n  - ep:\n${body}`;

describe('quick lists', () => {
  it('read long lists as the library does', () => {
    const ranges = Array.from({ length: 3000 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`);
    const v6 = Array.from({ length: 500 }, (_, i) => `2001:db8:${i.toString(16)}::/48`);
    const users = Array.from({ length: 500 }, (_, i) => (i % 3 ? String(1000 + i) : `user${i}`));
    const r = same(
      ep(
        `      iface: [eth0, wg0]\n      range: [${[...ranges, ...v6].join(', ')}]\n      allow: [${users.join(',')}]\n`,
      ),
    );
    expect(r.policy?.endpoints[0]?.range).toHaveLength(3500);
    expect(r.policy?.endpoints[0]?.allow).toHaveLength(500);
    expect(r.policy?.endpoints[0]?.range[3000]?.pos).toEqual({
      file: 'q.yml',
      line: 4,
      col: 15 + ranges.join(', ').length + 2,
    });
  });

  it.each([
    [
      'bad ranges and users at their columns',
      '      iface: [eth0]\n      range: [10.0.0.1/8, 300.1.1.1, 10.0.0.0/33]\n      allow: [a, 12x, 4294967296]\n',
    ],
    [
      'numbers and booleans as written',
      '      iface: [0, true, 1e3]\n      range: [10.0.0.0/8]\n      allow: [0x10, 010, 1_000, True, FALSE]\n',
    ],
    ['null items', '      iface: [eth0]\n      range: [10.0.0.0/8, null]\n      allow: [Null, a]\n'],
    ['a key-like item', '      iface: [eth0]\n      range: [10.0.0.0/8, fd00::]\n      allow: [a:, b]\n'],
    [
      'empty and trailing items',
      '      iface: [eth0,]\n      range: [10.0.0.0/8, , 10.1.0.0/16]\n      allow: []\n',
    ],
    ['quoted, @group and *', '      iface: ["eth0"]\n      range: [10.0.0.0/8]\n      allow: [@g, "*", *]\n'],
    ['tabs', '      iface: [eth0,\teth1]\n      range: [10.0.0.0/8]\n      allow: [a]\n'],
    [
      'trailing comment and spaces',
      '      iface: [ eth0 ]   # x\n      range: [  10.0.0.0/8  ,10.1.0.0/16]\n      allow: [a] #c\n',
    ],
    ['text after the list', '      iface: [eth0] x\n      range: [10.0.0.0/8]\n      allow: [a]\n'],
    [
      'a duplicate key',
      '      iface: [eth0]\n      iface: [eth1]\n      range: [10.0.0.0/8]\n      allow: [a]\n',
    ],
    ['a list as a key', '      iface: [eth0]\n      range: [10.0.0.0/8]: x\n      allow: [a]\n'],
    ['multi-line lists', '      iface: [eth0,\n        eth1]\n      range: [10.0.0.0/8]\n      allow: [a]\n'],
    ['nested lists', '      iface: [eth0]\n      range: [[10.0.0.0/8], 10.1.0.0/16]\n      allow: [a]\n'],
    ['CRLF', '      iface: [eth0]\r\n      range: [10.0.0.0/8]\r\n      allow: [a]\r\n'],
    ['aliases and anchors', '      iface: &x [eth0]\n      range: [10.0.0.0/8]\n      allow: *x\n'],
  ])('%s', (_name, body) => {
    same(ep(body));
  });

  it.each([
    [
      'a list in a comment',
      `# range: [a, b]\n${ep('      iface: [eth0]\n      range: [10.0.0.0/8]\n      allow: [a]\n')}`,
    ],
    [
      'a list in a block scalar',
      `${ep('      iface: [eth0]\n      range: [10.0.0.0/8]\n      allow: [a]\n')}logging:\n  allowed: |\n    range: [10.0.0.0/8]\n`,
    ],
    [
      'a list in a quoted scalar',
      `${ep('      iface: [eth0]\n      range: [10.0.0.0/8]\n      allow: [a]\n')}logging:\n  allowed: "x\n    allow: [a, b]"\n`,
    ],
    [
      'under an unknown key',
      `${ep('      iface: [eth0]\n      range: [10.0.0.0/8]\n      allow: [a]\n')}extra:\n  range: [10.0.0.0/8]\n`,
    ],
    [
      'as an interface setting',
      `${ep('      iface: [eth0]\n      range: [10.0.0.0/8]\n      allow: [a]\n')}interfaces:\n  eth0:\n    range: [1, 2]\n`,
    ],
    ['as an endpoint named range', 'endpoints:\n  - range: [10.0.0.0/8]\n'],
    ['as the top level', 'range: [10.0.0.0/8]\n'],
    [
      'in a second document',
      `${ep('      iface: [eth0]\n      range: [10.0.0.0/8]\n      allow: [a]\n')}---\nrange: [1]\n`,
    ],
  ])('lists the document does not read as lists: %s', (_name, text) => {
    same(text);
  });

  it('the example configurations', () => {
    const dir = join(root, 'conf/examples');
    const files = ['conf/net-tc-filter.yml', ...readdirSync(dir).map((f) => `conf/examples/${f}`)];
    for (const f of files.filter((x) => x.endsWith('.yml'))) same(readFileSync(join(root, f), 'utf8'));
  });

  it('random lists of words, separators and YAML indicators', () => {
    const pieces = [
      'a',
      '10.0.0.0/8',
      'fd00::/8',
      '1001',
      ',',
      ', ',
      ' ',
      ':',
      'null',
      '#',
      '"',
      "'",
      '*',
      '&',
      '!',
      '@',
      '[',
      ']',
      '{',
      '}',
      '-',
      '~',
      '\t',
      'x:',
      '.5',
      '%',
    ];
    let seed = 7;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let i = 0; i < 1500; i++) {
      const list = () => {
        let s = '';
        for (let j = rand(8); j >= 0; j--) s += pieces[rand(pieces.length)];
        return s;
      };
      same(ep(`      iface: [${list()}]\n      range: [${list()}]\n      allow: [${list()}]\n`));
    }
  });

  it('refuses more than MAX_PARSED_BYTES outside quick lists, before the yaml library builds anything', () => {
    const quoted = Array.from({ length: 1_400_000 }, (_, i) => `"u${i % 1000}"`).join(', ');
    const text = ep(`      iface: [eth0]\n      range: [10.0.0.0/8]\n      allow: [${quoted}]\n`);
    expect(text.length).toBeGreaterThan(MAX_PARSED_BYTES);
    const r = parsePolicy(text, 'q.yml');
    expect(r.policy).toBeUndefined();
    expect(r.diagnostics).toEqual([
      {
        severity: 'error',
        message: expect.stringMatching(
          /^\d+ bytes of this file are not in one-line lists of plain items, more than the 8388608 \(8 MiB\) that may be; write long lists on one line with unquoted items/,
        ),
        pos: { file: 'q.yml', line: 1, col: 1 },
      },
    ]);
  });

  it('refuses more than MAX_LIST_ITEMS list items, counted before any is built', () => {
    const items = `a,${'a,'.repeat(MAX_LIST_ITEMS)}a`;
    const r = parsePolicy(
      ep(`      iface: [eth0]\n      range: [10.0.0.0/8]\n      allow: [${items}]\n`),
      'q.yml',
    );
    expect(r.diagnostics).toEqual([
      {
        severity: 'error',
        message: `the lists of this file have more than ${MAX_LIST_ITEMS} items together, the most a policy may have`,
        pos: { file: 'q.yml', line: 1, col: 1 },
      },
    ]);
  });
});

describe('quick lists: generated policies', () => {
  let seed = 2026;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return (seed >>> 8) % n; // the high bits: the low ones of this generator repeat quickly
  };
  const pick = <T>(xs: readonly T[]): T => xs[rand(xs.length)]!;
  const RANGES = [
    '10.0.0.0/8',
    '10.1.2.3',
    '10.1.2.3/32',
    '10.1.2.3/24',
    '0.0.0.0/0',
    '255.255.255.255',
    '169.254.169.254/32',
    '010.0.0.1',
    '1.2.3',
    '300.1.1.1',
    '10.0.0.0/33',
    '10.0.0.0/08',
    '::',
    '::/0',
    '::1/128',
    '::ffff:1.2.3.4',
    '::ffff:1.2.3.0/120',
    'fd00:ec2::254',
    'FD00:EC2::254/128',
    '2001:db8::/32',
    '2001:DB8:0:0:0:0:0:1/64',
    '2001:db8::1/64',
    'fe80::1%eth0',
    '1:2:3:4:5:6:7:8:9',
    '2001:db8::g',
    'ff02::1:2',
    '"10.2.0.0/16"',
    "'fd00::/8'",
    '"bad range"',
    'null',
    'x:',
    '1e3',
    'true',
    '10.0.0.0/8 # no',
    '１.2.3.4',
  ];
  const USERS = [
    'root',
    'alice',
    'nobody',
    '1001',
    '0',
    '007',
    '4294967295',
    '4294967296',
    '"@admins"',
    '@adm',
    '"*"',
    '*',
    'unit:backup',
    '"cgroup:/x.slice"',
    'bad user',
    'Ünï',
    'a:',
    'Null',
    '-1',
  ];
  const IFACES = ['eth0', 'wg0', 'lo', '"eth0"', 'en:1', 'averyveryverylongname', '0', 'true'];
  const SEPS = [', ', ',', ' , ', ',  ', ', ', ' ,'];
  /** A file with only valid items and layouts (half of them), so that many parse to a policy. */
  let clean = false;
  const list = (pool: readonly string[], long: boolean): string => {
    const n = long ? 1 + rand(60) : 1 + rand(4);
    const odd = !clean && rand(3) === 0;
    let s = rand(6) === 0 ? ' ' : '';
    for (let i = 0; i < n; i++) {
      // Mostly valid, canonical items, as in a real long list.
      s +=
        odd && rand(4) === 0
          ? pick(pool)
          : pool === RANGES
            ? `10.${rand(256)}.${rand(256)}.0/24`
            : pick(pool.slice(0, 3));
      if (i < n - 1) s += odd && rand(20) === 0 ? ',\t' : pick(SEPS);
    }
    if (rand(10) === 0) s += ',';
    if (rand(8) === 0) s += ' ';
    return `[${s}]`;
  };
  const endpoint = (k: number): string => {
    const name = rand(15) === 0 ? `"ep ${k}"` : `ep${k}`;
    const tail = rand(5) === 0 ? '   # a comment' : '';
    const iface = list(IFACES, false);
    const range = list(RANGES, true);
    const allow = list(USERS, rand(3) === 0);
    const layout = rand(6);
    switch (clean && layout === 2 ? 3 : layout) {
      case 0:
        // A flow mapping over lines: keys after a cut list on its line are the library's.
        return `  - ${name}: {iface: ${iface},\n      range: ${range}, allow: ${allow}}${tail}\n`;
      case 1:
        return `  - ${name}:\n      iface: ${iface}\n      range: ${range}${tail}\n      allow:\n        ${allow}\n`;
      case 2:
        return `  - ${name}:\n      iface: ${iface}\n      range: ${range}\n      range: ${list(RANGES, false)}\n      allow: ${allow}\n`;
      default:
        return `  - ${name}:\n      iface:   ${iface}\n      range:\t${range}${tail}\n      allow : ${allow}\n`;
    }
  };

  it('parse as the library reads them (400 files: odd items, separators, layouts, CRLF)', () => {
    let quickRead = 0;
    for (let f = 0; f < 400; f++) {
      clean = rand(2) === 0;
      let text = 'endpoints:\n';
      for (let k = 0, n = 1 + rand(5); k < n; k++) text += endpoint(k);
      if (rand(3) === 0) text += 'interfaces:\n  eth0: { default: deny }\n  wg0:\n    unowned: allow\n';
      if (rand(4) === 0) text = text.replace(/\n/g, '\r\n');
      const r = same(text);
      if (r.policy) quickRead++;
    }
    // Many files are valid (a policy), many are not (diagnostics compared).
    expect(quickRead).toBeGreaterThan(20);
    expect(quickRead).toBeLessThan(380);
  });

  /** The line and column of the first `needle` in `text`, counted here. */
  const where = (text: string, needle: string): [number, number] => {
    const offset = text.indexOf(needle);
    return [text.slice(0, offset).split('\n').length, offset - (text.lastIndexOf('\n', offset) + 1) + 1];
  };

  it('point at a bad item of a long one-line list where it is', () => {
    const items = Array.from({ length: 20_000 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`);
    for (const at of [0, 1, 9_999, 19_999]) {
      const bad = items.slice();
      bad[at] = '10.0.0.300/24';
      bad[(at + 7) % bad.length] = '10.0.0.1/24'; // host bits: a warning
      const text = ep(`      iface: [eth0]\n      range: [${bad.join(', ')}]  # c\n      allow: [root]\n`);
      const r = same(text);
      const diags = r.diagnostics.map((d) => [d.severity, d.pos?.line, d.pos?.col]);
      expect(diags).toHaveLength(2);
      expect(diags).toContainEqual(['error', ...where(text, '10.0.0.300/24')]);
      expect(diags).toContainEqual(['warning', ...where(text, '10.0.0.1/24')]);
    }
  });

  it('point at the 500,000th item of a million-item list at its line and column', () => {
    const items = Array.from(
      { length: 1_000_000 },
      (_, i) => `10.${i >> 14}.${(i >> 6) & 255}.${(i & 63) * 4}/30`,
    );
    items[499_999] = '10.1.2.3/33';
    const text = ep(`      iface: [eth0]\n      range: [${items.join(',')}]\n      allow: [root]\n`);
    const r = parsePolicy(text, 'q.yml');
    const [line, col] = where(text, '10.1.2.3/33');
    expect(line).toBe(4);
    expect(r.diagnostics).toEqual([
      {
        severity: 'error',
        message: '"10.1.2.3/33": prefix /33 is out of range for IPv4 (0–32)',
        pos: { file: 'q.yml', line, col },
      },
    ]);
  });
});
