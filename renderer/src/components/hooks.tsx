// SPDX-License-Identifier: Apache-2.0
// Environment: renderer. The store reaches components through context, so each test or window
// can have its own store. Also the one focus trap of the modal dialogs.
import { createContext, useContext, useEffect, useState, type KeyboardEvent, type ReactNode } from 'react';
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

/** Re-renders every `ms` while mounted, and right after the UTC second `untilSec` (a time
 * window's next edge: the open/closed line turns at the edge, not up to `ms` later). */
export function useTick(ms: number, untilSec?: number | null): void {
  const [n, setN] = useState(0);
  useEffect(() => {
    const toEdge = untilSec === null || untilSec === undefined ? ms : untilSec * 1000 - Date.now() + 20;
    const t = setTimeout(() => setN((x) => x + 1), Math.max(20, Math.min(ms, toEdge)));
    return () => clearTimeout(t);
  }, [ms, untilSec, n]);
}

function focusables(root: HTMLElement): HTMLElement[] {
  return [
    ...root.querySelectorAll<HTMLElement>(
      'button:not(:disabled), select:not(:disabled), input:not(:disabled), [href], [tabindex]:not([tabindex="-1"])',
    ),
  ];
}

/** A modal dialog's Tab key: Tab and Shift+Tab cycle through what `root` can focus, never out of it. */
export function keepTabInside(e: KeyboardEvent<HTMLElement>, root: HTMLElement | null): void {
  if (e.key !== 'Tab' || !root) return;
  const all = focusables(root);
  const first = all[0];
  const last = all[all.length - 1];
  if (!first || !last) return;
  const at = document.activeElement;
  const inside = at !== root && all.includes(at as HTMLElement);
  if (e.shiftKey && (at === first || !inside)) {
    e.preventDefault();
    last.focus();
  } else if (!e.shiftKey && (at === last || !inside)) {
    e.preventDefault();
    first.focus();
  }
}
