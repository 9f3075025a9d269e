// SPDX-License-Identifier: Apache-2.0
// Environment: Node (CLI). No Electron import.
//
// One-shot commands on the pinned state: apply, reload, confirm, revert.
export interface ApplyOptions {
  pinDir: string;
  config?: string;
  fromHistory?: number;
  confirmS?: number;
}

export async function applyCommand(o: ApplyOptions): Promise<number> {
  process.stderr.write(`net-tc-filter: apply is not implemented yet (${o.pinDir})\n`);
  return 2;
}

export async function reloadCommand(o: { pinDir: string; confirmS?: number }): Promise<number> {
  process.stderr.write(`net-tc-filter: reload is not implemented yet (${o.pinDir})\n`);
  return 2;
}

export async function confirmCommand(o: { pinDir: string }): Promise<number> {
  process.stderr.write(`net-tc-filter: confirm is not implemented yet (${o.pinDir})\n`);
  return 2;
}

export async function revertCommand(o: { pinDir: string }): Promise<number> {
  process.stderr.write(`net-tc-filter: revert is not implemented yet (${o.pinDir})\n`);
  return 2;
}
