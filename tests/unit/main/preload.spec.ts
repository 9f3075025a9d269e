// SPDX-License-Identifier: Apache-2.0
// The preload as it ships: bundled by esbuild exactly as `npm run build:preload` does, then run
// in a VM context with a fake `electron` module, like a sandboxed preload (require('electron')
// only).
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { channelOf, OPERATIONS } from '../../../electron/ipc/channels.js';
import { packageRoot } from '../../../electron/engine/paths.js';

async function bundle(): Promise<string> {
  const r = await build({
    entryPoints: [join(packageRoot(), 'electron/main/preload.ts')],
    bundle: true,
    format: 'cjs',
    platform: 'browser',
    target: 'es2022',
    external: ['electron'],
    write: false,
    logLevel: 'silent',
  });
  return r.outputFiles[0]!.text;
}

describe('preload', () => {
  it('bundles to one CommonJS file that requires only electron (no zod, no contract code)', async () => {
    const code = await bundle();
    const requires = [...code.matchAll(/require\(["']([^"']+)["']\)/g)].map((m) => m[1]);
    expect(new Set(requires)).toEqual(new Set(['electron']));
    expect(code).not.toMatch(/zod|safeParse/);
    expect(code).not.toMatch(/^\s*(import|export)\s/m);
  });

  it('exposes window.netTcFilter: one function per operation, each invoking its channel with one argument', async () => {
    const code = await bundle();
    const exposed: Record<string, unknown> = {};
    const invoked: unknown[][] = [];
    const electron = {
      contextBridge: {
        exposeInMainWorld: (key: string, value: unknown) => {
          exposed[key] = value;
        },
      },
      ipcRenderer: {
        invoke: (...args: unknown[]) => {
          invoked.push(args);
          return Promise.resolve({ ok: true, value: null });
        },
      },
    };
    const module = { exports: {} };
    runInNewContext(code, {
      require: (name: string) => {
        if (name !== 'electron') throw new Error(`sandboxed preload cannot require ${name}`);
        return electron;
      },
      module,
      exports: module.exports,
    });
    expect(Object.keys(exposed)).toEqual(['netTcFilter']);
    const api = exposed.netTcFilter as Record<string, (...a: unknown[]) => Promise<unknown>>;
    expect(Object.keys(api).sort()).toEqual([...OPERATIONS].sort());
    expect(Object.isFrozen(api)).toBe(true);
    for (const op of OPERATIONS) {
      expect(typeof api[op]).toBe('function');
      await api[op]!({ x: 1 }, 'extra', 'args');
      expect(invoked.pop()).toEqual([channelOf(op), { x: 1 }]);
    }
    await api.getState!();
    expect(invoked.pop()).toEqual(['ntf:getState', undefined]);
    // ipcRenderer is never handed to the page: the keys above are the operations, nothing else.
  });
});
