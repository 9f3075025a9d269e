// SPDX-License-Identifier: Apache-2.0
import { describe, expect, it } from 'vitest';
import { ApiError, createClient } from '../../../renderer/src/api.js';
import { fail, ok, standInApi } from './fake-api.js';

describe('API client', () => {
  it('unwraps ok envelopes and passes requests through', async () => {
    const fake = standInApi();
    fake.on('nextTraffic', () => ok({ seq: 3, time: 1, decisions: [], flows: [], counters: null }));
    const c = createClient(fake.api);
    expect((await c.nextTraffic({ after: 2 })).seq).toBe(3);
    expect(fake.calls.at(-1)).toEqual({ op: 'nextTraffic', req: { after: 2 } });
  });

  it('turns error envelopes into ApiError with code and diagnostics', async () => {
    const fake = standInApi();
    const diag = { severity: 'error' as const, message: 'bad', path: ['endpoints', 0, 'range', 0] };
    fake.on('apply', () => fail('invalid-policy', 'the policy has errors', [diag]));
    const err = await createClient(fake.api)
      .apply({ doc: { endpoints: [], interfaces: {}, logging: {} }, expectEpoch: null })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({
      code: 'invalid-policy',
      message: 'the policy has errors',
      diagnostics: [diag],
    });
  });

  it('turns a rejected call or a missing answer into ApiError("failed")', async () => {
    const fake = standInApi();
    fake.on('getStatus', () => Promise.reject(new Error('boom')));
    fake.on('getEnforced', () => undefined as never);
    const c = createClient(fake.api);
    await expect(c.getStatus()).rejects.toMatchObject({ code: 'failed', message: 'boom' });
    await expect(c.getEnforced()).rejects.toMatchObject({ code: 'failed' });
  });
});
