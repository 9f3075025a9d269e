// SPDX-License-Identifier: Apache-2.0
// Environment: renderer (pure store logic).
//
// The store: one zustand vanilla store made of slices, built on a Client (api.ts) so the unit
// tests can drive it with a stand-in API through getState()/setState(), without React.
import { createStore } from 'zustand/vanilla';
import type { NetTcFilterApi } from '../../../electron/ipc/contract.js';
import { createClient } from '../api.js';
import { createAppSlice } from './app.js';
import { createDetailsSlice } from './details.js';
import { createHistorySlice } from './history.js';
import { createEngineSlice } from './engine.js';
import { createPolicySlice } from './policy.js';
import { createSystemSlice } from './system.js';
import { createTrafficSlice } from './traffic.js';
import { DEFAULT_OPTIONS, type Store, type StoreOptions } from './types.js';

export type { Store, StoreOptions } from './types.js';

export function createAppStore(api: NetTcFilterApi, options: Partial<StoreOptions> = {}) {
  const deps = { client: createClient(api), opts: { ...DEFAULT_OPTIONS, ...options } };
  return createStore<Store>()((...a) => ({
    ...createAppSlice(deps)(...a),
    ...createPolicySlice(deps)(...a),
    ...createSystemSlice(deps)(...a),
    ...createTrafficSlice(deps)(...a),
    ...createDetailsSlice(deps)(...a),
    ...createHistorySlice(deps)(...a),
    ...createEngineSlice(deps)(...a),
  }));
}

export type AppStore = ReturnType<typeof createAppStore>;
