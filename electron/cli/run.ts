// SPDX-License-Identifier: Apache-2.0
// Environment: Node (main process and CLI). No Electron import.
//
// `net-tc-filter run`: the engine without a window. Decisions to stdout; SIGHUP re-reads the
// config and applies it atomically (a bad file keeps the old policy); SIGINT/SIGTERM exit 0
// and leave enforcement pinned unless --unload-on-exit. Repeated decisions of a flow are folded
// into one line per --log-interval (fold.ts).
import { Engine, EngineLockedError, LINK_POLL_MS, trialText } from '../engine/engine.js';
import type { ApplyResult, CgroupMove, Decision, GuardedNow, TrialOutcome } from '../engine/engine.js';
import { EngineHost, FLOW_INTERVAL_MS, openObservations } from '../engine/host.js';
import type { ApplyHow } from '../engine/host.js';
import { answerRequest, takeRequests } from '../engine/requests.js';
import type { EngineRequest } from '../engine/requests.js';
import { hasErrors, loadPolicyText, readConfigText } from '../policy/load.js';
import type { LoadedPolicy } from '../policy/load.js';
import { hostWarnings } from '../engine/links.js';
import type { Diagnostic } from '../policy/types.js';
import {
  decisionJson,
  decisionText,
  diagnosticJson,
  diagnosticText,
  flowKey,
  trialNotice,
  trialOutcomeText,
} from './format.js';
import { historyRecorder, revertedTrial } from '../engine/recorder.js';
import { DecisionFolder } from './fold.js';
import type { FoldedLine } from './fold.js';

export interface RunOptions {
  config: string;
  log: 'text' | 'json';
  pinDir: string;
  unloadOnExit: boolean;
  statsIntervalMs: number;
  /** Repeats of a flow's decision are folded into one line per this many ms; 0: every decision. */
  logIntervalMs: number;
  ringBytes?: number;
  eventsPerUser?: number;
  /** The input cap of the config file (default MAX_POLICY_BYTES). */
  maxPolicyBytes?: number;
  /** Map sizes for freshly created state (EngineOptions). */
  rangeEntries?: number;
  setEntries?: number;
}

const DRAIN_INTERVAL_MS = 100;
/** Bytes of decisions waiting for a slow stdout reader before we stop draining. */
const MAX_PENDING_OUTPUT = 16 << 20;
/** Drain calls at exit (DRAIN_BATCH records each): more than a default ring holds. */
const FINAL_DRAIN_CALLS = 32;
/** At exit, how long a reader that stopped reading may hold the last lines (summaries, exit). */
const EXIT_FLUSH_MS = 5000;

/** Resolves once stdout handed everything written so far to the reader, or after EXIT_FLUSH_MS:
 * process.exit() drops what a slow reader has not taken yet from a pipe. */
