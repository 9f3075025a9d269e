// SPDX-License-Identifier: Apache-2.0
// Environment: renderer. Live traffic: decisions (virtualized, newest first), flows, rates.
import { useVirtualizer } from '@tanstack/react-virtual';
import { useEffect, useMemo, useRef, useState } from 'react';
import type { FlowWire, TrafficRow } from '../../../electron/ipc/contract.js';
import { formatBytes, formatCount, formatHostPort, formatTime } from '../logic/format.js';
import { flowRows, lostEvents, selectVisibleRows, type VerdictFilter } from '../store/traffic.js';
import { useApp } from './hooks.js';
import { RatesChart } from './RatesChart.js';

const ROW_HEIGHT = 28;

const VERDICT_WORDS = { allow: 'allowed', drop: 'dropped', 'would-drop': 'would drop' } as const;

function VerdictBadge({ verdict }: { verdict: keyof typeof VERDICT_WORDS }) {
  return <span className={`verdict verdict-${verdict}`}>{VERDICT_WORDS[verdict]}</span>;
}

function Filters() {
  const filters = useApp((s) => s.filters);
  const setFilter = useApp((s) => s.setFilter);
  return (
    <>
      <label className="inline-field">
        <span>Verdict</span>
        <select
          aria-label="Verdict"
          value={filters.verdict}
          onChange={(e) => setFilter({ verdict: e.target.value as VerdictFilter })}
        >
          <option value="all">All</option>
          <option value="allow">Allowed</option>
          <option value="drop">Dropped</option>
        </select>
      </label>
      <input
        type="text"
        aria-label="User"
        placeholder="User"
        className="filter-input short"
        value={filters.user}
        onChange={(e) => setFilter({ user: e.target.value })}
      />
      <input
        type="text"
        aria-label="Interface"
        placeholder="Interface"
        className="filter-input short"
        value={filters.iface}
        onChange={(e) => setFilter({ iface: e.target.value })}
      />
      <input
        type="text"
        aria-label="Filter text"
        placeholder="Address, port or endpoint"
        className="filter-input"
        value={filters.text}
        onChange={(e) => setFilter({ text: e.target.value })}
      />
    </>
  );
}

function Counters() {
  const counters = useApp((s) => s.counters);
  const lost = lostEvents(counters);
  const polling = useApp((s) => s.polling);
  const error = useApp((s) => s.trafficError);
  return (
    <div className="counters" aria-label="Counters">
      <span className="counter">
        <span className="muted">allowed</span> <strong>{formatCount(counters?.allowed ?? 0)}</strong>
      </span>
      <span className="counter">
        <span className="muted">dropped</span> <strong>{formatCount(counters?.dropped ?? 0)}</strong>
      </span>
      <span className="counter">
        <span className="muted">unowned</span> <strong>{formatCount(counters?.unowned ?? 0)}</strong>
      </span>
      <span className="counter">
        <span className="muted">non-IP</span> <strong>{formatCount(counters?.nonip ?? 0)}</strong>
      </span>
      <span className="counter">
        <span className="muted">essentials</span> <strong>{formatCount(counters?.essential ?? 0)}</strong>
      </span>
      <span
        data-testid="lost-events"
        className={`counter lost ${lost > 0 ? 'lost-some' : ''}`}
        title={
          counters
            ? `kernel ring buffer: ${counters.lostKernel}, batching/renderer: ${counters.lostBatching}`
            : 'no counters yet'
        }
      >
        <span className="muted">lost events</span> <strong>{formatCount(lost)}</strong>
      </span>
      <span
        data-testid="suppressed-events"
        className="counter"
        title="Decisions the kernel did not report because their sender was over its event budget: every packet is still in the counters, and one user's flood cannot hide another user's decisions"
      >
        <span className="muted">over budget</span> <strong>{formatCount(counters?.suppressed ?? 0)}</strong>
      </span>
      {(counters?.flowsEvicted ?? 0) > 0 && (
        <span
          data-testid="flows-evicted"
          className="counter"
          title="Flow entries the kernel evicted to make room for new flows (their per-flow counters are gone; the totals are exact)"
        >
          <span className="muted">flows evicted</span>{' '}
          <strong>{formatCount(counters?.flowsEvicted ?? 0)}</strong>
        </span>
      )}
      <span
        className={`live-dot ${error ? 'live-error' : polling ? 'live-on' : ''}`}
        title={error ?? undefined}
      >
        {error ? `feed error: ${error}` : polling ? 'live' : 'stopped'}
      </span>
    </div>
  );
}

