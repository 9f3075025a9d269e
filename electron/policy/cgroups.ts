// SPDX-License-Identifier: Apache-2.0
// Environment: Node (main process and CLI). No Electron import.
//
// The cgroup v2 hierarchy as unit:/cgroup: entries see it: where it is mounted (/sys/fs/cgroup,
// or elsewhere in hybrid setups, e.g. /sys/fs/cgroup/unified), the cgroup a systemd system unit
// runs in, and a cgroup's id — its directory's inode number, what bpf_skb_cgroup_id() reports.
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CgroupNode } from './types.js';

/** Where unit:/cgroup: entries are looked up. */
export interface CgroupTree {
  /** The hierarchy's mount point (for messages). */
  readonly root: string;
  /** The cgroup a system unit runs in now; undefined when it is not running. */
  unit(name: string): CgroupNode | undefined;
  /** The cgroup at `path` below the root ("/system.slice/x.service"); undefined when absent. */
  path(path: string): CgroupNode | undefined;
}

/** Where no cgroup v2 hierarchy is mounted: the error unit:/cgroup: entries get. */
export const NO_CGROUP2 =
  'no cgroup v2 hierarchy is mounted, and unit:/cgroup: entries match sockets by their cgroup v2 id (mount one: mount -t cgroup2 none /sys/fs/cgroup)';

/** The slices searched for a unit's cgroup: a unit sits directly in its slice, at most this deep. */
const MAX_SEARCH_DEPTH = 8;
/** A bound on the directories one unit search reads (a host has a few hundred). */
const MAX_SEARCH_DIRS = 20_000;

/** Decodes the octal escapes of /proc/self/mountinfo ("\040" is a space). */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/**
 * The cgroup v2 mount point in this mount namespace: /sys/fs/cgroup when it is one, else the first
 * cgroup2 mount of the hierarchy's root. Undefined when none is mounted.
 */
export function cgroup2Mount(mountinfo = '/proc/self/mountinfo'): string | undefined {
  let text: string;
  try {
    text = readFileSync(mountinfo, 'utf8');
  } catch {
    return undefined;
  }
  const found: string[] = [];
  for (const line of text.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right || right.split(' ')[0] !== 'cgroup2') continue;
    const f = left.split(' ');
    // The mount shows the hierarchy from its root only if field 4 (the root of the mount) is "/".
    if (f[3] !== '/' || f[4] === undefined) continue;
    found.push(unescapeMount(f[4]));
  }
  return found.includes('/sys/fs/cgroup') ? '/sys/fs/cgroup' : found[0];
}

/** The cgroup v2 hierarchy mounted at `root`. */
export function cgroupTreeAt(root: string): CgroupTree {
  const node = (path: string): CgroupNode | undefined => {
    try {
      const st = lstatSync(join(root, path), { bigint: true });
      if (!st.isDirectory()) return undefined;
      const id = Number(st.ino);
      const level = path === '/' ? 0 : path.split('/').length - 1;
      return { path, id, level };
    } catch {
      return undefined;
    }
  };
  return {
    root,
    path: node,
    unit(name: string): CgroupNode | undefined {
      // Breadth first through the slices (system units sit in system.slice or a slice of their
      // own), leaving out user.slice: the units there are user managers' and their sessions'.
      let level: string[] = ['/'];
      let read = 0;
      for (let depth = 0; depth < MAX_SEARCH_DEPTH && level.length > 0; depth++) {
        const next: string[] = [];
        for (const dir of level) {
          let names: string[];
          try {
            names = readdirSync(join(root, dir));
          } catch {
            continue;
          }
          if (++read > MAX_SEARCH_DIRS) return undefined;
          for (const n of names) {
            const path = dir === '/' ? `/${n}` : `${dir}/${n}`;
            if (n === name) {
              const found = node(path);
              if (found) return found;
            }
            if (n.endsWith('.slice') && path !== '/user.slice') next.push(path);
          }
        }
        level = next;
      }
      return undefined;
    },
  };
}

let system: CgroupTree | string | undefined;

/** This host's hierarchy, or NO_CGROUP2 (looked up once per process). */
export function systemCgroupTree(): CgroupTree | string {
  if (system === undefined) {
    const root = cgroup2Mount();
    system = root === undefined ? NO_CGROUP2 : cgroupTreeAt(root);
  }
  return system;
}
