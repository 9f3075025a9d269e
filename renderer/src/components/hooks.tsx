// SPDX-License-Identifier: Apache-2.0
// Environment: renderer. The store reaches components through context, so each test or window
// can have its own store.
import { createContext, useContext, type ReactNode } from 'react';
import { useStore } from 'zustand';
import type { AppStore, Store } from '../store/index.js';

const StoreContext = createContext<AppStore | null>(null);

export function StoreProvider({ store, children }: { store: AppStore; children: ReactNode }) {
  return <StoreContext.Provider value={store}>{children}</StoreContext.Provider>;
}

export function useStoreApi(): AppStore {
  const store = useContext(StoreContext);
  if (!store) throw new Error('StoreProvider is missing');
  return store;
}

/** Select one value from the store (use useShallow for derived arrays/objects). */
export function useApp<T>(selector: (s: Store) => T): T {
  return useStore(useStoreApi(), selector);
}
