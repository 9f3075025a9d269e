// SPDX-License-Identifier: Apache-2.0
// Environment: main process and tests (no Electron import). The handler table: one function per
// operation of the contract, called by the gateway with an already-parsed request. Electron's
// file dialogs come in through `Dialogs`, so the browser tests can drive the same table.
import type { Backend } from '../backend/backend.js';
import { listInterfaces } from '../backend/interfaces.js';
import { writeFileAtomic } from '../backend/write-atomic.js';
import { docToPolicy, policyToDoc } from '../policy/doc.js';
import { readConfigText } from '../policy/load.js';
import { parsePolicy, serializePolicy } from '../policy/yaml.js';
import type { Handlers } from './contract.js';
import { LIMITS } from './contract.js';
import { HandlerError } from './gateway.js';

export interface Dialogs {
  /** The file the admin picked to import, or undefined when canceled. */
  openYaml(): Promise<string | undefined>;
  /** Where to export, or undefined when canceled. */
  saveYaml(defaultName: string): Promise<string | undefined>;
}

export const EXPORT_NAME = 'net-tc-filter.yml';

/** What a file over the import cap is told, after the cap itself (policyTooLarge). */
export const IMPORT_RAISE =
  'the desktop app imports no larger policy; apply a larger one with net-tc-filter apply --config FILE';

export function createHandlers(backend: Backend, dialogs: Dialogs): Handlers {
  return {
    getState: async () => backend.state(),
    getStatus: () => backend.status(),
    getEnforced: async () => backend.enforced(),
    listInterfaces: () => listInterfaces(),
    listAccounts: () => backend.accounts(),
    validate: ({ doc }) => backend.validate(doc),
    apply: ({ doc, expectEpoch, trialSeconds, fromHistory }) =>
      backend.apply(doc, expectEpoch, {
        ...(trialSeconds ? { trialSeconds } : {}),
        ...(fromHistory !== undefined ? { fromHistory } : {}),
      }),
    importYaml: async () => {
      const file = await dialogs.openYaml();
      if (file === undefined) return { canceled: true };
      const read = readConfigText(file, LIMITS.policyBytes, IMPORT_RAISE);
      if (read.text === undefined) return { canceled: false, file, doc: null, diagnostics: read.diagnostics };
      const parsed = parsePolicy(read.text, file, { maxBytes: LIMITS.policyBytes, raise: IMPORT_RAISE });
      const failed = !parsed.policy || parsed.diagnostics.some((d) => d.severity === 'error');
      return {
        canceled: false,
        file,
        doc: failed || !parsed.policy ? null : policyToDoc(parsed.policy),
        diagnostics: parsed.diagnostics,
      };
    },
    exportYaml: async ({ doc }) => {
      const conv = docToPolicy(doc);
      if (!conv.policy)
        throw new HandlerError('invalid-policy', 'fix the errors before exporting', conv.diagnostics);
      const file = await dialogs.saveYaml(EXPORT_NAME);
      if (file === undefined) return { canceled: true };
      const text = serializePolicy(conv.policy);
      writeFileAtomic(file, text, 0o644);
      return { canceled: false, file, bytes: Buffer.byteLength(text) };
    },
    nextTraffic: ({ after }) => backend.nextTraffic(after),
    stopFiltering: () => backend.stopFiltering(),
    getEngine: () => backend.engineView(),
    preview: ({ doc }) => backend.preview(doc),
    confirmTrial: () => backend.confirmTrial(),
    revertTrial: () => backend.revertTrial(),
    explain: ({ flow }) => backend.explain(flow),
    propose: (req) => backend.propose(req?.sinceMs),
    listHistory: () => backend.listHistory(),
    historyEntry: ({ n }) => backend.historyEntry(n),
  };
}
