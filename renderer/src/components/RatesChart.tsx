// SPDX-License-Identifier: Apache-2.0
// Environment: renderer. Allowed/dropped packets per second over the last two minutes (SVG).
import { useApp } from './hooks.js';

const W = 360;
const H = 64;

export function RatesChart() {
  const rates = useApp((s) => s.rates);
  const last = rates[rates.length - 1];
  const end = last ? last.t : Math.floor(Date.now() / 1000);
  const span = 120;
  const max = Math.max(1, ...rates.map((r) => Math.max(r.allowed, r.dropped)));
  const x = (t: number) => ((t - (end - span)) / span) * W;
  const y = (v: number) => H - 2 - (v / max) * (H - 6);
  const path = (key: 'allowed' | 'dropped') =>
    rates.map((r, i) => `${i === 0 ? 'M' : 'L'}${x(r.t).toFixed(1)},${y(r[key]).toFixed(1)}`).join(' ');
  return (
    <figure className="rates" aria-label="Packets per second, last two minutes">
      <svg viewBox={`0 0 ${W} ${H}`} width={W} height={H} role="img" aria-hidden="true">
        <line x1="0" y1={H - 2} x2={W} y2={H - 2} className="axis" />
        {rates.length > 1 && <path d={path('allowed')} className="line-allowed" />}
        {rates.length > 1 && <path d={path('dropped')} className="line-dropped" />}
      </svg>
      <figcaption className="small">
        <span className="legend legend-allowed">allowed {last ? last.allowed : 0}/s</span>
        <span className="legend legend-dropped">dropped {last ? last.dropped : 0}/s</span>
        <span className="muted">peak {max}/s · 2 min</span>
      </figcaption>
    </figure>
  );
}
