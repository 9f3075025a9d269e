// SPDX-License-Identifier: Apache-2.0
// Environment: Node (main process and CLI). No Electron import.
//
// A BPF map by file descriptor: element and batch operations on Buffers laid out as in
// bpf/net_tc_filter.h (see layouts.ts).
import { readFileSync } from 'node:fs';
import koffi from 'koffi';
import { BpfError, check, ERRNO } from './errors.js';
import { BPF_ANY, lib, MapBatchOpts } from './libbpf.js';
import { cString, readFields, SYS_LAYOUTS } from './layouts.js';

export interface MapInfo {
  type: number;
  id: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  name: string;
}

const BPF_MAP_TYPE_PERCPU_HASH = 5;
const BPF_MAP_TYPE_PERCPU_ARRAY = 6;
const BPF_MAP_TYPE_LRU_PERCPU_HASH = 10;

const { ENOENT } = ERRNO;
/** What a batch operation returns for a map type without batch support. */
const NO_BATCH = [ERRNO.EINVAL, ERRNO.EOPNOTSUPP, ERRNO.ENOTSUPP];
const BATCH_OPTS_SZ = koffi.sizeof(MapBatchOpts);

let possibleCpus: number | undefined;

/** Number of possible CPUs: the stride of per-CPU map values. */
export function numPossibleCpus(): number {
  if (possibleCpus === undefined) {
    const text = readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim();
    let n = 0;
    for (const part of text.split(',')) {
      const [a, b] = part.split('-').map(Number);
      n += b === undefined ? 1 : b - (a ?? 0) + 1;
    }
    possibleCpus = n;
  }
  return possibleCpus;
}

export function objInfo(fd: number): Buffer {
  const info = Buffer.alloc(256);
  const len = [info.length];
  check('bpf_obj_get_info_by_fd', lib().bpf_obj_get_info_by_fd(fd, info, len));
  return info;
}

export function mapInfo(fd: number): MapInfo {
  const r = readFields(SYS_LAYOUTS.mapInfo, objInfo(fd));
  return {
    type: r.type,
    id: r.id,
    keySize: r.key_size,
    valueSize: r.value_size,
    maxEntries: r.max_entries,
    flags: r.map_flags,
    name: cString(Buffer.from(r.name), 0, r.name.length),
  };
}

/** Map entries back to back: entry i's key at i × keySize of `keys`, its value at i × valueSize
 * of `values` (no Buffer per entry). */
export interface PackedEntries {
  keys: Buffer;
  values: Buffer;
  count: number;
}

export class BpfMap {
  readonly fd: number;
  readonly name: string;
  readonly info: MapInfo;
  /** Size of one value as user space reads it (per-CPU maps: one slot per possible CPU). */
  readonly valueBytes: number;
  private readonly ownsFd: boolean;
  private batchWorks: boolean | undefined;

  constructor(fd: number, opts: { name?: string; ownsFd: boolean }) {
    this.fd = fd;
    this.ownsFd = opts.ownsFd;
    this.info = mapInfo(fd);
    this.name = opts.name ?? this.info.name;
    const perCpu = [
      BPF_MAP_TYPE_PERCPU_ARRAY,
      BPF_MAP_TYPE_PERCPU_HASH,
      BPF_MAP_TYPE_LRU_PERCPU_HASH,
    ].includes(this.info.type);
    this.valueBytes = perCpu
      ? Math.ceil(this.info.valueSize / 8) * 8 * numPossibleCpus()
      : this.info.valueSize;
  }

  /** Opens a pinned map. */
  static fromPin(path: string): BpfMap {
    const fd = lib().bpf_obj_get(path);
    if (fd < 0) throw new BpfError('bpf_obj_get', -fd, { context: path });
    return new BpfMap(fd, { ownsFd: true });
  }

  update(key: Buffer, value: Buffer, flags: number = BPF_ANY): void {
    check('bpf_map_update_elem', lib().bpf_map_update_elem(this.fd, key, value, flags), this.name);
  }

