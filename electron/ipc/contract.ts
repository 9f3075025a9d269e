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
import { MAX_IMPORT_BYTES } from '../policy/yaml.js';
import { MAX_WINDOWS } from '../policy/when.js';
import type { WindowStatus } from '../policy/when.js';

export type { EndpointDoc, FieldDiagnostic, InterfaceDoc, PolicyDoc } from '../policy/doc.js';

/** Bounds of one request. Larger payloads are refused before they are parsed. */
export const LIMITS = {
  /** Serialized size of a policy request, and of a file the app imports (1 MiB: the CLI reads
   * larger files, up to MAX_POLICY_BYTES or its --max-policy-bytes). */
  policyBytes: MAX_IMPORT_BYTES,
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
  /** A trial's length in seconds from the app (the CLI's --confirm allows up to a day). */
  trialSeconds: { min: 10, max: 3600 },
  /** Flows in each of a preview's lists. */
  previewFlows: 200,
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
        when: z.array(text).max(MAX_WINDOWS).optional(),
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
  /** Human accounts' uid range on this host (/etc/login.defs UID_MIN..UID_MAX; default 1000..60000). */
  humanUids: { min: number; max: number };
}

export interface ValidateResult {
  ok: boolean;
  diagnostics: FieldDiagnostic[];
  summary?: { endpoints: number; lpmEntries: number; setEntries: number; interfaces: string[] };
}

