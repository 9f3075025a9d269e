// SPDX-License-Identifier: Apache-2.0
// Environment: renderer. The shell: header, tabs, the current view; starts the initial load,
// the traffic poll loop and the periodic refreshes.
import { useEffect, useRef, type KeyboardEvent } from 'react';
import type { View } from '../store/app.js';
import { Header } from './Header.js';
import { HistoryView } from './HistoryView.js';
import { useApp, useStoreApi } from './hooks.js';
import { PolicyView } from './PolicyView.js';
import { StatusView } from './StatusView.js';
import { TrafficView } from './TrafficView.js';

const TABS: Array<{ id: View; label: string }> = [
  { id: 'policy', label: 'Policy' },
  { id: 'traffic', label: 'Live traffic' },
  { id: 'history', label: 'History' },
  { id: 'status', label: 'Status' },
];

const SYSTEM_REFRESH_MS = 5_000;

export function App() {
  const store = useStoreApi();
  const view = useApp((s) => s.view);
  const setView = useApp((s) => s.setView);
  const tabRefs = useRef<Array<HTMLButtonElement | null>>([]);

  useEffect(() => {
    let alive = true;
    void store
      .getState()
      .init()
      .then(() => {
        if (alive) document.documentElement.dataset.ready = '1';
      });
    store.getState().startTraffic();
    store.getState().startEngine();
    const timer = setInterval(() => {
      void store.getState().refreshSystem();
      void store.getState().refreshState();
    }, SYSTEM_REFRESH_MS);
    return () => {
      alive = false;
      clearInterval(timer);
      store.getState().stopTraffic();
      store.getState().stopEngine();
    };
  }, [store]);

  const onTabKey = (e: KeyboardEvent<HTMLDivElement>) => {
    const i = TABS.findIndex((t) => t.id === view);
    let next = -1;
    if (e.key === 'ArrowRight') next = (i + 1) % TABS.length;
    else if (e.key === 'ArrowLeft') next = (i + TABS.length - 1) % TABS.length;
    else if (e.key === 'Home') next = 0;
    else if (e.key === 'End') next = TABS.length - 1;
    if (next < 0) return;
    e.preventDefault();
    setView(TABS[next]!.id);
    tabRefs.current[next]?.focus();
  };

  return (
    <div className="app">
      <Header />
      <div className="tabs" role="tablist" aria-label="Views" onKeyDown={onTabKey}>
        {TABS.map((t, i) => (
          <button
            key={t.id}
            ref={(el) => {
              tabRefs.current[i] = el;
            }}
            type="button"
            role="tab"
            id={`tab-${t.id}`}
            aria-selected={view === t.id}
            aria-controls={`panel-${t.id}`}
            tabIndex={view === t.id ? 0 : -1}
            className="tab"
            onClick={() => setView(t.id)}
          >
            {t.label}
          </button>
        ))}
      </div>
      <main className="panel" role="tabpanel" id={`panel-${view}`} aria-labelledby={`tab-${view}`}>
        {view === 'policy' && <PolicyView />}
        {view === 'traffic' && <TrafficView />}
        {view === 'history' && <HistoryView />}
        {view === 'status' && <StatusView />}
      </main>
    </div>
  );
}
