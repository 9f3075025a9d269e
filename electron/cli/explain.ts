// SPDX-License-Identifier: Apache-2.0
// Environment: Node (CLI). No Electron import.
//
// `net-tc-filter explain`: the verdict for a user and destination, and why, in plain words.
export interface ExplainOptions {
  user: string;
  /** ADDR or ADDR:PORT ([v6]:PORT). */
  dest: string;
  iface?: string;
  proto?: 'tcp' | 'udp' | 'icmp';
  /** Default: the enforced policy (from the history of pinDir). */
  config?: string;
  pinDir: string;
  json: boolean;
}

export async function explainCommand(o: ExplainOptions): Promise<number> {
  process.stderr.write(`net-tc-filter: explain is not implemented yet (${o.dest})\n`);
  return 2;
}