  /** The value, or undefined when the key is absent. */
  lookup(key: Buffer): Buffer | undefined {
    const value = Buffer.alloc(this.valueBytes);
    const ret = lib().bpf_map_lookup_elem(this.fd, key, value);
    if (ret === -ENOENT) return undefined;
    check('bpf_map_lookup_elem', ret, this.name);
    return value;
  }

  /** Deletes a key; returns false when it was absent. */
  delete(key: Buffer): boolean {
    const ret = lib().bpf_map_delete_elem(this.fd, key);
    if (ret === -ENOENT) return false;
    check('bpf_map_delete_elem', ret, this.name);
    return true;
  }

  /** Every key (snapshot). Bounded by max_entries so a map changing underneath cannot loop forever. */
  keys(): Buffer[] {
    const out: Buffer[] = [];
    let prev: Buffer | null = null;
    const limit = this.info.maxEntries + 1;
    for (let i = 0; i < limit; i++) {
      const next = Buffer.alloc(this.info.keySize);
      const ret: number = lib().bpf_map_get_next_key(this.fd, prev, next);
      if (ret === -ENOENT) break; // end of map
      check('bpf_map_get_next_key', ret, this.name);
      out.push(next);
      prev = next;
    }
    return out;
  }

  /** Every entry (snapshot): batch lookup where the kernel has it, else key by key. */
  entries(): Array<[Buffer, Buffer]> {
    const p = this.entriesPacked();
    const ks = this.info.keySize;
    const vs = this.valueBytes;
    const out: Array<[Buffer, Buffer]> = [];
    for (let i = 0; i < p.count; i++)
      out.push([p.keys.subarray(i * ks, (i + 1) * ks), p.values.subarray(i * vs, (i + 1) * vs)]);
    return out;
  }

  /** Every entry (snapshot) as one buffer of keys and one of values, back to back, entry i at
   * i × keySize and i × valueBytes (no Buffer per entry: the engine reads tries of tens of
   * thousands of entries on every apply). Batch lookup where the kernel has it, else key by key. */
  entriesPacked(): PackedEntries {
    const ks = this.info.keySize;
    const vs = this.valueBytes;
    const batched = this.lookupBatchAll();
    if (batched) return batched;
    const keys = this.keys();
    const values: Buffer[] = [];
    const present: Buffer[] = [];
    for (const k of keys) {
      const v = this.lookup(k);
      if (!v) continue; // deleted since it was listed
      present.push(k);
      values.push(v);
    }
    return {
      keys: Buffer.concat(present, present.length * ks),
      values: Buffer.concat(values, values.length * vs),
      count: present.length,
    };
  }

  private lookupBatchAll(): PackedEntries | undefined {
    if (this.batchWorks === false) return undefined;
    const chunk = 4096;
    const ks = this.info.keySize;
    const vs = this.valueBytes;
    const token = Buffer.alloc(Math.max(ks, 8));
    const keyChunks: Buffer[] = [];
    const valueChunks: Buffer[] = [];
    let count = 0;
    const opts = { sz: BATCH_OPTS_SZ, elem_flags: 0, flags: 0 };
    let inBatch: Buffer | null = null;
    for (let round = 0; round <= this.info.maxEntries / chunk + 1; round++) {
      const keys = Buffer.allocUnsafe(ks * chunk);
      const values = Buffer.allocUnsafe(vs * chunk);
      const n = [chunk];
      const outBatch = Buffer.alloc(token.length);
      const ret: number = lib().bpf_map_lookup_batch(this.fd, inBatch, outBatch, keys, values, n, opts);
      const got = ret < 0 && ret !== -ENOENT ? 0 : (n[0] ?? 0);
      if (ret < 0 && ret !== -ENOENT) {
        if (round === 0 && NO_BATCH.includes(-ret)) {
          this.batchWorks = false; // this map type has no batch ops
          return undefined;
        }
        check('bpf_map_lookup_batch', ret, this.name);
      }
      this.batchWorks = true;
      keyChunks.push(keys.subarray(0, got * ks));
      valueChunks.push(values.subarray(0, got * vs));
      count += got;
      if (ret === -ENOENT) break; // that was the last batch
      inBatch = outBatch;
    }
    return {
      keys: keyChunks.length === 1 ? (keyChunks[0] as Buffer) : Buffer.concat(keyChunks, count * ks),
      values: valueChunks.length === 1 ? (valueChunks[0] as Buffer) : Buffer.concat(valueChunks, count * vs),
      count,
    };
  }

