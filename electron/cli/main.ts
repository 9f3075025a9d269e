#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// Environment: Node (CLI). No Electron import.
//
// net-tc-filter headless entry: run | check | status | unload | demo.
import { parseArgs } from 'node:util';
import { DEFAULT_EVENTS_PER_USER, DEFAULT_PIN_DIR, EngineLockedError, unload } from '../engine/engine.js';
import { readStatus } from '../engine/status.js';
import { hostWarnings } from '../engine/links.js';
import type { FlowRow } from '../engine/flows.js';
import { loadAccountDb } from '../policy/resolve.js';
import type { AccountDb } from '../policy/resolve.js';
import { hasErrors, loadPolicyFile } from '../policy/load.js';
import { MAX_POLICY_BYTES } from '../policy/yaml.js';
import { DEFAULT_LIMITS } from '../policy/compile.js';
import { diagnosticText, senderName } from './format.js';
import { hostPort } from '../policy/addr.js';
import { runCommand } from './run.js';
import { demoCommand } from './demo.js';
import { applyCommand, confirmCommand, reloadCommand, revertCommand } from './trial.js';
import { explainCommand } from './explain.js';
import { impactCommand } from './impact.js';
import { proposeCommand } from './propose.js';
import { historyCommand } from './history.js';

export const USAGE = `usage: net-tc-filter <command> [options]

commands:
  run --config FILE   enforce FILE; decisions to stdout
        [--log text|json] [--pin-dir DIR] [--unload-on-exit] [--stats-interval SEC]
        [--log-interval SEC]  repeats of a flow's decision: one line with their
                              count per SEC (default 10); 0 prints every decision
        [--events-per-user N] decisions the kernel reports per sending user per
                              second (default ${DEFAULT_EVENTS_PER_USER}; the rest is counted); 0: all
        [--max-policy-bytes N] the largest policy file read (default ${MAX_POLICY_BYTES},
                              64 MiB; also for check and apply)
        [--range-entries N] [--set-entries N]  range entries (per IP family) and
                              user-set entries one policy may use (default ${DEFAULT_LIMITS.lpm4}
                              and ${DEFAULT_LIMITS.sets}); sizes the kernel maps when they are
                              created (also for apply); existing maps keep their size
  check --config FILE validate FILE; exit 0 when valid, 1 with file:line:col messages
        [--impact [--json] [--pin-dir DIR]]  list the recorded flows whose verdict
                              FILE would change (read-only, works beside run); exit 0
                              evaluated (changes or not), 3 nothing loaded at the pin dir
  apply --config FILE | --from-history N   apply once and exit; enforcement persists
        [--confirm SECONDS] [--pin-dir DIR]  --confirm: a trial the kernel itself
                              reverts unless 'confirm' runs within SECONDS
  reload [--confirm SECONDS] [--pin-dir DIR]  make the running 'run' re-read its
                              config and wait: exit 0 applied, 1 rejected, 3 no run
  confirm [--pin-dir DIR]     keep the policy on trial
  revert [--pin-dir DIR]      go back to the policy before the trial now
  explain --user U --dest ADDR[:PORT] [--iface IF] [--proto tcp|udp|icmp]
        [--unit NAME | --cgroup PATH]  sent from that system unit's (running) cgroup
        [--config FILE] [--json] [--pin-dir DIR]  the verdict and why (default:
                              the enforced policy); exit 1 for an unknown user or address
  propose [--since DURATION] [--pin-dir DIR]  print a policy that also allows every
                              flow observed dropped or would-drop (never applied)
  history [--show N] [--json] [--pin-dir DIR]  the last applied policies
  status [--json]     what is enforced, where, with which program and counters
        [--flows] [--pin-dir DIR]
  unload              remove every filter, qdisc we created and pin
        [--pin-dir DIR] [--force]  --force: also when none of the recorded
                              interfaces is in this network namespace (it is gone)
  demo [--duration N] a safe sandbox: namespaces, a fake metadata service, two users

Enforcement continues after run exits (the program and maps stay pinned under
${DEFAULT_PIN_DIR}); 'unload' removes it. SIGHUP makes run re-read its config.`;

export class UsageError extends Error {}

