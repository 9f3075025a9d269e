// SPDX-License-Identifier: Apache-2.0
// Environment: Node, standalone (copied to a temp dir and run inside a network namespace;
// imports nothing but node: modules).
//
// The far end of the sandbox: a stand-in metadata service (HTTP on port 80) and a UDP echo
// service (port 7, and the DHCP server ports 67 and 547 for the tests that try to tunnel through
// the DHCP exemption), listening on every address of its namespace.
import { createServer } from 'node:http';
import { createSocket } from 'node:dgram';

let tcpRequests = 0;
let udpDatagrams = 0;

const http = createServer((req, res) => {
  tcpRequests++;
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end(req.url?.startsWith('/latest/meta-data') ? 'iam/security-credentials/demo-role\n' : 'ok\n');
});

const ECHO_PORTS = [7, 67, 547];
let ready = 0;
const up = () => {
  if (++ready === 1 + ECHO_PORTS.length) process.stdout.write('ready\n');
};
http.listen({ port: 80, host: '::', ipv6Only: false }, up);
for (const port of ECHO_PORTS) {
  const udp = createSocket({ type: 'udp6', ipv6Only: false });
  udp.on('message', (msg, rinfo) => {
    udpDatagrams++;
    udp.send(msg, rinfo.port, rinfo.address);
  });
  udp.bind({ port, address: '::' }, up);
}

// `kill -USR1` prints what arrived (tests compare it with what the kernel counted).
process.on('SIGUSR1', () => process.stdout.write(`${JSON.stringify({ tcpRequests, udpDatagrams })}\n`));
process.on('SIGTERM', () => process.exit(0));
// Never outlive the sandbox by much, whatever happens to the parent.
setTimeout(() => process.exit(0), 6 * 3600 * 1000).unref();
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
