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
