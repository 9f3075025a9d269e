// SPDX-License-Identifier: Apache-2.0
// Environment: Node (CLI demo and kernel tests), as root. No Electron import.
//
// A throwaway network sandbox: a client namespace (where the filter runs and test users send
// from) and a server namespace (the far end), joined by veth pairs. Addresses are link-local
// and documentation ranges only; no traffic leaves the namespaces. Everything is removed by
// destroy(), which is also safe to call after a partial create().
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { copyFileSync, chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { packageRoot } from '../engine/paths.js';

export interface Link {
  /** Interface name in the client namespace (where the filter attaches). */
  name: string;
  peer: string;
  v4: { client: string; server: string; prefix: number }[];
  v6: { client: string; server: string; prefix: number }[];
}

/** Link 0 carries the metadata addresses and two documentation ranges; link 1 a third. */
export const LINKS: Link[] = [
  {
    name: 'ntf0',
    peer: 'ntf0p',
    v4: [
      { client: '169.254.169.1', server: '169.254.169.254', prefix: 24 },
      { client: '192.0.2.2', server: '192.0.2.1', prefix: 24 },
      { client: '198.51.100.2', server: '198.51.100.1', prefix: 24 },
    ],
    v6: [
      { client: 'fd00:ec2::1', server: 'fd00:ec2::254', prefix: 64 },
      { client: '2001:db8:1::2', server: '2001:db8:1::1', prefix: 64 },
      { client: '2001:db8:2::2', server: '2001:db8:2::1', prefix: 64 },
    ],
  },
  {
    name: 'ntf1',
    peer: 'ntf1p',
    v4: [{ client: '203.0.113.2', server: '203.0.113.1', prefix: 24 }],
    v6: [{ client: '2001:db8:3::2', server: '2001:db8:3::1', prefix: 64 }],
  },
];

function ip(args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
}

/** The built standalone helpers (also when this module runs from source, as in tests). */
function helpersDir(): string {
  const dir = join(packageRoot(), 'dist/electron/demo');
  if (!existsSync(join(dir, 'probe.js')))
    throw new Error(`${dir}/probe.js is missing: run \`npm run build\``);
  return dir;
}

export class Sandbox {
  readonly client: string;
  readonly server: string;
  readonly links: Link[];
  /** Temp dir (mode 0755) holding the probe, the peer and any files tests write. */
  readonly dir: string;
  private readonly children = new Set<ChildProcess>();
  private peerProc: ChildProcess | undefined;
  private lan: string | undefined;

  private constructor(prefix: string, links: Link[]) {
    this.client = `${prefix}-c`;
    this.server = `${prefix}-s`;
    this.links = links;
    this.dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
    chmodSync(this.dir, 0o755);
  }

  /** Creates the namespaces and links. `prefix` must be unique on the machine (e.g. with the pid). */
  static create(prefix: string, linkCount = 1): Sandbox {
    const sb = new Sandbox(prefix, LINKS.slice(0, linkCount));
    try {
      sb.setup();
    } catch (err) {
      sb.destroy();
      throw err;
    }
    return sb;
  }

  private setup(): void {
    // Standalone helpers run under test uids: copy them where any uid can read them.
    for (const f of ['probe', 'peer']) {
      const src = join(helpersDir(), `${f}.js`);
      copyFileSync(src, join(this.dir, `${f}.mjs`));
      chmodSync(join(this.dir, `${f}.mjs`), 0o644);
    }
    ip(['netns', 'add', this.client]);
    ip(['netns', 'add', this.server]);
    for (const ns of [this.client, this.server]) {
      // No duplicate address detection: addresses (link-local ones too) are usable at once.
      execFileSync(
        'ip',
        [
          'netns',
          'exec',
          ns,
          'sysctl',
          '-qw',
          'net.ipv6.conf.all.accept_dad=0',
          'net.ipv6.conf.default.accept_dad=0',
        ],
        { timeout: 10_000 },
      );
    }
    ip(['-n', this.client, 'link', 'set', 'lo', 'up']);
    ip(['-n', this.server, 'link', 'set', 'lo', 'up']);
    for (const l of this.links) this.addLink(l);
  }

  private addLink(l: Link, index?: number): void {
    ip([
      '-n',
      this.client,
      'link',
      'add',
      l.name,
      ...(index === undefined ? [] : ['index', String(index)]),
      'type',
      'veth',
      'peer',
      'name',
      l.peer,
      'netns',
      this.server,
    ]);
    for (const a of l.v4) {
      ip(['-n', this.client, 'addr', 'add', `${a.client}/${a.prefix}`, 'dev', l.name]);
      ip(['-n', this.server, 'addr', 'add', `${a.server}/${a.prefix}`, 'dev', l.peer]);
    }
    for (const a of l.v6) {
      ip(['-n', this.client, 'addr', 'add', `${a.client}/${a.prefix}`, 'dev', l.name, 'nodad']);
      ip(['-n', this.server, 'addr', 'add', `${a.server}/${a.prefix}`, 'dev', l.peer, 'nodad']);
    }
    ip(['-n', this.client, 'link', 'set', l.name, 'up']);
    ip(['-n', this.server, 'link', 'set', l.peer, 'up']);
  }

  /** The client namespace as a router: a third namespace (`lan`, 198.18.0.2) whose traffic the
   * client forwards out of ntf0. Forwarded packets have no local socket ("unowned"). */
  addLan(): void {
    const lan = `${this.client.slice(0, -2)}-l`;
    this.lan = lan;
    ip(['netns', 'add', lan]);
    ip(['-n', lan, 'link', 'set', 'lo', 'up']);
    ip(['-n', this.client, 'link', 'add', 'ntfl', 'type', 'veth', 'peer', 'name', 'ntflp', 'netns', lan]);
    ip(['-n', this.client, 'addr', 'add', '198.18.0.1/24', 'dev', 'ntfl']);
    ip(['-n', lan, 'addr', 'add', '198.18.0.2/24', 'dev', 'ntflp']);
    ip(['-n', this.client, 'link', 'set', 'ntfl', 'up']);
    ip(['-n', lan, 'link', 'set', 'ntflp', 'up']);
    ip(['-n', lan, 'route', 'add', 'default', 'via', '198.18.0.1']);
    ip(['-n', this.server, 'route', 'add', '198.18.0.0/24', 'via', '192.0.2.2']);
    execFileSync('ip', ['netns', 'exec', this.client, 'sysctl', '-qw', 'net.ipv4.ip_forward=1'], {
      timeout: 10_000,
    });
  }

  /** Runs the probe (as root) in the lan namespace; its packets are forwarded by the client. */
  probeLan(args: string[], timeoutMs = 15_000): Record<string, unknown> {
    if (!this.lan) throw new Error('addLan() first');
    const out = execFileSync(
      'ip',
      ['netns', 'exec', this.lan, process.execPath, join(this.dir, 'probe.mjs'), ...args],
      {
        encoding: 'utf8',
        timeout: timeoutMs,
      },
    );
    return JSON.parse(out.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
  }

  /** Deletes link `i` and creates it again (new ifindex, or `index`; same name and addresses). */
  recreateLink(i: number, index?: number): void {
    const l = this.links[i];
    if (!l) throw new Error(`no link ${i}`);
    ip(['-n', this.client, 'link', 'del', l.name]);
    this.addLink(l, index);
  }

  /** Starts the HTTP + UDP echo peer in the server namespace; resolves once it listens. */
  async startPeer(): Promise<void> {
    const p = spawn('ip', ['netns', 'exec', this.server, process.execPath, join(this.dir, 'peer.mjs')], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    this.children.add(p);
    this.peerProc = p;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('peer did not start within 10 s')), 10_000);
      p.stdout?.once('data', () => {
        clearTimeout(timer);
        resolve();
      });
      p.once('exit', (code) => reject(new Error(`peer exited with ${code}`)));
    });
    this.warmUp();
  }

  /** Resolves every neighbour once (as root, before any filter): the first IPv6 packets on a
   * fresh veth can be lost while the link settles, and tests must not mistake that for a drop. */
  private warmUp(): void {
    for (const l of this.links) {
      for (const a of [...l.v4, ...l.v6]) {
        let ok = false;
        for (let attempt = 0; attempt < 10 && !ok; attempt++) {
          const r = this.probe(0, ['udp', a.server, '7', '1', '200']);
          ok = r.received === 1;
        }
        if (!ok) throw new Error(`sandbox: ${a.server} does not answer on ${l.name}`);
      }
    }
  }

  /** The argv (from `ip`) that runs `command` in the client namespace as `uid` (root when 0, as
   * it is), with no supplementary groups. */
  clientArgv(uid: number, command: string[]): string[] {
    const user = uid === 0 ? [] : ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups'];
    return ['ip', 'netns', 'exec', this.client, ...user, ...command];
  }

  /** Runs the probe in the client namespace as `uid` (root when 0). Returns its JSON answer. */
  probe(uid: number, args: string[], timeoutMs = 15_000): Record<string, unknown> {
    const [cmd, ...argv] = this.clientArgv(uid, [process.execPath, join(this.dir, 'probe.mjs'), ...args]);
    const out = execFileSync(cmd as string, argv, {
      encoding: 'utf8',
      timeout: timeoutMs,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return JSON.parse(out.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
  }

  /** Asynchronous probe, for traffic that must flow while something else happens. */
  probeAsync(uid: number, args: string[], timeoutMs = 60_000): Promise<Record<string, unknown>> {
    const [cmd, ...argv] = this.clientArgv(uid, [process.execPath, join(this.dir, 'probe.mjs'), ...args]);
    return new Promise((resolve, reject) => {
      const p = spawn(cmd as string, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
      this.children.add(p);
      let out = '';
      const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
      p.stdout?.on('data', (c: Buffer) => (out += c.toString()));
      p.on('exit', (code) => {
        clearTimeout(timer);
        this.children.delete(p);
        try {
          resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as Record<string, unknown>);
        } catch {
          reject(new Error(`probe ${args.join(' ')} exited with ${code} and no answer`));
        }
      });
    });
  }

  /** Command prefix that enters only the client's network namespace: the mount namespace,
   * and so /sys/fs/bpf, stay the host's (unlike `ip netns exec`). */
  nsenter(): string[] {
    return ['nsenter', `--net=/run/netns/${this.client}`, '--'];
  }

  /** Runs a command in the client namespace (root). */
  execClient(args: string[]): string {
    return execFileSync('ip', ['netns', 'exec', this.client, ...args], { encoding: 'utf8', timeout: 15_000 });
  }

  writeFile(name: string, text: string): string {
    const path = join(this.dir, name);
    writeFileSync(path, text);
    return path;
  }

  /** Starts `net-tc-filter <args>` in the client namespace and reads its JSON lines. */
  startEngine(cli: string, args: string[], env: Record<string, string> = {}): EngineProcess {
    const p = spawn(
      this.nsenter()[0] as string,
      [...this.nsenter().slice(1), process.execPath, cli, ...args],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, ...env },
      },
    );
    this.children.add(p);
    return new EngineProcess(p);
  }

  /** What the peer has received so far. */
  async peerCounts(): Promise<{ tcpRequests: number; udpDatagrams: number }> {
    const p = this.peerProc;
    if (!p?.stdout) throw new Error('peer not started');
    const line = new Promise<string>((resolve) =>
      p.stdout?.once('data', (c: Buffer) => resolve(c.toString())),
    );
    p.kill('SIGUSR1');
    return JSON.parse((await line).trim()) as { tcpRequests: number; udpDatagrams: number };
  }

  destroy(): void {
    for (const c of this.children) {
      if (c.exitCode === null) c.kill('SIGKILL');
    }
    this.children.clear();
    for (const ns of [this.client, this.server, ...(this.lan ? [this.lan] : [])]) {
      try {
        ip(['netns', 'del', ns]);
      } catch {
        // not created, or already gone
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A running `net-tc-filter run --log json` with its output parsed line by line. */
export class EngineProcess {
  readonly proc: ChildProcess;
  readonly lines: Record<string, unknown>[] = [];
  stderr = '';
  private waiters: Array<{
    pred: (l: Record<string, unknown>) => boolean;
    resolve: (l: Record<string, unknown>) => void;
  }> = [];
  readonly exited: Promise<number | null>;

  constructor(p: ChildProcess) {
    this.proc = p;
    p.stderr?.on('data', (c: Buffer) => (this.stderr += c.toString()));
    const rl = createInterface({ input: p.stdout as NodeJS.ReadableStream });
    rl.on('line', (text) => {
      let obj: Record<string, unknown>;
      try {
        obj = JSON.parse(text) as Record<string, unknown>;
      } catch {
        obj = { type: 'text', text };
      }
      this.lines.push(obj);
      this.waiters = this.waiters.filter((w) => {
        if (!w.pred(obj)) return true;
        w.resolve(obj);
        return false;
      });
    });
    // 'close' (not 'exit'): stdout and stderr are fully read by then.
    this.exited = new Promise((resolve) => p.on('close', (code) => resolve(code)));
  }

  /** Resolves with the first line (past or future) matching pred; rejects after timeoutMs. */
  waitFor(
    pred: (l: Record<string, unknown>) => boolean,
    timeoutMs = 20_000,
    from = 0,
  ): Promise<Record<string, unknown>> {
    const seen = this.lines.slice(from).find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out waiting for engine output; stderr: ${this.stderr.slice(-2000)}`)),
        timeoutMs,
      );
      const onExit = () => reject(new Error(`engine exited; stderr: ${this.stderr.slice(-2000)}`));
      void this.exited.then(onExit);
      this.waiters.push({
        pred,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      });
    });
  }

  ofType(type: string): Record<string, unknown>[] {
    return this.lines.filter((l) => l.type === type);
  }

  signal(sig: NodeJS.Signals): void {
    this.proc.kill(sig);
  }
}
