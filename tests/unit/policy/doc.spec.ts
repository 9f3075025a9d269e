// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest). The editor's document form of a policy: every shipped config
// survives file → document → file unchanged, and the document validator locates problems.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { docToPolicy, policyToDoc } from '../../../electron/policy/doc.js';
import type { PolicyDoc } from '../../../electron/policy/doc.js';
import { parsePolicy, serializePolicy } from '../../../electron/policy/yaml.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const configs = [
  'conf/net-tc-filter.yml',
  ...readdirSync(`${root}conf/examples`).map((f) => `conf/examples/${f}`),
];

describe('PolicyDoc', () => {
  it.each(configs)('%s: file → document → file is unchanged', (rel) => {
    const text = readFileSync(root + rel, 'utf8');
    const parsed = parsePolicy(text, rel);
    expect(parsed.policy, JSON.stringify(parsed.diagnostics)).toBeDefined();
    const doc = policyToDoc(parsed.policy!);
    const back = docToPolicy(doc);
    expect(back.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const exported = serializePolicy(back.policy!);
    expect(exported).toBe(serializePolicy(parsed.policy!));
    // And the export re-imports to the same document.
    expect(policyToDoc(parsePolicy(exported, 'export.yml').policy!)).toEqual(doc);
  });

  it('locates every problem by path and builds nothing when there is an error', () => {
    const doc: PolicyDoc = {
      endpoints: [
        { name: 'ok', iface: ['eth0'], range: ['10.0.0.1/8'], allow: ['alice'] },
        { name: 'bad name!', iface: ['eth/0'], range: ['300.1.1.1', 'fd00::1/129'], allow: ['@', '0755'] },
        { name: 'ok', iface: [], range: [], allow: [] },
      ],
      interfaces: { 'a:b': { default: 'allow' } },
      logging: {},
    };
    const r = docToPolicy(doc);
    expect(r.policy).toBeUndefined();
    const at = (path: Array<string | number>) =>
      r.diagnostics.filter((d) => JSON.stringify(d.path) === JSON.stringify(path)).map((d) => d.severity);
    expect(at(['endpoints', 0, 'range', 0])).toEqual(['warning']); // host bits
    expect(at(['endpoints', 1, 'name'])).toEqual(['error']);
    expect(at(['endpoints', 1, 'iface', 0])).toEqual(['error']);
    expect(at(['endpoints', 1, 'range', 0])).toEqual(['error']);
    expect(at(['endpoints', 1, 'range', 1])).toEqual(['error']);
    expect(at(['endpoints', 1, 'allow', 0])).toEqual(['error']);
    expect(at(['endpoints', 1, 'allow', 1])).toEqual(['error']);
    expect(at(['endpoints', 2, 'name'])).toEqual(['error']); // duplicate
    expect(at(['endpoints', 2, 'iface'])).toEqual(['error']);
    expect(at(['endpoints', 2, 'range'])).toEqual(['error']);
    expect(at(['endpoints', 2, 'allow'])).toEqual(['error']);
    expect(at(['interfaces', 'a:b'])).toEqual(['error']);
  });

  it('an interface named __proto__ is a plain key, not a prototype change', () => {
    const interfaces = JSON.parse('{"__proto__": {"default": "allow"}}') as PolicyDoc['interfaces'];
    const r = docToPolicy({ endpoints: [], interfaces, logging: {} });
    expect(Object.keys(r.policy!.interfaces)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(r.policy!.interfaces)).toBe(Object.prototype);
  });
});
