// SPDX-License-Identifier: Apache-2.0
// Environment: Node (main process and CLI). No Electron import.
//
// libbpf's conventions turned into typed errors: int functions return -errno,
// pointer functions return NULL and set errno.
import { constants } from 'node:os';

/**
 * errno values by name: libc's (os.constants.errno), and ENOTSUPP (524), the kernel's internal
 * "not supported" that BPF syscalls return to user space although no libc header defines it.
 * The one place an errno number is written; compare with `-ERRNO.X` for libbpf's int returns.
 */
export const ERRNO = { ...constants.errno, ENOTSUPP: 524 } as const;

const errnoNames = new Map<number, string>(
  Object.entries(ERRNO).map(([name, value]) => [value, name] as [number, string]),
);

export function errnoName(errno: number): string {
  return errnoNames.get(errno) ?? `errno ${errno}`;
}

/** Why an operation could have failed, in words an administrator can act on. */
function hintFor(op: string, errno: number): string | undefined {
  const name = errnoNames.get(errno);
  const tcOp = op.startsWith('bpf_tc_');
  if (name === 'EACCES' && (op === 'bpf_obj_get' || op === 'bpf_obj_pin'))
    return 'file permissions on the pin path refuse this user (capabilities do not override them); see docs/desktop.md "Sharing the pin directory"';
  switch (name) {
    case 'EPERM':
    case 'EACCES':
      return tcOp
        ? 'missing CAP_NET_ADMIN (attaching tc filters needs it)'
        : 'missing CAP_BPF (and CAP_PERFMON for ring buffers), or run as root; see README "Capabilities"';
    case 'ENOENT':
      return op.startsWith('bpf_obj_get') ? 'nothing is pinned there' : undefined;
    case 'ENODEV':
      return 'no such network interface';
    case 'E2BIG':
      return 'a map is full: the policy has more entries than the map was sized for';
    case 'ENOMEM':
      return 'the kernel could not allocate memory for the map or program';
    case 'EEXIST':
      return 'already exists';
    case 'EINVAL':
      return op === 'bpf_object__load' ? 'the verifier rejected the program; see the log below' : undefined;
    case 'ENOTSUP':
    case 'EOPNOTSUPP':
    case 'ENOTSUPP':
      return 'the kernel does not support this operation';
    default:
      return undefined;
  }
}

export class BpfError extends Error {
  readonly op: string;
  readonly errno: number;
  readonly code: string;
  readonly hint: string | undefined;
  readonly log: string | undefined;

  constructor(op: string, errno: number, detail?: { log?: string; context?: string }) {
    const code = errnoName(errno);
    const hint = hintFor(op, errno);
    const where = detail?.context ? `(${detail.context})` : '';
    super(`${op}${where}: ${code}${hint ? ` — ${hint}` : ''}${detail?.log ? `\n${detail.log}` : ''}`);
    this.name = 'BpfError';
    this.op = op;
    this.errno = errno;
    this.code = code;
    this.hint = hint;
    this.log = detail?.log;
  }
}

/** For functions returning 0 or -errno (libbpf 1.x). Returns the non-negative result. */
export function check(op: string, ret: number, context?: string): number {
  if (ret < 0) throw new BpfError(op, -ret, context === undefined ? undefined : { context });
  return ret;
}
