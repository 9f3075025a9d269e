// SPDX-License-Identifier: Apache-2.0
// Environment: renderer. Live traffic: decisions (newest first) and flows in one virtualized
// table component, their reasons in plain words, the counters and rates, and the details pane
// of the row clicked.
import { useCallback, useEffect, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import type { FlowWire, PolicyDoc, TrafficRow } from '../../../electron/ipc/contract.js';
import {
  indexAccounts,
  senderLabel,
  senderPlace,
  senderTitle,
  type AccountIndex,
} from '../logic/accounts.js';
import { formatBytes, formatCount, formatHostPort, formatTime } from '../logic/format.js';
import { notListedEndpoint } from '../logic/guarding.js';
import { reasonDetail, reasonText, VERDICT_WORDS, type TableVerdict } from '../logic/reasons.js';
import { decisionTarget, flowTarget } from '../store/details.js';
import { lostEvents, selectVisibleFlows, selectVisibleRows, type VerdictFilter } from '../store/traffic.js';
import { DetailsPane } from './DetailsPane.js';
import { useApp } from './hooks.js';
import { RatesChart } from './RatesChart.js';
import { focusRow, ROW_HEIGHT, VirtualTable, type Column } from './VirtualTable.js';
import '../styles/traffic.css';

export function VerdictBadge({ verdict }: { verdict: TableVerdict }) {
  return <span className={`verdict verdict-${verdict}`}>{VERDICT_WORDS[verdict]}</span>;
}

function useAccountIndex(): AccountIndex | null {
  const accounts = useApp((s) => s.accounts);
  return useMemo(() => (accounts ? indexAccounts(accounts) : null), [accounts]);
}

/** The user cell: the sender's name, and beside it the system unit (or cgroup) of its socket. */
function Sender({ idx, row }: { idx: AccountIndex | null; row: TrafficRow | FlowWire }) {
  const label = senderLabel(idx, row.uid, row.user);
  const place = senderPlace(row);
  return (
    <>
      {row.uid === null ? <span className="muted">{label}</span> : label}
      {place !== null && (
        <span className="unit-tag" data-testid="unit-tag">
          {place}
        </span>
      )}
    </>
  );
}

/** The local port: a server's replies leave from its listening port (22: most likely sshd's). */
function localPort(sport: number): string {
  return sport > 0 ? String(sport) : '—';
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
          <option value="would-drop">Would drop</option>
        </select>
      </label>
      <input
        type="text"
        aria-label="User"
        placeholder="User or uid"
        title="A name or a uid: matches the uid behind every name that contains the text"
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
    <div className="counters-box">
      <div className="counters" aria-label="Counters">
        <span className="counter">
          <span className="muted">allowed</span> <strong>{formatCount(counters?.allowed ?? 0)}</strong>
        </span>
        <span className="counter">
          <span className="muted">dropped</span> <strong>{formatCount(counters?.dropped ?? 0)}</strong>
        </span>
        {(counters?.wouldDrop ?? 0) > 0 && (
          <span
            className="counter"
            data-testid="would-drop-count"
            title="Audit mode: packets the policy drops that were let through and reported"
          >
            <span className="muted">would drop</span> <strong>{formatCount(counters?.wouldDrop ?? 0)}</strong>
          </span>
        )}
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
      <p
        className="counters-note muted small"
        data-testid="counters-note"
        title="The kernel counts every packet. Decisions are reported as rows only in part: drops always (within each sender's event budget), allowed packets per the logging setting; the Flows tab has every flow's counts."
      >
        Counters count every packet; the rows are a sample.
      </p>
    </div>
  );
}

function decisionColumns(idx: AccountIndex | null, enforced: PolicyDoc | null): Array<Column<TrafficRow>> {
  return [
    { id: 'time', header: 'Time', className: 'mono', cell: (r) => formatTime(r.time) },
    { id: 'iface', header: 'Interface', className: 'ellipsis', cell: (r) => r.iface, optional: true },
    {
      id: 'user',
      header: 'User',
      className: 'ellipsis',
      cell: (r) => <Sender idx={idx} row={r} />,
      title: (r) => senderTitle(r),
    },
    { id: 'proto', header: 'Proto', cell: (r) => r.proto, optional: true },
    {
      id: 'sport',
      header: 'Local port',
      className: 'mono',
      cell: (r) => localPort(r.sport),
      title: (r) => `from ${formatHostPort(r.src, r.sport, r.family)}`,
    },
    {
      id: 'dst',
      header: 'Destination',
      className: 'mono ellipsis',
      cell: (r) => formatHostPort(r.dst, r.dport, r.family),
    },
    {
      id: 'reason',
      header: 'Reason',
      className: 'ellipsis reason-cell',
      cell: (r) => reasonText({ ...r, endpoint: notListedEndpoint(r, enforced) }),
      title: (r) => reasonDetail({ ...r, endpoint: notListedEndpoint(r, enforced) }),
    },
    { id: 'verdict', header: 'Verdict', cell: (r) => <VerdictBadge verdict={r.verdict} /> },
    { id: 'bytes', header: 'Bytes', className: 'num mono', cell: (r) => r.bytes, optional: true },
  ];
}

