// SPDX-License-Identifier: Apache-2.0
// Environment: renderer (pure; no DOM access except in `bridgeFromWindow`).
//
// The client of the preload API: one function per operation, answering with the value of the
// result envelope or throwing an ApiError. The store is built on a `Client`, so the unit
// tests drive it with a stand-in `NetTcFilterApi` object instead of the preload.
import type {
  FieldDiagnostic,
  IpcErrorCode,
  IpcResult,
  NetTcFilterApi,
  Request,
  Response,
} from '../../electron/ipc/contract.js';
import { OPERATIONS } from '../../electron/ipc/channels.js';

/** A failed call: the main process's error code (or `failed` when the call itself threw). */
export class ApiError extends Error {
  readonly code: IpcErrorCode;
  readonly diagnostics: FieldDiagnostic[];
  constructor(code: IpcErrorCode, message: string, diagnostics: FieldDiagnostic[] = []) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.diagnostics = diagnostics;
  }
}

export type Client = {
  [K in keyof NetTcFilterApi]: Request<K> extends undefined | null
    ? () => Promise<Response<K>>
    : (req: Request<K>) => Promise<Response<K>>;
};

function unwrap<T>(op: string, result: IpcResult<T> | undefined): T {
  if (!result || typeof result !== 'object') throw new ApiError('failed', `${op}: no answer`);
  if (result.ok) return result.value;
  const e = result.error;
  throw new ApiError(e.code, e.message, e.diagnostics ?? []);
}

export function createClient(api: NetTcFilterApi): Client {
  const client: Record<string, (req?: unknown) => Promise<unknown>> = {};
  for (const op of OPERATIONS) {
    client[op] = async (req?: unknown) => {
      const fn = api[op] as unknown as ((req?: unknown) => Promise<IpcResult<unknown>>) | undefined;
      if (typeof fn !== 'function') throw new ApiError('unknown-operation', `${op}: not available`);
      let result: IpcResult<unknown>;
      try {
        result = req === undefined ? await fn() : await fn(req);
      } catch (err) {
        throw new ApiError('failed', err instanceof Error ? err.message : String(err));
      }
      return unwrap(op, result);
    };
  }
  return client as unknown as Client;
}

/** The message of any thrown value. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The preload API, or undefined when the page runs without it. */
export function bridgeFromWindow(): NetTcFilterApi | undefined {
  const w = globalThis as { netTcFilter?: NetTcFilterApi };
  return w.netTcFilter && typeof w.netTcFilter === 'object' ? w.netTcFilter : undefined;
}
