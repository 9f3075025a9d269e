// SPDX-License-Identifier: Apache-2.0
// Environment: renderer. One virtualized table (@tanstack/react-virtual) for both live tables:
// columns as data, a key and attributes per row, selectable rows (click, or Enter/Space on the
// focused row; the arrow keys, Home/End and Page Up/Down move the focus). The header sits in the
// scroll element (sticky), so a table narrower than its columns scrolls sideways as one piece.
import { useVirtualizer } from '@tanstack/react-virtual';
import { useEffect, useRef, useState, type KeyboardEvent, type ReactNode, type RefObject } from 'react';

export const ROW_HEIGHT = 28;
const HEAD_HEIGHT = 30;

export interface Column<T> {
  id: string;
  header: ReactNode;
  /** Class of the header and the cells ("num", "mono", "ellipsis"). */
  className?: string;
  cell: (row: T) => ReactNode;
  /** The cell's tooltip. */
  title?: (row: T) => string | undefined;
  /** Left out of the compact table (beside the details pane, which shows the value). */
  optional?: boolean;
}

export interface VirtualTableProps<T> {
  /** The table's accessible name ("Decisions"). */
  label: string;
  /** The scroll element's accessible name ("Decision rows"). */
  bodyLabel: string;
  rows: readonly T[];
  columns: ReadonlyArray<Column<T>>;
  /** The grid's class: its grid-template-columns (and min-width); `${gridClass}-compact` is
   * added in compact mode. */
  gridClass: string;
  /** Leave out the optional columns. */
  compact?: boolean;
  /** A row's identity (a number is cheaper for the virtualizer, which keys every row). */
  rowKey: (row: T) => string | number;
  /** data-* and similar attributes of a row. */
  rowAttrs?: (row: T) => Record<string, string | number>;
  rowClass?: (row: T) => string;
  /** A row's accessible description, e.g. "dropped: bob to 169.254.169.254:80". */
  rowLabel?: (row: T) => string;
  selectedKey?: string | null;
  onSelect?: (row: T) => void;
  onScroll?: (scrollTop: number) => void;
  /** Shown when there are no rows. */
  empty?: ReactNode;
  scrollRef?: RefObject<HTMLDivElement | null>;
}

/** Focuses a rendered row of a table by key; false when it is not rendered (scrolled away). */
export function focusRow(container: HTMLElement | null, key: string): boolean {
  const el = container?.querySelector<HTMLElement>(`[data-vkey="${CSS.escape(key)}"]`);
  if (!el) return false;
  el.focus({ preventScroll: false });
  return true;
}

export function VirtualTable<T>(p: VirtualTableProps<T>) {
  const own = useRef<HTMLDivElement | null>(null);
  const parentRef = p.scrollRef ?? own;
  const [active, setActive] = useState<string | null>(null);
  const focusNext = useRef<string | null>(null);
  const { rows, rowKey } = p;
  const columns = p.compact ? p.columns.filter((c) => !c.optional) : p.columns;
  const grid = p.compact ? `${p.gridClass} ${p.gridClass}-compact` : p.gridClass;
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => parentRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 12,
    scrollMargin: HEAD_HEIGHT,
    getItemKey: (i) => (rows[i] !== undefined ? rowKey(rows[i] as T) : i),
  });
  const items = virtualizer.getVirtualItems();

  // After a keyboard move the row is rendered (scrollToIndex): focus it.
  useEffect(() => {
    const k = focusNext.current;
    if (k === null) return;
    if (focusRow(parentRef.current, k)) focusNext.current = null;
  });

  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    if (rows.length === 0) return;
    const target = e.target as HTMLElement;
    const onRow = target.dataset.vkey !== undefined;
    const current = onRow ? (target.dataset.vkey as string) : active;
    let i = current === null ? -1 : rows.findIndex((r) => String(rowKey(r)) === current);
    // Read here, not while rendering: a layout read per render would cost a reflow per batch.
    const rowsInView = Math.max(
      1,
      Math.floor(((parentRef.current?.clientHeight ?? 300) - HEAD_HEIGHT) / ROW_HEIGHT),
    );
    if ((e.key === 'Enter' || e.key === ' ') && onRow && i >= 0) {
      e.preventDefault();
      p.onSelect?.(rows[i] as T);
      return;
    }
    if (e.key === 'ArrowDown') i = Math.min(rows.length - 1, i + 1);
    else if (e.key === 'ArrowUp') i = Math.max(0, i - 1);
    else if (e.key === 'PageDown') i = Math.min(rows.length - 1, i + rowsInView);
    else if (e.key === 'PageUp') i = Math.max(0, i - rowsInView);
    else if (e.key === 'Home') i = 0;
    else if (e.key === 'End') i = rows.length - 1;
    else return;
    e.preventDefault();
    const key = String(rowKey(rows[i] as T));
    setActive(key);
    focusNext.current = key;
    virtualizer.scrollToIndex(i, { align: 'auto' });
    focusRow(parentRef.current, key);
  };

  // The row that takes the Tab stop: the one last moved to, else the selected one, else the first.
  const tabKey =
    (active !== null && rows.some((r) => String(rowKey(r)) === active) ? active : null) ??
    p.selectedKey ??
    (rows[0] !== undefined ? String(rowKey(rows[0])) : null);
  const tabRendered = tabKey !== null && items.some((v) => String(v.key) === tabKey);

  return (
    <div className="vtable" role="table" aria-label={p.label} aria-rowcount={rows.length + 1}>
      <div
        ref={parentRef}
        className="vbody"
        role="rowgroup"
        aria-label={p.bodyLabel}
        // Focusable itself only when no row can take the focus (empty, or the row scrolled away).
        tabIndex={tabRendered ? -1 : 0}
        onScroll={() => p.onScroll?.(parentRef.current?.scrollTop ?? 0)}
        onKeyDown={onKeyDown}
      >
        <div className={`vrow vhead ${grid}`} role="row" style={{ height: HEAD_HEIGHT }}>
          {columns.map((c) => (
            <span key={c.id} role="columnheader" className={c.className}>
              {c.header}
            </span>
          ))}
        </div>
        {rows.length === 0 && p.empty !== undefined && <div className="muted pad empty-rows">{p.empty}</div>}
        <div
          className={`vspace ${p.gridClass}-space${p.compact ? ` ${p.gridClass}-compact-space` : ''}`}
          style={{ height: virtualizer.getTotalSize() }}
        >
          {items.map((v) => {
            const r = rows[v.index] as T;
            const key = String(v.key);
            const selected = p.selectedKey === key;
            return (
              <div
                key={key}
                role="row"
                aria-selected={selected}
                aria-label={p.rowLabel?.(r)}
                tabIndex={key === tabKey ? 0 : -1}
                className={`vrow ${grid} ${p.rowClass?.(r) ?? ''}${selected ? ' row-selected' : ''}`}
                data-vkey={key}
                {...p.rowAttrs?.(r)}
                style={{ transform: `translateY(${v.start - HEAD_HEIGHT}px)`, height: ROW_HEIGHT }}
                onClick={() => {
                  setActive(key);
                  p.onSelect?.(r);
                }}
              >
                {columns.map((c) => (
                  <span key={c.id} role="cell" className={c.className} title={c.title?.(r)}>
                    {c.cell(r)}
                  </span>
                ))}
              </div>
            );
          })}
        </div>
      </div>
    </div>
  );
}