function DecisionsTable() {
  const ring = useApp((s) => s.ring);
  const version = useApp((s) => s.version);
  const snapshot = useApp((s) => s.snapshot);
  const filters = useApp((s) => s.filters);
  const paused = useApp((s) => s.paused);
  const held = useApp((s) => s.held);
  const setHeld = useApp((s) => s.setHeld);
  const received = useApp((s) => s.received);
  const newer = useApp((s) => s.received - s.frozenReceived);
  const rows = useMemo(
    () => selectVisibleRows({ ring, version, snapshot, filters }),
    [ring, version, snapshot, filters],
  );
  const size = ring.size;
  const parentRef = useRef<HTMLDivElement>(null);
  // Scrolled away from the newest rows, the table holds still (the store's snapshot).
  const onScroll = () => setHeld((parentRef.current?.scrollTop ?? 0) > ROW_HEIGHT / 2);
  const toNewest = () => {
    parentRef.current?.scrollTo({ top: 0 });
    setHeld(false);
  };
  // A table shown again starts at the top: nothing to hold for.
  useEffect(() => () => setHeld(false), [setHeld]);
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => parentRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 12,
    getItemKey: (i) => rows[i]?.seq ?? i,
  });
  const items = virtualizer.getVirtualItems();
  return (
    <>
      <div className="table-meta">
        <span data-testid="row-count">
          {formatCount(rows.length)} shown / {formatCount(size)} in memory
        </span>
        <span className="muted small">
          {formatCount(received)} received{paused ? ' · paused: the table is frozen, the feed continues' : ''}
        </span>
        {held && !paused && (
          <span className="hold-notice" data-testid="hold-notice">
            <span className="muted small" role="status">
              Holding still while you read:
            </span>
            <button type="button" className="btn btn-small" onClick={toNewest}>
              ↑ {formatCount(newer)} newer · back to newest
            </button>
          </span>
        )}
      </div>
      <div className="vtable" role="table" aria-label="Decisions" aria-rowcount={rows.length + 1}>
        <div className="vrow vhead traffic-cols" role="row">
          <span role="columnheader">Time</span>
          <span role="columnheader">Interface</span>
          <span role="columnheader">User</span>
          <span role="columnheader">Proto</span>
          <span role="columnheader">Destination</span>
          <span role="columnheader">Endpoint</span>
          <span role="columnheader">Verdict</span>
          <span role="columnheader" className="num">
            Bytes
          </span>
        </div>
        <div
          ref={parentRef}
          className="vbody"
          role="rowgroup"
          tabIndex={0}
          aria-label="Decision rows"
          onScroll={onScroll}
        >
          {rows.length === 0 && (
            <p className="muted pad empty-rows">
              {size === 0
                ? 'No decisions yet. Drops are always reported; allowed packets per the logging setting.'
                : 'No row matches the filters.'}
            </p>
          )}
          <div className="vspace" style={{ height: virtualizer.getTotalSize() }}>
            {items.map((v) => {
              const r = rows[v.index] as TrafficRow;
              return (
                <div
                  key={v.key}
                  role="row"
                  className={`vrow traffic-cols row-${r.verdict}`}
                  data-testid="traffic-row"
                  data-seq={r.seq}
                  data-time={r.time}
                  data-verdict={r.verdict}
                  data-user={r.user}
                  data-iface={r.iface}
                  data-dst={r.dst}
                  style={{ transform: `translateY(${v.start}px)`, height: ROW_HEIGHT }}
                >
                  <span role="cell" className="mono">
                    {formatTime(r.time)}
                  </span>
                  <span role="cell">{r.iface}</span>
                  <span role="cell" className={r.uid === null ? 'muted' : ''}>
                    {r.user}
                  </span>
                  <span role="cell">{r.proto}</span>
                  <span
                    role="cell"
                    className="mono ellipsis"
                    title={`from ${formatHostPort(r.src, r.sport, r.family)}`}
                  >
                    {formatHostPort(r.dst, r.dport, r.family)}
                  </span>
                  <span role="cell" className="ellipsis">
                    {r.endpoint ?? <span className="muted">{r.reason}</span>}
                  </span>
                  <span role="cell">
                    <VerdictBadge verdict={r.verdict} />
                  </span>
                  <span role="cell" className="num mono">
                    {r.bytes}
                  </span>
                </div>
              );
            })}
          </div>
        </div>
      </div>
    </>
  );
}

