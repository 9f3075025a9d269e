// SPDX-License-Identifier: Apache-2.0
// Environment: build (Node). Builds the sandboxed renderer into dist/renderer.
//
// No @vitejs/plugin-react: esbuild's automatic JSX runtime is enough (no Fast Refresh needed).
// `base: './'` keeps every asset URL relative, so the bundle works from app://, file:// or the
// test origin alike; no inline scripts or styles, so the page's strict CSP holds.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: './',
  esbuild: { jsx: 'automatic' },
  build: {
    outDir: fileURLToPath(new URL('../dist/renderer', import.meta.url)),
    emptyOutDir: true,
    sourcemap: false,
    // Inlined assets would need `data:` in more CSP directives; keep everything as files.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    target: 'chrome130',
  },
  server: { fs: { allow: ['..'] } },
});
