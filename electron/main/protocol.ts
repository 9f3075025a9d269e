// SPDX-License-Identifier: Apache-2.0
// Environment: Electron main process.
//
// Registers the app:// scheme: privileges before `ready`, the handler after. The mapping from
// URL to file and the headers are in app-protocol.ts (plain Node, unit-tested).
import { join } from 'node:path';
import { app, protocol } from 'electron';
import type { Session } from 'electron';
import { APP_SCHEME, serveAppRequest } from './app-protocol.js';

/**
 * Must run before `ready`. standard: relative URLs and a real origin (app://net-tc-filter);
 * secure: a secure context like https. No fetch API, no CORS for other origins, no service
 * workers, no CSP bypass: the page loads its own scripts, styles and images, nothing else.
 */
export function registerAppScheme(): void {
  protocol.registerSchemesAsPrivileged([
    {
      scheme: APP_SCHEME,
      privileges: {
        standard: true,
        secure: true,
        supportFetchAPI: false,
        corsEnabled: false,
        bypassCSP: false,
        allowServiceWorkers: false,
        stream: false,
        codeCache: true,
      },
    },
  ]);
}

/** The built renderer: dist/renderer under the app path (inside app.asar when packaged). */
export function rendererDir(): string {
  return join(app.getAppPath(), 'dist', 'renderer');
}

/** Serves app:// on `ses` from the built renderer directory. */
export function handleAppScheme(ses: Session, root = rendererDir()): void {
  ses.protocol.handle(APP_SCHEME, async (request) => {
    const r = await serveAppRequest(root, request.url, request.method);
    // A copy as a plain Uint8Array: Response takes ArrayBuffer-backed views only.
    const body = r.body ? new Uint8Array(r.body) : null;
    return new Response(body, { status: r.status, headers: r.headers });
  });
}
