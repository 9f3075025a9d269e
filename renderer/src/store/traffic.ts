// SPDX-License-Identifier: Apache-2.0
// Environment: renderer (pure store logic; timers only in the poll loop).
//
// The traffic slice: decisions in a capped ring (the newest `ringCapacity`), flow counters by
// key (capped by last seen), global counters, allowed/dropped rates per second, and the loop
// that long-polls the main process for batches.
//
// The ring and the flow map are mutated in place for O(1) pushes; `version` / `flowsVersion`
// increase on every change so React components can subscribe to a number.
//
// Pause, and hold: the table shows a frozen snapshot while the ring, flows, counters, rates and
// lost count keep updating (so nothing is missed within the cap). Pause is the button; hold is
// the table being scrolled away from the newest rows, which would otherwise be pushed out of view
// by the rows arriving above them. Both share one snapshot, taken when the first of them starts
// and dropped when neither is left, so switching between them never moves the table.
//
// The filters hold for both tables (selectVisibleRows, selectVisibleFlows); their results are
// memoised in `trafficMemo`, which belongs to this store (two windows or tests never share it).
import type {
  Accounts,
  FlowFields,
  FlowWire,
  TrafficBatch,
  TrafficCounters,
  TrafficRow,
} from '../../../electron/ipc/contract.js';
import { errorMessage } from '../api.js';
import { indexAccounts, uidsMatching } from '../logic/accounts.js';
import { Ring } from '../logic/ring.js';
import type { Slice } from './types.js';

export type VerdictFilter = 'all' | 'allow' | 'drop' | 'would-drop';

export interface TrafficFilters {
  verdict: VerdictFilter;
  user: string;
  iface: string;
  text: string;
}

export interface RatePoint {
  /** Whole second (ms / 1000, floored). */
  t: number;
  allowed: number;
  dropped: number;
  /** Audit mode: packets the policy drops that were passed. */
  wouldDrop: number;
}

/** The last inputs and result of each table's filter (one per store). */
export interface TrafficMemo {
  rows: { key: unknown[]; rows: TrafficRow[] } | null;
  flows: { key: unknown[]; rows: FlowWire[] } | null;
}

export interface TrafficSlice {
  ring: Ring<TrafficRow>;
  version: number;
  paused: boolean;
  /** The table is scrolled away from the newest rows. */
  held: boolean;
  /** Rows newest first as they were when paused or held; null when live. */
  snapshot: TrafficRow[] | null;
  /** `received` when the snapshot was taken: received − this = decisions not shown yet. */
  frozenReceived: number;
  filters: TrafficFilters;
  flows: Map<string, FlowWire>;
  flowsVersion: number;
  counters: TrafficCounters | null;
  rates: RatePoint[];
  /** Sequence number of the last batch received. */
  lastSeq: number;
  /** Decisions received since start (or the last Clear). */
  received: number;
  polling: boolean;
  trafficError: string | null;
  /** The filters' memo (mutable, never replaced: not state to render). */
  trafficMemo: TrafficMemo;
  ingest(batch: TrafficBatch): void;
  setPaused(paused: boolean): void;
  setHeld(held: boolean): void;
  clearTraffic(): void;
  setFilter(patch: Partial<TrafficFilters>): void;
  startTraffic(): void;
  stopTraffic(): void;
}

export const NO_FILTERS: TrafficFilters = { verdict: 'all', user: '', iface: '', text: '' };

/** The uids a user filter means (null: no user filter); see logic/accounts.ts uidsMatching. */
export type UserMatch = ReadonlySet<number> | null;

/** The user filter: the sender's uid or names, or its socket's unit or cgroup path. */
function userMatches(r: FlowFields, text: string, uids: UserMatch): boolean {
  const u = text.trim().toLowerCase();
  if (!u) return true;
  if (r.uid !== null && uids?.has(r.uid)) return true;
  if (r.unit?.toLowerCase().includes(u) || r.cgroup?.toLowerCase().includes(u)) return true;
  // The engine's name (or "(unowned)"): also matches while the accounts are not known yet.
  return r.user.toLowerCase().includes(u) || String(r.uid) === u;
}

function textMatches(hay: string[], text: string): boolean {
  const t = text.trim().toLowerCase();
  return !t || hay.some((h) => h.toLowerCase().includes(t));
}

/** Whether a row passes the filters (text is matched against addresses, ports, endpoint and
 * reason code). `uids`: what the user filter means (uidsMatching), default: the text alone. */
