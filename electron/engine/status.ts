// SPDX-License-Identifier: Apache-2.0
// Environment: Node (main process and CLI). No Electron import.
//
// Reads what is enforced from the pinned state alone, without loading anything or taking
// the lock: safe to run while a daemon or the GUI owns the engine. The directory and every pin
// are checked before they are opened (pintrust.ts): a planted state is refused, not reported.
import { readFileSync } from 'node:fs';
import {
  BpfMap,
  closeFd,
  decodeAttach,
  decodeCounters,
  decodeIfaceCfg,
  decodeIfaceKey,
  decodeState,
  LAYOUTS,
  lib,
  lockHolder,
  NTF,
  progInfo,
  tcQuery,
  u32Buf,
  ifIndexToName,
  libbpfVersion,
} from '../../native-bridge/index.js';
import type { Counters } from '../../native-bridge/index.js';
import {
  FILTER_ID,
  PIN_NAMES,
  effectiveEpoch,
  evictedFlows,
  flowTableStatus,
  readSuppressed,
  stateIdentity,
  trialOf,
} from './engine.js';
import type { FlowTableStatus, TrialInfo } from './engine.js';
import { readFlows } from './flows.js';
import { checkPin, checkPinDir } from './pintrust.js';
import { enforcedPolicy, listHistory } from './history.js';
import { parsePolicy } from '../policy/yaml.js';
import { hostEvalTime, windowStatus } from '../policy/when.js';
import type { WindowStatus } from '../policy/when.js';
import type { FlowRow } from './flows.js';

export interface InterfaceStatus {
  name: string;
  ifindex: number;
  /** Our filter is on the interface's egress hook with the pinned program. */
  attached: boolean;
  progId: number | undefined;
  qdiscOurs: boolean;
  /** No endpoint names it: only the guarded ranges are checked there (no settings of its own). */
  guardOnly: boolean;
  settings?: {
    default: 'allow' | 'deny';
    unowned: 'allow' | 'deny';
    essentials: boolean;
    logAllowed: string;
    mode: 'enforce' | 'audit';
  };
}

export interface EngineStatus {
  pinDir: string;
  loaded: boolean;
  programId?: number;
  programTag?: string;
  /** The policy the kernel enforces now (after a trial's deadline: the one before the trial). */
  epoch?: number;
  /** Identifies the pinned state the epochs belong to (history entries carry it). */
  stateId?: string;
  /** A pending trial, or one the kernel ended that no process of ours has settled yet. */
  trial?: Omit<TrialInfo, 'deadlineNs'>;
  /** The enforced policy's endpoints with `when:` windows: open now, and when that changes
   * (host time zone; from the history's text of the effective epoch). */
  windows?: WindowStatus[];
  /** The last trial, when it did not stay: what became of it (from the history). */
  lastTrial?: { epoch: number; outcome: string; time: string; historyN: number };
  owner?: { pid: number; command: string };
  interfaces: InterfaceStatus[];
  ranges: { v4: number; v6: number };
  setEntries: number;
  counters?: Record<keyof Counters, string>;
  /** Events not reported because their sender was over its budget, per sender (uid; null = no socket). */
  suppressed?: Array<{ uid: number | null; events: string }>;
  flowTable?: FlowTableStatus;
  /** With `flows`: every flow entry, most recently seen first. */
  flows?: FlowRow[];
  libbpf: string;
  kernel: string;
}

const LOG_NAMES = ['off', 'sample', 'all'];

/** The newest policy applied (reverts aside) when it was a trial that did not stay: the kernel or
 * a revert went back. The history is a record: unreadable, it just says nothing here. */
function lastTrial(pinDir: string, state: string): Pick<EngineStatus, 'lastTrial'> {
  try {
    const latest = listHistory(pinDir).entries.find((e) => e.state === state && e.origin !== 'revert');
    if (!latest?.trial || !latest.outcome.startsWith('reverted')) return {};
    return {
      lastTrial: {
        epoch: latest.epoch,
        outcome: latest.outcome,
        time: latest.outcomeTime ?? latest.time,
        historyN: latest.n,
      },
    };
  } catch {
    return {};
  }
}

/** The enforced policy's windows (parsed only when its text has any). The history is a record:
 * unreadable, it just says nothing here. */
function enforcedWindows(pinDir: string, state: string, epoch: number): Pick<EngineStatus, 'windows'> {
  try {
    const text = enforcedPolicy(pinDir, state, epoch)?.text;
    if (text === undefined || !text.includes('when')) return {};
    const policy = parsePolicy(text, 'the enforced policy').policy;
    const windows = policy ? windowStatus(policy.endpoints, hostEvalTime()) : [];
    return windows.length > 0 ? { windows } : {};
  } catch {
    return {};
  }
}

/** Without the kernel-clock deadline (a bigint: JSON has no such numbers). */
function jsonTrial(t: TrialInfo): Omit<TrialInfo, 'deadlineNs'> {
  const { deadlineNs: _ns, ...rest } = t;
  return rest;
}

