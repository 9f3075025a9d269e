// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest). The editor's time windows: the store's add/remove through the files'
// parser and limits, and the draft's diagnostics by path.
import { describe, expect, it } from 'vitest';
import { createAppStore } from '../../../renderer/src/store/index.js';
import { checkWindow } from '../../../renderer/src/store/policy.js';
import { selectDiagnostics } from '../../../renderer/src/store/selectors.js';
import { MAX_WINDOWS, MAX_WEEK_SEGMENTS } from '../../../electron/policy/when.js';
import { standInApi } from './fake-api.js';

async function ready() {
  const fake = standInApi();
  const store = createAppStore(fake.api);
  await store.getState().init();
  return store;
}

describe('time windows in the editor', () => {
  it('adds windows after validating them with the files parser, and refuses bad or duplicate ones', async () => {
    const store = await ready();
    const s = () => store.getState();
    expect(s().draft.endpoints[0]!.when).toBeUndefined();
    expect(s().addWindow(0, ' Mon-Fri 08:00-18:00 ')).toBeNull();
    expect(s().draft.endpoints[0]!.when).toEqual(['Mon-Fri 08:00-18:00']);
    expect(s().addWindow(0, 'Mon-Fry 08:00-18:00')).toMatch(/"Fry" is not a day/);
    expect(s().addWindow(0, 'Mon-Fri 08:00-18:00')).toMatch(/already listed/);
    expect(s().addWindow(0, '')).toMatch(/enter a time window/);
    expect(s().addWindow(0, 'daily 22:00-06:00')).toBeNull();
    expect(s().draft.endpoints[0]!.when).toEqual(['Mon-Fri 08:00-18:00', 'daily 22:00-06:00']);
    expect(selectDiagnostics(s()).filter((d) => d.path[2] === 'when')).toEqual([]);
    // Removing the last window leaves the endpoint always open: no `when` at all.
    s().removeWindow(0, 0);
    expect(s().draft.endpoints[0]!.when).toEqual(['daily 22:00-06:00']);
    s().removeWindow(0, 0);
    expect(s().draft.endpoints[0]).not.toHaveProperty('when');
  });

  it('applies the limits while typing', () => {
    const many = Array.from({ length: MAX_WINDOWS }, (_, i) => `Mon 0${i % 10}:0${Math.floor(i / 10)}-23:00`);
    expect(checkWindow('Tue 08:00-09:00', many)).toContain(`at most ${MAX_WINDOWS} (MAX_WINDOWS)`);
    const fragmented = ['daily 01:00-01:30', 'daily 03:00-03:30', 'daily 05:00-05:30', 'daily 07:00-07:30'];
    expect(checkWindow('daily 09:00-09:30', fragmented)).toContain(`at most ${MAX_WEEK_SEGMENTS}`);
    expect(checkWindow('Mon 09:00-09:30', fragmented)).toBeNull();
  });

  it('reports a window the draft holds that does not parse, at its path', async () => {
    const store = await ready();
    const d = store.getState().draft;
    store.setState({
      draft: { ...d, endpoints: [{ ...d.endpoints[0]!, when: ['Mon 08:00-18:00', 'Mon 25:00-26:00'] }] },
    });
    expect(selectDiagnostics(store.getState()).filter((x) => x.path[2] === 'when')).toEqual([
      expect.objectContaining({ severity: 'error', path: ['endpoints', 0, 'when', 1] }),
    ]);
  });
});
