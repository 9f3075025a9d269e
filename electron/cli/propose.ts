// SPDX-License-Identifier: Apache-2.0
// Environment: Node (CLI). No Electron import.
//
// `net-tc-filter propose`: a policy that also allows what was observed dropped or would-drop.
// The enforced policy (the history's entry for the kernel's effective epoch) plus the flows `run`
// kept in the state directory (engine/observations.ts) merged with the live flow table, through
// policy/propose.ts. Prints the YAML; never applies anything. Read-only: works beside `run`.
import { escapeUntrusted } from '../../native-bridge/index.js';
import { Observations } from '../engine/observations.js';
import { PinTrustError, UNTRUSTED_EXIT } from '../engine/pintrust.js';
import { checkStateDir } from '../engine/statedir.js';
import { readStatus } from '../engine/status.js';
import { plural } from '../policy/propose.js';
import { loadAccountDb } from '../policy/resolve.js';
import { loadEnforcedPolicy, proposeFrom } from '../engine/enforced.js';

export interface ProposeOptions {
  pinDir: string;
  /** Only flows last seen within this many ms; undefined: all kept. */
  sinceMs?: number;
}

/** Exit 0: printed; 1: the enforced policy is not known or no longer resolves; 2
 * (UNTRUSTED_EXIT): a refused pin or state directory; 3: nothing is loaded (no current policy to
 * extend). */
export function proposeCommand(o: ProposeOptions): Promise<number> {
  try {
    return Promise.resolve(propose(o));
  } catch (err) {
    // A planted pin or state directory (or file in it): refused, named, with the fix.
    if (!(err instanceof PinTrustError)) throw err;
    process.stderr.write(`net-tc-filter: ${err.message}\n`);
    return Promise.resolve(UNTRUSTED_EXIT);
  }
}

function propose(o: ProposeOptions): number {
  const err = (m: string) => process.stderr.write(`net-tc-filter: ${m}\n`);
  const s = readStatus(o.pinDir, { flows: true });
  const trust = checkStateDir(o.pinDir, { create: false });
  const kept = trust ? Observations.load(trust) : new Observations();
  if (kept.loadWarning !== undefined) err(`warning: ${escapeUntrusted(kept.loadWarning)}`);

  if (!s.loaded) {
    err(
      `nothing is loaded at ${o.pinDir}: no current policy to extend` +
        (kept.size > 0 ? ` (${plural(kept.size, 'observed flow')} kept; start run again to use them)` : ''),
    );
    return 3;
  }
  const db = loadAccountDb();
  const enforced = loadEnforcedPolicy(s, db);
  if (!enforced.resolved || enforced.text === undefined) {
    err(
      `${enforced.problem ?? 'the enforced policy is not known'}; apply a policy (net-tc-filter apply --config FILE, ` +
        `or restart run) and run propose then`,
    );
    return 1;
  }

  // What run saved, plus what the kernel counted since (only the deltas: observe() knows the
  // counters run saw last). Nothing is saved here: run owns the file.
  const { result: r, summary } = proposeFrom({
    enforced: { resolved: enforced.resolved, text: enforced.text },
    observations: kept,
    flows: s.flows ?? [],
    db,
    ...(o.sinceMs !== undefined ? { sinceMs: o.sinceMs } : {}),
  });
  process.stdout.write(r.yaml);
  err(`${summary}${r.skipped.length > 0 ? ' (listed in the comment at the end)' : ''}; ` + `nothing applied`);
  return 0;
}
