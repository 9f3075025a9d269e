// SPDX-License-Identifier: Apache-2.0
// Environment: Node (main process and CLI). No Electron import.
//
// Typed bindings to the system libbpf (libbpf.so.1) through koffi.
export { BpfError, check, errnoName } from './errors.js';
export { lib, libbpfVersion, BPF_ANY, BPF_NOEXIST, BPF_EXIST } from './libbpf.js';
export { BpfMap, mapInfo, numPossibleCpus, objInfo } from './map.js';
export type { MapInfo, PackedEntries } from './map.js';
export { BpfObject, PinMismatchError } from './object.js';
export type { LoadOptions } from './object.js';
export { RingBuffer } from './ringbuf.js';
export { tcAttach, tcDetach, tcHookCreate, tcHookDestroy, tcQuery } from './tc.js';
export type { TcFilterId } from './tc.js';
export * from './layouts.js';
export * from './sys.js';
export { commandLineText, escapeUntrusted } from './escape.js';
export { LinkEvents } from './netlink.js';
