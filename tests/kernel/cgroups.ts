// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest), as root. Real cgroups for tests: a slice of the test's own at the
// top of the cgroup v2 hierarchy (where systemd puts system.slice, so `unit:` entries find the
// "units" made in it), processes started inside one of them, and their removal afterwards
// (deepest first, any process left moved to the root). Used by the kernel and the browser tests.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Sandbox } from '../../electron/demo/sandbox.js';
import { cgroup2Mount } from '../../electron/policy/cgroups.js';

/** The cgroup v2 mount point (undefined: none; tests then fail under CI, see runIf). */
export const CGROUP_ROOT = cgroup2Mount();

export class TestCgroups {
  /** The test's slice below the root, e.g. "/ntft1234.slice". */
  readonly slice: string;

  constructor(readonly tag: string) {
    this.slice = `/${tag}.slice`;
  }

  private get root(): string {
    if (CGROUP_ROOT === undefined) throw new Error('no cgroup v2 hierarchy is mounted');
    return CGROUP_ROOT;
  }

  /** A unit's path in the test's slice ("/TAG.slice/NAME"). */
  unitPath(name: string): string {
    return `${this.slice}/${name}`;
  }

  /** Makes the cgroup (and its parents) below the hierarchy's root; returns its directory. */
  mk(path: string): string {
    const dir = join(this.root, path);
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  /** The argv that runs `argv` inside cgroup `path` (the shell enters it, then execs). */
  enter(path: string, argv: string[]): string[] {
    return ['sh', '-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', join(this.root, path), ...argv];
  }

  /** The sandbox's probe (probe.mjs ARGS) in the client namespace as `uid`, inside cgroup
   * `path`; its JSON answer. */
  probe(sb: Sandbox, path: string, uid: number, args: string[]): Record<string, unknown> {
    const [cmd, ...rest] = this.enter(
      path,
      sb.clientArgv(uid, [process.execPath, join(sb.dir, 'probe.mjs'), ...args]),
    );
    const out = execFileSync(cmd as string, rest, { encoding: 'utf8', timeout: 15_000 });
    return JSON.parse(out.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
  }

  /** Removes the test's slice and everything below it, deepest first. */
  remove(): void {
    if (CGROUP_ROOT === undefined) return;
    const top = join(CGROUP_ROOT, this.slice);
    if (!existsSync(top)) return;
    const dirs: string[] = [];
    const walk = (d: string, depth: number) => {
      if (depth > 16) return;
      dirs.push(d);
      for (const e of readdirSync(d, { withFileTypes: true }))
        if (e.isDirectory()) walk(join(d, e.name), depth + 1);
    };
    walk(top, 0);
    for (const d of dirs.reverse()) {
      for (const pid of readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
        try {
          writeFileSync(join(CGROUP_ROOT, 'cgroup.procs'), pid);
        } catch {
          // exited meanwhile
        }
      }
      for (let i = 0; i < 50; i++) {
        try {
          rmdirSync(d);
          break;
        } catch {
          execFileSync('sleep', ['0.02']);
        }
      }
    }
  }
}
