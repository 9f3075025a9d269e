// SPDX-License-Identifier: Apache-2.0
// Environment: Node (main process and CLI). No Electron import.
//
// `net-tc-filter run`: the engine without a window. Decisions to stdout; SIGHUP re-reads the
// config and applies it atomically (a bad file keeps the old policy); SIGINT/SIGTERM exit 0
// and leave enforcement pinned unless --unload-on-exit.
import { DRAIN_BATCH, Engine, EngineLockedError } from '../engine/engine.js';
import type { ApplyResult } from '../engine/engine.js';
import { hasErrors, loadPolicyFile } from '../policy/load.js';
import { loadAccountDb, userName } from '../policy/resolve.js';
import type { AccountDb } from '../policy/resolve.js';
import type { Diagnostic } from '../policy/types.js';
import { decisionJson, decisionText, diagnosticJson, diagnosticText } from './format.js';
import type { NamedDecision } from './format.js';

export interface RunOptions {
  config: string;
  log: 'text' | 'json';
  pinDir: string;
  unloadOnExit: boolean;
  statsIntervalMs: number;
  ringBytes?: number;
}

const DRAIN_INTERVAL_MS = 100;
/** Bytes of decisions waiting for a slow stdout reader before we stop draining. */
const MAX_PENDING_OUTPUT = 16 << 20;
/** Drain calls at exit (DRAIN_BATCH records each): more than a default ring holds. */
const FINAL_DRAIN_CALLS = 32;
const RECONCILE_INTERVAL_MS = 1000;

