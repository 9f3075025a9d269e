// SPDX-License-Identifier: Apache-2.0
// Environment: Node, as root (benchmark).
//
// Paired program variants: `node dist/bench/variants.js [--rounds N] [--seconds S] NAME=OBJECT ...`
// (`npm run build` first). Measures the established-flow cost per packet of modified copies of
// the tc program, all on the same packets in the same second, which this noisy machine's
// run-to-run drift cannot blur (docs/benchmarks.md "Reading the results", program run time).
// In a throwaway sandbox (as `npm run bench`) one engine applies 10,000 ranges × 100 users and
// attaches its program; each OBJECT (same map layouts as this tree's) is loaded on the engine's
// pinned maps and attached behind it at tc priorities 10 and up, with the empty program among
// them, in an order rotated each round. alice sends one flow (IPv4, then IPv6) for S seconds per
// round with kernel.bpf_stats_enabled=1. Prints, per family, each variant's median ns per packet,
// the median of its per-round differences to the first variant (and their range) and its ratio
// to the empty program. Prints only; writes no document.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Sandbox } from '../electron/demo/sandbox.js';
import { Engine, PINNED_MAPS } from '../electron/engine/engine.js';
import { BpfObject, tcAttach, tcDetach } from '../native-bridge/index.js';
import { progInfo } from '../native-bridge/sys.js';
import {
  ALICE,
  GROUP,
  PASSWD,
  addGuardTargets,
  benchAccounts,
  buildTools,
  mainDst,
  median,
  minMax,
  policyYaml,
  progRunStats,
  resolveBench,
  routeBenchBlocks,
} from './lib.js';

interface ChildArgs {
  rounds: number;
  seconds: number;
  variants: Array<[string, string]>;
  flood: string;
  empty: string;
  passwd: string;
  group: string;
  pinDir: string;
}

const N = 10_000;

/** In the client namespace: the measurement itself. Returns ns per packet per family and name. */
function child(a: ChildArgs): Record<string, Record<string, number[]>> {
  const e = Engine.open({ pinDir: a.pinDir });
  const objs: BpfObject[] = [];
  const res: Record<string, Record<string, number[]>> = {};
  try {
    e.apply(resolveBench(policyYaml(N, 100), benchAccounts(a)));
    const progs: Array<{ name: string; fd: number; id: number }> = [];
    for (const [name, path] of a.variants) {
      // A variant from before a map was added: it keeps its own copy of what the pins lack.
      let loaded: BpfObject | undefined;
      let last: unknown;
      for (const skip of [[], ['ntf_ifslots']]) {
        const o = BpfObject.openFile(path);
        try {
          o.load({ reusePinsFrom: a.pinDir, pinnedMaps: PINNED_MAPS.filter((m) => !skip.includes(m)) });
          loaded = o;
          break;
        } catch (err) {
          last = err;
          o.close();
        }
      }
      if (!loaded) throw last;
      objs.push(loaded);
      const fd = loaded.programFd('ntf_egress');
      progs.push({ name, fd, id: progInfo(fd).id });
    }
    const empty = BpfObject.openFile(a.empty);
    empty.load();
    objs.push(empty);
    const efd = empty.programFd('empty_egress');
    progs.push({ name: 'empty', fd: efd, id: progInfo(efd).id });
    const ifindex = (
      JSON.parse(execFileSync('ip', ['-j', 'link', 'show', 'ntf0'], { encoding: 'utf8' })) as [
        { ifindex: number },
      ]
    )[0].ifindex;
    const flood = (dst: string, t: number) =>
      execFileSync(
        'setpriv',
        [`--reuid=${ALICE}`, `--regid=${ALICE}`, '--clear-groups', a.flood, '-s', '64', '-t', String(t), dst],
        { encoding: 'utf8', timeout: 60_000 },
      );
    const all = [...progs, { name: 'engine (prio 1)', id: e.programId }];
    for (let r = 0; r < a.rounds; r++) {
      const order = progs.map((_, i) => progs[(i + r) % progs.length] as (typeof progs)[number]);
      const ids = order.map((_, i) => ({ handle: 100 + i, priority: 10 + i }));
      order.forEach((p, i) => tcAttach(ifindex, 'ntf0', p.fd, ids[i] as (typeof ids)[number], true));
      try {
        for (const fam of r % 2 ? ([6, 4] as const) : ([4, 6] as const)) {
          const dst = mainDst(fam, N);
          flood(dst, 0.1); // the neighbour and the flow's entry
          const s0 = all.map((p) => progRunStats(p.id));
          flood(dst, a.seconds);
          const s1 = all.map((p) => progRunStats(p.id));
          all.forEach((p, i) => {
            const x = s0[i] as { ns: number; runs: number };
            const y = s1[i] as { ns: number; runs: number };
            ((res[`IPv${fam}`] ??= {})[p.name] ??= []).push((y.ns - x.ns) / Math.max(1, y.runs - x.runs));
          });
        }
      } finally {
        for (const id of ids) tcDetach(ifindex, 'ntf0', id);
      }
    }
  } finally {
    for (const o of objs) o.close();
    e.close({ unload: true });
  }
  return res;
}

