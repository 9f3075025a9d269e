// SPDX-License-Identifier: Apache-2.0
// Environment: Node (CLI). No Electron import. Pure: the clock is injected.
//
// Folding of repeated decisions for `run`'s log. A flow's first decision gets a line at once;
// later ones within the interval are counted, and at most one line per flow per interval
// reports them (their count and bytes, the fields of the last one, the time of the first).
// Counts are exact: every decision received is either on a line of its own or in exactly one
// summary line (after flushAll, nothing is pending).

/** Flows tracked at most; when full, the one whose window is oldest is flushed and forgotten. */
export const FOLD_MAX_FLOWS = 65_536;

export interface FoldedLine<D> {
  /** The decision whose fields the line shows: the flow's first, or the last one folded. */
  d: D;
  /** Decisions the line stands for: 1 for a decision printed as it came, N for a summary. */
  count: number;
  /** Bytes of those decisions. */
  bytes: number;
  /** Summary lines only: the time of the first decision folded into it. */
  firstTime?: number;
}

export interface FolderOptions<D> {
  /** Milliseconds; 0 prints every decision as it comes (nothing is folded). */
  intervalMs: number;
  /** The flow a decision belongs to; decisions with equal keys are folded together. */
  key: (d: D) => string;
  bytes: (d: D) => number;
  /** The decision's own timestamp (reported as firstTime). */
  time: (d: D) => number;
  /** Monotonic milliseconds. */
  now: () => number;
  maxFlows?: number;
}

interface Flow<D> {
  /** When the flow's last line was printed. */
  windowStart: number;
  pending: number;
  bytes: number;
  firstTime: number;
  last: D | undefined;
}

export class DecisionFolder<D> {
  /** Decisions received. */
  decisions = 0;
  /** Decision lines produced (first decisions and summaries). */
  lines = 0;
  /** Decisions that did not get a line of their own (in a summary, or pending one). */
  folded = 0;
  /** Decisions waiting for their summary line. */
  pending = 0;
  private readonly flows = new Map<string, Flow<D>>();
  private readonly maxFlows: number;

  constructor(private readonly o: FolderOptions<D>) {
    this.maxFlows = Math.max(1, o.maxFlows ?? FOLD_MAX_FLOWS);
  }

  /** Flows tracked now. */
  get size(): number {
    return this.flows.size;
  }

  /** Takes one decision; appends the line(s) to print now to `out`. */
  add(d: D, out: FoldedLine<D>[]): void {
    this.decisions++;
    if (this.o.intervalMs <= 0) {
      this.emit(out, { d, count: 1, bytes: this.o.bytes(d) });
      return;
    }
    const k = this.o.key(d);
    const now = this.o.now();
    const f = this.flows.get(k);
    if (!f) {
      if (this.flows.size >= this.maxFlows) this.evictOldest(out);
      this.flows.set(k, { windowStart: now, pending: 0, bytes: 0, firstTime: 0, last: undefined });
      this.emit(out, { d, count: 1, bytes: this.o.bytes(d) });
      return;
    }
    this.fold(f, d);
    // The timer has not come round yet, but the window is over: report now.
    if (now - f.windowStart >= this.o.intervalMs) this.summarize(k, f, now, out);
  }

  /** Summaries of the flows whose interval is over; flows idle for a whole interval are forgotten. */
  due(out: FoldedLine<D>[]): void {
    if (this.o.intervalMs <= 0 || this.flows.size === 0) return;
    const now = this.o.now();
    // Map order is windowStart order (a flow moves to the end whenever its window restarts).
    for (const [k, f] of this.flows) {
      if (now - f.windowStart < this.o.intervalMs) break;
      if (f.pending > 0) this.summarize(k, f, now, out);
      else this.flows.delete(k);
    }
  }

  /** Summaries of every flow with pending decisions; forgets every flow (at exit, on reload). */
  flushAll(out: FoldedLine<D>[]): void {
    for (const f of this.flows.values()) if (f.pending > 0) this.emitSummary(f, out);
    this.flows.clear();
  }

  private fold(f: Flow<D>, d: D): void {
    if (f.pending === 0) f.firstTime = this.o.time(d);
    f.pending++;
    f.bytes += this.o.bytes(d);
    f.last = d;
    this.folded++;
    this.pending++;
  }

  private summarize(k: string, f: Flow<D>, now: number, out: FoldedLine<D>[]): void {
    this.emitSummary(f, out);
    f.windowStart = now;
    this.flows.delete(k);
    this.flows.set(k, f);
  }

  private emitSummary(f: Flow<D>, out: FoldedLine<D>[]): void {
    const d = f.last as D;
    this.emit(out, { d, count: f.pending, bytes: f.bytes, firstTime: f.firstTime });
    this.pending -= f.pending;
    f.pending = 0;
    f.bytes = 0;
    f.last = undefined;
  }

  private evictOldest(out: FoldedLine<D>[]): void {
    const first = this.flows.entries().next();
    if (first.done) return;
    const [k, f] = first.value;
    if (f.pending > 0) this.emitSummary(f, out);
    this.flows.delete(k);
  }

  private emit(out: FoldedLine<D>[], line: FoldedLine<D>): void {
    this.lines++;
    out.push(line);
  }
}
