// SPDX-License-Identifier: Apache-2.0
// Environment: renderer. Packets per second over the last two minutes (SVG): allowed (solid),
// dropped (dashed) and, in audit mode, would-drop (dotted), on a labelled scale and time axis.
import { useApp } from './hooks.js';

const W = 300;
const H = 64;
/** Left margin for the scale's labels, bottom margin for the time axis. */
const ML = 34;
const MB = 12;
const SPAN = 120;

/** A round top for the scale: 1, 2 or 5 times a power of ten, at least `v`. */
export function niceMax(v: number): number {
  if (v <= 1) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function short(n: number): string {
  if (n >= 1_000_000) return `${+(n / 1_000_000).toFixed(1)}M`;
  if (n >= 1000) return `${+(n / 1000).toFixed(1)}k`;
  return String(n);
}

function LegendLine({ kind }: { kind: 'allowed' | 'dropped' | 'would-drop' }) {
  return (
    <svg width="18" height="6" aria-hidden="true" className="legend-line">
      <line x1="0" y1="3" x2="18" y2="3" className={`line-${kind}`} />
    </svg>
  );
}

export function RatesChart() {
  const rates = useApp((s) => s.rates);
  const last = rates[rates.length - 1];
  const end = last ? last.t : Math.floor(Date.now() / 1000);
  const peak = Math.max(0, ...rates.map((r) => Math.max(r.allowed, r.dropped, r.wouldDrop)));
  const audit = rates.some((r) => r.wouldDrop > 0);
  const top = niceMax(peak);
  const x = (t: number) => ML + ((t - (end - SPAN)) / SPAN) * (W - ML - 2);
  const y = (v: number) => H - MB - (v / top) * (H - MB - 4);
  const path = (key: 'allowed' | 'dropped' | 'wouldDrop') =>
    rates.map((r, i) => `${i === 0 ? 'M' : 'L'}${x(r.t).toFixed(1)},${y(r[key]).toFixed(1)}`).join(' ');
  const ticks = [0, top / 2, top];
  const times = [
    { t: end - SPAN, label: '−2 min' },
    { t: end - SPAN / 2, label: '−1 min' },
    { t: end, label: 'now' },
  ];
  return (
    <figure className="rates" aria-label="Packets per second, last two minutes">
      <svg viewBox={`0 0 ${W} ${H}`} width={W} height={H} role="img" aria-hidden="true">
        {ticks.map((v) => (
          <g key={v}>
            <line x1={ML} y1={y(v)} x2={W - 2} y2={y(v)} className={v === 0 ? 'axis' : 'grid'} />
            <text x={ML - 4} y={y(v) + 3} className="tick" textAnchor="end">
              {short(v)}
            </text>
          </g>
        ))}
        <line x1={ML} y1={4} x2={ML} y2={H - MB} className="axis" />
        {times.map((tm, i) => (
          <text
            key={tm.label}
            x={x(tm.t)}
            y={H - 1}
            className="tick"
            textAnchor={i === 0 ? 'start' : i === times.length - 1 ? 'end' : 'middle'}
          >
            {tm.label}
          </text>
        ))}
        {rates.length > 1 && <path d={path('allowed')} className="line-allowed" />}
        {rates.length > 1 && <path d={path('dropped')} className="line-dropped" />}
        {rates.length > 1 && audit && <path d={path('wouldDrop')} className="line-would-drop" />}
      </svg>
      <figcaption className="small">
        <span className="rate-legend" data-testid="legend-allowed">
          <LegendLine kind="allowed" /> allowed {last ? last.allowed : 0}/s
        </span>
        <span className="rate-legend" data-testid="legend-dropped">
          <LegendLine kind="dropped" /> dropped {last ? last.dropped : 0}/s
        </span>
        {audit && (
          <span className="rate-legend" data-testid="legend-would-drop">
            <LegendLine kind="would-drop" /> would drop {last ? last.wouldDrop : 0}/s
          </span>
        )}
        <span className="muted" data-testid="rates-peak">
          {peak > 0 ? `peak ${formatPeak(peak)}/s · packets/s, 2 min` : 'no packets in the last 2 min'}
        </span>
      </figcaption>
    </figure>
  );
}

function formatPeak(n: number): string {
  return n.toLocaleString('en-US');
}
