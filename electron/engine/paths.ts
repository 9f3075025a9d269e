// SPDX-License-Identifier: Apache-2.0
// Environment: Node (main process and CLI). No Electron import.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root: the nearest directory above this file holding package.json. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('cannot find the net-tc-filter package root');
}

/** The tc program object: the packaged copy in a packaged Electron app (electron-builder's
 * extraResources, beside app.asar), else the local build, else the committed prebuilt copy. */
export function defaultObjectPath(): string {
  const resources = (process as { resourcesPath?: string }).resourcesPath;
  if (resources) {
    const packaged = join(resources, 'bpf/net_tc_filter.bpf.o');
    if (existsSync(packaged)) return packaged;
  }
  const root = packageRoot();
  const built = join(root, 'bpf/build/net_tc_filter.bpf.o');
  return existsSync(built) ? built : join(root, 'bpf/prebuilt/net_tc_filter.bpf.o');
}