/** `flows`: every flow entry; `lastTrial`: what became of the last trial (reads the history). */
export function readStatus(
  pinDir: string,
  opts: { flows?: boolean; lastTrial?: boolean } = {},
): EngineStatus {
  const base: EngineStatus = {
    pinDir,
    loaded: false,
    interfaces: [],
    ranges: { v4: 0, v6: 0 },
    setEntries: 0,
    libbpf: libbpfVersion(),
    kernel: readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(),
  };
  const trust = checkPinDir(pinDir, { allowMissing: true });
  if (!trust) return base;
  // Every pin first: a planted one is refused even where this status would not read it.
  const present = PIN_NAMES.filter((name) => checkPin(trust, name));
  if (!present.includes('ntf_state')) return base;
  const opened: BpfMap[] = [];
  const open = (name: string) => {
    if (!present.includes(name))
      throw new Error(`${pinDir}/${name} is missing (the pinned state is incomplete)`);
    const m = BpfMap.fromPin(`${pinDir}/${name}`);
    opened.push(m);
    return m;
  };
  try {
    const stateMap = open('ntf_state');
    const stateVal = stateMap.lookup(u32Buf(0));
    const state = stateVal ? decodeState(stateVal) : { epoch: 0n, trialDeadlineNs: 0n, fallbackEpoch: 0n };
    const epoch = effectiveEpoch(state);
    const trial = trialOf(state);
    const stateId = stateIdentity(stateMap);
    const gen = epoch & 1;
    let programId: number | undefined;
    let programTag: string | undefined;
    if (present.includes('ntf_egress')) {
      const fd = lib().bpf_obj_get(`${pinDir}/ntf_egress`) as number;
      if (fd >= 0) {
        const info = progInfo(fd);
        programId = info.id;
        programTag = info.tag;
        closeFd(fd);
      }
    }
    const cfgs = new Map<number, ReturnType<typeof decodeIfaceCfg>>();
    for (const [k, v] of open('ntf_ifaces').entries()) {
      const key = decodeIfaceKey(k);
      if (key.gen === gen) cfgs.set(key.ifindex, decodeIfaceCfg(v));
    }
    const interfaces: InterfaceStatus[] = open('ntf_attach')
      .entries()
      .map(([, v]) => {
        const a = decodeAttach(v);
        const current = ifIndexToName(a.ifindex); // by index: it may have been renamed
        const progId = current !== undefined ? tcQuery(a.ifindex, current, FILTER_ID) : undefined;
        const c = cfgs.get(a.ifindex);
        return {
          name: current ?? a.ifname,
          ifindex: a.ifindex,
          attached: progId !== undefined && progId === programId,
          progId,
          qdiscOurs: (a.flags & NTF.ATTACH_QDISC_OURS) !== 0,
          guardOnly: c === undefined && cfgs.has(NTF.IFINDEX_ANY),
          settings: c && {
            default: c.defaultAllow ? 'allow' : 'deny',
            unowned: c.unownedAllow ? 'allow' : 'deny',
            essentials: c.essentials,
            logAllowed: LOG_NAMES[c.logAllowed] ?? String(c.logAllowed),
            mode: c.audit ? 'audit' : 'enforce',
          },
        };
      });
    const names = new Map(interfaces.map((i) => [i.ifindex, i.name]));
    // Keys of generation `gen` (its field's offset in the map's key layout).
    const countGen = (m: BpfMap, key: { fields: { gen: { offset: number } } }) =>
      m.keys().filter((k) => k.readUInt32LE(key.fields.gen.offset) === gen).length;
    // Counters just before the flow table: a flow inserted in between is never counted as evicted.
    const cv = open('ntf_counters').lookup(u32Buf(0));
    const counters = cv ? decodeCounters(cv, cv.length / LAYOUTS.counters.size) : undefined;
    const flowMap = open('ntf_flows');
    const flows = opts.flows ? readFlows(flowMap, (i) => names.get(i) ?? `if${i}`) : undefined;
    const suppressed = present.includes('ntf_budget')
      ? readSuppressed(open('ntf_budget')).map((x) => ({ uid: x.uid, events: x.events.toString() }))
      : undefined;
    const flowTable = counters
      ? flows
        ? {
            entries: flows.length,
            capacity: flowMap.info.maxEntries,
            evicted: evictedFlows(counters, flows.length),
          }
        : flowTableStatus(flowMap, counters)
      : undefined;
    return {
      ...base,
      loaded: true,
      programId,
      programTag,
      epoch,
      stateId,
      ...(opts.lastTrial ? lastTrial(pinDir, stateId) : {}),
      ...enforcedWindows(pinDir, stateId, epoch),
      ...(trial ? { trial: jsonTrial(trial) } : {}),
      owner: lockHolder(pinDir),
      interfaces,
      ranges: {
        v4: countGen(open('ntf_lpm4'), LAYOUTS.lpm4Key),
        v6: countGen(open('ntf_lpm6'), LAYOUTS.lpm6Key),
      },
      setEntries: countGen(open('ntf_sets'), LAYOUTS.setKey),
      ...(flows ? { flows } : {}),
      ...(suppressed ? { suppressed } : {}),
      ...(flowTable ? { flowTable } : {}),
      counters:
        counters &&
        (Object.fromEntries(Object.entries(counters).map(([k, v]) => [k, v.toString()])) as Record<
          keyof Counters,
          string
        >),
    };
  } finally {
    for (const m of opened) m.close();
  }
}
