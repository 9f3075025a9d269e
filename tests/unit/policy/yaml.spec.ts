// SPDX-License-Identifier: Apache-2.0
// Environment: Node (main process and CLI). No Electron import.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  MAX_IMPORT_BYTES,
  MAX_POLICY_BYTES,
  POLICY_TOO_LARGE,
  policyTooLarge,
  parsePolicy,
  serializePolicy,
} from '../../../electron/policy/yaml.js';
import { loadPolicyFile, readConfigText } from '../../../electron/policy/load.js';
import { LIMITS } from '../../../electron/ipc/contract.js';
import { parseAllowText, parseRangeText } from '../../../electron/policy/fields.js';
import type { Diagnostic, Policy } from '../../../electron/policy/types.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const read = (rel: string): string => readFileSync(root + rel, 'utf8');

/** The configuration example of the original tool's README, byte for byte. */
const SEED =
  'endpoints:\n' +
  '    - imdsv2:\n' +
  '        iface: [eth0] \n' +
  '        range: [169.254.169.254/32]\n' +
  '        allow:\n' +
  '          - testuser\n' +
  '\n';

/** Drops source positions, which a round trip legitimately changes. */
function stripPos<T>(value: T): T {
  if (value instanceof Uint8Array) return value;
  if (Array.isArray(value)) return value.map((v: unknown) => stripPos(v)) as T;
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (k !== 'pos') out[k] = stripPos(v);
    return out as T;
  }
  return value;
}

function parseOk(text: string, file = 't.yml'): { policy: Policy; diagnostics: Diagnostic[] } {
  const r = parsePolicy(text, file);
  expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  expect(r.policy).toBeDefined();
  return { policy: r.policy!, diagnostics: r.diagnostics };
}

function errorsOf(text: string): { line?: number; col?: number; message: string }[] {
  const r = parsePolicy(text, 'bad.yml');
  expect(r.policy).toBeUndefined();
  const errors = r.diagnostics.filter((d) => d.severity === 'error');
  expect(errors.length).toBeGreaterThan(0);
  return errors.map((d) => ({ line: d.pos?.line, col: d.pos?.col, message: d.message }));
}

function endpointYaml(body: string): string {
  return `endpoints:\n  - ep:\n${body}`;
}