export function matchRow(row: TrafficRow, f: TrafficFilters, uids: UserMatch = null): boolean {
  if (f.verdict !== 'all' && row.verdict !== f.verdict) return false;
  if (!userMatches(row, f.user, uids)) return false;
  const i = f.iface.trim().toLowerCase();
  if (i && !row.iface.toLowerCase().includes(i)) return false;
  return textMatches(
    [
      row.dst,
      row.src,
      String(row.dport),
      String(row.sport),
      row.family === 6 ? `[${row.dst}]:${row.dport}` : `${row.dst}:${row.dport}`,
      row.endpoint ?? '',
      row.proto,
      row.reason,
    ],
    f.text,
  );
}

/** Whether a flow passes the filters: "allowed"/"dropped" hold for a flow with any packet of
 * that kind, "would drop" likewise (audit mode). */
export function matchFlow(flow: FlowWire, f: TrafficFilters, uids: UserMatch = null): boolean {
  if (f.verdict === 'allow' && flow.allowedPackets === 0) return false;
  if (f.verdict === 'drop' && flow.droppedPackets === 0) return false;
  if (f.verdict === 'would-drop' && flow.wouldDropPackets === 0) return false;
  if (!userMatches(flow, f.user, uids)) return false;
  const i = f.iface.trim().toLowerCase();
  if (i && !flow.iface.toLowerCase().includes(i)) return false;
  return textMatches(
    [
      flow.dst,
      String(flow.dport),
      String(flow.sport),
      flow.family === 6 ? `[${flow.dst}]:${flow.dport}` : `${flow.dst}:${flow.dport}`,
      flow.endpoint ?? '',
      flow.proto,
      flow.reason,
    ],
    f.text,
  );
}

export function filtersActive(f: TrafficFilters): boolean {
  return f.verdict !== 'all' || f.user.trim() !== '' || f.iface.trim() !== '' || f.text.trim() !== '';
}

function userFilterOf(accounts: Accounts | null, f: TrafficFilters): UserMatch {
  return uidsMatching(accounts ? indexAccounts(accounts) : null, f.user);
}

const same = (a: unknown[], b: unknown[]) => a.length === b.length && a.every((k, i) => k === b[i]);

/** The rows the table shows, newest first: the snapshot when paused, else the ring; filtered.
 * Memoised (in the store's trafficMemo) on (version, snapshot, filters, accounts), so calling it
 * on every render is cheap. */
export function selectVisibleRows(
  s: Pick<TrafficSlice, 'ring' | 'version' | 'snapshot' | 'filters' | 'trafficMemo'> & {
    accounts: Accounts | null;
  },
): TrafficRow[] {
  // A snapshot does not change with new batches: no re-filtering while frozen.
  const key = [s.ring, s.snapshot ? -1 : s.version, s.snapshot, s.filters, s.accounts];
  const memo = s.trafficMemo;
  if (memo.rows && same(memo.rows.key, key)) return memo.rows.rows;
  const source = s.snapshot ?? s.ring.toArrayNewestFirst();
  const uids = userFilterOf(s.accounts, s.filters);
  const rows = filtersActive(s.filters) ? source.filter((r) => matchRow(r, s.filters, uids)) : source;
  memo.rows = { key, rows };
  return rows;
}

/** The flows the Flows table shows, last seen first, filtered; memoised like selectVisibleRows. */
export function selectVisibleFlows(
  s: Pick<TrafficSlice, 'flows' | 'flowsVersion' | 'filters' | 'trafficMemo'> & { accounts: Accounts | null },
): FlowWire[] {
  const key = [s.flows, s.flowsVersion, s.filters, s.accounts];
  const memo = s.trafficMemo;
  if (memo.flows && same(memo.flows.key, key)) return memo.flows.rows;
  const all = flowRows(s.flows);
  const uids = userFilterOf(s.accounts, s.filters);
  const rows = filtersActive(s.filters) ? all.filter((f) => matchFlow(f, s.filters, uids)) : all;
  memo.flows = { key, rows };
  return rows;
}

/** The table's new state when pause or hold changes: one snapshot serves both. */
function freeze(s: TrafficSlice, paused: boolean, held: boolean): Partial<TrafficSlice> {
  if (!paused && !held) return { paused, held, snapshot: null };
  if (s.snapshot) return { paused, held };
  return { paused, held, snapshot: s.ring.toArrayNewestFirst(), frozenReceived: s.received };
}

/** Lost events: the kernel's failed ring-buffer reserves plus rows dropped on the way here. */
export function lostEvents(c: TrafficCounters | null): number {
  return c ? c.lostKernel + c.lostBatching : 0;
}

/** Flow rows sorted by last seen, newest first. */
export function flowRows(flows: Map<string, FlowWire>): FlowWire[] {
  return [...flows.values()].sort((a, b) => b.lastSeen - a.lastSeen);
}

