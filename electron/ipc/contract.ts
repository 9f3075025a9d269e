// SPDX-License-Identifier: Apache-2.0
// Environment: main process, tests; the renderer imports its types only (`import type`).
//
// The IPC contract: every operation with its request schema (the renderer is untrusted, so
// main parses each request as `unknown`), its request and response types, and the bounds
// the gateway enforces. The preload's `window.netTcFilter` type is derived from this file.
import { z } from 'zod';
import type { Operation } from './channels.js';
import type { CapName } from '../main/caps.js';
import type { Diagnostic, Verdict } from '../policy/types.js';
import type { FieldDiagnostic, PolicyDoc } from '../policy/doc.js';
import { MAX_POLICY_BYTES } from '../policy/yaml.js';

export type { EndpointDoc, FieldDiagnostic, InterfaceDoc, PolicyDoc } from '../policy/doc.js';

/** Bounds of one request. Larger payloads are refused before they are parsed. */
export const LIMITS = {
  /** Serialized size of a policy request: the policy file's cap. */
  policyBytes: MAX_POLICY_BYTES,
  /** Serialized size of any other request. */
  smallBytes: 4096,
  endpoints: 4096,
  listPerEndpoint: 65536,
  interfaces: 1024,
  text: 256,
  /** Decision rows in one traffic batch; more are counted as lost by batching. */
  batchDecisions: 2000,
  /** Changed flow rows in one traffic batch. */
  batchFlows: 2000,
} as const;

const text = z.string().max(LIMITS.text);
const verdict = z.enum(['allow', 'deny']);

export const PolicyDocSchema = z.strictObject({
  endpoints: z
    .array(
      z.strictObject({
        name: text,
        iface: z.array(text).max(LIMITS.listPerEndpoint),
        range: z.array(text).max(LIMITS.listPerEndpoint),
        allow: z.array(text).max(LIMITS.listPerEndpoint),
      }),
    )
    .max(LIMITS.endpoints),
  interfaces: z
    .record(
      text,
      z.strictObject({
        default: verdict.optional(),
        unowned: verdict.optional(),
        essentials: z.boolean().optional(),
        mode: z.enum(['enforce', 'audit']).optional(),
      }),
    )
    .refine((r) => Object.keys(r).length <= LIMITS.interfaces, {
      message: `at most ${LIMITS.interfaces} interfaces`,
    }),
  logging: z.strictObject({ allowed: z.enum(['off', 'sample', 'all']).optional() }),
});

// ---------------------------------------------------------------------------------------------
// Responses.

export type { CapName } from '../main/caps.js';

export interface AppState {
  /** `enforcing`: this instance owns the engine and can apply. `read-only`: editing only. */
  mode: 'enforcing' | 'read-only';
  readOnly?: {
    reason: 'capabilities' | 'locked' | 'engine-error';
    /** One sentence for the banner. */
    message: string;
    /** What to do about it (a command line where there is one). */
    howTo: string;
    missing: CapName[];
    holder?: { pid: number; command: string };
  };
  uid: number;
  user: string;
  caps: Record<CapName, boolean>;
  pinDir: string;
  /** Where the enforced policy is kept between runs. */
  policyFile: string;
}

export interface Enforced {
  /** Policy epoch in the kernel, null when nothing is loaded. */
  epoch: number | null;
  /** The policy in force as this app last applied or adopted it; null when unknown. */
  doc: PolicyDoc | null;
  appliedAt: number | null;
  /** Why `doc` is null although something is loaded, e.g. applied by the headless daemon. */
  note?: string;
  /** The saved policy (AppState.policyFile) when it was not adopted as `doc` at start: it
   * differs from what the kernel enforces, could not be compared, or is not trusted. Never
   * applied on its own: `doc` (when present) is offered as pending changes. Gone after an apply. */
  saved?: SavedPolicy;
}

