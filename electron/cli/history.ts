// SPDX-License-Identifier: Apache-2.0
// Environment: Node (CLI). No Electron import.
//
// `net-tc-filter history [--show N]`: the applied policies, newest first.
export interface HistoryOptions {
  pinDir: string;
  show?: number;
  json: boolean;
}

export async function historyCommand(o: HistoryOptions): Promise<number> {
  process.stderr.write(`net-tc-filter: history is not implemented yet (${o.pinDir})\n`);
  return 2;
}
