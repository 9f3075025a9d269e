// SPDX-License-Identifier: Apache-2.0
import { describe, expect, it } from 'vitest';
import {
  createQuitFlow,
  decideQuit,
  QUIT_BUTTONS,
  QUIT_CANCEL_ID,
  QUIT_DEFAULT_ID,
} from '../../../electron/main/quit-flow.js';
import type { QuitDeps } from '../../../electron/main/quit-flow.js';

describe('decideQuit', () => {
  it('maps the dialog buttons: Keep enforcing (default), Stop filtering, Cancel', () => {
    expect(QUIT_BUTTONS).toEqual(['Keep enforcing', 'Stop filtering', 'Cancel']);
    expect(decideQuit(QUIT_DEFAULT_ID)).toBe('keep');
    expect(decideQuit(1)).toBe('stop');
    expect(decideQuit(QUIT_CANCEL_ID)).toBe('cancel');
  });

  it('cancels on anything unexpected', () => {
    for (const r of [-1, 3, 99, Number.NaN]) expect(decideQuit(r)).toBe('cancel');
  });
});

function fakes(enforcing: boolean, response: number, stopFails = false) {
  const calls: string[] = [];
  const deps: QuitDeps = {
    enforcing: () => enforcing,
    ask: async () => {
      calls.push('ask');
      return response;
    },
    stopFiltering: async () => {
      calls.push('stop');
      if (stopFails) throw new Error('EPERM');
    },
    closeBackend: async () => {
      calls.push('close');
    },
    reportError: async (m) => {
      calls.push(`error: ${m.split('\n')[0]}`);
    },
  };
  return { deps, calls };
}

describe('createQuitFlow', () => {
  it('keep enforcing: closes the worker, leaves the filter', async () => {
    const { deps, calls } = fakes(true, 0);
    const flow = createQuitFlow(deps);
    expect(await flow.request()).toBe('quit');
    expect(calls).toEqual(['ask', 'close']);
    expect(flow.done).toBe(true);
    // Later close/quit events pass straight through.
    expect(await flow.request()).toBe('quit');
    expect(calls).toEqual(['ask', 'close']);
  });

  it('stop filtering: stops, then closes', async () => {
    const { deps, calls } = fakes(true, 1);
    expect(await createQuitFlow(deps).request()).toBe('quit');
    expect(calls).toEqual(['ask', 'stop', 'close']);
  });

  it('cancel: nothing happens and the app stays', async () => {
    const { deps, calls } = fakes(true, 2);
    const flow = createQuitFlow(deps);
    expect(await flow.request()).toBe('canceled');
    expect(calls).toEqual(['ask']);
    expect(flow.done).toBe(false);
  });

  it('a failed stop is reported and the app stays open', async () => {
    const { deps, calls } = fakes(true, 1, true);
    const flow = createQuitFlow(deps);
    expect(await flow.request()).toBe('canceled');
    expect(calls).toEqual(['ask', 'stop', 'error: Filtering could not be stopped: EPERM']);
    expect(flow.done).toBe(false);
  });

  it('read-only: quits without asking', async () => {
    const { deps, calls } = fakes(false, 1);
    expect(await createQuitFlow(deps).request()).toBe('quit');
    expect(calls).toEqual(['close']);
  });

  it('a second request while the question is open is ignored', async () => {
    let answer!: (n: number) => void;
    const { deps, calls } = fakes(true, 0);
    deps.ask = () => new Promise<number>((r) => (answer = r));
    const flow = createQuitFlow(deps);
    const first = flow.request();
    expect(await flow.request()).toBe('busy');
    answer(0);
    expect(await first).toBe('quit');
    expect(calls).toEqual(['close']);
  });
});