export interface SavedPolicy {
  file: string;
  /** differs: compiled, its map contents are not the kernel's; unresolved: it names accounts or
   * settings that do not resolve now; untrusted: a symlink, not root's or ours, or writable by
   * others (not read); invalid: not a policy file. */
  status: 'differs' | 'unresolved' | 'untrusted' | 'invalid';
  /** One plain sentence for the notice. */
  message: string;
  /** Its content, as pending changes (differs, unresolved). */
  doc?: PolicyDoc;
  /** What differs (differs): per kind, entries only in the saved policy, only in the kernel, and
   * present in both with other users or settings. */
  differences?: {
    ranges: { onlySaved: number; onlyEnforced: number; changed: number };
    interfaces: { onlySaved: number; onlyEnforced: number; changed: number };
  };
}

export interface NetInterface {
  name: string;
  index: number;
  /** The kernel's operstate in lower case: up, down, unknown, dormant, lowerlayerdown, … */
  state: string;
  up: boolean;
  loopback: boolean;
  /** Link type as ip(8) names it: ether, loopback, none (wireguard, tun), … */
  linkType: string;
}

export interface Accounts {
  users: Array<{ name: string; uid: number }>;
  groups: Array<{ name: string; gid: number; members: string[] }>;
  truncated: boolean;
}

export interface ValidateResult {
  ok: boolean;
  diagnostics: FieldDiagnostic[];
  summary?: { endpoints: number; lpmEntries: number; setEntries: number; interfaces: string[] };
}

export interface ApplyOutcome {
  epoch: number;
  attached: string[];
  missing: string[];
  changes: number;
  activeMs: number;
  totalMs: number;
  diagnostics: FieldDiagnostic[];
  enforced: Enforced;
}

export type ImportResult =
  { canceled: true } | { canceled: false; file: string; doc: PolicyDoc | null; diagnostics: Diagnostic[] };

export type ExportResult = { canceled: true } | { canceled: false; file: string; bytes: number };

export interface TrafficRow {
  /** Increasing id of the decision in this session. */
  seq: number;
  /** Wall-clock milliseconds. */
  time: number;
  iface: string;
  uid: number | null;
  /** User name, the uid as text when it has no name, or "(unowned)". */
  user: string;
  family: 4 | 6;
  proto: string;
  src: string;
  sport: number;
  dst: string;
  dport: number;
  bytes: number;
  verdict: 'allow' | 'drop' | 'would-drop';
  reason: string;
  endpoint: string | null;
}

export interface FlowWire {
  /** Stable identity of the flow entry. */
  key: string;
  iface: string;
  uid: number | null;
  user: string;
  family: 4 | 6;
  proto: string;
  dst: string;
  dport: number;
  allowedPackets: number;
  allowedBytes: number;
  droppedPackets: number;
  droppedBytes: number;
  firstSeen: number;
  lastSeen: number;
  verdict: 'allow' | 'drop' | 'would-drop';
  endpoint: string | null;
}

export interface TrafficCounters {
  allowed: number;
  dropped: number;
  /** Audit mode: packets the policy drops that were passed (not counted as allowed). */
  wouldDrop: number;
  unowned: number;
  nonip: number;
  essential: number;
  /** Events the kernel could not put in the ring buffer (total since load). */
  lostKernel: number;
  /** Events this app dropped because a batch was full or the renderer fell behind (session total). */
  lostBatching: number;
  /** Events the kernel did not report because their sender was over its event budget (counted,
   * not lost: every packet is still in the counters; total since load). */
  suppressed: number;
  /** Flow entries the kernel evicted to make room (their per-flow counters are gone). */
  flowsEvicted: number;
}

export interface TrafficBatch {
  /** Batch number; pass it as `after` to get the next one. */
  seq: number;
  time: number;
  /** New decisions, oldest first, at most LIMITS.batchDecisions. */
  decisions: TrafficRow[];
  /** Flow entries whose counters changed since the previous batch. */
  flows: FlowWire[];
  counters: TrafficCounters | null;
}

