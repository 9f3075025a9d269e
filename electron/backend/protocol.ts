// SPDX-License-Identifier: Apache-2.0
// Environment: main process and the engine worker (no Electron import).
//
// Messages between the Backend (main thread) and the engine worker (engine-worker.ts). The
// worker owns every blocking call: libbpf syscalls, map reads, `getent`, `tc`.
import type { PolicyDoc } from '../policy/doc.js';
import type {
  Accounts,
  ApplyOutcome,
  EngineView,
  ExplainResult,
  FieldDiagnostic,
  FlowQuery,
  HistoryEntryResult,
  HistoryListResult,
  Preview,
  ProposeResult,
  StatusInfo,
  StopResult,
  TrialResult,
  TrafficBatch,
} from '../ipc/contract.js';

export interface WorkerInit {
  pinDir: string;
  objectPath?: string;
  /** owner: open (or adopt) the engine; observe: read counters and flows from the pins only. */
  role: 'owner' | 'observe' | 'none';
  batchIntervalMs: number;
  /** Engine.open's eventsPerUser (undefined: the engine's default). */
  eventsPerUser?: number;
  /** The saved policy (the one this app last applied): compared with what the kernel enforces
   * once the engine is open, never applied by the worker on its own. */
  saved?: PolicyDoc;
}

export type WorkerRequest =
  | {
      id: number;
      cmd: 'apply';
      doc: PolicyDoc;
      /** The policy number the changes were made against (null: none loaded); the worker checks
       * it again after settling, since main's copy can lag a revert the kernel made. */
      expectEpoch: number | null;
      trialSeconds?: number;
      fromHistory?: number;
    }
  | { id: number; cmd: 'engine' }
  | { id: number; cmd: 'confirm' }
  | { id: number; cmd: 'revert' }
  | { id: number; cmd: 'preview'; doc: PolicyDoc }
  | { id: number; cmd: 'explain'; flow: FlowQuery }
  | { id: number; cmd: 'propose'; sinceMs?: number }
  | { id: number; cmd: 'history' }
  | { id: number; cmd: 'historyEntry'; n: number }
  | { id: number; cmd: 'validate'; doc: PolicyDoc }
  | { id: number; cmd: 'status' }
  | { id: number; cmd: 'accounts' }
  | { id: number; cmd: 'stop' }
  | { id: number; cmd: 'close' };

export interface ValidateReply {
  diagnostics: FieldDiagnostic[];
  summary?: { endpoints: number; lpmEntries: number; setEntries: number; interfaces: string[] };
}

export type ApplyReply = Omit<ApplyOutcome, 'enforced'> & {
  /** A trial the kernel had ended before this apply, settled by it (see TrialEvent). */
  settled?: TrialEvent;
};

/** What a trial came to (confirm, revert, or the kernel at its deadline): the answer main gives
 * (TrialResult) before it adds the enforced state, and what the worker knows of the saved policy. */
export type TrialEvent = Omit<TrialResult, 'enforced'> & {
  /** For a revert: the saved policy (WorkerInit.saved, or the last one this worker saved)
   * compiles to what the kernel enforces now. */
  savedEqual?: boolean;
  /** The policy in force now from the history, when the worker had to look it up (a trial it did
   * not start; a revert to a policy the policy file did not hold). It is in the file now. */
  doc?: PolicyDoc;
};

export type TrialReply = TrialEvent;

export interface WorkerReplies {
  apply: ApplyReply;
  validate: ValidateReply;
  status: Omit<StatusInfo, 'state' | 'errors'>;
  accounts: Accounts;
  stop: StopResult;
  close: null;
  engine: EngineView;
  confirm: TrialReply;
  revert: TrialReply;
  preview: Preview;
  explain: ExplainResult;
  propose: ProposeResult;
  history: HistoryListResult;
  historyEntry: HistoryEntryResult;
}

export type WorkerEvent =
  | {
      type: 'opened';
      ok: true;
      adopted: boolean;
      epoch: number | null;
      /** The saved policy against the kernel's active generation (Engine.compareEnforced). */
      compared?:
        | {
            equal: boolean;
            ranges: { onlySaved: number; onlyEnforced: number; changed: number };
            interfaces: { onlySaved: number; onlyEnforced: number; changed: number };
          }
        | { error: string };
    }
  | { type: 'opened'; ok: false; locked?: { pid: number; command: string } | null; message: string }
  | { type: 'batch'; batch: Omit<TrafficBatch, 'seq'>; lostBatching: number }
  | { type: 'error'; message: string }
  /** The kernel ended a trial (its deadline passed) and the worker settled it. */
  | { type: 'trial'; event: TrialEvent }
  | { type: 'reply'; id: number; ok: true; value: unknown }
  | { type: 'reply'; id: number; ok: false; message: string; code?: string; diagnostics?: FieldDiagnostic[] };