if (process.argv[2] === '--child') {
  process.stdout.write(`${JSON.stringify(child(JSON.parse(process.argv[3] ?? '{}') as ChildArgs))}\n`);
  process.exit(0);
}

const { values, positionals } = parseArgs({
  options: { rounds: { type: 'string', default: '9' }, seconds: { type: 'string', default: '1' } },
  allowPositionals: true,
});
const variants = positionals.map((p) => p.split('=', 2) as [string, string]);
if (process.getuid?.() !== 0 || variants.length === 0 || variants.some((v) => !v[1])) {
  process.stderr.write(
    'usage (root): node dist/bench/variants.js [--rounds N] [--seconds S] NAME=OBJECT ...\n',
  );
  process.exit(64);
}
const tag = `ntfv${process.pid % 100000}`;
const sb = Sandbox.create(tag, 2);
const statsWas = readFileSync('/proc/sys/kernel/bpf_stats_enabled', 'utf8').trim();
try {
  const tools = buildTools(sb.dir);
  await sb.startPeer();
  routeBenchBlocks(sb.client, sb.server);
  addGuardTargets(sb.server);
  const args: ChildArgs = {
    rounds: Number(values.rounds),
    seconds: Number(values.seconds),
    variants,
    flood: tools.flood,
    empty: tools.empty,
    passwd: sb.writeFile('passwd', PASSWD),
    group: sb.writeFile('group', GROUP),
    pinDir: `/sys/fs/bpf/${tag}`,
  };
  execFileSync('sysctl', ['-qw', 'kernel.bpf_stats_enabled=1']);
  const out = execFileSync(
    sb.nsenter()[0] as string,
    [...sb.nsenter().slice(1), process.execPath, process.argv[1] as string, '--child', JSON.stringify(args)],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 3_600_000 },
  );
  const res = JSON.parse(out.trim().split('\n').pop() ?? '{}') as Record<string, Record<string, number[]>>;
  const base = variants[0]?.[0] as string;
  for (const [fam, by] of Object.entries(res)) {
    process.stdout.write(
      `${fam}, ${N.toLocaleString('en')} ranges × 100 users, ${args.rounds} rounds of ${args.seconds} s:\n`,
    );
    for (const [name, xs] of Object.entries(by)) {
      const d = xs.map((x, i) => x - (by[base]?.[i] ?? NaN));
      const q = xs.map((x, i) => x / (by.empty?.[i] ?? NaN));
      const [lo, hi] = minMax(d);
      process.stdout.write(
        `  ${name.padEnd(16)} ${median(xs).toFixed(0).padStart(4)} ns  − ${base}: ${median(d).toFixed(1)} ns (${lo.toFixed(0)}…${hi.toFixed(0)})  ×${median(q).toFixed(2)} of the empty program\n`,
      );
    }
  }
} finally {
  execFileSync('sysctl', ['-qw', `kernel.bpf_stats_enabled=${statsWas}`]);
  sb.destroy();
}