export interface StatusInfo {
  state: AppState;
  loaded: boolean;
  programId?: number;
  programTag?: string;
  epoch?: number;
  owner?: { pid: number; command: string };
  interfaces: Array<{
    name: string;
    ifindex: number;
    attached: boolean;
    progId?: number;
    qdiscOurs: boolean;
    /** No endpoint names it: only the guarded ranges are checked there. */
    guardOnly: boolean;
    settings?: { default: Verdict; unowned: Verdict; essentials: boolean; logAllowed: string };
  }>;
  ranges: { v4: number; v6: number };
  setEntries: number;
  libbpf: string;
  kernel: string;
  /** Why parts of the status could not be read (e.g. the pins need CAP_BPF). */
  unreadable?: string;
  errors: Array<{ time: number; message: string }>;
}

export interface StopResult {
  filtersRemoved: string[];
  pinsRemoved: number;
}

// ---------------------------------------------------------------------------------------------
// The contract: request schema and types per operation.

const NoArgs = z.union([z.undefined(), z.null()]);

export const REQUEST_SCHEMAS = {
  getState: NoArgs,
  getStatus: NoArgs,
  getEnforced: NoArgs,
  listInterfaces: NoArgs,
  listAccounts: NoArgs,
  validate: z.strictObject({ doc: PolicyDocSchema }),
  apply: z.strictObject({
    doc: PolicyDocSchema,
    /** The epoch the editor's diff was made against; a mismatch is refused (someone else applied). */
    expectEpoch: z.number().int().nonnegative().nullable(),
  }),
  importYaml: NoArgs,
  exportYaml: z.strictObject({ doc: PolicyDocSchema }),
  nextTraffic: z.strictObject({ after: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER) }),
  stopFiltering: z.strictObject({ confirm: z.literal('stop-filtering') }),
} satisfies Record<Operation, z.ZodType>;

/** Operations whose requests may be as large as a policy. */
export const LARGE_REQUESTS: ReadonlySet<Operation> = new Set(['validate', 'apply', 'exportYaml']);
/** Operations that change the kernel's state: refused in read-only mode. */
export const PRIVILEGED: ReadonlySet<Operation> = new Set(['apply', 'stopFiltering']);

export interface Responses {
  getState: AppState;
  getStatus: StatusInfo;
  getEnforced: Enforced;
  listInterfaces: NetInterface[];
  listAccounts: Accounts;
  validate: ValidateResult;
  apply: ApplyOutcome;
  importYaml: ImportResult;
  exportYaml: ExportResult;
  nextTraffic: TrafficBatch;
  stopFiltering: StopResult;
}

export type Request<K extends Operation> = z.output<(typeof REQUEST_SCHEMAS)[K]>;
export type Response<K extends Operation> = Responses[K];

export type IpcErrorCode =
  | 'unknown-operation'
  | 'forbidden-sender'
  | 'too-large'
  | 'bad-request'
  | 'read-only'
  | 'invalid-policy'
  | 'conflict'
  | 'busy'
  | 'failed';

export interface IpcError {
  code: IpcErrorCode;
  message: string;
  /** For invalid-policy: the problems, located in the request's document. */
  diagnostics?: FieldDiagnostic[];
}

export type IpcResult<T> = { ok: true; value: T } | { ok: false; error: IpcError };

/** What the handler table implements; the gateway has already parsed the request. */
export type Handlers = { [K in Operation]: (req: Request<K>) => Promise<Response<K>> };

/** `window.netTcFilter`: one function per operation, answering with a result envelope. */
export type NetTcFilterApi = {
  [K in Operation]: Request<K> extends undefined | null
    ? () => Promise<IpcResult<Response<K>>>
    : (req: Request<K>) => Promise<IpcResult<Response<K>>>;
};
