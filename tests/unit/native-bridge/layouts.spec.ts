// SPDX-License-Identifier: Apache-2.0
// Environment: Node (vitest). Needs a C compiler (cc) and the kernel UAPI headers.
//
// The TypeScript mirror of bpf/net_tc_filter.h must agree with the C compiler on every
// struct size, field offset and constant: this compiles a program that prints them.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LAYOUTS, NTF } from '../../../native-bridge/layouts.js';
import { packageRoot } from '../../../electron/engine/paths.js';

const CONSTANTS: Record<keyof typeof NTF, string> = {
  UID_ANY: 'NTF_UID_ANY',
  CG_ANY: 'NTF_CG_ANY',
  CG_LEVELS: 'NTF_CG_LEVELS',
  VERDICT_ALLOW: 'NTF_VERDICT_ALLOW',
  VERDICT_DROP: 'NTF_VERDICT_DROP',
  VERDICT_WOULD_DROP: 'NTF_VERDICT_WOULD_DROP',
  REASON_ENDPOINT: 'NTF_REASON_ENDPOINT',
  REASON_NOT_LISTED: 'NTF_REASON_NOT_LISTED',
  REASON_DEFAULT_ALLOW: 'NTF_REASON_DEFAULT_ALLOW',
  REASON_DEFAULT_DENY: 'NTF_REASON_DEFAULT_DENY',
  REASON_UNOWNED_ALLOW: 'NTF_REASON_UNOWNED_ALLOW',
  REASON_UNOWNED_DENY: 'NTF_REASON_UNOWNED_DENY',
  REASON_ESSENTIAL: 'NTF_REASON_ESSENTIAL',
  REASON_IFACE_NOT_LISTED: 'NTF_REASON_IFACE_NOT_LISTED',
  REASON_ROUTING_HEADER: 'NTF_REASON_ROUTING_HEADER',
  IFINDEX_ANY: 'NTF_IFINDEX_ANY',
  RH_MAX: 'NTF_RH_MAX',
  LPM4_ENTRIES: 'NTF_LPM4_ENTRIES',
  LPM6_ENTRIES: 'NTF_LPM6_ENTRIES',
  SET_ENTRIES: 'NTF_SET_ENTRIES',
  IFACE_ENTRIES: 'NTF_IFACE_ENTRIES',
  CGROUP_ENTRIES: 'NTF_CGROUP_ENTRIES',
  LOG_OFF: 'NTF_LOG_OFF',
  LOG_SAMPLE: 'NTF_LOG_SAMPLE',
  LOG_ALL: 'NTF_LOG_ALL',
  EVENT_UNOWNED: 'NTF_EVENT_UNOWNED',
  EVENT_NEW_FLOW: 'NTF_EVENT_NEW_FLOW',
  EVENT_ROUTED: 'NTF_EVENT_ROUTED',
  EVENT_UID_UNRECORDED: 'NTF_EVENT_UID_UNRECORDED',
  AF_INET: 'NTF_AF_INET',
  AF_INET6: 'NTF_AF_INET6',
  ATTACH_QDISC_OURS: 'NTF_ATTACH_QDISC_OURS',
  SK_RECORDED: 'NTF_SK_RECORDED',
  MAX_ENDPOINT_ID: 'NTF_MAX_ENDPOINT_ID',
  L2_UNKNOWN: 'NTF_L2_UNKNOWN',
};

function cLayouts(): Record<string, number> {
  const lines: string[] = [
    '#include <stdio.h>',
    '#include <stddef.h>',
    '#include <linux/types.h>',
    '#include "net_tc_filter.h"',
    'int main(void) {',
  ];
  for (const l of Object.values(LAYOUTS)) {
    lines.push(`printf("${l.struct} %zu\\n", sizeof(struct ${l.struct}));`);
    for (const [f] of Object.entries(l.fields)) {
      lines.push(`printf("${l.struct}.${f} %zu\\n", offsetof(struct ${l.struct}, ${f}));`);
      lines.push(`printf("${l.struct}.${f}#size %zu\\n", sizeof(((struct ${l.struct} *)0)->${f}));`);
    }
  }
  for (const [k, c] of Object.entries(CONSTANTS))
    lines.push(`printf("${k} %llu\\n", (unsigned long long)(${c}));`);
  lines.push('return 0; }');
  const dir = mkdtempSync(join(tmpdir(), 'ntf-layout-'));
  try {
    writeFileSync(join(dir, 'l.c'), lines.join('\n'));
    execFileSync('cc', ['-I', join(packageRoot(), 'bpf'), '-o', join(dir, 'l'), join(dir, 'l.c')]);
    const out = execFileSync(join(dir, 'l'), { encoding: 'utf8' });
    return Object.fromEntries(
      out
        .trim()
        .split('\n')
        .map((s) => [s.split(' ')[0], Number(s.split(' ')[1])]),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const SIZES: Record<string, number> = { u8: 1, u16: 2, u32: 4, u64: 8 };

describe('native-bridge layouts match bpf/net_tc_filter.h', () => {
  const c = cLayouts();
  for (const l of Object.values(LAYOUTS)) {
    it(`struct ${l.struct}`, () => {
      expect(l.size).toBe(c[l.struct]);
      for (const [f, { offset, type }] of Object.entries(l.fields)) {
        expect({ field: f, offset }).toEqual({ field: f, offset: c[`${l.struct}.${f}`] });
        const size = type.startsWith('bytes') ? Number(type.slice(5)) : SIZES[type];
        expect({ field: f, size }).toEqual({ field: f, size: c[`${l.struct}.${f}#size`] });
      }
    });
  }
  it('constants', () => {
    for (const [k, v] of Object.entries(NTF)) expect({ k, v }).toEqual({ k, v: c[k] });
  });
});
