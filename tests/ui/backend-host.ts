// SPDX-License-Identifier: Apache-2.0
// Environment: Node, a separate process started by the UI tests (tests/ui/harness.ts) in the
// sandbox's network namespace, with or without capabilities.
//
// Runs the app's real main-process side — Backend (engine worker), handler table, gateway —
// exactly as electron/main wires it, and answers the browser's calls over stdin/stdout (one
// JSON object per line). The one stand-in: Electron's file dialogs, which cannot open here;
// the test says in advance which path the next open/save dialog "picks".
import { createInterface } from 'node:readline';
import { Backend } from '../../electron/backend/backend.js';
import { createHandlers } from '../../electron/ipc/handlers.js';
import type { Dialogs } from '../../electron/ipc/handlers.js';
import { createGateway, isSameOrigin } from '../../electron/ipc/gateway.js';
import type { SenderInfo } from '../../electron/ipc/gateway.js';

export const TEST_ORIGIN = 'https://net-tc-filter.invalid';

export type HostRequest =
  | { id: number; op: string; sender: SenderInfo; req?: unknown }
  | { id: number; control: 'dialog'; open?: string | null; save?: string | null }
  | { id: number; control: 'close' };

const args = new Map(
  process.argv.slice(2).map((a) => {
    const i = a.indexOf('=');
    return [a.slice(2, i), a.slice(i + 1)] as const;
  }),
);

/** Dialog stand-in: answers with what the test set, once. */
let nextOpen: string | undefined;
let nextSave: string | undefined;
const dialogs: Dialogs = {
  openYaml: async () => {
    const f = nextOpen;
    nextOpen = undefined;
    return f;
  },
  saveYaml: async () => {
    const f = nextSave;
    nextSave = undefined;
    return f;
  },
};

const backend = await Backend.start({
  pinDir: args.get('pin-dir') ?? '',
  policyFile: args.get('policy-file') ?? '',
  ...(args.get('batch-ms') ? { batchIntervalMs: Number(args.get('batch-ms')) } : {}),
  ...(args.get('events-per-user') ? { eventsPerUser: Number(args.get('events-per-user')) } : {}),
});
const gateway = createGateway(createHandlers(backend, dialogs), {
  isTrustedUrl: (url) => isSameOrigin(url, TEST_ORIGIN),
  readOnly: () => backend.readOnly(),
});

const send = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);
send({ ready: true, state: backend.state() });

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const m = JSON.parse(line) as HostRequest;
  if ('control' in m) {
    if (m.control === 'dialog') {
      if (m.open !== undefined) nextOpen = m.open ?? undefined;
      if (m.save !== undefined) nextSave = m.save ?? undefined;
      send({ id: m.id, result: null });
    } else {
      void backend.close().then(() => {
        send({ id: m.id, result: null });
        process.exit(0);
      });
    }
    return;
  }
  void gateway.dispatch(m.op, m.sender, m.req).then((result) => send({ id: m.id, result }));
});
rl.on('close', () => void backend.close().then(() => process.exit(0)));
