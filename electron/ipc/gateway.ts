// SPDX-License-Identifier: Apache-2.0
// Environment: main process and tests. No Electron import: electron/main/ipc.ts registers
// `dispatch` for every channel; the browser tests call it through Playwright's exposeBinding.
//
// The only way into the privileged code. Every request is checked in this order, and the
// first failure answers with a typed error without touching the handlers:
//   1. the operation exists; 2. the sender is our own page's main frame; 3. the serialized
//   request is within its size bound; 4. it parses against the operation's schema; 5. the
//   operation is allowed in the current mode (read-only refuses apply/stop).
import type { z } from 'zod';
import { OPERATIONS } from './channels.js';
import type { Operation } from './channels.js';
import { LARGE_REQUESTS, LIMITS, PRIVILEGED, REQUEST_SCHEMAS } from './contract.js';
import type { Handlers, IpcError, IpcErrorCode, IpcResult } from './contract.js';

export interface SenderInfo {
  /** URL of the frame that sent the request; undefined when the frame is gone. */
  url: string | undefined;
  isMainFrame: boolean;
}

export interface GatewayOptions {
  isTrustedUrl(url: string): boolean;
  readOnly(): boolean;
}

export interface Gateway {
  dispatch(op: string, sender: SenderInfo, req: unknown): Promise<IpcResult<unknown>>;
}

/** An error a handler throws to answer with a specific code (anything else is `failed`). */
export class HandlerError extends Error {
  constructor(
    readonly code: IpcErrorCode,
    message: string,
    readonly diagnostics?: IpcError['diagnostics'],
  ) {
    super(message);
    this.name = 'HandlerError';
  }
}

const KNOWN = new Set<string>(OPERATIONS);

/**
 * Whether `url` belongs to `origin` (scheme://host[:port]). Compared by parts: WHATWG URL gives
 * custom schemes such as app:// the opaque origin "null", so `.origin` cannot be compared.
 */
export function isSameOrigin(url: string, origin: string): boolean {
  try {
    const u = new URL(url);
    const o = new URL(origin);
    return u.protocol === o.protocol && u.host === o.host && u.username === '' && u.password === '';
  } catch {
    return false;
  }
}

function fail(code: IpcErrorCode, message: string, diagnostics?: IpcError['diagnostics']): IpcResult<never> {
  return { ok: false, error: diagnostics ? { code, message, diagnostics } : { code, message } };
}

/** Serialized size of a request, bounded: stops counting once over `limit`. */
function sizeOver(value: unknown, limit: number): boolean {
  if (value === undefined || value === null) return false;
  let text: string;
  try {
    text = JSON.stringify(value);
  } catch {
    // Cycles, BigInt: not a valid request anyway; the schema reports it.
    return false;
  }
  return text === undefined ? false : text.length > limit;
}

function describeIssues(err: z.ZodError): string {
  return err.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join('.') : '(request)'}: ${i.message}`)
    .join('; ');
}

export function createGateway(handlers: Handlers, opts: GatewayOptions): Gateway {
  return {
    async dispatch(op, sender, req) {
      if (!KNOWN.has(op)) return fail('unknown-operation', `unknown operation ${JSON.stringify(op)}`);
      const operation = op as Operation;
      if (!sender.isMainFrame || sender.url === undefined || !opts.isTrustedUrl(sender.url)) {
        return fail(
          'forbidden-sender',
          `${operation}: refused; the request did not come from the app's own page`,
        );
      }
      const limit = LARGE_REQUESTS.has(operation) ? LIMITS.policyBytes : LIMITS.smallBytes;
      if (sizeOver(req, limit)) {
        return fail('too-large', `${operation}: request larger than ${limit} bytes`);
      }
      const parsed = REQUEST_SCHEMAS[operation].safeParse(req);
      if (!parsed.success) {
        return fail('bad-request', `${operation}: malformed request: ${describeIssues(parsed.error)}`);
      }
      if (PRIVILEGED.has(operation) && opts.readOnly()) {
        return fail('read-only', `${operation}: this window is read-only (see the banner for why)`);
      }
      try {
        const handler = handlers[operation] as (r: unknown) => Promise<unknown>;
        return { ok: true, value: await handler(parsed.data) };
      } catch (err) {
        if (err instanceof HandlerError) return fail(err.code, err.message, err.diagnostics);
        return fail('failed', `${operation}: ${(err as Error).message ?? String(err)}`);
      }
    },
  };
}
