// SPDX-License-Identifier: Apache-2.0
// Environment: Node (CLI). No Electron import.
//
// `net-tc-filter propose`: a policy that also allows what was observed dropped or would-drop.
// The enforced policy (the history's entry for the kernel's effective epoch) plus the flows `run`
// kept in the state directory (engine/observations.ts) merged with the live flow table, through
// policy/propose.ts. Prints the YAML; never applies anything. Read-only: works beside `run`.
import { escapeUntrusted } from '../../native-bridge/index.js';
import { Observations } from '../engine/observations.js';
import { enforcedPolicy } from '../engine/history.js';
import { PinTrustError, UNTRUSTED_EXIT } from '../engine/pintrust.js';
import { checkStateDir } from '../engine/statedir.js';
import { readStatus } from '../engine/status.js';
import { hasErrors, loadPolicyText } from '../policy/load.js';
import { proposePolicy } from '../policy/propose.js';
import { loadAccountDb, userName } from '../policy/resolve.js';
import { diagnosticText } from './format.js';

export interface ProposeOptions {
  pinDir: string;
  /** Only flows last seen within this many ms; undefined: all kept. */
  sinceMs?: number;
}

function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
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
  if (s.stateId === undefined || s.epoch === undefined) {
    err(`the pinned state at ${o.pinDir} does not say which policy it enforces (no epoch or state identity)`);
    return 1;
  }
  const found = enforcedPolicy(o.pinDir, s.stateId, s.epoch);
  if (!found) {
    err(
      `the enforced policy (epoch ${s.epoch}) is not in the history at ${trust?.dir ?? 'the state directory'}; ` +
        `apply it again (net-tc-filter apply --config FILE, or restart run) and run propose then`,
    );
    return 1;
  }
  const db = loadAccountDb();
  const where = `the enforced policy (history #${found.entry.n}, epoch ${s.epoch})`;
  const loaded = loadPolicyText(found.text, where, db);
  if (hasErrors(loaded.diagnostics) || !loaded.resolved) {
    for (const d of loaded.diagnostics) if (d.severity === 'error') err(diagnosticText(d));
    err(`${where} no longer resolves against today's accounts; fix the accounts or apply a policy that does`);
    return 1;
  }

  // What run saved, plus what the kernel counted since (only the deltas: observe() knows the
  // counters run saw last). Nothing is saved here: run owns the file.
  const merged = kept.clone();
  merged.observe(s.flows ?? []);
  const now = Date.now();
  const observed = merged.entries({ now, ...(o.sinceMs !== undefined ? { sinceMs: o.sinceMs } : {}) });

  const r = proposePolicy({
    text: found.text,
    resolved: loaded.resolved,
    observed,
    userName: (uid) => userName(db, uid),
    now,
  });
  process.stdout.write(r.yaml);
  err(
    `${plural(observed.length, 'observed flow')} → ${plural(r.added, 'endpoint')} added, ` +
      `${r.skipped.length} skipped${r.skipped.length > 0 ? ' (listed in the comment at the end)' : ''}; ` +
      `nothing applied`,
  );
  return 0;
}