function flowColumns(idx: AccountIndex | null, enforced: PolicyDoc | null): Array<Column<FlowWire>> {
  return [
    { id: 'iface', header: 'Interface', className: 'ellipsis', cell: (f) => f.iface, optional: true },
    {
      id: 'user',
      header: 'User',
      className: 'ellipsis',
      cell: (f) => <Sender idx={idx} row={f} />,
      title: (f) => senderTitle(f),
    },
    { id: 'proto', header: 'Proto', cell: (f) => f.proto, optional: true },
    {
      id: 'sport',
      header: 'Local port',
      className: 'mono',
      cell: (f) => localPort(f.sport),
      title: () => "the last packet's source port",
    },
    {
      id: 'dst',
      header: 'Destination',
      className: 'mono ellipsis',
      cell: (f) => formatHostPort(f.dst, f.dport, f.family),
    },
    { id: 'verdict', header: 'Verdict', cell: (f) => <VerdictBadge verdict={f.verdict} /> },
    {
      id: 'reason',
      header: 'Reason',
      className: 'ellipsis reason-cell',
      cell: (f) => reasonText({ ...f, endpoint: notListedEndpoint(f, enforced) }),
      title: (f) => reasonDetail({ ...f, endpoint: notListedEndpoint(f, enforced) }),
    },
    {
      id: 'endpoint',
      header: 'Endpoint',
      className: 'ellipsis',
      cell: (f) => f.endpoint ?? <span className="muted">—</span>,
      optional: true,
    },
    {
      id: 'allowed',
      header: 'Allowed',
      className: 'num mono',
      cell: (f) => formatCount(f.allowedPackets),
      title: (f) => `${formatCount(f.allowedPackets)} packets, ${formatBytes(f.allowedBytes)} allowed`,
      optional: true,
    },
    {
      id: 'dropped',
      header: 'Dropped',
      className: 'num mono',
      cell: (f) => formatCount(f.droppedPackets),
      title: (f) => `${formatCount(f.droppedPackets)} packets, ${formatBytes(f.droppedBytes)} dropped`,
    },
    {
      id: 'would-drop',
      header: 'Would drop',
      className: 'num mono',
      cell: (f) => formatCount(f.wouldDropPackets),
      title: (f) =>
        `${formatCount(f.wouldDropPackets)} packets, ${formatBytes(f.wouldDropBytes)} passed in audit mode that the policy would drop`,
      optional: true,
    },
    {
      id: 'last',
      header: 'Last seen',
      className: 'mono',
      cell: (f) => formatTime(f.lastSeen).slice(0, 8),
      title: (f) => `first seen ${formatTime(f.firstSeen)}, last seen ${formatTime(f.lastSeen)}`,
      optional: true,
    },
  ];
}

const rowLabelOf = (idx: AccountIndex | null) => (r: TrafficRow | FlowWire) =>
  `${VERDICT_WORDS[r.verdict]}: ${senderLabel(idx, r.uid, r.user)}${senderPlace(r) ? ` (${senderPlace(r)})` : ''} to ${formatHostPort(r.dst, r.dport, r.family)} on ${r.iface}, ${reasonText(r)}`;