type Parsed = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; strict: true }>>;

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  log: { type: 'string' },
  'pin-dir': { type: 'string' },
  'unload-on-exit': { type: 'boolean' },
  'stats-interval': { type: 'string' },
  'log-interval': { type: 'string' },
  'ring-bytes': { type: 'string' },
  'events-per-user': { type: 'string' },
  'max-policy-bytes': { type: 'string' },
  'range-entries': { type: 'string' },
  'set-entries': { type: 'string' },
  json: { type: 'boolean' },
  force: { type: 'boolean' },
  flows: { type: 'boolean' },
  impact: { type: 'boolean' },
  confirm: { type: 'string' },
  'from-history': { type: 'string' },
  user: { type: 'string' },
  dest: { type: 'string' },
  iface: { type: 'string' },
  proto: { type: 'string' },
  unit: { type: 'string' },
  cgroup: { type: 'string' },
  since: { type: 'string' },
  show: { type: 'string' },
  duration: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const ALLOWED: Record<string, ReadonlyArray<keyof typeof OPTIONS>> = {
  run: [
    'config',
    'log',
    'pin-dir',
    'unload-on-exit',
    'stats-interval',
    'log-interval',
    'ring-bytes',
    'events-per-user',
    'max-policy-bytes',
    'range-entries',
    'set-entries',
  ],
  check: ['config', 'impact', 'json', 'pin-dir', 'max-policy-bytes'],
  apply: ['config', 'from-history', 'confirm', 'pin-dir', 'max-policy-bytes', 'range-entries', 'set-entries'],
  reload: ['confirm', 'pin-dir'],
  confirm: ['pin-dir'],
  revert: ['pin-dir'],
  explain: ['user', 'dest', 'iface', 'proto', 'unit', 'cgroup', 'config', 'json', 'pin-dir'],
  propose: ['since', 'pin-dir'],
  history: ['show', 'json', 'pin-dir'],
  status: ['json', 'flows', 'pin-dir'],
  unload: ['pin-dir', 'force'],
  demo: ['duration', 'pin-dir'],
};

function positiveNumber(name: string, v: string | undefined, dflt: number, max: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || n > max)
    throw new UsageError(`--${name} must be a number in (0, ${max}]: ${v}`);
  return n;
}

/** Like positiveNumber, but 0 is allowed (it turns the feature off). */
function nonNegativeNumber(name: string, v: string | undefined, dflt: number, max: number): number {
  if (v === undefined) return dflt;
  const n = v.trim() === '' ? NaN : Number(v);
  if (!Number.isFinite(n) || n < 0 || n > max)
    throw new UsageError(`--${name} must be a number in [0, ${max}]: ${v}`);
  return n;
}

const LOG_INTERVAL_S = 10;
/** The longest trial --confirm accepts: a day. */
const MAX_CONFIRM_S = 86400;

/** A whole number in [min, max]. */
function integer(name: string, v: string | undefined, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = /^\d+$/.test(v.trim()) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max)
    throw new UsageError(`--${name} must be a whole number in [${min}, ${max}]: ${v}`);
  return n;
}

const DURATION_UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `90s`, `30m`, `2h`, `7d` or plain seconds, in ms. */
export function parseDuration(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)([smhd]?)$/.exec(v.trim());
  const ms = m ? Number(m[1]) * (DURATION_UNITS[m[2] || 's'] ?? 1000) : NaN;
  if (!Number.isFinite(ms) || ms <= 0 || ms > 366 * 86_400_000)
    throw new UsageError(`--${name} must be a duration such as 90s, 30m, 2h or 7d: ${v}`);
  return ms;
}

/** The largest --max-policy-bytes: a longer file would not fit in one JavaScript string. */
export const MAX_POLICY_BYTES_FLAG = 256 * 2 ** 20;

/** The size flags: the input cap, and the map sizes (undefined: the kernel object's own). */
export function sizes(v: Parsed['values']): {
  maxPolicyBytes: number;
  rangeEntries: number | undefined;
  setEntries: number | undefined;
} {
  return {
    maxPolicyBytes:
      integer('max-policy-bytes', v['max-policy-bytes'], 1024, MAX_POLICY_BYTES_FLAG) ?? MAX_POLICY_BYTES,
    rangeEntries: integer('range-entries', v['range-entries'], 1, 2 ** 30),
    setEntries: integer('set-entries', v['set-entries'], 1, 2 ** 30),
  };
}