describe('the seed format', () => {
  it('conf/net-tc-filter.yml is the original README example and loads unchanged', () => {
    const text = read('conf/net-tc-filter.yml');
    expect(text).toBe(SEED);
    const { policy, diagnostics } = parseOk(text, 'conf/net-tc-filter.yml');
    expect(diagnostics).toEqual([]);
    const file = 'conf/net-tc-filter.yml';
    expect(policy).toEqual({
      endpoints: [
        {
          name: 'imdsv2',
          iface: ['eth0'],
          range: [
            {
              family: 4,
              addr: Uint8Array.from([169, 254, 169, 254]),
              prefix: 32,
              text: '169.254.169.254/32',
              pos: { file, line: 4, col: 17 },
            },
          ],
          allow: [{ kind: 'user', name: 'testuser', text: 'testuser', pos: { file, line: 6, col: 13 } }],
          pos: { file, line: 2, col: 7 },
        },
      ],
      interfaces: {},
      logging: {},
    });
  });

  it('parse → serialize → parse of the seed is identical', () => {
    const first = parseOk(SEED).policy;
    const text = serializePolicy(first);
    expect(text).toBe(
      'endpoints:\n  - imdsv2:\n      iface: [eth0]\n      range: [169.254.169.254/32]\n      allow: [testuser]\n',
    );
    expect(stripPos(parseOk(text).policy)).toEqual(stripPos(first));
  });

  it('reads IPv6 ranges, bare addresses and several endpoints', () => {
    const { policy, diagnostics } = parseOk(
      'endpoints:\n' +
        '    - imdsv6:\n' +
        '        iface: [eth0]\n' +
        '        range: [fd00:ec2::254/128, ::1/128, 2001:DB8::/32]\n' +
        '        allow: [testuser]\n' +
        '    - bare:\n' +
        '        iface: [lo, eth0]\n' +
        '        range: [fd00:ec2::254, 192.0.2.7]\n' +
        '        allow: [testuser]\n',
    );
    expect(diagnostics).toEqual([]);
    const [v6, bare] = policy.endpoints;
    expect(v6!.range.map((r) => [r.family, r.prefix, r.text])).toEqual([
      [6, 128, 'fd00:ec2::254/128'],
      [6, 128, '::1/128'],
      [6, 32, '2001:DB8::/32'],
    ]);
    expect(v6!.range[0]!.addr).toEqual(
      Uint8Array.from([0xfd, 0, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54]),
    );
    expect(v6!.range[2]!.addr).toEqual(
      Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, ...new Array<number>(12).fill(0)]),
    );
    expect(bare!.range.map((r) => [r.family, r.prefix, r.addr.length])).toEqual([
      [6, 128, 16],
      [4, 32, 4],
    ]);
    expect(bare!.iface).toEqual(['lo', 'eth0']);
  });

  it('accepts a scalar where a one-element list is meant', () => {
    const { policy } = parseOk(
      endpointYaml('      iface: eth0\n      range: 10.0.0.0/8\n      allow: testuser\n'),
    );
    expect(policy.endpoints[0]!.iface).toEqual(['eth0']);
    expect(policy.endpoints[0]!.range[0]!.prefix).toBe(8);
    expect(policy.endpoints[0]!.allow[0]!.kind).toBe('user');
  });

  it('reads every kind of allow entry, including unquoted @group and bare *', () => {
    const { policy, diagnostics } = parseOk(
      endpointYaml(
        '      iface: [eth0]\n      range: [10.0.0.0/8]\n      allow: [alice, 1000, "1001", @admins, *, svc$, "@wheel", "*"]\n',
      ),
    );
    expect(diagnostics).toEqual([]);
    expect(stripPos(policy.endpoints[0]!.allow)).toEqual([
      { kind: 'user', name: 'alice', text: 'alice' },
      { kind: 'uid', uid: 1000, text: '1000' },
      { kind: 'uid', uid: 1001, text: '1001' },
      { kind: 'group', name: 'admins', text: '@admins' },
      { kind: 'any', text: '*' },
      { kind: 'user', name: 'svc$', text: 'svc$' },
      { kind: 'group', name: 'wheel', text: '@wheel' },
      { kind: 'any', text: '*' },
    ]);
    const block = parseOk(
      endpointYaml(
        '      iface: [eth0]\n      range: [10.0.0.0/8]\n      allow:\n        - *\n        - 0\n',
      ),
    );
    expect(stripPos(block.policy.endpoints[0]!.allow)).toEqual([
      { kind: 'any', text: '*' },
      { kind: 'uid', uid: 0, text: '0' },
    ]);
  });

  it('normalises host bits with a warning at the range', () => {
    const r = parsePolicy(
      endpointYaml('      iface: [eth0]\n      range: [10.0.0.1/8, "2001:db8::1/32"]\n      allow: [a]\n'),
      'w.yml',
    );
    expect(r.policy).toBeDefined();
    expect(r.diagnostics).toEqual([
      {
        severity: 'warning',
        message: '10.0.0.1/8 has host bits set; using 10.0.0.0/8',
        pos: { file: 'w.yml', line: 4, col: 15 },
      },
      {
        severity: 'warning',
        message: '2001:db8::1/32 has host bits set; using 2001:db8::/32',
        pos: { file: 'w.yml', line: 4, col: 27 },
      },
    ]);
    const [v4, v6] = r.policy!.endpoints[0]!.range;
    expect(v4!.addr).toEqual(Uint8Array.from([10, 0, 0, 0]));
    expect(v4!.text).toBe('10.0.0.1/8');
    expect(v6!.addr).toEqual(Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, ...new Array<number>(12).fill(0)]));
  });

  it('reads the extension keys', () => {
    const { policy } = parseOk(
      endpointYaml('      iface: [eth0]\n      range: [10.0.0.0/8]\n      allow: [a]\n') +
        'interfaces:\n  eth0: {default: allow, unowned: allow, essentials: false}\n  lo:\n  wg0: {}\n' +
        'logging:\n  allowed: off\n',
    );
    expect(policy.interfaces).toEqual({
      eth0: { default: 'allow', unowned: 'allow', essentials: false },
      lo: {},
      wg0: {},
    });
    expect(policy.logging).toEqual({ allowed: 'off' });
  });

  it('keeps an interface named __proto__ as an ordinary key', () => {
    const { policy } = parseOk(
      endpointYaml('      iface: [eth0]\n      range: [10.0.0.0/8]\n      allow: [a]\n') +
        'interfaces:\n  __proto__: {default: allow}\n',
    );
    expect(Object.keys(policy.interfaces)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(policy.interfaces)).toBe(Object.prototype);
  });

  it('parses the example configurations', () => {
    const dual = parseOk(read('conf/examples/metadata-dual-stack.yml')).policy;
    expect(dual.endpoints[0]!.range.map((r) => r.family)).toEqual([4, 6]);
    expect(dual.interfaces).toEqual({ eth0: { default: 'allow' } });
    expect(dual.logging).toEqual({ allowed: 'sample' });
    const ws = parseOk(read('conf/examples/workstation.yml'));
    expect(ws.diagnostics).toEqual([]);
    const kinds = ws.policy.endpoints.flatMap((e) => e.allow.map((a) => a.kind));
    expect(kinds).toEqual(['any', 'group', 'uid', 'user']);
  });
});

