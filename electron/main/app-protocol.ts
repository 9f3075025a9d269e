// SPDX-License-Identifier: Apache-2.0
// Environment: main process (pure Node: no Electron import, so unit tests run it as is;
// protocol.ts wraps it into Electron's protocol.handle).
//
// The app:// scheme: the renderer is served from the built renderer directory only, never from
// file:// (which would give the page the file scheme's privileges and an opaque origin), with a
// strict Content-Security-Policy on every response.
import { lstat, readFile } from 'node:fs/promises';
import { extname, isAbsolute, join, relative, sep } from 'node:path';

export const APP_SCHEME = 'app';
export const APP_HOST = 'net-tc-filter';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
export const APP_INDEX_URL = `${APP_ORIGIN}/index.html`;

/** The page's policy. The renderer's index.html repeats it as a meta tag, which cannot carry
 * frame-ancestors; the header is what counts. */
export const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** The only file types served; anything else is a 404 whether or not it exists. */
export const MIME_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.txt': 'text/plain; charset=utf-8',
};

/** Headers on every response, errors included. */
export function securityHeaders(): Record<string, string> {
  return {
    'Content-Security-Policy': CSP,
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Resource-Policy': 'same-origin',
    'Cache-Control': 'no-cache',
  };
}

export type Resolution =
  | { status: 200; file: string; headers: Record<string, string> }
  | { status: 400 | 404 | 405; reason: string; headers: Record<string, string> };

function refuse(status: 400 | 404 | 405, reason: string): Resolution {
  return { status, reason, headers: { ...securityHeaders(), 'Content-Type': 'text/plain; charset=utf-8' } };
}

/**
 * Maps a request to a file under `root`, or says why not. Pure: no file system access.
 * Refused: other schemes or hosts, methods other than GET/HEAD, any path segment that is empty,
 * `.` or `..` or starts with a dot (after percent-decoding: `%2e%2e`, `%2f` and `%5c` cannot smuggle
 * a traversal or a separator), NUL, backslashes, and file types outside MIME_TYPES.
 */
export function resolveAppRequest(root: string, url: string, method = 'GET'): Resolution {
  if (method !== 'GET' && method !== 'HEAD') return refuse(405, `method ${method} not allowed`);
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return refuse(400, 'malformed URL');
  }
  if (u.protocol !== `${APP_SCHEME}:` || u.host !== APP_HOST || u.username || u.password || u.port) {
    return refuse(404, 'not this app');
  }
  // The raw path as sent; WHATWG URL has already folded plain and %2e dot segments, which is
  // fine (it cannot climb above "/"), but each segment is checked again after decoding.
  const rawPath = u.pathname === '/' || u.pathname === '' ? '/index.html' : u.pathname;
  const rawSegments = rawPath.split('/').slice(1);
  const segments: string[] = [];
  for (const raw of rawSegments) {
    let seg: string;
    try {
      seg = decodeURIComponent(raw);
    } catch {
      return refuse(400, 'malformed percent-encoding');
    }
    if (seg === '' || seg.startsWith('.') || /[/\\\0]/.test(seg)) return refuse(404, 'refused path');
    segments.push(seg);
  }
  const mime = MIME_TYPES[extname(segments[segments.length - 1] ?? '').toLowerCase()];
  if (!mime) return refuse(404, 'unknown file type');
  const file = join(root, ...segments);
  const rel = relative(root, file);
  if (rel === '' || rel.startsWith(`..${sep}`) || rel === '..' || isAbsolute(rel)) {
    return refuse(404, 'outside the renderer directory');
  }
  return { status: 200, file, headers: { ...securityHeaders(), 'Content-Type': mime } };
}

export interface AppResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer | null;
}

/**
 * Serves a request: resolution, then the file if it is a regular file (a symlink or directory is a
 * 404, so a link planted in the renderer directory cannot point outside it). Works inside an asar
 * archive too: Electron's fs reads from it transparently.
 */
export async function serveAppRequest(root: string, url: string, method = 'GET'): Promise<AppResponse> {
  const r = resolveAppRequest(root, url, method);
  if (r.status !== 200) return { status: r.status, headers: r.headers, body: Buffer.from(`${r.status}\n`) };
  try {
    const st = await lstat(r.file);
    if (!st.isFile()) throw new Error('not a regular file');
    const body = method === 'HEAD' ? null : await readFile(r.file);
    return { status: 200, headers: r.headers, body };
  } catch {
    const nf = refuse(404, 'no such file');
    return { status: 404, headers: nf.headers, body: Buffer.from('404\n') };
  }
}
