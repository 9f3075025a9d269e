// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest), as root. A private mount namespace for the kernel tests that change
// what the system would share (bpffs modes, pins, /etc): its own bpffs at /sys/fs/bpf and /etc
// (optionally /var/lib too) as writable overlays of the real ones, so the machine's are never
// touched. It dies with its last process, also when the test fails.
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

export interface MountNsOptions {
  /** The test's temporary directory: the overlays' upper layers live in `<dir>/<name>-etc`. */
  dir: string;
  /** Mode of the namespace's bpffs at /sys/fs/bpf (e.g. '0700' as systemd mounts it). */
  bpfMode: string;
  /** Also overlay /var/lib (writable in the namespace only). */
  varLib?: boolean;
}

/** A private mount namespace, alive while its holder process (`cat` on a pipe from us) runs. */
export class MountNs {
  private constructor(
    readonly proc: ChildProcess,
    readonly pid: number,
  ) {}

  /** bpffs at /sys/fs/bpf with `opts.bpfMode`, /etc (and, with `opts.varLib`, /var/lib) as
   * writable overlays. */
  static async open(name: string, opts: MountNsOptions): Promise<MountNs> {
    const rw = join(opts.dir, `${name}-etc`);
    mkdirSync(rw);
    const script = [
      'set -e',
      `mount -t bpf -o mode=${opts.bpfMode} bpf /sys/fs/bpf`,
      'mount -t tmpfs -o mode=0700 tmpfs "$1"',
      'mkdir "$1/upper" "$1/work"',
      'mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1/upper,workdir=$1/work" /etc',
      ...(opts.varLib
        ? [
            'mkdir "$1/vupper" "$1/vwork"',
            'mount -t overlay overlay -o "lowerdir=/var/lib,upperdir=$1/vupper,workdir=$1/vwork" /var/lib',
          ]
        : []),
      'echo ready',
      'exec cat >/dev/null',
    ].join('\n');
    const proc = spawn(
      'unshare',
      ['--mount', '--propagation', 'private', '--', 'sh', '-c', script, 'sh', rw],
      {
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    proc.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        proc.kill('SIGKILL');
        reject(new Error('mount namespace not ready within 10 s'));
      }, 10_000);
      proc.stdout?.once('data', () => {
        clearTimeout(timer);
        resolve();
      });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`mount namespace setup exited with ${code}: ${stderr}`));
      });
    });
    return new MountNs(proc, proc.pid as number);
  }

  /** A path as seen inside the namespace (for the test, which is root). */
  at(p: string): string {
    return `/proc/${this.pid}/root${p}`;
  }

  /** Command prefix entering this mount namespace and, optionally, a sandbox's netns. */
  enter(netns?: string): string[] {
    return [
      'nsenter',
      `--mount=/proc/${this.pid}/ns/mnt`,
      ...(netns ? [`--net=/run/netns/${netns}`] : []),
      '--',
    ];
  }

  /** Runs a command inside as root and returns its stdout. */
  sh(args: string[]): string {
    const argv = [...this.enter(), ...args];
    return execFileSync(argv[0] as string, argv.slice(1), { encoding: 'utf8', timeout: 15_000 });
  }

  async close(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()));
    this.proc.stdin?.end();
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}
