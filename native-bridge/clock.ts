// SPDX-License-Identifier: Apache-2.0
// Environment: Node (main process and CLI).
//
// The kernel's clocks the tc program reads time windows by: CLOCK_TAI (bpf_ktime_get_tai_ns)
// is CLOCK_REALTIME plus the kernel's TAI offset (adjtimex; 0 unless a time daemon set it, 37 s
// where one did), so the program needs that offset to get UTC back.
import { lib } from './libbpf.js';

const CLOCK_REALTIME = 0;
const CLOCK_TAI = 11;

function nowNs(clock: number): bigint {
  const ts = Buffer.alloc(16); // struct timespec: tv_sec, tv_nsec (64-bit each)
  if ((lib().clock_gettime(clock, ts) as number) !== 0) throw new Error(`clock_gettime(${clock}) failed`);
  return ts.readBigInt64LE(0) * 1_000_000_000n + ts.readBigInt64LE(8);
}

/** CLOCK_TAI − CLOCK_REALTIME, in whole seconds (as ns): the kernel's TAI offset. */
export function taiMinusUtcNs(): bigint {
  const d = nowNs(CLOCK_TAI) - nowNs(CLOCK_REALTIME);
  return ((d + 500_000_000n) / 1_000_000_000n) * 1_000_000_000n;
}
