// SPDX-License-Identifier: Apache-2.0
// Environment: Node (main process, worker thread and CLI). No Electron import.
//
// Follows the cgroups a policy's unit:/cgroup: entries name. A unit that restarts gets a new
// cgroup, with a new id, at the same path: inotify on the directories it appears in (its slice,
// a path's nearest existing ancestor; cgroupfs reports mkdir and rmdir) says when to look again,
// and a look every RESCAN_MS catches what a watch may miss (a directory made before it was armed).
import { watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { join } from 'node:path';
import type { CgroupTree } from '../policy/cgroups.js';

/** Looked at again this often even without an event. */
export const CGROUP_RESCAN_MS = 1000;

export class CgroupWatch {
  private readonly watchers = new Map<string, FSWatcher>();
  private dirty = true;
  private last = -Infinity;

  constructor(readonly tree: CgroupTree) {}

  /** True (once) when a watched directory changed, or CGROUP_RESCAN_MS passed. */
  due(now = performance.now()): boolean {
    if (!this.dirty && now - this.last < CGROUP_RESCAN_MS) return false;
    this.dirty = false;
    this.last = now;
    return true;
  }

  /** Watches exactly these directories (paths below the tree's root) from now on. */
  arm(dirs: readonly string[]): void {
    const want = new Set(dirs);
    for (const [d, w] of this.watchers)
      if (!want.has(d)) {
        w.close();
        this.watchers.delete(d);
      }
    for (const d of want) {
      if (this.watchers.has(d)) continue;
      try {
        const w = watch(join(this.tree.root, d), { persistent: false }, () => (this.dirty = true));
        w.on('error', () => {
          w.close();
          this.watchers.delete(d);
          this.dirty = true;
        });
        this.watchers.set(d, w);
      } catch {
        // Gone already: the next look finds out, and arms its parent instead.
        this.dirty = true;
      }
    }
  }

  close(): void {
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
  }
}
