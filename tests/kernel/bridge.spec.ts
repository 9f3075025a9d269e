// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest), as root. The koffi bindings against the real libbpf and kernel.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BpfError,
  BpfObject,
  encodeIfaceCfg,
  encodeIfaceKey,
  encodeLpmKey,
  LAYOUTS,
  libbpfVersion,
  u32Buf,
} from '../../native-bridge/index.js';
import { defaultObjectPath, packageRoot } from '../../electron/engine/paths.js';
import { compareTrieKeys, patchTrieOrder } from '../../electron/engine/trieorder.js';
import { assertPrivileged } from './harness.js';

let dir: string;
beforeAll(() => {
  assertPrivileged();
  dir = mkdtempSync(join(tmpdir(), 'ntf-bridge-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('native-bridge on the real libbpf', () => {
  it('reports the libbpf version', () => {
    expect(libbpfVersion()).toMatch(/^v?\d+\.\d+/);
  });

  it('captures the verifier log when a program is rejected', () => {
    const obj = join(dir, 'rejected.bpf.o');
    execFileSync('clang', [
      '-g',
      '-O2',
      '-target',
      'bpf',
      `-I/usr/include/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`,
      '-c',
      join(packageRoot(), 'tests/kernel/fixtures/rejected.bpf.c'),
      '-o',
      obj,
    ]);
    const o = BpfObject.openFile(obj);
    try {
      let err: unknown;
      try {
        o.load();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(BpfError);
      const b = err as BpfError;
      expect(b.op).toBe('bpf_object__load');
      expect(b.code).toBe('EACCES');
      expect(b.log).toMatch(/invalid access to packet|R\d+ offset is outside of the packet/);
      expect(b.message).toContain(b.log ?? 'no log');
    } finally {
      o.close();
    }
  });

  it('opens an object from memory as well as from a file', () => {
    const o = BpfObject.openMem(readFileSync(defaultObjectPath()), 'net_tc_filter');
    try {
      o.load();
      expect(o.programFd('ntf_egress')).toBeGreaterThan(0);
      expect(o.map('ntf_state').info).toMatchObject({
        keySize: 4,
        valueSize: LAYOUTS.state.size,
        maxEntries: 1,
      });
    } finally {
      o.close();
    }
  });

  it('names the missing capability when an unprivileged user loads', () => {
    const script = `
      import { BpfObject } from ${JSON.stringify(join(packageRoot(), 'dist/native-bridge/index.js'))};
      const o = BpfObject.openFile(${JSON.stringify(defaultObjectPath())});
      try { o.load(); } catch (e) { console.log(JSON.stringify({ op: e.op, code: e.code, message: e.message })); }`;
    const out = execFileSync(
      'setpriv',
      [
        '--reuid=62001',
        '--regid=62001',
        '--clear-groups',
        process.execPath,
        '--input-type=module',
        '-e',
        script,
      ],
      { encoding: 'utf8' },
    );
    const r = JSON.parse(out.trim()) as { op: string; code: string; message: string };
    expect(r.code).toBe('EPERM');
    expect(r.message).toMatch(/missing CAP_BPF/);
  });

  it('updates, looks up, iterates and deletes, in batches where the map type has them', () => {
    const o = BpfObject.openFile(defaultObjectPath());
    try {
      o.load();
      const ifaces = o.map('ntf_ifaces');
      const entries = Array.from({ length: 300 }, (_, i): [Buffer, Buffer] => [
        encodeIfaceKey(i & 1, i + 1),
        encodeIfaceCfg({
          defaultAllow: i % 3 === 0,
          unownedAllow: false,
          essentials: true,
          logAllowed: 1,
          l2Len: 14,
          dhcpUnicast: false,
          audit: false,
        }),
      ]);
      ifaces.updateMany(entries);
      expect(ifaces.entries()).toHaveLength(300);
      expect(ifaces.lookup(encodeIfaceKey(0, 1))?.[0]).toBe(1);
      expect(ifaces.lookup(encodeIfaceKey(1, 1))).toBeUndefined();
      ifaces.deleteMany(entries.slice(0, 100).map((e) => e[0]));
      expect(ifaces.keys()).toHaveLength(200);
      expect(ifaces.delete(encodeIfaceKey(0, 1))).toBe(false);

      // The LPM trie has no batch update on some kernels: the bridge falls back per element.
      const lpm = o.map('ntf_lpm4');
      lpm.updateMany([
        [encodeLpmKey(0, 7, 4, 24, Uint8Array.from([192, 0, 2, 0])), u32Buf(1)],
        [encodeLpmKey(0, 7, 4, 32, Uint8Array.from([192, 0, 2, 1])), u32Buf(2)],
      ]);
      const hit = lpm.lookup(encodeLpmKey(0, 7, 4, 32, Uint8Array.from([192, 0, 2, 9])));
      expect(hit?.readUInt32LE(0)).toBe(1); // longest match for .9 is the /24
      expect(lpm.lookup(encodeLpmKey(0, 7, 4, 32, Uint8Array.from([192, 0, 2, 1])))?.readUInt32LE(0)).toBe(2);
      expect(lpm.keys()).toHaveLength(2);
    } finally {
      o.close();
    }
  });

  it('lists an LPM trie in the order trieorder.ts predicts (nested prefixes, both generations, several interfaces), also after deletes and inserts', () => {
    const o = BpfObject.openFile(defaultObjectPath());
    try {
      o.load();
      for (const [name, family] of [
        ['ntf_lpm4', 4],
        ['ntf_lpm6', 6],
      ] as const) {
        const lpm = o.map(name);
        const bytes = family === 4 ? 4 : 16;
        let s = 12345 + family;
        const rnd = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
        const make = (): Buffer => {
          const prefix = Math.floor(rnd() * (bytes * 8 + 1));
          const addr = new Uint8Array(bytes);
          for (let i = 0; i < bytes; i++)
            addr[i] = i < 2 ? Math.floor(rnd() * 3) * 64 : Math.floor(rnd() * 256);
          for (let i = prefix; i < bytes * 8; i++) addr[i >> 3]! &= ~(0x80 >> (i & 7));
          return encodeLpmKey(
            rnd() < 0.5 ? 0 : 1,
            [0, 2, 256, 3][Math.floor(rnd() * 4)]!,
            family,
            prefix,
            addr,
          );
        };
        const keys = new Map<string, Buffer>();
        for (let i = 0; i < 4000 && keys.size < 2000; i++) {
          const k = make();
          keys.set(k.toString('hex'), k);
        }
        const ks = lpm.info.keySize;
        const all = [...keys.values()];
        lpm.updateMany(all.map((k, i) => [k, u32Buf(i + 1)] as const));
        const listed = lpm.entriesPacked();
        expect(listed.count).toBe(all.length);
        const predicted = [...all].sort((a, b) => compareTrieKeys(a, 0, b, 0));
        expect(listed.keys.toString('hex')).toBe(Buffer.concat(predicted).toString('hex'));

        // A change: a tenth deleted, new keys written; the predicted order of the result.
        const dels = all.filter(() => rnd() < 0.1);
        const ups: Array<readonly [Buffer, Buffer]> = [];
        for (let i = 0; i < 400 && ups.length < 100; i++) {
          const k = make();
          if (!keys.has(k.toString('hex')) && !ups.some(([u]) => u.equals(k))) ups.push([k, u32Buf(7)]);
        }
        lpm.deleteMany(dels);
        lpm.updateMany(ups);
        const patched = patchTrieOrder(listed, ks, 4, dels, ups);
        const after = lpm.entriesPacked();
        expect(patched?.count).toBe(after.count);
        expect(patched?.keys.toString('hex')).toBe(after.keys.toString('hex'));
        expect(patched?.values.toString('hex')).toBe(after.values.toString('hex'));
      }
    } finally {
      o.close();
    }
  });

  it('turns an invalid key into an error naming the operation and map', () => {
    const o = BpfObject.openFile(defaultObjectPath());
    try {
      o.load();
      const bad = Buffer.alloc(16);
      bad.writeUInt32LE(500, 0); // prefixlen beyond the key
      expect(() => o.map('ntf_lpm4').update(bad, u32Buf(1))).toThrow(
        /bpf_map_update_elem\(ntf_lpm4\): EINVAL/,
      );
    } finally {
      o.close();
    }
  });
});