export interface ApplyOutcome {
  epoch: number;
  /** Applied as a trial: the kernel goes back to the previous policy at the deadline unless it is
   * kept (confirmTrial). null: applied for good. */
  trial: TrialView | null;
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

/** What identifies a packet's flow on the wire: decisions, flow entries, previewed flows. */
export interface FlowFields {
  iface: string;
  /** The sender; null: no local socket (unowned). */
  uid: number | null;
  /** The engine's name of the sender: the user name, the uid as text when it has no name, or
   * "(unowned)" (the renderer names it from the accounts: renderer/src/logic/accounts.ts). */
  user: string;
  family: 4 | 6;
  proto: string;
  dst: string;
  dport: number;
  /** The local source port (of the last packet, for a flow): replies of a local server leave from
   * its listening port (sshd's 22). */
  sport: number;
  /** The sending socket's systemd unit ("backup.service"; policy/cgroups.ts unitOfPath), null:
   * none (or not known). */
  unit: string | null;
  /** The sending socket's cgroup, as a path below the cgroup v2 root ("/system.slice/backup.service"),
   * null: not known (no socket, no cgroup v2 hierarchy, or a cgroup gone before it was named). */
  cgroup: string | null;
}

export interface TrafficRow extends FlowFields {
  /** Increasing id of the decision in this session. */
  seq: number;
  /** Wall-clock milliseconds. */
  time: number;
  src: string;
  bytes: number;
  verdict: 'allow' | 'drop' | 'would-drop';
  /** The kernel's reason code: endpoint, not-listed, default-allow, default-deny, unowned-allow,
   * unowned-deny, essential, iface-not-listed, routing-header (the renderer words them). */
  reason: string;
  /** The endpoint that allowed it, else null. For a not-listed drop (or would-drop) the kernel does
   * not report the guarding endpoint (bpf/net_tc_filter.bpf.c leaves endpoint_id 0: it knows only
   * the range's set), so it is null there too; `explain` names the guarding endpoints. */
  endpoint: string | null;
}

export interface FlowWire extends FlowFields {
  /** Stable identity of the flow entry. */
  key: string;
  allowedPackets: number;
  allowedBytes: number;
  droppedPackets: number;
  droppedBytes: number;
  /** Audit mode: packets the policy drops that were passed and reported. */
  wouldDropPackets: number;
  wouldDropBytes: number;
  firstSeen: number;
  lastSeen: number;
  verdict: 'allow' | 'drop' | 'would-drop';
  /** The kernel's reason code of the last verdict (see TrafficRow.reason). */
  reason: string;
  /** See TrafficRow.endpoint. */
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
  /** The enforced policy's endpoints with `when:` windows: open now, and when that changes
   * (`net-tc-filter status`'s window lines), in the host time zone `timeZone`. */
  windows?: WindowStatus[];
  timeZone?: string;
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

/** A decision's verdict on the wire. */
export type WireVerdict = 'allow' | 'drop' | 'would-drop';

/** A pending trial as the kernel holds it (its deadline is the kernel's: CLOCK_BOOTTIME, shown as
 * wall-clock ms). */
export interface TrialView {
  /** The policy on trial (its number, as the header shows "policy 7"). */
  policy: number;
  /** The policy the kernel goes back to at the deadline. */
  previous: number;
  /** Wall-clock ms of the deadline, from the kernel's. */
  deadline: number;
  /** Seconds left when this was read (0 when past). */
  secondsLeft: number;
  /** The deadline passed: the kernel enforces the previous policy already. */
  expired: boolean;
}

/** What the kernel does now, read from the pinned state (getEngine): the header's source of truth. */
export interface EngineView {
  /** The tc program is loaded (pinned). */
  loaded: boolean;
  /** The policy the kernel enforces now (after a trial's deadline: the previous one); null when
   * nothing was applied. Shown as "policy N" (never "epoch"). */
  policy: number | null;
  /** Every interface the enforced policy configures (named by an endpoint or under
   * `interfaces:`), present on this host or not. */
  configured: Array<{
    name: string;
    /** Exists on this host now. */
    present: boolean;
    /** Our filter is on its egress hook now. */
    attached: boolean;
    mode: 'enforce' | 'audit';
    default: 'allow' | 'deny';
  }>;
  /** Interfaces no endpoint names where the filter is attached (only the guarded ranges are
   * checked there), and whether they audit. */
  guardOnly: { attached: number; mode: 'enforce' | 'audit' };
  /** A pending trial (or one whose deadline passed that no process of ours settled yet). */
  trial: TrialView | null;
  /** The last trial when it did not stay: the kernel (deadline passed) or a revert went back. */
  lastTrial: {
    policy: number;
    outcome: 'reverted-by-kernel' | 'reverted';
    time: number;
    historyN: number;
  } | null;
  /** Another process owns the filter (read-only windows). */
  owner: { pid: number; command: string } | null;
  /** Why the state could not be read (e.g. no permission on the pins); the rest is empty. */
  unreadable?: string;
}

/** A recently observed flow whose verdict the previewed policy changes (policy/impact.ts). */
export interface PreviewFlow extends FlowFields {
  packets: number;
  bytes: number;
  lastSeen: number;
  before: { verdict: WireVerdict; reason: string; endpoint: string | null };
  after: { verdict: WireVerdict; reason: string; endpoint: string | null };
  /** The source port is a local listening TCP port: replies of that server to a client (an SSH
   * login to this machine is the admin's own session). */
  server?: { port: number; command?: string };
  /** Plain-words warning for such replies. */
  warning?: string;
}

/** What one interface does under the previewed policy, in plain words. */
export interface InterfaceEffect {
  /** An interface name, or null for "every other interface" (guard-only). */
  iface: string | null;
  /** "eth0: everything except 169.254.169.254/32 is dropped for every account, root included". */
  text: string;
  /** deny: a deny default drops what no endpoint allows; guard: only the guarded ranges are
   * checked; audit: nothing is dropped, would-drops are reported; absent: the interface does not
   * exist here, nothing is filtered on it until it appears. */
  tone: 'deny' | 'guard' | 'audit' | 'absent';
  /** Its default turns to deny with this change (it was allow, or not filtered). */
  turnsDeny: boolean;
}

export interface Preview {
  /** The draft's problems; with an error it cannot be applied (effects and impact are empty). */
  diagnostics: FieldDiagnostic[];
  /** Per interface of the draft, then one line for every other interface. */
  effects: InterfaceEffect[];
  /** The flow table's recent flows decided by the draft against the enforced policy; null when
   * nothing is loaded (no flows) — `impactNote` says why. Each list: servers' replies (the
   * admin's own sessions) first, then biggest first. */
  impact: {
    evaluated: number;
    /** What "before" is: the enforced policy, or the verdicts the flows recorded (the enforced
     * policy is not known, e.g. applied elsewhere). */
    baseline: 'enforced' | 'recorded';
    newlyDropped: PreviewFlow[];
    newlyAllowed: PreviewFlow[];
    /** Audit mode: flows that would now be reported as would-drop (they still pass). */
    newlyReported: PreviewFlow[];
    /** Flows left out of the lists above (each list is capped). */
    more: number;
  } | null;
  impactNote?: string;
  /** Apply as a trial is the default: a flow is newly dropped, or a default turns to deny. */
  trialDefault: boolean;
  /** The draft compiles to what the kernel enforces now: applying would change nothing. */
  unchanged: boolean;
}

export interface TrialResult {
  outcome: 'confirmed' | 'reverted';
  /** For `reverted`: this window's Revert, or the kernel (the deadline had passed already). */
  by?: 'revert' | 'kernel';
  /** The trial's policy number. */
  policy: number;
  /** The policy in force now. */
  inForce: number;
  /** Wall-clock ms of the outcome (for the kernel: its deadline). */
  at: number;
  /** One plain sentence for the notice. */
  message: string;
  enforced: Enforced;
}

/** A flow or decision to explain: what the table row shows. */
export interface FlowQuery {
  iface: string;
  uid: number | null;
  family: 4 | 6;
  proto: 'tcp' | 'udp' | 'icmp' | 'other';
  dst: string;
  dport: number;
  sport?: number;
  /** The sending socket's cgroup (FlowFields.cgroup): unit:/cgroup: entries are matched from it
   * and its ancestors; absent or null: not known (they match nothing). */
  cgroup?: string | null;
}

export interface ExplainResult {
  /** Which policy explained it, in words ("the enforced policy (policy 7)"). */
  source: string;
  /** The enforced policy is not known here (applied elsewhere and not in the history): `lines`
   * say so and nothing else is meaningful. */
  unknown: boolean;
  verdict: 'allow' | 'drop' | 'would-drop' | 'pass';
  /** policy/explain.ts ExplainReason: endpoint, not-listed, default-deny, …, essential. */
  reason: string;
  user: string;
  /** ADDR, ADDR:PORT or [ADDR]:PORT. */
  destination: string;
  /** The endpoint that allowed it (allow), else null. */
  endpoint: string | null;
  /** The endpoints whose ranges contain the destination (on any interface), in policy order. */
  guarding: string[];
  /** Of those, the ones that name the flow's interface. */
  covering: string[];
  /** The interface as the policy configures it (null: one it does not configure). */
  iface: { name: string; default: 'allow' | 'deny'; mode: 'enforce' | 'audit' } | null;
  audit: boolean;
  /** The explanation, one sentence per line (the CLI's `explain` text). */
  lines: string[];
}

export interface ProposeResult {
  /** The enforced policy plus one endpoint per new grant; null when there is nothing to extend. */
  doc: PolicyDoc | null;
  /** Observed flows considered, endpoints added, flows granted, flows skipped. */
  observed: number;
  added: number;
  granted: number;
  skipped: Array<{ iface: string; user: string; dst: string; why: string }>;
  /** One plain sentence (what was proposed, or why nothing could be). */
  message: string;
}

export interface HistoryItem {
  n: number;
  /** The policy's number in the kernel ("policy 7"). */
  policy: number;
  /** Wall-clock ms it was applied. */
  time: number;
  origin: 'run' | 'reload' | 'apply' | 'app' | 'revert';
  /** "alice (uid 1000)", "root (uid 0, via sudo from alice)". */
  account: string;
  outcome: 'applied' | 'trial' | 'confirmed' | 'reverted-by-kernel' | 'reverted' | 'replaced';
  outcomeTime?: number;
  trial?: { seconds: number; deadline: number };
  /** The config file, or "history 12". */
  source?: string;
  /** The kernel enforces this entry's policy now. */
  current: boolean;
}

export interface HistoryListResult {
  /** Newest first, at most the history's limit (50). */
  entries: HistoryItem[];
  /** Files that were skipped (corrupt, foreign), one line each. */
  warnings: string[];
}

export interface HistoryEntryResult {
  entry: HistoryItem;
  /** The policy as it was applied (YAML). */
  text: string;
  /** The policy as an editor document; null when it no longer converts (diagnostics say why). */
  doc: PolicyDoc | null;
  diagnostics: Diagnostic[];
  /** The entry before it (n), null for the first. */
  previous: number | null;
  /** Unified diff of the previous entry's text against this one ('' when identical or first). */
  diff: string;
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
    /** Apply as a trial: the kernel goes back to the previous policy after this many seconds
     * unless confirmTrial keeps it. Absent or null: for good. */
    trialSeconds: z
      .number()
      .int()
      .min(LIMITS.trialSeconds.min)
      .max(LIMITS.trialSeconds.max)
      .nullable()
      .optional(),
    /** The history entry the document was taken from ("go back to this one"): recorded as the
     * new entry's source ("history N"). */
    fromHistory: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
  }),
  importYaml: NoArgs,
  exportYaml: z.strictObject({ doc: PolicyDocSchema }),
  nextTraffic: z.strictObject({ after: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER) }),
  stopFiltering: z.strictObject({ confirm: z.literal('stop-filtering') }),
  getEngine: NoArgs,
  preview: z.strictObject({ doc: PolicyDocSchema }),
  confirmTrial: NoArgs,
  revertTrial: NoArgs,
  explain: z.strictObject({
    flow: z.strictObject({
      iface: text,
      uid: z.number().int().min(0).max(0xfffffffe).nullable(),
      family: z.union([z.literal(4), z.literal(6)]),
      proto: z.enum(['tcp', 'udp', 'icmp', 'other']),
      dst: text,
      dport: z.number().int().min(0).max(65535),
      sport: z.number().int().min(0).max(65535).optional(),
      cgroup: z.string().min(1).max(4096).startsWith('/').nullable().optional(),
    }),
  }),
  propose: z.union([
    z.undefined(),
    z.null(),
    z.strictObject({ sinceMs: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional() }),
  ]),
  listHistory: NoArgs,
  historyEntry: z.strictObject({ n: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER) }),
} satisfies Record<Operation, z.ZodType>;

/** Operations whose requests may be as large as a policy. */
export const LARGE_REQUESTS: ReadonlySet<Operation> = new Set(['validate', 'apply', 'exportYaml', 'preview']);
/** Operations that change the kernel's state: refused in read-only mode. */
export const PRIVILEGED: ReadonlySet<Operation> = new Set([
  'apply',
  'stopFiltering',
  'confirmTrial',
  'revertTrial',
]);

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
  getEngine: EngineView;
  preview: Preview;
  confirmTrial: TrialResult;
  revertTrial: TrialResult;
  explain: ExplainResult;
  propose: ProposeResult;
  listHistory: HistoryListResult;
  historyEntry: HistoryEntryResult;
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