export async function runCommand(o: RunOptions): Promise<number> {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const json = o.log === 'json';
  const emit = (obj: Record<string, unknown>, text: string) => out(json ? JSON.stringify(obj) : text);
  const report = (diags: Diagnostic[]) => {
    for (const d of diags) {
      if (json) out(JSON.stringify({ type: d.severity, ...diagnosticJson(d) }));
      else process.stderr.write(`${diagnosticText(d)}\n`);
    }
  };

  // Signal handlers first: a SIGHUP or SIGTERM that arrives while we start up must not kill
  // the process half-way (SIGHUP's default action); it is queued and handled once running.
  const queued: NodeJS.Signals[] = [];
  let onSignal = (sig: NodeJS.Signals) => void queued.push(sig);
  const listeners = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((sig) => {
    const l = () => onSignal(sig);
    process.on(sig, l);
    return [sig, l] as const;
  });
  const unlisten = () => listeners.forEach(([sig, l]) => process.off(sig, l));
  const stopQueued = () => queued.some((s) => s !== 'SIGHUP');

  let db: AccountDb = loadAccountDb();
  const first = loadPolicyFile(o.config, db);
  report(first.diagnostics);
  if (hasErrors(first.diagnostics) || !first.resolved) {
    process.stderr.write(`${o.config}: not applied (errors above)\n`);
    unlisten();
    return 1;
  }

  let engine: Engine;
  try {
    engine = Engine.open({ pinDir: o.pinDir, ringBytes: o.ringBytes });
  } catch (err) {
    process.stderr.write(`net-tc-filter: ${(err as Error).message}\n`);
    unlisten();
    return err instanceof EngineLockedError ? 3 : 2;
  }

  const applied = (r: ApplyResult, type: string) => {
    const names = r.attached.map((a) => a.name).join(', ') || 'none';
    if (r.unexpected.length) {
      const message = `the pinned policy maps held entries this engine did not write (someone else can write them: check who can open the pins in ${engine.pinDir}); put right`;
      if (json) out(JSON.stringify({ type: 'warning', message, unexpected: r.unexpected }));
      else process.stderr.write(`warning: ${message}:\n${r.unexpected.map((u) => `  ${u}`).join('\n')}\n`);
    }
    emit(
      {
        type,
        epoch: r.epoch,
        pinDir: engine.pinDir,
        adopted: engine.adopted,
        programId: engine.programId,
        interfaces: r.attached,
        detached: r.detached,
        missing: r.missing,
        ranges: r.lpmEntries,
        setEntries: r.setEntries,
        changes: r.changes,
        ...(r.mirrorError ? { mirrorError: r.mirrorError } : {}),
        applyMs: Math.round(r.totalMs * 10) / 10,
      },
      `${type === 'ready' ? 'enforcing' : 'applied'} policy ${r.epoch} on ${names}` +
        (r.missing.length ? ` (waiting for ${r.missing.join(', ')})` : '') +
        ` — program ${engine.programId}${engine.adopted ? ', adopted pinned state' : ''}`,
    );
  };

  try {
    applied(engine.apply(first.resolved), 'ready');
  } catch (err) {
    process.stderr.write(`net-tc-filter: apply failed, nothing changed: ${(err as Error).message}\n`);
    // State created just now enforces nothing: remove it. Adopted state keeps enforcing.
    engine.close({ unload: !engine.adopted });
    unlisten();
    return 2;
  }
  if (stopQueued()) {
    engine.close({ unload: o.unloadOnExit });
    unlisten();
    return 0;
  }

  let stopping = false;
  let lastLost = 0n;
  const named = (e: ReturnType<Engine['toDecision']>): NamedDecision => ({
    ...e,
    user: e.uid === null ? '(unowned)' : (userName(db, e.uid) ?? String(e.uid)),
    endpoint: engine.endpointName(e.endpointId),
  });

  const drain = (): number => {
    const batch = engine.drainRaw(DRAIN_BATCH);
    if (batch.length === 0) return 0;
    const lines = batch.map((r) => {
      const d = named(engine.toDecision(r));
      return json ? decisionJson(d) : decisionText(d);
    });
    out(lines.join('\n'));
    return batch.length;
  };

  const stats = () => {
    const c = engine.counters();
    const lostNow = c.events_lost;
    emit(
      {
        type: 'stats',
        allowed: Number(c.allowed_packets),
        dropped: Number(c.dropped_packets),
        lost: Number(c.events_lost),
        unowned: Number(c.unowned_packets),
        nonip: Number(c.nonip_packets),
        essential: Number(c.essential_packets),
        events: Number(c.events_sent),
        ringErrors: engine.ringErrors(),
      },
      `stats: ${c.allowed_packets} allowed, ${c.dropped_packets} dropped, ${c.events_lost} events lost` +
        (lostNow > lastLost ? ` (+${lostNow - lastLost})` : ''),
    );
    lastLost = lostNow;
  };

  const reload = () => {
    db = loadAccountDb();
    const next = loadPolicyFile(o.config, db);
    if (hasErrors(next.diagnostics) || !next.resolved) {
      const errors = next.diagnostics.filter((d) => d.severity === 'error');
      emit(
        { type: 'reload-failed', errors: errors.map(diagnosticJson) },
        `reload of ${o.config} failed; keeping policy ${engine.epoch()}:\n${errors.map(diagnosticText).join('\n')}`,
      );
      return;
    }
    report(next.diagnostics);
    try {
      applied(engine.apply(next.resolved), 'applied');
    } catch (err) {
      emit(
        { type: 'reload-failed', errors: [{ severity: 'error', message: (err as Error).message }] },
        `apply failed; keeping policy ${engine.epoch()}: ${(err as Error).message}`,
      );
    }
  };

  return await new Promise<number>((resolve) => {
    let drainTimer: NodeJS.Timeout | undefined;
    const tick = () => {
      drainTimer = undefined;
      if (stopping) return;
      // Whoever reads our output is behind: stop taking events, so that memory stays bounded
      // and the kernel counts what overflows the ring as lost (shown in stats), not us.
      if (process.stdout.writableLength > MAX_PENDING_OUTPUT) {
        drainTimer = setTimeout(tick, DRAIN_INTERVAL_MS);
        return;
      }
      let n = 0;
      try {
        n = drain();
      } catch (err) {
        process.stderr.write(`net-tc-filter: drain failed: ${(err as Error).message}\n`);
      }
      // A full batch means more is waiting: come back at once, but let other callbacks run.
      if (n >= DRAIN_BATCH) setImmediate(tick);
      else drainTimer = setTimeout(tick, DRAIN_INTERVAL_MS);
    };
    tick();
    const statsTimer = setInterval(stats, o.statsIntervalMs);
    const reconcileTimer = setInterval(() => {
      try {
        const r = engine.reconcileInterfaces();
        if (r) applied(r, 'applied');
      } catch (err) {
        process.stderr.write(`net-tc-filter: re-attach failed: ${(err as Error).message}\n`);
      }
    }, RECONCILE_INTERVAL_MS);

    const stop = (sig: string) => {
      if (stopping) return;
      stopping = true;
      clearTimeout(drainTimer);
      clearInterval(statsTimer);
      clearInterval(reconcileTimer);
      try {
        // Flush what the kernel reported before we stop, but never for long: under a flood
        // the ring refills as fast as we read it.
        for (let i = 0; i < FINAL_DRAIN_CALLS && drain() >= DRAIN_BATCH; i++) {
          // keep draining
        }
        stats();
        engine.close({ unload: o.unloadOnExit });
        emit(
          { type: 'exit', signal: sig, unloaded: o.unloadOnExit },
          o.unloadOnExit
            ? 'stopped; filters removed'
            : 'stopped; enforcement continues from the pinned state',
        );
        resolve(0);
      } catch (err) {
        process.stderr.write(`net-tc-filter: ${(err as Error).message}\n`);
        resolve(2);
      } finally {
        unlisten();
      }
    };
    onSignal = (sig) => {
      if (sig === 'SIGHUP') reload();
      else stop(sig);
    };
    for (const sig of queued.splice(0)) onSignal(sig);
  });
}