describe('errors with positions', () => {
  const ok = '      iface: [eth0]\n      range: [10.0.0.0/8]\n      allow: [a]\n';

  it.each<[string, string, number, number, RegExp]>([
    [
      'unknown top-level key',
      `${endpointYaml(ok)}extra: 1\n`,
      6,
      1,
      /unknown key "extra"; allowed keys: endpoints, interfaces, logging/,
    ],
    [
      'unknown endpoint key',
      endpointYaml(`${ok}      ports: [80]\n`),
      6,
      7,
      /unknown key "ports".*allowed keys: iface, range, allow/,
    ],
    [
      'unknown interface key',
      `${endpointYaml(ok)}interfaces:\n  eth0: {policy: deny}\n`,
      7,
      10,
      /allowed keys: default, unowned, essentials, mode/,
    ],
    ['unknown logging key', `${endpointYaml(ok)}logging: {dropped: all}\n`, 6, 11, /allowed keys: allowed/],
    ['missing endpoints', 'logging: {allowed: all}\n', 1, 1, /missing "endpoints:"/],
    ['empty endpoints', 'endpoints: []\n', 1, 12, /"endpoints" is an empty list/],
    [
      'endpoints as a mapping',
      'endpoints:\n  ep: {}\n',
      2,
      3,
      /must be a list of endpoints.*start each endpoint with "- "/,
    ],
    [
      'empty iface',
      endpointYaml('      iface: []\n      range: [10.0.0.0/8]\n      allow: [a]\n'),
      3,
      14,
      /"iface" is an empty list/,
    ],
    [
      'empty range',
      endpointYaml('      iface: [eth0]\n      range: []\n      allow: [a]\n'),
      4,
      14,
      /"range" is an empty list/,
    ],
    [
      'empty allow',
      endpointYaml('      iface: [eth0]\n      range: [10.0.0.0/8]\n      allow: []\n'),
      5,
      14,
      /"allow" is an empty list/,
    ],
    [
      'null allow',
      endpointYaml('      iface: [eth0]\n      range: [10.0.0.0/8]\n      allow:\n'),
      5,
      7,
      /"allow" has no value/,
    ],
    [
      'missing range',
      endpointYaml('      iface: [eth0]\n      allow: [a]\n'),
      2,
      5,
      /endpoint "ep" is missing "range"/,
    ],
    ['endpoint without body', 'endpoints:\n  - ep:\n', 2, 5, /has nothing under it/],
    [
      'body not indented',
      'endpoints:\n  - ep:\n    iface: [eth0]\n',
      2,
      5,
      /single "name:" key.*found 2 keys \(ep, iface\)/,
    ],
    [
      'bad endpoint name',
      'endpoints:\n  - "my endpoint":\n      iface: [eth0]\n      range: [10.0.0.0/8]\n      allow: [a]\n',
      2,
      5,
      /invalid endpoint name "my endpoint"/,
    ],
    ['long endpoint name', `endpoints:\n  - ${'x'.repeat(65)}:\n${ok}`, 2, 5, /invalid endpoint name/],
    [
      'duplicate endpoint name',
      `${endpointYaml(ok)}  - ep:\n${ok}`,
      6,
      5,
      /duplicate endpoint name "ep"; the first is at line 2/,
    ],
    ['duplicate key', endpointYaml(`${ok}      iface: [eth1]\n`), 6, 7, /duplicate key "iface"/],
    [
      'bad CIDR',
      endpointYaml('      iface: [eth0]\n      range: [10.0.0.0/8, 300.1.2.3/32]\n      allow: [a]\n'),
      4,
      27,
      /"300.1.2.3\/32" is not a valid IP address/,
    ],
    [
      'inet_aton form',
      endpointYaml('      iface: [eth0]\n      range: [0x7f.1]\n      allow: [a]\n'),
      4,
      15,
      /not a valid IP address/,
    ],
    [
      'IPv4 prefix out of range',
      endpointYaml('      iface: [eth0]\n      range: [10.0.0.0/33]\n      allow: [a]\n'),
      4,
      15,
      /prefix \/33 is out of range for IPv4 \(0–32\)/,
    ],
    [
      'IPv6 prefix out of range',
      endpointYaml('      iface: [eth0]\n      range: ["::/129"]\n      allow: [a]\n'),
      4,
      15,
      /prefix \/129 is out of range for IPv6 \(0–128\)/,
    ],
    [
      'bad prefix',
      endpointYaml('      iface: [eth0]\n      range: [10.0.0.0/x]\n      allow: [a]\n'),
      4,
      15,
      /prefix after "\/" must be a number/,
    ],
    [
      'IPv6 zone',
      endpointYaml('      iface: [eth0]\n      range: ["fe80::1%eth0"]\n      allow: [a]\n'),
      4,
      15,
      /zone ids/,
    ],
    [
      'interface name too long',
      endpointYaml('      iface: [abcdefghijklmnop]\n      range: [10.0.0.0/8]\n      allow: [a]\n'),
      3,
      15,
      /longer than 15 bytes/,
    ],
    [
      'interface name with slash',
      endpointYaml('      iface: [a/b]\n      range: [10.0.0.0/8]\n      allow: [a]\n'),
      3,
      15,
      /contains "\/"/,
    ],
    [
      'interface name with space',
      endpointYaml('      iface: ["a b"]\n      range: [10.0.0.0/8]\n      allow: [a]\n'),
      3,
      15,
      /whitespace/,
    ],
    [
      'interface name ..',
      endpointYaml('      iface: [..]\n      range: [10.0.0.0/8]\n      allow: [a]\n'),
      3,
      15,
      /"\." and "\.\."/,
    ],
    [
      'bad user',
      endpointYaml('      iface: [eth0]\n      range: [10.0.0.0/8]\n      allow: [a, "bad user"]\n'),
      5,
      18,
      /"bad user" is not a user name, a uid, an @group, \*, unit:NAME or cgroup:PATH/,
    ],
    [
      'uid out of range',
      endpointYaml('      iface: [eth0]\n      range: [10.0.0.0/8]\n      allow: [4294967295]\n'),
      5,
      15,
      /uid 4294967295 is out of range/,
    ],
    [
      'negative uid',
      endpointYaml('      iface: [eth0]\n      range: [10.0.0.0/8]\n      allow: [-1]\n'),
      5,
      15,
      /"-1" is not a user name/,
    ],
    [
      'float uid',
      endpointYaml('      iface: [eth0]\n      range: [10.0.0.0/8]\n      allow: [1.5]\n'),
      5,
      15,
      /"1.5" is not a user name/,
    ],
    [
      'uid with leading zero',
      endpointYaml('      iface: [eth0]\n      range: [10.0.0.0/8]\n      allow: [0755]\n'),
      5,
      15,
      /leading zero/,
    ],
    [
      'bad group',
      endpointYaml('      iface: [eth0]\n      range: [10.0.0.0/8]\n      allow: ["@"]\n'),
      5,
      15,
      /invalid group "@"/,
    ],
    [
      'list item of wrong type',
      endpointYaml('      iface: [eth0]\n      range: [{a: 1}]\n      allow: [a]\n'),
      4,
      15,
      /expected an IP address or CIDR range, found a mapping/,
    ],
    [
      'iface as mapping',
      endpointYaml('      iface: {eth0: 1}\n      range: [10.0.0.0/8]\n      allow: [a]\n'),
      3,
      14,
      /must be a list of interface names/,
    ],
    [
      'wrong verdict',
      `${endpointYaml(ok)}interfaces:\n  eth0:\n    default: drop\n`,
      8,
      14,
      /"default" must be deny or allow, found the text "drop"/,
    ],
    [
      'wrong essentials',
      `${endpointYaml(ok)}interfaces:\n  eth0:\n    essentials: yes\n`,
      8,
      17,
      /"essentials" must be true or false/,
    ],
    [
      'wrong logging',
      `${endpointYaml(ok)}logging:\n  allowed: some\n`,
      7,
      12,
      /"allowed" must be one of off, sample, all/,
    ],
    [
      'bad interface key',
      `${endpointYaml(ok)}interfaces:\n  "eth 0": {}\n`,
      7,
      3,
      /invalid interface name "eth 0"/,
    ],
    ['top level is a list', '- a\n- b\n', 1, 1, /expected a mapping/],
    ['empty file', '', 1, 1, /the file is empty/],
    ['comments only', '# nothing\n', 1, 1, /the file is empty/],
    ['custom tag', `endpoints: !foo\n  - ep:\n${ok}`, 1, 12, /tags such as !foo are not supported/],
    [
      'standard tag',
      endpointYaml('      iface: [eth0]\n      range: [10.0.0.0/8]\n      allow: [!!str 1000]\n'),
      5,
      15,
      /tags such as !!str/,
    ],
    [
      'anchor',
      endpointYaml(`      iface: &i [eth0]\n      range: [10.0.0.0/8]\n      allow: [a]\n`),
      3,
      14,
      /anchors are not supported/,
    ],
    [
      'alias',
      `${endpointYaml(ok)}  - ep2:\n      iface: [eth0]\n      range: [10.0.0.0/8]\n      allow: *a\n`,
      9,
      14,
      /aliases are not supported in this file/,
    ],
    ['two documents', `${endpointYaml(ok)}---\n${endpointYaml(ok)}`, 6, 1, /only one YAML document/],
    ['YAML 1.1 directive', `%YAML 1.1\n---\n${endpointYaml(ok)}`, 1, 1, /unsupported directive "%YAML 1.1"/],
    [
      'TAG directive',
      `%TAG !e! tag:example.com,2000:\n---\n${endpointYaml(ok)}`,
      1,
      1,
      /unsupported directive/,
    ],
    [
      'syntax error',
      endpointYaml('      iface: [eth0\n      range: [10.0.0.0/8]\n      allow: [a]\n'),
      4,
      7,
      /Flow sequence .* must be sufficiently indented and end with a \]/,
    ],
    ['tab indentation', 'endpoints:\n\t- ep: {}\n', 2, 1, /[Tt]ab/],
  ])('%s', (_name, text, line, col, message) => {
    const errors = errorsOf(text);
    expect(errors).toContainEqual({ line, col, message: expect.stringMatching(message) });
  });

  it('reports every problem of a file, not only the first', () => {
    const errors = errorsOf(
      'endpoints:\n  - a:\n      iface: [eth0/x]\n      range: [10.0.0.0/33, 1.2.3]\n      allow: [Bob!, 4294967295]\n',
    );
    expect(errors.map((e) => `${e.line}:${e.col}`)).toEqual(['3:15', '4:15', '4:28', '5:15', '5:21']);
  });

  it('accepts %YAML 1.2', () => {
    parseOk(`%YAML 1.2\n---\n${endpointYaml(ok)}`);
  });

  it('caps the number of diagnostics', () => {
    const allow = Array.from({ length: 200 }, () => '"bad user"').join(', ');
    const r = parsePolicy(
      endpointYaml(`      iface: [eth0]\n      range: [10.0.0.0/8]\n      allow: [${allow}]\n`),
      'x',
    );
    expect(r.diagnostics.length).toBe(51);
    expect(r.diagnostics[50]!.message).toMatch(/too many problems/);
  });
});

