// SPDX-License-Identifier: Apache-2.0
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  APP_INDEX_URL,
  APP_ORIGIN,
  CSP,
  resolveAppRequest,
  serveAppRequest,
} from '../../../electron/main/app-protocol.js';

const ROOT = '/opt/net-tc-filter/resources/app.asar/dist/renderer';

describe('resolveAppRequest', () => {
  it('maps app://net-tc-filter/ paths to files under the renderer directory with their MIME type', () => {
    const cases: Array<[string, string, string]> = [
      [APP_INDEX_URL, 'index.html', 'text/html; charset=utf-8'],
      [`${APP_ORIGIN}/`, 'index.html', 'text/html; charset=utf-8'],
      [APP_ORIGIN, 'index.html', 'text/html; charset=utf-8'],
      [
        `${APP_ORIGIN}/assets/index-BzLrI-F3.js`,
        'assets/index-BzLrI-F3.js',
        'text/javascript; charset=utf-8',
      ],
      [`${APP_ORIGIN}/assets/index.CSS?v=1#x`, 'assets/index.CSS', 'text/css; charset=utf-8'],
      [`${APP_ORIGIN}/assets/logo.svg`, 'assets/logo.svg', 'image/svg+xml'],
      [`${APP_ORIGIN}/assets/font.woff2`, 'assets/font.woff2', 'font/woff2'],
      [`${APP_ORIGIN}/assets/a%20b.png`, 'assets/a b.png', 'image/png'],
    ];
    for (const [url, rel, mime] of cases) {
      const r = resolveAppRequest(ROOT, url);
      expect(r.status, url).toBe(200);
      if (r.status !== 200) continue;
      expect(r.file).toBe(join(ROOT, rel));
      expect(r.headers['Content-Type']).toBe(mime);
    }
  });

  it('puts the strict CSP and nosniff on every answer, refusals included', () => {
    expect(CSP).toBe(
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
        "connect-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    );
    for (const url of [APP_INDEX_URL, `${APP_ORIGIN}/nope.exe`, 'app://other/index.html', '::']) {
      const r = resolveAppRequest(ROOT, url);
      expect(r.headers['Content-Security-Policy'], url).toBe(CSP);
      expect(r.headers['X-Content-Type-Options']).toBe('nosniff');
    }
  });

  it('never leaves the renderer directory: dot segments, encoded dots and slashes, backslashes, NUL', () => {
    const attacks = [
      `${APP_ORIGIN}/../../../etc/passwd`,
      `${APP_ORIGIN}/%2e%2e/%2e%2e/etc/passwd`,
      `${APP_ORIGIN}/%2E%2E/package.json`,
      `${APP_ORIGIN}/assets/..%2f..%2f..%2fetc%2fpasswd.txt`,
      `${APP_ORIGIN}/..%2fpackage.json`,
      `${APP_ORIGIN}/%2fetc%2fpasswd.txt`,
      `${APP_ORIGIN}/assets/..%5c..%5cpackage.json`,
      `${APP_ORIGIN}/assets\\..\\..\\package.json`,
      `${APP_ORIGIN}/index.html%00.js`,
      `${APP_ORIGIN}//etc/passwd.txt`,
      `${APP_ORIGIN}/.hidden.json`,
      `${APP_ORIGIN}/assets/%2e.js`,
    ];
    for (const url of attacks) {
      const r = resolveAppRequest(ROOT, url);
      if (r.status === 200) {
        // WHATWG URL folds plain and %2e dot segments before we see them: what is left must
        // still be inside the root.
        expect(r.file.startsWith(`${ROOT}/`), `${url} → ${r.file}`).toBe(true);
      } else {
        expect([400, 404], url).toContain(r.status);
      }
    }
    // The ones that fold stay inside, the rest are refused outright.
    expect(resolveAppRequest(ROOT, `${APP_ORIGIN}/../../../etc/passwd`).status).toBe(404); // no extension
    expect(resolveAppRequest(ROOT, `${APP_ORIGIN}/assets/..%2f..%2fpackage.json`).status).toBe(404);
    expect(resolveAppRequest(ROOT, `${APP_ORIGIN}/%2fetc%2fpasswd.txt`).status).toBe(404);
  });

  it('refuses other schemes, hosts, ports, credentials and methods', () => {
    expect(resolveAppRequest(ROOT, 'app://evil/index.html').status).toBe(404);
    expect(resolveAppRequest(ROOT, 'app://net-tc-filter:8080/index.html').status).toBe(404);
    expect(resolveAppRequest(ROOT, 'app://u:p@net-tc-filter/index.html').status).toBe(404);
    expect(resolveAppRequest(ROOT, 'file:///etc/passwd').status).toBe(404);
    expect(resolveAppRequest(ROOT, 'https://net-tc-filter/index.html').status).toBe(404);
    expect(resolveAppRequest(ROOT, APP_INDEX_URL, 'POST').status).toBe(405);
    expect(resolveAppRequest(ROOT, 'not a url').status).toBe(400);
    expect(resolveAppRequest(ROOT, `${APP_ORIGIN}/%E0%A4%A.js`).status).toBe(400);
  });

  it('serves only known file types', () => {
    for (const f of ['package.json.bak', 'main.ts', 'x', 'preload.cjs', 'a.map.gz', 'index.html/'])
      expect(resolveAppRequest(ROOT, `${APP_ORIGIN}/${f}`).status, f).toBe(404);
  });
});

describe('serveAppRequest', () => {
  let dir = '';
  let root = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ntf-proto-'));
    root = join(dir, 'renderer');
    mkdirSync(join(root, 'assets'), { recursive: true });
    writeFileSync(join(root, 'index.html'), '<!doctype html><title>t</title>');
    writeFileSync(join(root, 'assets', 'app.js'), 'console.log(1)');
    writeFileSync(join(dir, 'secret.txt'), 'secret');
    symlinkSync(join(dir, 'secret.txt'), join(root, 'assets', 'link.txt'));
    mkdirSync(join(root, 'dir.js'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads existing files with their headers', async () => {
    const r = await serveAppRequest(root, APP_INDEX_URL);
    expect(r.status).toBe(200);
    expect(r.body?.toString()).toContain('<title>t</title>');
    expect(r.headers['Content-Security-Policy']).toBe(CSP);
    const js = await serveAppRequest(root, `${APP_ORIGIN}/assets/app.js`);
    expect(js.headers['Content-Type']).toBe('text/javascript; charset=utf-8');
  });

  it('answers HEAD without a body', async () => {
    const r = await serveAppRequest(root, APP_INDEX_URL, 'HEAD');
    expect(r.status).toBe(200);
    expect(r.body).toBeNull();
  });

  it('404s missing files, directories and symlinks (even to readable files)', async () => {
    for (const p of ['missing.js', 'dir.js', 'assets/link.txt', '../secret.txt', '%2e%2e/secret.txt']) {
      const r = await serveAppRequest(root, `${APP_ORIGIN}/${p}`);
      expect(r.status, p).toBe(404);
      expect(r.body?.toString()).not.toContain('secret');
      expect(r.headers['Content-Security-Policy']).toBe(CSP);
    }
  });
});
