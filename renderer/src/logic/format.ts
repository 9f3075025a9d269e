// SPDX-License-Identifier: Apache-2.0
// Environment: any (pure). Display helpers for the tables.

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** Local time as HH:MM:SS.mmm. */
export function formatTime(ms: number): string {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** `addr:port`, IPv6 in brackets; the port is left out when it is 0 (ICMP and friends). */
export function formatHostPort(addr: string, port: number, family?: 4 | 6): string {
  const v6 = family === 6 || (family === undefined && addr.includes(':'));
  const host = v6 ? `[${addr}]` : addr;
  return port > 0 ? `${host}:${port}` : host;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GiB`;
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}