  /** Writes many entries: one batch syscall where the kernel supports it for this map type. */
  updateMany(entries: ReadonlyArray<readonly [Buffer, Buffer]>, flags: number = BPF_ANY): void {
    if (entries.length === 0) return;
    this.updatePacked(
      Buffer.concat(entries.map((e) => e[0])),
      Buffer.concat(entries.map((e) => e[1])),
      entries.length,
      flags,
    );
  }

  /** Writes `count` entries given as one buffer of keys and one of values, back to back (no
   * Buffer per entry: a million-pair policy writes millions). */
  updatePacked(keys: Buffer, values: Buffer, count: number, flags: number = BPF_ANY): void {
    if (count === 0) return;
    const ks = this.info.keySize;
    const vs = this.valueBytes;
    if (keys.length !== count * ks || values.length !== count * vs)
      throw new RangeError(
        `${this.name}: ${count} entries need ${count * ks} key and ${count * vs} value bytes`,
      );
    if (this.batchWorks !== false) {
      const n = [count];
      const ret: number = lib().bpf_map_update_batch(this.fd, keys, values, n, {
        sz: 24,
        elem_flags: flags,
        flags: 0,
      });
      if (ret === 0) {
        this.batchWorks = true;
        return;
      }
      if (![22, 95, 524].includes(-ret) || this.batchWorks === true) {
        check('bpf_map_update_batch', ret, this.name);
      }
      this.batchWorks = false;
      // Entries before `count` may already be written; rewriting them below is harmless.
    }
    for (let i = 0; i < count; i++)
      this.update(keys.subarray(i * ks, (i + 1) * ks), values.subarray(i * vs, (i + 1) * vs), flags);
  }

  /** Deletes many keys; absent keys are ignored. */
  deleteMany(keys: readonly Buffer[]): void {
    if (keys.length === 0) return;
    this.deletePacked(Buffer.concat(keys), keys.length);
  }

  /** Deletes `count` keys given back to back in one buffer; absent keys are ignored. */
  deletePacked(keys: Buffer, count: number): void {
    if (count === 0) return;
    const ks = this.info.keySize;
    if (keys.length !== count * ks)
      throw new RangeError(`${this.name}: ${count} keys need ${count * ks} bytes`);
    const key = (i: number) => keys.subarray(i * ks, (i + 1) * ks);
    if (this.batchWorks !== false) {
      const n = [count];
      const ret: number = lib().bpf_map_delete_batch(this.fd, keys, n, {
        sz: 24,
        elem_flags: 0,
        flags: 0,
      });
      if (ret === 0) return;
      const done = n[0] ?? 0;
      if (ret === -2) {
        // A key was absent: continue one by one after it.
        for (let i = done; i < count; i++) this.delete(key(i));
        return;
      }
      if (![22, 95, 524].includes(-ret) || this.batchWorks === true)
        check('bpf_map_delete_batch', ret, this.name);
      this.batchWorks = false;
    }
    for (let i = 0; i < count; i++) this.delete(key(i));
  }

  pin(path: string): void {
    check('bpf_obj_pin', lib().bpf_obj_pin(this.fd, path), path);
  }

  close(): void {
    if (this.ownsFd) lib().close(this.fd);
  }
}

export { MapBatchOpts };