function stdoutFlushed(): Promise<void> {
  return new Promise((resolve) => {
    if (process.stdout.writableLength === 0) return resolve();
    const timer = setTimeout(resolve, EXIT_FLUSH_MS);
    process.stdout.write('', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

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

  let engine: Engine;
  try {
    engine = Engine.open({
      pinDir: o.pinDir,
      ringBytes: o.ringBytes,
      eventsPerUser: o.eventsPerUser,
      rangeEntries: o.rangeEntries,
      setEntries: o.setEntries,
    });
  } catch (err) {
    process.stderr.write(`net-tc-filter: ${(err as Error).message}\n`);
    unlisten();
    return err instanceof EngineLockedError ? 3 : 2;
  }
  const kept = openObservations(o.pinDir);
  const host = new EngineHost(engine, {
    history: historyRecorder(o.pinDir),
    ...(kept.observations ? { observations: kept.observations } : {}),
    onAccountsError: (err) => process.stderr.write(`net-tc-filter: account database: ${err.message}\n`),
  });
  // The config's text as applied: the history keeps it (comments and all).
  const readConfig = (): { text: string; loaded: LoadedPolicy } => {
    const r = readConfigText(o.config, o.maxPolicyBytes);
    if (r.text === undefined) return { text: '', loaded: { diagnostics: r.diagnostics } };
    return {
      text: r.text,
      loaded: loadPolicyText(r.text, o.config, host.reloadAccounts(), o.maxPolicyBytes),
    };
  };
  const first = readConfig();
  report(first.loaded.diagnostics);
  if (hasErrors(first.loaded.diagnostics) || !first.loaded.resolved) {
    process.stderr.write(`${o.config}: not applied (errors above)\n`);
    engine.close({ unload: !engine.adopted });
    unlisten();
    return 1;
  }

  const unguardedWarning = (u: { name: string; error: string }) =>
    report([
      {
        severity: 'warning',
        message: `${u.name}: guarded ranges are NOT guarded on this interface (the filter cannot be attached: ${u.error})`,
      },
    ]);
  // Interfaces that appeared and were attached at once: the policy is unchanged.
  const guardedNow = (g: GuardedNow) => {
    g.unguarded.forEach(unguardedWarning);
    if (g.guarded.length)
      emit(
        { type: 'guarding', interfaces: g.guarded },
        `guarding the ranges on ${g.guarded.join(', ')} too (new interface)`,
      );
  };

  // A unit:/cgroup: entry's cgroup appeared, went or was made again (a unit restarted).
  const cgroupMoved = (m: CgroupMove) =>
    emit(
      {
        type: 'cgroup',
        entry: `${m.kind}:${m.name}`,
        path: m.path ?? null,
        id: m.to ?? null,
        was: m.from ?? null,
      },
      m.to === undefined
        ? `${m.kind}:${m.name}: its cgroup is gone; the entry matches nothing until it is back`
        : `${m.kind}:${m.name}: now cgroup ${m.path} (id ${m.to}${m.from === undefined ? '' : `, was ${m.from}`})`,
    );
  const warn = (message: string) =>
    json ? out(JSON.stringify({ type: 'warning', message })) : process.stderr.write(`warning: ${message}\n`);
  const trialOutcome = (t: TrialOutcome) =>
    t.type === 'confirmed'
      ? emit({ type: 'confirmed', epoch: t.epoch, time: new Date(t.at).toISOString() }, trialOutcomeText(t))
      : emit(
          {
            type: 'reverted',
            by: t.by,
            epoch: t.epoch,
            previousEpoch: t.previousEpoch,
            time: new Date(t.at).toISOString(),
          },
          trialOutcomeText(t),
        );

  const applied = (r: ApplyResult, type: string, resolved = engine.policy()?.resolved) => {
    if (r.settled) trialOutcome(r.settled);
    const names = r.attached.map((a) => a.name).join(', ') || 'none';
    if (resolved) report(hostWarnings(resolved));
    r.unguarded.forEach(unguardedWarning);
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
        guardOnly: r.guardOnly.map((g) => g.name),
        detached: r.detached,
        missing: r.missing,
        ranges: r.lpmEntries,
        setEntries: r.setEntries,
        changes: r.changes,
        incremental: r.incremental,
        ...(r.mirrorError ? { mirrorError: r.mirrorError } : {}),
        ...(r.trial
          ? {
              trial: {
                previousEpoch: r.trial.previousEpoch,
                deadline: new Date(r.trial.deadline).toISOString(),
              },
            }
          : {}),
        modes: Object.fromEntries(r.attached.map((a) => [a.name, a.mode])),
        applyMs: Math.round(r.totalMs * 10) / 10,
      },
      `${type === 'ready' ? 'enforcing' : 'applied'} policy ${r.epoch} on ${names}` +
        (r.missing.length ? ` (waiting for ${r.missing.join(', ')})` : '') +
        (r.guardOnly.length
          ? `; its ranges guarded on ${r.guardOnly.map((g) => g.name).join(', ')} too`
          : '') +
        (r.attached.some((a) => a.mode === 'audit')
          ? `; AUDIT on ${r.attached
              .filter((a) => a.mode === 'audit')
              .map((a) => a.name)
              .join(', ')} (nothing dropped there, would-drops reported)`
          : '') +
        ` — program ${engine.programId}${engine.adopted ? ', adopted pinned state' : ''}` +
        (r.trial ? `\n${trialNotice(r.trial)}` : ''),
    );
  };
  const applyHow = (text: string, origin: ApplyHow['origin'], req?: EngineRequest): ApplyHow => ({
    origin,
    text,
    source: o.config,
    ...(req ? { account: req.account } : {}),
    ...(req?.confirmS ? { trialSeconds: req.confirmS } : {}),
  });

  /** What to apply for the config's text: the text itself, or, when it is the trial the kernel
   * (or a revert) took back, the policy enforced instead (recorder.ts revertedTrial). */
  const notReverted = (next: { text: string; loaded: LoadedPolicy }) => {
    const r = revertedTrial(o.pinDir, next.text);
    if (!r) return { ...next, source: o.config };
    const message =
      `${o.config} holds the policy of history ${r.trial.n}, which was on trial and ${r.trial.outcome === 'reverted-by-kernel' ? 'reverted by the kernel' : 'reverted'} at ${r.trial.outcomeTime ?? '?'}: ` +
      `not applied again without a trial; history ${r.instead.n} stays (edit the file, or run 'net-tc-filter reload --confirm SECONDS' and confirm)`;
    return {
      text: r.instead.text,
      loaded: loadPolicyText(r.instead.text, `history ${r.instead.n}`, host.accounts()),
      source: `history ${r.instead.n}`,
      message,
    };
  };

  // Started while another process's trial is pending: the first apply would be a second one.
  // Wait for the trial's outcome (the kernel's deadline, or confirm/revert, which this run takes
  // as requests), then apply.
  let deferred = false;
  const firstApply = (): boolean => {
    const chosen = notReverted(first);
    if (chosen.message) warn(chosen.message);
    if (!chosen.loaded.resolved) throw new Error(`history: ${chosen.source} no longer loads`);
    const { result, warnings } = host.apply(chosen.loaded.resolved, {
      ...applyHow(chosen.text, 'run'),
      source: chosen.source,
    });
    applied(result, 'ready');
    warnings.forEach(warn);
    return true;
  };
  try {
    // A trial the kernel ended while no process of ours ran is said and recorded first: the
    // config may be the very policy it took back.
    const s = host.settle();
    if (s.outcome) trialOutcome(s.outcome);
    s.warnings.forEach(warn);
    const pending = engine.trial();
    if (pending && !pending.expired) {
      deferred = true;
      emit(
        {
          type: 'waiting',
          trial: {
            epoch: pending.epoch,
            previousEpoch: pending.previousEpoch,
            deadline: new Date(pending.deadline).toISOString(),
          },
        },
        `${trialText(pending)}; ${o.config} is applied once the trial's outcome is known (confirm, revert or the deadline)`,
      );
    } else firstApply();
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

  // What was dropped or would-drop, kept beyond the kernel's flow table and across restarts.
  if (kept.warning) warn(kept.warning);
  const observe = (final = false) => {
    try {
      host.flows(Date.now(), final);
    } catch (err) {
      warn(`reading the flow table: ${(err as Error).message}`);
    }
    const w = host.saveObservations(final);
    if (w) warn(w);
  };

  let stopping = false;
  let lastLost = 0n;

  const folder = new DecisionFolder<Decision>({
    intervalMs: o.logIntervalMs,
    key: flowKey,
    bytes: (d) => d.bytes,
    time: (d) => d.time,
    now: () => performance.now(),
  });
  const print = (lines: FoldedLine<Decision>[]) => {
    if (lines.length === 0) return;
    out(
      lines
        .map((l) => {
          // A summary shows the last folded decision with the bytes of all of them.
          const d = host.named(l.bytes === l.d.bytes ? l.d : { ...l.d, bytes: l.bytes });
          const fold =
            l.firstTime === undefined ? { count: l.count } : { count: l.count, firstTime: l.firstTime };
          return json ? decisionJson(d, fold) : decisionText(d, fold);
        })
        .join('\n'),
    );
  };

  /** Takes a batch from the ring; prints first decisions and the summaries now due. */
  const drain = (): boolean => {
    host.accounts();
    const { decisions, full } = host.drain(1);
    const lines: FoldedLine<Decision>[] = [];
    for (const d of decisions) folder.add(d, lines);
    folder.due(lines);
    print(lines);
    return full;
  };
  const flushFolded = () => {
    const lines: FoldedLine<Decision>[] = [];
    folder.flushAll(lines);
    print(lines);
  };

  const stats = () => {
    const c = engine.counters();
    const lostNow = c.events_lost;
    const table = engine.flowTable();
    const suppressed = Object.fromEntries(
      engine.suppressedBySender().map((x) => [host.senderName(x.uid), Number(x.events)]),
    );
    emit(
      {
        type: 'stats',
        allowed: Number(c.allowed_packets),
        dropped: Number(c.dropped_packets),
        wouldDrop: Number(c.would_drop_packets),
        lost: Number(c.events_lost),
        unowned: Number(c.unowned_packets),
        nonip: Number(c.nonip_packets),
        essential: Number(c.essential_packets),
        // Packets from sockets with no creation record (older than the program): their uid is
        // the socket's current owner (docs/datapath.md "Services and containers").
        uidUnrecorded: Number(c.uid_unrecorded_packets),
        events: Number(c.events_sent),
        ringErrors: engine.ringErrors(),
        decisions: folder.decisions,
        lines: folder.lines,
        folded: folder.folded,
        suppressed,
        flows: table.entries,
        flowsEvicted: table.evicted,
      },
      `stats: ${c.allowed_packets} allowed, ${c.dropped_packets} dropped` +
        (c.would_drop_packets > 0n ? `, ${c.would_drop_packets} would-drop` : '') +
        `, ${c.events_lost} events lost` +
        (c.uid_unrecorded_packets > 0n
          ? `, ${c.uid_unrecorded_packets} from sockets older than the filter (uid: their current owner)`
          : '') +
        (lostNow > lastLost ? ` (+${lostNow - lastLost})` : '') +
        `; ${folder.decisions} decisions in ${folder.lines} lines (${folder.folded} folded)` +
        (Number(c.events_suppressed) > 0
          ? `; ${c.events_suppressed} over their sender's event budget (${Object.entries(suppressed)
              .slice(0, 5)
              .map(([u, n]) => `${u} ${n}`)
              .join(', ')})`
          : '') +
        `; flow table ${table.entries}/${table.capacity}${table.evicted ? `, ${table.evicted} evicted` : ''}`,
    );
    lastLost = lostNow;
  };

  /** SIGHUP: re-read the config (a trial when a `reload --confirm` asked for one). */
  const reload = (
    req?: EngineRequest,
  ): { code: number; lines: string[]; errors: string[]; epoch?: number } => {
    const read = readConfig();
    const diags = read.loaded.diagnostics;
    if (hasErrors(diags) || !read.loaded.resolved) {
      const errors = diags.filter((d) => d.severity === 'error');
      emit(
        { type: 'reload-failed', errors: errors.map(diagnosticJson) },
        `reload of ${o.config} failed; keeping policy ${engine.effectiveEpoch()}:\n${errors.map(diagnosticText).join('\n')}`,
      );
      return { code: 1, lines: [], errors: errors.map(diagnosticText) };
    }
    report(diags);
    // Without a trial, a file still holding the trial the kernel took back is not applied again.
    const chosen = req?.confirmS ? { ...read, source: o.config } : notReverted(read);
    if (chosen.message) {
      emit(
        { type: 'reload-failed', errors: [{ severity: 'error', message: chosen.message }] },
        `reload refused; keeping policy ${engine.effectiveEpoch()}: ${chosen.message}`,
      );
      return { code: 1, lines: [], errors: [chosen.message] };
    }
    const next = read;
    if (!next.loaded.resolved) return { code: 1, lines: [], errors: ['not loaded'] };
    // Summaries of what the old policy decided come before the new one's decisions.
    flushFolded();
    try {
      const { result, warnings } = host.apply(next.loaded.resolved, applyHow(next.text, 'reload', req));
      applied(result, 'applied');
      warnings.forEach(warn);
      return {
        code: 0,
        epoch: result.epoch,
        errors: [],
        lines: [
          ...diags.map(diagnosticText),
          `applied policy ${result.epoch} from ${o.config} on ${result.attached.map((a) => a.name).join(', ') || 'no interface'}` +
            (result.trial ? `; ${trialNotice(result.trial)}` : ''),
        ],
      };
    } catch (err) {
      const message = (err as Error).message;
      emit(
        { type: 'reload-failed', errors: [{ severity: 'error', message }] },
        `apply failed; keeping policy ${engine.effectiveEpoch()}: ${message}`,
      );
      return { code: 1, lines: [], errors: [message] };
    }
  };

  /** confirm / revert asked by another process (electron/engine/requests.ts). */
  const trialRequest = (req: EngineRequest) => {
    try {
      flushFolded();
      const { outcome, warnings } = req.cmd === 'confirm' ? host.confirm() : host.revert();
      trialOutcome(outcome);
      warnings.forEach(warn);
      return {
        code: 0,
        errors: [],
        epoch: engine.effectiveEpoch(),
        lines: [trialOutcomeText(outcome)],
      };
    } catch (err) {
      return { code: 1, lines: [], errors: [(err as Error).message] };
    }
  };

  const hangup = () => {
    let requests: EngineRequest[];
    try {
      requests = takeRequests(o.pinDir);
    } catch (err) {
      // Someone asked for something (a trial, a confirm): doing a plain reload instead would do
      // what they did not ask for.
      warn(`SIGHUP not acted on: ${(err as Error).message}`);
      return;
    }
    if (requests.length === 0) {
      reload();
      return;
    }
    for (const req of requests) {
      const answer = req.cmd === 'reload' ? reload(req) : trialRequest(req);
      try {
        answerRequest(o.pinDir, req.id, answer);
      } catch (err) {
        warn(`answering ${req.cmd} of pid ${req.pid}: ${(err as Error).message}`);
      }
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
      let full = false;
      try {
        full = drain();
      } catch (err) {
        process.stderr.write(`net-tc-filter: drain failed: ${(err as Error).message}\n`);
      }
      // A full batch means more is waiting: come back at once, but let other callbacks run.
      if (full) setImmediate(tick);
      else drainTimer = setTimeout(tick, DRAIN_INTERVAL_MS);
    };
    tick();
    const statsTimer = setInterval(stats, o.statsIntervalMs);
    const observeTimer = setInterval(observe, FLOW_INTERVAL_MS);
    const reconcileTimer = setInterval(() => {
      const t = deferred ? engine.trial() : undefined;
      if (deferred && (!t || t.expired)) {
        deferred = false;
        try {
          firstApply();
        } catch (err) {
          process.stderr.write(`net-tc-filter: apply failed, nothing changed: ${(err as Error).message}\n`);
        }
      }
      for (const e of host.tick()) {
        if (e.type === 'applied') applied(e.result, 'applied');
        else if (e.type === 'guarding') guardedNow(e.result);
        else if (e.type === 'cgroups') for (const m of e.moved) cgroupMoved(m);
        else if (e.type === 'trial') {
          flushFolded();
          trialOutcome(e.outcome);
        } else process.stderr.write(`net-tc-filter: ${e.message}\n`);
      }
    }, LINK_POLL_MS);

    const stop = (sig: string) => {
      if (stopping) return;
      stopping = true;
      clearTimeout(drainTimer);
      clearInterval(statsTimer);
      clearInterval(reconcileTimer);
      clearInterval(observeTimer);
      try {
        // Flush what the kernel reported before we stop, but never for long: under a flood
        // the ring refills as fast as we read it.
        for (let i = 0; i < FINAL_DRAIN_CALLS && drain(); i++) {
          // keep draining
        }
        flushFolded();
        stats();
        observe(true);
        engine.close({ unload: o.unloadOnExit });
        emit(
          { type: 'exit', signal: sig, unloaded: o.unloadOnExit },
          o.unloadOnExit
            ? 'stopped; filters removed'
            : 'stopped; enforcement continues from the pinned state',
        );
        void stdoutFlushed().then(() => resolve(0));
      } catch (err) {
        process.stderr.write(`net-tc-filter: ${(err as Error).message}\n`);
        resolve(2);
      } finally {
        unlisten();
      }
    };
    onSignal = (sig) => {
      if (sig === 'SIGHUP') hangup();
      else stop(sig);
    };
    for (const sig of queued.splice(0)) onSignal(sig);
  });
}
