// SPDX-License-Identifier: Apache-2.0
// Environment: Node (CLI), as root. No Electron import.
//
// `net-tc-filter demo`: the filter at work without touching the host's interfaces. A sandbox
// of two network namespaces, a stand-in metadata service at 169.254.169.254 and
// fd00:ec2::254, and two users: metadata-reader (allowed) and intruder (not). The real
// `run` command enforces a real policy on the sandbox's interface; this prints its decisions.
import { existsSync, rmdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { STATE_ROOT, stateDirFor } from '../engine/statedir.js';
import { fileURLToPath } from 'node:url';
import { Sandbox } from '../demo/sandbox.js';
import type { EngineProcess } from '../demo/sandbox.js';

const READER = 61001;
const INTRUDER = 61002;

const POLICY = `# net-tc-filter demo policy: only metadata-reader may reach the metadata service.
endpoints:
  - imds:
      iface: [ntf0]
      range: [169.254.169.254/32, fd00:ec2::254/128]
      allow: [metadata-reader]
interfaces:
  ntf0:
    default: allow   # everything else on ntf0 stays reachable for everyone
logging:
  allowed: sample  # allowed flows once a second; drops always
`;

export async function demoCommand(o: { durationS: number; pinDir?: string }): Promise<number> {
  if (process.getuid?.() !== 0) {
    process.stderr.write('net-tc-filter demo creates network namespaces: run it as root (sudo).\n');
    return 2;
  }
  const tag = `ntfd${process.pid}`;
  const pinDir = o.pinDir ?? `/sys/fs/bpf/net-tc-filter-demo-${process.pid}`;
  // The host stays untouched: the state directory `run` makes for the demo's own pin directory
  // (history, observations) goes with it, and so do the parents it had to make.
  const madeDirs = o.pinDir
    ? []
    : [stateDirFor(pinDir), STATE_ROOT, dirname(STATE_ROOT)].filter((d) => !existsSync(d));
  const removeState = () => {
    if (o.pinDir) return;
    rmSync(stateDirFor(pinDir), { recursive: true, force: true });
    for (const d of madeDirs.slice(1)) {
      try {
        rmdirSync(d); // only when empty: someone else may have started using it meanwhile
      } catch {
        // not empty, or gone
      }
    }
  };
  const say = (s: string) => process.stdout.write(`${s}\n`);
  let sb: Sandbox | undefined;
  let engine: EngineProcess | undefined;
  let stopping = false;
  const cleanup = async () => {
    if (engine && engine.proc.exitCode === null) {
      engine.signal('SIGTERM');
      await Promise.race([engine.exited, new Promise((r) => setTimeout(r, 5000))]);
    }
    sb?.destroy();
    removeState();
  };
  const onSignal = () => {
    stopping = true;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // A closed terminal or pipe must still end in a clean-up, not a crash on EPIPE.
  process.stdout.on('error', onSignal);
  try {
    say('net-tc-filter demo: creating a sandbox (network namespaces, veth ntf0, a fake metadata service)…');
    sb = Sandbox.create(tag, 1);
    await sb.startPeer();
    const passwd = sb.writeFile(
      'passwd',
      'root:x:0:0:root:/root:/bin/sh\n' +
        `metadata-reader:x:${READER}:${READER}:demo user allowed to read metadata:/nonexistent:/usr/sbin/nologin\n` +
        `intruder:x:${INTRUDER}:${INTRUDER}:demo user standing in for malware:/nonexistent:/usr/sbin/nologin\n`,
    );
    const group = sb.writeFile('group', `metadata-reader:x:${READER}:\nintruder:x:${INTRUDER}:\n`);
    const config = sb.writeFile('demo.yml', POLICY);
    say(`policy (${config}):\n${POLICY.replace(/^/gm, '  | ')}`);
    const cli = fileURLToPath(new URL('./main.js', import.meta.url));
    engine = sb.startEngine(
      cli,
      [
        'run',
        '--config',
        config,
        '--log',
        'json',
        '--pin-dir',
        pinDir,
        '--unload-on-exit',
        '--stats-interval',
        '5',
        // Every decision as it comes: the demo shows them next to each request.
        '--log-interval',
        '0',
      ],
      { NET_TC_FILTER_PASSWD: passwd, NET_TC_FILTER_GROUP: group },
    );
    const ready = await engine.waitFor((l) => l.type === 'ready', 20_000);
    say(`filter attached to ntf0 (program ${String(ready.programId)}, pinned at ${pinDir})\n`);
    say('TIME         VERDICT IFACE  USER             PROTO  DESTINATION                    REASON');
    let shown = 0;
    const printNew = () => {
      for (const l of engine?.lines.slice(shown) ?? []) {
        shown++;
        if (l.type === 'decision') {
          const dst = String(l.proto).startsWith('icmp')
            ? String(l.dst)
            : String(l.family) === '6'
              ? `[${String(l.dst)}]:${String(l.dport)}`
              : `${String(l.dst)}:${String(l.dport)}`;
          const verdict = l.verdict === 'allow' ? 'ALLOW  ' : 'DROP   ';
          say(
            `${String(l.time).slice(11, 23)} ${verdict} ${String(l.iface).padEnd(6)} ${String(l.user).padEnd(16)} ` +
              `${String(l.proto).padEnd(6)} ${dst.padEnd(30)} ${String(l.reason)}${l.endpoint ? ` (${String(l.endpoint)})` : ''}`,
          );
        } else if (l.type === 'stats') {
          say(
            `-- kernel counters: ${String(l.allowed)} allowed, ${String(l.dropped)} dropped, ${String(l.lost)} events lost`,
          );
        }
      }
    };
    const deadline = Date.now() + o.durationS * 1000;
    const targets = ['http://169.254.169.254/latest/meta-data/', 'http://[fd00:ec2::254]/latest/meta-data/'];
    for (let round = 0; !stopping && Date.now() < deadline && round < 10_000; round++) {
      for (const [uid, who] of [
        [READER, 'metadata-reader'],
        [INTRUDER, 'intruder'],
      ] as const) {
        const url = targets[round % 2] as string;
        const r = await sb.probeAsync(uid, ['http', url, '800'], 10_000);
        await new Promise((res) => setTimeout(res, 250)); // the engine drains every 100 ms
        printNew();
        say(
          `   ${who.padEnd(16)} GET ${url} → ${r.ok ? `${String(r.status)} ${JSON.stringify(String(r.body).trim())}` : `failed (${String(r.error)})`}`,
        );
        if (stopping) break;
      }
      await new Promise((r) => setTimeout(r, 700));
      printNew();
    }
    engine.signal('SIGTERM');
    await Promise.race([engine.exited, new Promise((r) => setTimeout(r, 5000))]);
    printNew();
    say('\ndemo finished: the sandbox, the filter and its pins are removed.');
    return 0;
  } catch (err) {
    // Ctrl-C in a terminal interrupts the probes, the peer and the engine too: not a failure.
    if (stopping) {
      say('\ninterrupted: the sandbox, the filter and its pins are removed.');
      return 0;
    }
    process.stderr.write(`demo failed: ${(err as Error).message}\n${engine?.stderr ?? ''}`);
    return 1;
  } finally {
    await cleanup();
  }
}
