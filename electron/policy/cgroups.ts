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
  /** The directories a unit is looked for in: the root and the slices below it (not user.slice),
   * as paths below the root. */
  slices(): string[];
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
  /**
   * Breadth first through the slices (system units sit in system.slice or a slice of their own),
   * leaving out user.slice: the units there are user managers' and their sessions'. Stops at the
   * first directory named `name` (undefined: every slice), returns it and the slices read.
   */
  const walk = (name: string | undefined): { found?: CgroupNode; slices: string[] } => {
    const slices: string[] = [];
    let level: string[] = ['/'];
    for (let depth = 0; depth < MAX_SEARCH_DEPTH && level.length > 0; depth++) {
      const next: string[] = [];
      for (const dir of level) {
        let names: string[];
        try {
          names = readdirSync(join(root, dir));
        } catch {
          continue;
        }
        slices.push(dir);
        if (slices.length > MAX_SEARCH_DIRS) return { slices };
        for (const n of names) {
          const path = dir === '/' ? `/${n}` : `${dir}/${n}`;
          if (n === name) {
            const found = node(path);
            if (found) return { found, slices };
          }
          if (n.endsWith('.slice') && path !== '/user.slice') next.push(path);
        }
      }
      level = next;
    }
    return { slices };
  };
  return {
    root,
    path: node,
    unit: (name: string) => walk(name).found,
    slices: () => walk(undefined).slices,
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

/** Where an entry's cgroup is now. */
export function locate(tree: CgroupTree, kind: 'unit' | 'cgroup', name: string): CgroupNode | undefined {
  return kind === 'unit' ? tree.unit(name) : tree.path(name);
}

/**
 * The directories to watch (inotify) for the cgroups of these entries to appear, go or be made
 * again: a unit's slice (every slice while it is not running: it may start in any), a cgroup
 * path's existing ancestors. Paths below the tree's root.
 */
export function watchDirs(
  tree: CgroupTree,
  entries: ReadonlyArray<{ kind: 'unit' | 'cgroup'; name: string; now?: CgroupNode | undefined }>,
): string[] {
  const dirs = new Set<string>();
  const parent = (p: string) => (p.lastIndexOf('/') <= 0 ? '/' : p.slice(0, p.lastIndexOf('/')));
  let slices: string[] | undefined;
  for (const e of entries) {
    if (e.kind === 'unit' && e.now) dirs.add(parent(e.now.path));
    else if (e.kind === 'unit') for (const d of (slices ??= tree.slices())) dirs.add(d);
    else {
      // The nearest ancestor that exists (the path may be made one level at a time: each
      // mkdir there makes the next look go one deeper).
      let p = parent(e.name);
      for (let i = 0; i < 64 && p !== '/' && !tree.path(p); i++) p = parent(p);
      dirs.add(p);
    }
  }
  return [...dirs];
}

/** The systemd unit a cgroup path belongs to: its first component below the slices that is a
 * service or a scope ("/system.slice/nginx.service/worker" → nginx.service). */
export function unitOfPath(path: string): string | null {
  for (const part of path.split('/').slice(1)) {
    if (part.endsWith('.slice')) continue;
    return part.endsWith('.service') || part.endsWith('.scope') ? part : null;
  }
  return null;
}

/** How many directories one rebuild of the id → path index reads at most. */
const MAX_INDEX_DIRS = 100_000;
/** The index is rebuilt at most this often (an unknown id otherwise stays unknown until then). */
const INDEX_REFRESH_MS = 1000;

/** Names cgroup ids (what the kernel reports per socket) by their paths below the root. */
export class CgroupNames {
  private byId = new Map<number, string>();
  private builtAt = -Infinity;

  constructor(private readonly tree: () => CgroupTree | string = systemCgroupTree) {}

  /** The path of cgroup `id` (null: 0, unknown, or no cgroup v2 hierarchy). */
  path(id: number, now = performance.now()): string | null {
    if (id === 0) return null;
    const known = this.byId.get(id);
    if (known !== undefined) return known;
    if (now - this.builtAt < INDEX_REFRESH_MS) return null;
    this.builtAt = now;
    this.rebuild();
    return this.byId.get(id) ?? null;
  }

  private rebuild(): void {
    const t = this.tree();
    if (typeof t === 'string') return;
    const out = new Map<number, string>();
    const stack = ['/'];
    for (let n = 0; n < MAX_INDEX_DIRS && stack.length > 0; n++) {
      const dir = stack.pop() as string;
      const node = t.path(dir);
      if (!node) continue;
      out.set(node.id, dir);
      let entries;
      try {
        entries = readdirSync(join(t.root, dir), { withFileTypes: true });
      } catch {
        continue;
      }
      for (const e of entries)
        if (e.isDirectory()) stack.push(dir === '/' ? `/${e.name}` : `${dir}/${e.name}`);
    }
    this.byId = out;
  }
}