function DecisionsTable({ compact }: { compact: boolean }) {
  const rows = useApp(selectVisibleRows);
  const size = useApp((s) => s.ring.size);
  const paused = useApp((s) => s.paused);
  const held = useApp((s) => s.held);
  const setHeld = useApp((s) => s.setHeld);
  const received = useApp((s) => s.received);
  const newer = useApp((s) => s.received - s.frozenReceived);
  const selectedKey = useApp((s) => (s.details?.target.kind === 'decision' ? s.details.target.key : null));
  const openDetails = useApp((s) => s.openDetails);
  const idx = useAccountIndex();
  const enforced = useApp((s) => s.enforced?.doc ?? null);
  const columns = useMemo(() => decisionColumns(idx, enforced), [idx, enforced]);
  const rowLabel = useMemo(() => rowLabelOf(idx), [idx]);
  const parentRef = useRef<HTMLDivElement | null>(null);
  // Scrolled away from the newest rows, the table holds still (the store's snapshot).
  const onScroll = useCallback((top: number) => setHeld(top > ROW_HEIGHT / 2), [setHeld]);
  const toNewest = () => {
    parentRef.current?.scrollTo({ top: 0 });
    setHeld(false);
  };
  // A table shown again starts at the top: nothing to hold for.
  useEffect(() => () => setHeld(false), [setHeld]);
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
      <VirtualTable<TrafficRow>
        label="Decisions"
        bodyLabel="Decision rows"
        rows={rows}
        columns={columns}
        gridClass="traffic-cols"
        compact={compact}
        rowKey={(r) => r.seq}
        rowClass={(r) => `row-${r.verdict}`}
        rowLabel={rowLabel}
        rowAttrs={(r) => ({
          'data-testid': 'traffic-row',
          'data-seq': r.seq,
          'data-time': r.time,
          'data-verdict': r.verdict,
          'data-user': r.user,
          'data-unit': r.unit ?? '',
          'data-cgroup': r.cgroup ?? '',
          'data-iface': r.iface,
          'data-dst': r.dst,
          'data-reason': r.reason,
          'data-sport': r.sport,
        })}
        selectedKey={selectedKey}
        onSelect={(r) => void openDetails(decisionTarget(r))}
        onScroll={onScroll}
        scrollRef={parentRef}
        empty={
          size === 0
            ? 'No decisions yet. Drops are always reported; allowed packets per the logging setting.'
            : 'No row matches the filters.'
        }
      />
    </>
  );
}

function FlowsTable({ compact }: { compact: boolean }) {
  const rows = useApp(selectVisibleFlows);
  const tracked = useApp((s) => s.flows.size);
  const selectedKey = useApp((s) => (s.details?.target.kind === 'flow' ? s.details.target.key : null));
  const openDetails = useApp((s) => s.openDetails);
  const idx = useAccountIndex();
  const enforced = useApp((s) => s.enforced?.doc ?? null);
  const columns = useMemo(() => flowColumns(idx, enforced), [idx, enforced]);
  const rowLabel = useMemo(() => rowLabelOf(idx), [idx]);
  return (
    <>
      <div className="table-meta">
        <span data-testid="flow-count">
          {formatCount(rows.length)} flows shown / {formatCount(tracked)} tracked
        </span>
        <span className="muted small">every packet of a flow is counted, sampled or not</span>
      </div>
      <VirtualTable<FlowWire>
        label="Flows"
        bodyLabel="Flow rows"
        rows={rows}
        columns={columns}
        gridClass="flow-cols"
        compact={compact}
        rowKey={(f) => f.key}
        rowClass={(f) => `row-${f.verdict}`}
        rowLabel={rowLabel}
        rowAttrs={(f) => ({
          'data-testid': 'flow-row',
          'data-key': f.key,
          'data-verdict': f.verdict,
          'data-user': f.user,
          'data-unit': f.unit ?? '',
          'data-cgroup': f.cgroup ?? '',
          'data-iface': f.iface,
          'data-dst': f.dst,
          'data-reason': f.reason,
          'data-sport': f.sport,
        })}
        selectedKey={selectedKey}
        onSelect={(f) => void openDetails(flowTarget(f))}
        empty={tracked === 0 ? 'No flows yet.' : 'No flow matches the filters.'}
      />
    </>
  );
}

export function TrafficView() {
  const [sub, setSub] = useState<'decisions' | 'flows'>('decisions');
  const paused = useApp((s) => s.paused);
  const setPaused = useApp((s) => s.setPaused);
  const clear = useApp((s) => s.clearTraffic);
  const open = useApp((s) => s.details !== null);
  const closeDetails = useApp((s) => s.closeDetails);
  const mainRef = useRef<HTMLDivElement | null>(null);
  const detailsKey = useApp((s) => s.details?.target.key ?? null);

  /** Closes the pane and gives the focus back to its row (or its table when the row scrolled away). */
  const close = useCallback(() => {
    const key = detailsKey;
    closeDetails();
    requestAnimationFrame(() => {
      const main = mainRef.current;
      if (key !== null && focusRow(main, key)) return;
      main?.querySelector<HTMLElement>('.vbody')?.focus();
    });
  }, [closeDetails, detailsKey]);

  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    if (e.key === 'Escape' && open) {
      e.preventDefault();
      close();
    }
  };

  return (
    // Escape anywhere in Live traffic closes the pane.
    <div className="traffic-view" onKeyDown={onKeyDown}>
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
      <div className={`traffic-main${open ? ' with-details' : ''}`} ref={mainRef}>
        <div className="traffic-tables">
          {sub === 'decisions' ? <DecisionsTable compact={open} /> : <FlowsTable compact={open} />}
        </div>
        {open && <DetailsPane onClose={close} />}
      </div>
    </div>
  );
}