export const createTrafficSlice: Slice<TrafficSlice> =
  ({ client, opts }) =>
  (set, get) => {
    // Poll loop state lives outside the store's data: it is not something to render.
    let wanted = false;
    let running = false;
    let prev: { time: number; allowed: number; dropped: number; wouldDrop: number } | null = null;

    const loop = async () => {
      running = true;
      set({ polling: true });
      try {
        while (wanted) {
          try {
            const batch = await client.nextTraffic({ after: get().lastSeq });
            // Ingest even when stopped meanwhile: the main process handed this batch over once.
            get().ingest(batch);
            if (get().trafficError) set({ trafficError: null });
          } catch (err) {
            get().recordError('nextTraffic', err);
            set({ trafficError: errorMessage(err) });
            await new Promise((r) => setTimeout(r, opts.backoffMs));
          }
        }
      } finally {
        running = false;
        set({ polling: false });
      }
    };

    const updateRates = (time: number, c: TrafficCounters) => {
      const cur = { time, allowed: c.allowed, dropped: c.dropped, wouldDrop: c.wouldDrop };
      const last = prev;
      prev = cur;
      if (!last) return;
      const da = cur.allowed - last.allowed;
      const dd = cur.dropped - last.dropped;
      const dw = cur.wouldDrop - last.wouldDrop;
      // Counters went backwards: the program was reloaded. Start again from here.
      if (da < 0 || dd < 0 || dw < 0) return;
      if (da === 0 && dd === 0 && dw === 0 && get().rates.length === 0) return;
      const t = Math.floor(time / 1000);
      const rates = get().rates.slice();
      const tail = rates[rates.length - 1];
      if (tail && tail.t === t)
        rates[rates.length - 1] = {
          t,
          allowed: tail.allowed + da,
          dropped: tail.dropped + dd,
          wouldDrop: tail.wouldDrop + dw,
        };
      else rates.push({ t, allowed: da, dropped: dd, wouldDrop: dw });
      const from = t - opts.rateWindowSec;
      let cut = 0;
      while (cut < rates.length && rates[cut]!.t <= from) cut++;
      set({ rates: cut ? rates.slice(cut) : rates });
    };

    return {
      ring: new Ring<TrafficRow>(opts.ringCapacity),
      version: 0,
      paused: false,
      held: false,
      snapshot: null,
      frozenReceived: 0,
      filters: NO_FILTERS,
      flows: new Map(),
      flowsVersion: 0,
      counters: null,
      rates: [],
      lastSeq: 0,
      received: 0,
      polling: false,
      trafficError: null,
      trafficMemo: { rows: null, flows: null },

      ingest: (batch) => {
        const s = get();
        const patch: Partial<TrafficSlice> = { lastSeq: batch.seq };
        if (batch.decisions.length) {
          for (const row of batch.decisions) s.ring.push(row);
          patch.version = s.version + 1;
          patch.received = s.received + batch.decisions.length;
        }
        if (batch.flows.length) {
          const flows = s.flows;
          for (const f of batch.flows) flows.set(f.key, f);
          if (flows.size > opts.flowCapacity) {
            // Trim to 90 % so a full table is not re-sorted on every batch.
            const keep = Math.floor(opts.flowCapacity * 0.9);
            const oldest = [...flows.values()].sort((a, b) => a.lastSeen - b.lastSeen);
            for (let i = 0; i < oldest.length - keep; i++) flows.delete(oldest[i]!.key);
          }
          patch.flowsVersion = s.flowsVersion + 1;
        }
        if (batch.counters) {
          patch.counters = batch.counters;
        }
        set(patch);
        if (batch.counters) updateRates(batch.time, batch.counters);
      },

      setPaused: (paused) => {
        const s = get();
        if (paused !== s.paused) set(freeze(s, paused, s.held));
      },

      setHeld: (held) => {
        const s = get();
        if (held !== s.held) set(freeze(s, s.paused, held));
      },

      clearTraffic: () => {
        const s = get();
        s.ring.clear();
        s.flows.clear();
        set({
          version: s.version + 1,
          flowsVersion: s.flowsVersion + 1,
          snapshot: s.snapshot ? [] : null,
          frozenReceived: 0,
          received: 0,
          rates: [],
        });
      },

      setFilter: (patch) => set((s) => ({ filters: { ...s.filters, ...patch } })),

      startTraffic: () => {
        wanted = true;
        // A loop that is still finishing its last call picks up again; never a second loop.
        if (!running) void loop();
      },

      stopTraffic: () => {
        wanted = false;
      },
    };
  };