/** Parses argv (without node and script). Throws UsageError with a one-line reason. */
export function parseCommand(argv: string[]): { command: string; values: Parsed['values'] } {
  let parsed: Parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const [command, ...extra] = parsed.positionals;
  if (parsed.values.help && !command) return { command: 'help', values: parsed.values };
  if (!command) throw new UsageError('missing command');
  const allowed = ALLOWED[command];
  if (!allowed) throw new UsageError(`unknown command '${command}'`);
  if (extra.length) throw new UsageError(`unexpected argument '${extra[0]}'`);
  for (const key of Object.keys(parsed.values) as Array<keyof typeof OPTIONS>) {
    if (key !== 'help' && !allowed.includes(key)) throw new UsageError(`'${command}' does not take --${key}`);
  }
  if ((command === 'run' || command === 'check') && !parsed.values.config) {
    throw new UsageError(`'${command}' needs --config FILE`);
  }
  if (command === 'check' && !parsed.values.impact && (parsed.values.json || parsed.values['pin-dir']))
    throw new UsageError(`'check' takes --json and --pin-dir only with --impact`);
  if (command === 'apply' && !parsed.values.config === (parsed.values['from-history'] === undefined))
    throw new UsageError(`'apply' needs either --config FILE or --from-history N`);
  if (command === 'explain' && (!parsed.values.user || !parsed.values.dest))
    throw new UsageError(`'explain' needs --user U and --dest ADDR[:PORT]`);
  if (
    parsed.values.proto !== undefined &&
    parsed.values.proto !== 'tcp' &&
    parsed.values.proto !== 'udp' &&
    parsed.values.proto !== 'icmp'
  )
    throw new UsageError(`--proto must be tcp, udp or icmp, not '${parsed.values.proto}'`);
  if (parsed.values.log !== undefined && parsed.values.log !== 'text' && parsed.values.log !== 'json') {
    throw new UsageError(`--log must be text or json, not '${parsed.values.log}'`);
  }
  const pinDir = parsed.values['pin-dir'];
  if (
    pinDir !== undefined &&
    (!/^\/sys\/fs\/bpf\/[A-Za-z0-9._-]+$/.test(pinDir) || /\/\.{1,2}$/.test(pinDir))
  ) {
    throw new UsageError(`--pin-dir must be a directory directly under /sys/fs/bpf, not '${pinDir}'`);
  }
  return { command: parsed.values.help ? 'help' : command, values: parsed.values };
}

