// SPDX-License-Identifier: Apache-2.0
// Environment: Node, standalone (copied to a temp dir and run under a test uid inside a
// network namespace; imports nothing but node: modules).
//
// Sends traffic and reports on one JSON line what came back:
//   probe http URL [timeoutMs]          → {"ok":true,"status":200,"body":"..."} | {"ok":false,"error":"..."}
//   probe udp HOST PORT COUNT [waitMs] [perMs] [sport]  → {"sent":N,"received":M}  (echo service;
//                                       perMs: paced, that many datagrams per millisecond)
//   probe flood HOST PORT COUNT         → {"sent":N}  (fire and forget, as fast as possible)
import { request } from 'node:http';
import { createSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';

const [mode, a, b, c, d] = process.argv.slice(2);
const done = (o: unknown) => {
  process.stdout.write(`${JSON.stringify(o)}\n`);
  process.exit(0);
};

if (mode === 'http') {
  const timeout = Number(b ?? 1000);
  const req = request(a ?? '', { timeout }, (res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => (body += chunk));
    res.on('end', () => done({ ok: true, status: res.statusCode, body }));
  });
  req.on('timeout', () => req.destroy(new Error('timed out')));
  req.on('error', (err) => done({ ok: false, error: err.message }));
  req.end();
} else if (mode === 'udp' || mode === 'flood') {
  const host = a ?? '';
  const port = Number(b);
  const count = Math.min(Number(c ?? 1), 1_000_000);
  const sock = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
  let received = 0;
  sock.on('message', () => {
    received++;
    if (mode === 'udp' && received === count) finish();
  });
  const payload = Buffer.alloc(16, 0x61);
  let sent = 0;
  const finish = () => {
    sock.close();
    done(mode === 'udp' ? { sent, received } : { sent });
  };
  const perMs = Number(process.argv[7] ?? 0);
  const sendNext = () => {
    // Send in bursts, yielding between them so replies are read as they come.
    for (let i = 0; i < (perMs || 64) && sent < count; i++, sent++) sock.send(payload, port, host);
    if (sent < count && perMs) setTimeout(sendNext, 1);
    else if (sent < count) setImmediate(sendNext);
    else if (mode === 'flood') setTimeout(finish, 50);
    else setTimeout(finish, Number(d ?? 500));
  };
  // Optional source port (e.g. 68, to test the DHCP exemption; needs root).
  sock.bind(Number(process.argv[8] ?? 0), sendNext);
} else {
  process.stderr.write(
    'usage: probe http URL [timeoutMs] | udp HOST PORT COUNT [waitMs] | flood HOST PORT COUNT\n',
  );
  process.exit(64);
}