function FlowsTable() {
  const flows = useApp((s) => s.flows);
  const flowsVersion = useApp((s) => s.flowsVersion);
  const filters = useApp((s) => s.filters);
  const rows = useMemo(() => {
    void flowsVersion;
    const u = filters.user.trim().toLowerCase();
    const i = filters.iface.trim().toLowerCase();
    const t = filters.text.trim().toLowerCase();
    return flowRows(flows).filter(
      (f: FlowWire) =>
        (filters.verdict === 'all' ||
          (filters.verdict === 'allow' ? f.allowedPackets > 0 : f.droppedPackets > 0)) &&
        (!u || f.user.toLowerCase().includes(u) || String(f.uid) === u) &&
        (!i || f.iface.toLowerCase().includes(i)) &&
        (!t || `${f.dst} ${f.dport} ${f.endpoint ?? ''} ${f.proto}`.toLowerCase().includes(t)),
    );
  }, [flows, flowsVersion, filters]);
  const parentRef = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => parentRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 12,
    getItemKey: (i) => rows[i]?.key ?? i,
  });
  return (
    <>
      <div className="table-meta">
        <span data-testid="flow-count">
          {formatCount(rows.length)} flows shown / {formatCount(flows.size)} tracked
        </span>
      </div>
      <div className="vtable" role="table" aria-label="Flows">
        <div className="vrow vhead flow-cols" role="row">
          <span role="columnheader">Interface</span>
          <span role="columnheader">User</span>
          <span role="columnheader">Proto</span>
          <span role="columnheader">Destination</span>
          <span role="columnheader">Verdict</span>
          <span role="columnheader" className="num">
            Allowed pkts
          </span>
          <span role="columnheader" className="num">
            Allowed bytes
          </span>
          <span role="columnheader" className="num">
            Dropped pkts
          </span>
          <span role="columnheader" className="num">
            Dropped bytes
          </span>
          <span role="columnheader">Last seen</span>
        </div>
        <div ref={parentRef} className="vbody" role="rowgroup" tabIndex={0} aria-label="Flow rows">
          {rows.length === 0 && <p className="muted pad empty-rows">No flows yet.</p>}
          <div className="vspace" style={{ height: virtualizer.getTotalSize() }}>
            {virtualizer.getVirtualItems().map((v) => {
              const f = rows[v.index] as FlowWire;
              return (
                <div
                  key={v.key}
                  role="row"
                  className="vrow flow-cols"
                  data-testid="flow-row"
                  data-key={f.key}
                  data-verdict={f.verdict}
                  data-user={f.user}
                  data-iface={f.iface}
                  data-dst={f.dst}
                  style={{ transform: `translateY(${v.start}px)`, height: ROW_HEIGHT }}
                >
                  <span role="cell">{f.iface}</span>
                  <span role="cell">{f.user}</span>
                  <span role="cell">{f.proto}</span>
                  <span role="cell" className="mono ellipsis">
                    {formatHostPort(f.dst, f.dport, f.family)}
                  </span>
                  <span role="cell">
                    <VerdictBadge verdict={f.verdict} />
                  </span>
                  <span role="cell" className="num mono">
                    {formatCount(f.allowedPackets)}
                  </span>
                  <span role="cell" className="num mono">
                    {formatBytes(f.allowedBytes)}
                  </span>
                  <span role="cell" className="num mono">
                    {formatCount(f.droppedPackets)}
                  </span>
                  <span role="cell" className="num mono">
                    {formatBytes(f.droppedBytes)}
                  </span>
                  <span role="cell" className="mono">
                    {formatTime(f.lastSeen)}
                  </span>
                </div>
              );
            })}
          </div>
        </div>
      </div>
    </>
  );
}

export function TrafficView() {
  const [sub, setSub] = useState<'decisions' | 'flows'>('decisions');
  const paused = useApp((s) => s.paused);
  const setPaused = useApp((s) => s.setPaused);
  const clear = useApp((s) => s.clearTraffic);
  return (
    <div className="traffic-view">
      <div className="toolbar">
        <div className="segmented" role="group" aria-label="Traffic view">
          <button
            type="button"
            className={sub === 'decisions' ? 'active' : ''}
            aria-pressed={sub === 'decisions'}
            onClick={() => setSub('decisions')}
          >
            Decisions
          </button>
          <button
            type="button"
            className={sub === 'flows' ? 'active' : ''}
            aria-pressed={sub === 'flows'}
            onClick={() => setSub('flows')}
          >
            Flows
          </button>
        </div>
        <span className="toolbar-sep" />
        <button
          type="button"
          className={`btn ${paused ? 'btn-primary' : ''}`}
          onClick={() => setPaused(!paused)}
        >
          {paused ? 'Resume' : 'Pause'}
        </button>
        <button type="button" className="btn" onClick={clear}>
          Clear
        </button>
        <span className="toolbar-sep" />
        <Filters />
      </div>
      <div className="traffic-top">
        <Counters />
        <RatesChart />
      </div>
      {sub === 'decisions' ? <DecisionsTable /> : <FlowsTable />}
    </div>
  );
}