export async function main(argv: string[]): Promise<number> {
  let cmd: ReturnType<typeof parseCommand>;
  try {
    cmd = parseCommand(argv);
    positiveNumber('stats-interval', cmd.values['stats-interval'], 5, 86400);
    nonNegativeNumber('log-interval', cmd.values['log-interval'], LOG_INTERVAL_S, 86400);
    positiveNumber('duration', cmd.values.duration, 20, 86400);
    integer('confirm', cmd.values.confirm, 1, MAX_CONFIRM_S);
    integer('from-history', cmd.values['from-history'], 1, Number.MAX_SAFE_INTEGER);
    integer('show', cmd.values.show, 1, Number.MAX_SAFE_INTEGER);
    parseDuration('since', cmd.values.since);
    positiveNumber('ring-bytes', cmd.values['ring-bytes'], 1 << 22, 1 << 30);
    nonNegativeNumber('events-per-user', cmd.values['events-per-user'], DEFAULT_EVENTS_PER_USER, 1_000_000);
    sizes(cmd.values);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`net-tc-filter: ${err.message}\n${USAGE}\n`);
      return 64; // EX_USAGE
    }
    throw err;
  }
  const v = cmd.values;
  const pinDir = v['pin-dir'] ?? DEFAULT_PIN_DIR;
  const { maxPolicyBytes, rangeEntries, setEntries } = sizes(v);
  switch (cmd.command) {
    case 'help':
      process.stdout.write(`${USAGE}\n`);
      return 0;
    case 'check': {
      const file = v.config as string;
      const db = loadAccountDb();
      const r = loadPolicyFile(file, db, maxPolicyBytes);
      for (const d of r.diagnostics) process.stderr.write(`${diagnosticText(d)}\n`);
      if (hasErrors(r.diagnostics) || !r.resolved) return 1;
      // check runs on the machine the policy is for: what this host does to its meaning.
      for (const d of hostWarnings(r.resolved)) process.stderr.write(`${diagnosticText(d)}\n`);
      if (v.impact)
        return impactCommand({ config: file, resolved: r.resolved, db, json: v.json ?? false, pinDir });
      const e = r.resolved.endpoints;
      process.stdout.write(
        `${file}: OK — ${e.length} endpoint(s), ${r.resolved.interfaces.size} interface(s), ` +
          `${e.reduce((n, x) => n + x.ranges.length, 0)} range(s)\n`,
      );
      return 0;
    }
    case 'run':
      return runCommand({
        config: v.config as string,
        log: (v.log as 'text' | 'json' | undefined) ?? 'text',
        pinDir,
        unloadOnExit: v['unload-on-exit'] ?? false,
        statsIntervalMs: positiveNumber('stats-interval', v['stats-interval'], 5, 86400) * 1000,
        logIntervalMs: nonNegativeNumber('log-interval', v['log-interval'], LOG_INTERVAL_S, 86400) * 1000,
        ringBytes: v['ring-bytes'] === undefined ? undefined : Number(v['ring-bytes']),
        eventsPerUser: nonNegativeNumber(
          'events-per-user',
          v['events-per-user'],
          DEFAULT_EVENTS_PER_USER,
          1_000_000,
        ),
        maxPolicyBytes,
        ...(rangeEntries !== undefined ? { rangeEntries } : {}),
        ...(setEntries !== undefined ? { setEntries } : {}),
      });
    case 'status': {
      const s = readStatus(pinDir, { flows: v.flows ?? false, lastTrial: true });
      if (v.json) {
        process.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
      } else {
        // Names only where senders are shown.
        const db = s.flows || s.suppressed?.length ? loadAccountDb() : undefined;
        process.stdout.write(statusText(s, db));
        if (s.flows && db) process.stdout.write(flowsText(s.flows, db));
      }
      return s.loaded ? 0 : 3;
    }
    case 'unload': {
      let r: ReturnType<typeof unload>;
      try {
        r = unload(pinDir, { force: v.force ?? false });
      } catch (err) {
        if (!(err instanceof EngineLockedError)) throw err;
        process.stderr.write(`net-tc-filter: ${err.message}\n`);
        return 3;
      }
      process.stdout.write(
        r.found
          ? `unloaded: removed ${r.removedPins} pins from ${r.pinDir}; detached from ${r.detached.join(', ') || 'no interface'}\n`
          : `nothing loaded at ${r.pinDir}\n`,
      );
      return 0;
    }
    case 'apply':
      return applyCommand({
        pinDir,
        ...(v.config !== undefined ? { config: v.config } : {}),
        ...(v['from-history'] !== undefined ? { fromHistory: Number(v['from-history']) } : {}),
        ...(v.confirm !== undefined ? { confirmS: Number(v.confirm) } : {}),
        maxPolicyBytes,
        ...(rangeEntries !== undefined ? { rangeEntries } : {}),
        ...(setEntries !== undefined ? { setEntries } : {}),
      });
    case 'reload':
      return reloadCommand({ pinDir, ...(v.confirm !== undefined ? { confirmS: Number(v.confirm) } : {}) });
    case 'confirm':
      return confirmCommand({ pinDir });
    case 'revert':
      return revertCommand({ pinDir });
    case 'explain':
      return explainCommand({
        user: v.user as string,
        dest: v.dest as string,
        pinDir,
        json: v.json ?? false,
        ...(v.iface !== undefined ? { iface: v.iface } : {}),
        ...(v.proto !== undefined ? { proto: v.proto as 'tcp' | 'udp' | 'icmp' } : {}),
        ...(v.unit !== undefined ? { unit: v.unit } : {}),
        ...(v.cgroup !== undefined ? { cgroup: v.cgroup } : {}),
        ...(v.config !== undefined ? { config: v.config } : {}),
      });
    case 'propose': {
      const sinceMs = parseDuration('since', v.since);
      return proposeCommand({ pinDir, ...(sinceMs !== undefined ? { sinceMs } : {}) });
    }
    case 'history':
      return historyCommand({
        pinDir,
        json: v.json ?? false,
        ...(v.show !== undefined ? { show: Number(v.show) } : {}),
      });
    case 'demo':
      return demoCommand({
        durationS: positiveNumber('duration', v.duration, 20, 86400),
        pinDir: v['pin-dir'],
      });
    default:
      return 64;
  }
}

const FLOWS_SHOWN = 50;

