// SPDX-License-Identifier: Apache-2.0
// Environment: renderer (browser, sandboxed). Entry point.
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { bridgeFromWindow } from './api.js';
import { App } from './components/App.js';
import { MissingBridge } from './components/MissingBridge.js';
import { StoreProvider } from './components/hooks.js';
import { createAppStore } from './store/index.js';
import './styles.css';

const rootEl = document.getElementById('root');
if (!rootEl) throw new Error('#root is missing from index.html');
const root = createRoot(rootEl);
const bridge = bridgeFromWindow();
if (!bridge) {
  root.render(<MissingBridge />);
  document.documentElement.dataset.ready = '1';
} else {
  const store = createAppStore(bridge);
  root.render(
    <StrictMode>
      <StoreProvider store={store}>
        <App />
      </StoreProvider>
    </StrictMode>,
  );
}