describe('hostile input', () => {
  it('rejects input over the cap at 1:1 without parsing it, naming the cap and the knob', () => {
    const big = `# ${'x'.repeat(MAX_POLICY_BYTES)}\n`;
    const r = parsePolicy(big, 'big.yml');
    expect(r.policy).toBeUndefined();
    expect(r.diagnostics).toEqual([
      {
        severity: 'error',
        message: expect.stringMatching(/larger than 67108864 bytes \(64 MiB\).*--max-policy-bytes N/),
        pos: { file: 'big.yml', line: 1, col: 1 },
      },
    ]);
    // A stated, configurable limit.
    const small = parsePolicy(`# ${'x'.repeat(MAX_IMPORT_BYTES)}\n`, 'small.yml', {
      maxBytes: MAX_IMPORT_BYTES,
      raise: 'import it with the CLI',
    });
    expect(small.diagnostics[0]!.message).toBe(
      'the file is larger than 1048576 bytes (1 MiB), the most a policy may be here; import it with the CLI',
    );
    expect(
      parsePolicy('endpoints: []\n'.repeat(20), 'ok.yml', { maxBytes: 100 }).diagnostics[0]!.message,
    ).toMatch(/larger than 100 bytes, the most/);
    // Counted in UTF-8 bytes, not characters.
    const wide = `# ${'é'.repeat(MAX_IMPORT_BYTES / 2)}\n`;
    expect(wide.length).toBeLessThan(MAX_IMPORT_BYTES);
    expect(parsePolicy(wide, 'wide.yml', { maxBytes: MAX_IMPORT_BYTES }).diagnostics[0]!.message).toMatch(
      /larger than/,
    );
  });

  it('a file and a parsed text share the cap and its message; an IPC request has the import cap', () => {
    expect(LIMITS.policyBytes).toBe(MAX_IMPORT_BYTES);
    expect(MAX_IMPORT_BYTES).toBe(1 << 20);
    expect(MAX_POLICY_BYTES).toBe(64 << 20);
    const cap = MAX_IMPORT_BYTES; // the same code for every cap; a small one keeps the files small
    const dir = mkdtempSync(join(tmpdir(), 'ntf-cap-'));
    try {
      const file = join(dir, 'big.yml');
      writeFileSync(file, `# ${'x'.repeat(cap - 3)}\n`); // exactly the cap: read whole
      expect(readConfigText(file, cap).text).toHaveLength(cap);
      expect(readConfigText(file).text).toHaveLength(cap); // far under the default
      writeFileSync(file, `# ${'x'.repeat(cap - 2)}\n`); // one byte over
      const noAccounts = { users: new Map(), uidToName: new Map(), groups: new Map() };
      expect(loadPolicyFile(file, noAccounts, cap)).toEqual({
        diagnostics: [{ severity: 'error', message: policyTooLarge(cap), pos: { file, line: 1, col: 1 } }],
      });
      expect(POLICY_TOO_LARGE).toBe(policyTooLarge(MAX_POLICY_BYTES));
      expect(POLICY_TOO_LARGE).toMatch(/larger than 67108864 bytes \(64 MiB\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects 100k-deep flow nesting quickly, at the 17th level', () => {
    const t0 = performance.now();
    const r = parsePolicy('['.repeat(100_000) + ']'.repeat(100_000), 'deep.yml');
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(r.policy).toBeUndefined();
    expect(r.diagnostics).toEqual([
      {
        severity: 'error',
        message: expect.stringMatching(/nested more than 16 levels/),
        pos: { file: 'deep.yml', line: 1, col: 17 },
      },
    ]);
  });

  it.each([
    ['a full 1 MiB of [', '['.repeat(MAX_POLICY_BYTES), 1, 17],
    ['flow mappings', '{a: '.repeat(200_000), 1, 65],
    ['compact block sequences', '- '.repeat(500_000), 1, 33],
    [
      'indented block mappings',
      Array.from({ length: 1400 }, (_, i) => `${' '.repeat(i)}a:`).join('\n'),
      17,
      17,
    ],
    ['mixed', `endpoints:\n  - ep:\n      iface: ${'['.repeat(50)}`, 3, 26],
  ])('rejects deep nesting: %s', (_name, text, line, col) => {
    const t0 = performance.now();
    const r = parsePolicy(text, 'deep.yml');
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(r.policy).toBeUndefined();
    expect(r.diagnostics[0]).toEqual({
      severity: 'error',
      message: expect.stringMatching(/nested more than 16 levels/),
      pos: { file: 'deep.yml', line, col },
    });
  });

  it('accepts nesting up to the limit in valid places', () => {
    // 16 levels of lists inside an allow entry parse, then fail validation as a wrong type.
    const errors = errorsOf(
      endpointYaml(
        `      iface: [eth0]\n      range: [10.0.0.0/8]\n      allow: ${'['.repeat(11)}a${']'.repeat(11)}\n`,
      ),
    );
    expect(errors[0]!.message).toMatch(/found a list/);
  });

  it('rejects a billion-laughs alias bomb quickly without expanding it', () => {
    const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 9; i++) {
      const prev = String.fromCharCode(96 + i);
      const cur = String.fromCharCode(97 + i);
      lines.push(`${cur}: &${cur} [${new Array<string>(9).fill(`*${prev}`).join(',')}]`);
    }
    const bomb = `${lines.join('\n')}\nendpoints: *i\n`;
    const t0 = performance.now();
    const r = parsePolicy(bomb, 'bomb.yml');
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(r.policy).toBeUndefined();
    expect(r.diagnostics[0]).toEqual({
      severity: 'error',
      message: expect.stringMatching(/anchors are not supported/),
      pos: { file: 'bomb.yml', line: 1, col: 4 },
    });
    expect(r.diagnostics.some((d) => /aliases are not supported/.test(d.message))).toBe(true);
    expect(r.diagnostics.length).toBeLessThanOrEqual(51);
  });

  it('never throws, whatever the input', () => {
    const pieces = [
      'endpoints:',
      '\n',
      '  ',
      '- ',
      'ep:',
      '[',
      ']',
      '{',
      '}',
      ',',
      ': ',
      '&a ',
      '*a',
      '!t ',
      '"',
      "'",
      '|',
      '>',
      '#',
      '? ',
      '---',
      '...',
      '%YAML 1.2',
      '\t',
      '\u0000',
      '\uFEFF',
      '@',
      '`',
      'iface',
      'range',
      'allow',
      '10.0.0.0/8',
      '<<: ',
      '\r\n',
    ];
    let seed = 42;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let i = 0; i < 2000; i++) {
      let text = '';
      const len = rand(40);
      for (let j = 0; j < len; j++) text += pieces[rand(pieces.length)];
      const r = parsePolicy(text, 'fuzz.yml');
      expect(Array.isArray(r.diagnostics)).toBe(true);
      if (!r.policy) expect(r.diagnostics.some((d) => d.severity === 'error')).toBe(true);
      for (const d of r.diagnostics) {
        expect(d.pos?.line).toBeGreaterThanOrEqual(1);
        // The last-resort catch in parsePolicy must never be what handled the input.
        expect(d.message).not.toMatch(/^could not parse this file/);
      }
    }
  });
});

describe('round trip', () => {
  const texts: [string, string][] = [
    ['seed', SEED],
    ['dual stack example', read('conf/examples/metadata-dual-stack.yml')],
    ['workstation example', read('conf/examples/workstation.yml')],
    [
      'everything',
      'endpoints:\n' +
        '  - "2024":\n      iface: [eth0, "0", wlan0]\n      range: [10.0.0.1/8, "::1", 0.0.0.0/0]\n' +
        '      allow: [alice, 1000, "1001", "@admins", "*", svc$]\n' +
        '  - true:\n      iface: lo\n      range: ::/0\n      allow: 0\n' +
        'interfaces:\n  eth0: {default: allow, unowned: deny, essentials: false}\n  lo: {}\n' +
        'logging:\n  allowed: all\n',
    ],
  ];

  it.each(texts)('%s', (_name, text) => {
    const first = parseOk(text).policy;
    const written = serializePolicy(first);
    const second = parseOk(written).policy;
    expect(stripPos(second)).toEqual(stripPos(first));
    // And writing again changes nothing.
    expect(serializePolicy(second)).toBe(written);
  });

  it('writes extension keys only when present, lists in flow style', () => {
    const text = serializePolicy(parseOk(read('conf/examples/metadata-dual-stack.yml')).policy);
    expect(text).toBe(
      'endpoints:\n' +
        '  - instance-metadata:\n' +
        '      iface: [eth0]\n' +
        '      range: [169.254.169.254/32, fd00:ec2::254/128]\n' +
        '      allow: [svc-deploy]\n' +
        '\n' +
        'interfaces:\n' +
        '  eth0:\n' +
        '    default: allow\n' +
        '\n' +
        'logging:\n' +
        '  allowed: sample\n',
    );
  });

  it('writes a policy built without source text positions', () => {
    const range = parseRangeText('fd00:ec2::254/128').range!;
    const policy: Policy = {
      endpoints: [
        {
          name: 'imds',
          iface: ['eth0'],
          range: [range],
          allow: [
            parseAllowText('svc-deploy').entry!,
            parseAllowText('4242').entry!,
            parseAllowText('@ops').entry!,
          ],
        },
      ],
      interfaces: { eth0: { unowned: 'allow' } },
      logging: {},
    };
    const text = serializePolicy(policy);
    expect(text).toContain("allow: [svc-deploy, 4242, '@ops']");
    expect(stripPos(parseOk(text).policy)).toEqual(policy);
  });
});

describe('helpers', () => {
  it('keeps the family as written for IPv4-mapped IPv6', () => {
    const r = parseRangeText('::ffff:169.254.169.254');
    expect(r.range?.family).toBe(6);
    expect(r.range?.prefix).toBe(128);
  });
});