function flowsText(flows: FlowRow[], db: AccountDb): string {
  const lines = [
    `flows (${Math.min(flows.length, FLOWS_SHOWN)} of ${flows.length}, most recent first):`,
    'LAST SEEN     IFACE    USER           PROTO  DESTINATION                      ALLOWED pkts/bytes  DROPPED pkts/bytes  WOULD-DROP pkts/bytes',
  ];
  for (const f of flows.slice(0, FLOWS_SHOWN)) {
    const user = senderName(db, f.uid);
    const dst = hostPort(f.family, f.dst, f.dport);
    lines.push(
      `${new Date(f.lastSeen).toISOString().slice(11, 23)}  ${f.iface.padEnd(8)} ${user.padEnd(14)} ` +
        `${f.proto.padEnd(6)} ${dst.padEnd(32)} ${`${f.allowedPackets}/${f.allowedBytes}`.padStart(18)}  ` +
        `${`${f.droppedPackets}/${f.droppedBytes}`.padStart(18)}  ${`${f.wouldDropPackets}/${f.wouldDropBytes}`.padStart(21)}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

function statusText(s: ReturnType<typeof readStatus>, db: AccountDb | undefined): string {
  const lines = [`pin dir:   ${s.pinDir}`, `libbpf:    ${s.libbpf}   kernel: ${s.kernel}`];
  if (!s.loaded) return `${lines.join('\n')}\nstate:     not loaded (nothing is enforced)\n`;
  lines.push(`program:   id ${s.programId ?? '?'} tag ${s.programTag ?? '?'}   policy epoch ${s.epoch}`);
  if (!s.trial && s.lastTrial)
    lines.push(
      `trial:     policy ${s.lastTrial.epoch} (history ${s.lastTrial.historyN}) was ${s.lastTrial.outcome === 'reverted-by-kernel' ? 'REVERTED by the kernel' : 'reverted'} at ${s.lastTrial.time}; the policy before it is enforced`,
    );
  if (s.trial)
    lines.push(
      s.trial.expired
        ? `trial:     REVERTED by the kernel at ${new Date(s.trial.deadline).toISOString()}: policy ${s.trial.epoch} was not confirmed, policy ${s.trial.previousEpoch} is enforced again`
        : `trial:     policy ${s.trial.epoch} is on trial: policy ${s.trial.previousEpoch} returns in ${s.trial.secondsLeft} s unless confirmed (net-tc-filter confirm)`,
    );
  lines.push(
    `owner:     ${s.owner ? `pid ${s.owner.pid} (${s.owner.command})` : 'none (enforcing from pins)'}`,
  );
  lines.push(
    `policy:    ${s.ranges.v4} IPv4 + ${s.ranges.v6} IPv6 range entries, ${s.setEntries} user-set entries`,
  );
  for (const w of s.windows ?? []) lines.push(`window:    ${w.endpoint} (${w.when.join(', ')}): ${w.state}`);
  for (const i of s.interfaces) {
    const st = i.settings;
    lines.push(
      `interface: ${i.name} (ifindex ${i.ifindex}) ${i.attached ? 'attached' : 'NOT ATTACHED'}` +
        (st
          ? ` ${st.mode === 'audit' ? 'AUDIT (drops nothing, reports would-drops)' : 'enforce'}, default ${st.default}, unowned ${st.unowned}, essentials ${st.essentials ? 'on' : 'off'}`
          : i.guardOnly
            ? ' guarded ranges only (no endpoint names it)'
            : ''),
    );
  }
  if (s.counters) {
    const c = s.counters;
    lines.push(
      `counters:  ${c.allowed_packets} allowed, ${c.dropped_packets} dropped, ${c.would_drop_packets} would-drop, ${c.unowned_packets} unowned, ` +
        `${c.nonip_packets} non-IP, ${c.events_lost} events lost, ${c.events_suppressed} over their sender's budget, ` +
        `${c.uid_unrecorded_packets} from sockets older than the filter`,
    );
  }
  if (s.suppressed?.length && db) {
    lines.push(
      `budget:    events not reported, by sender: ${s.suppressed.map((x) => `${senderName(db, x.uid)} ${x.events}`).join(', ')}`,
    );
  }
  if (s.flowTable) {
    const f = s.flowTable;
    lines.push(
      `flows:     ${f.entries} of ${f.capacity} entries` +
        (f.evicted
          ? `, ${f.evicted} evicted to make room (their per-flow counters are gone; totals above are exact)`
          : ''),
    );
  }
  return `${lines.join('\n')}\n`;
}

// Run when executed directly (bin/net-tc-filter or node dist/electron/cli/main.js).
const invoked = process.argv[1] ?? '';
if (invoked.endsWith('/cli/main.js')) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`net-tc-filter: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(2);
    },
  );
}
