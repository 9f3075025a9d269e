// SPDX-License-Identifier: Apache-2.0
// Environment: Node (main process and CLI). No Electron import.
//
// Opening and loading a BPF object file, with the verifier log captured and maps either
// created fresh or reused from pins.
import { existsSync } from 'node:fs';
import { BpfError, check, ERRNO } from './errors.js';
import { lastErrno, lib } from './libbpf.js';
import { BpfMap } from './map.js';

export interface LoadOptions {
  /** map name → max_entries, applied before load (maps created fresh only). */
  maxEntries?: Record<string, number>;
  /** Reuse maps pinned at `${dir}/${mapName}` where they exist. */
  reusePinsFrom?: string;
  /** Only these maps are reused from pins. */
  pinnedMaps?: readonly string[];
  /** Replaces the object's .rodata (const volatile globals) before load. */
  rodata?: Buffer;
  /** Bytes for the verifier log (captured and shown only when loading fails). */
  logSize?: number;
}

/** A pinned map from another version of the program: adopting it would corrupt state. */
export class PinMismatchError extends Error {
  constructor(
    readonly path: string,
    want: { type: number; keySize: number; valueSize: number },
    have: { type: number; keySize: number; valueSize: number },
  ) {
    super(
      `the map pinned at ${path} (type ${have.type}, key ${have.keySize} B, value ${have.valueSize} B) does not ` +
        `match this version's (type ${want.type}, key ${want.keySize} B, value ${want.valueSize} B); ` +
        `remove the old state with \`net-tc-filter unload\` first`,
    );
    this.name = 'PinMismatchError';
  }
}

export class BpfObject {
  private obj: unknown;
  readonly path: string;

  private constructor(obj: unknown, path: string) {
    this.obj = obj;
    this.path = path;
  }

  static openFile(path: string): BpfObject {
    const obj = lib().bpf_object__open_file(path, null);
    if (!obj) throw new BpfError('bpf_object__open_file', lastErrno(), { context: path });
    return new BpfObject(obj, path);
  }

  static openMem(buf: Buffer, name: string): BpfObject {
    const obj = lib().bpf_object__open_mem(buf, buf.length, null);
    if (!obj) throw new BpfError('bpf_object__open_mem', lastErrno(), { context: name });
    return new BpfObject(obj, name);
  }

  private handle(): unknown {
    if (!this.obj) throw new Error('BPF object is closed');
    return this.obj;
  }

  private mapHandle(name: string): unknown {
    const m = lib().bpf_object__find_map_by_name(this.handle(), name);
    if (!m)
      throw new BpfError('bpf_object__find_map_by_name', lastErrno() || ERRNO.ENOENT, { context: name });
    return m;
  }

  private internalMap(suffix: string): unknown {
    let m: unknown = null;
    for (let i = 0; i < 64; i++) {
      m = lib().bpf_object__next_map(this.handle(), m);
      if (!m) return undefined;
      if ((lib().bpf_map__name(m) as string).endsWith(suffix)) return m;
    }
    return undefined;
  }

  /** Loads the programs and creates (or reuses) the maps. Returns the names of reused maps. */
  load(opts: LoadOptions = {}): string[] {
    const l = lib();
    const reused: string[] = [];
    for (const [name, n] of Object.entries(opts.maxEntries ?? {})) {
      check('bpf_map__set_max_entries', l.bpf_map__set_max_entries(this.mapHandle(name), n), name);
    }
    if (opts.rodata) {
      const ro = this.internalMap('.rodata');
      if (!ro) throw new Error('the BPF object has no .rodata section');
      check('bpf_map__set_initial_value', l.bpf_map__set_initial_value(ro, opts.rodata, opts.rodata.length));
    }
    const dir = opts.reusePinsFrom;
    if (dir) {
      for (const name of opts.pinnedMaps ?? []) {
        const path = `${dir}/${name}`;
        if (!existsSync(path)) continue;
        const pinned = BpfMap.fromPin(path);
        try {
          const m = this.mapHandle(name);
          const type = l.bpf_map__type(m) as number;
          const keySize = l.bpf_map__key_size(m) as number;
          const valueSize = l.bpf_map__value_size(m) as number;
          if (
            pinned.info.type !== type ||
            pinned.info.keySize !== keySize ||
            pinned.info.valueSize !== valueSize
          ) {
            throw new PinMismatchError(path, { type, keySize, valueSize }, pinned.info);
          }
          const want = l.bpf_map__max_entries(m) as number;
          if (!name.includes('events') && pinned.info.maxEntries !== want) {
            // Keep the pinned size, also over a requested one (maxEntries is for fresh maps): the
            // pinned map, its contents and its size are what we adopt.
            check('bpf_map__set_max_entries', l.bpf_map__set_max_entries(m, pinned.info.maxEntries), name);
          }
          check('bpf_map__reuse_fd', l.bpf_map__reuse_fd(m, pinned.fd), name);
          reused.push(name);
        } finally {
          pinned.close(); // reuse_fd dup()s the descriptor
        }
      }
    }
    const prog = this.firstProgram();
    const logSize = opts.logSize ?? 1 << 20;
    const log = Buffer.alloc(logSize);
    if (prog) l.bpf_program__set_log_buf(prog, log, logSize);
    const ret = l.bpf_object__load(this.handle());
    if (ret < 0) {
      const end = log.indexOf(0);
      const text = log
        .subarray(0, end < 0 ? log.length : end)
        .toString('utf8')
        .trim();
      // The end of the verifier log says why; the start is the replay of the program.
      const tail = text.split('\n').slice(-30).join('\n');
      throw new BpfError('bpf_object__load', -ret, { context: this.path, log: tail || undefined });
    }
    return reused;
  }

  private firstProgram(): unknown {
    return lib().bpf_object__find_program_by_name(this.handle(), 'ntf_egress');
  }

  programFd(name: string): number {
    const p = lib().bpf_object__find_program_by_name(this.handle(), name);
    if (!p)
      throw new BpfError('bpf_object__find_program_by_name', lastErrno() || ERRNO.ENOENT, { context: name });
    return check('bpf_program__fd', lib().bpf_program__fd(p), name);
  }

  /** A map of the loaded object. Its fd belongs to the object: valid until close(). */
  map(name: string): BpfMap {
    const fd = check('bpf_map__fd', lib().bpf_map__fd(this.mapHandle(name)), name);
    return new BpfMap(fd, { name, ownsFd: false });
  }

  close(): void {
    if (this.obj) {
      lib().bpf_object__close(this.obj);
      this.obj = undefined;
    }
  }
}
