// SPDX-License-Identifier: Apache-2.0
// Environment: Node (CLI). No Electron import.
//
// `net-tc-filter propose`: a policy that also allows what was observed dropped or would-drop.
export interface ProposeOptions {
  pinDir: string;
  /** Only flows last seen within this many ms; undefined: all kept. */
  sinceMs?: number;
}

export async function proposeCommand(o: ProposeOptions): Promise<number> {
  process.stderr.write(`net-tc-filter: propose is not implemented yet (${o.pinDir})\n`);
  return 2;
}
