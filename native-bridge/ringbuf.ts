// SPDX-License-Identifier: Apache-2.0
// Environment: Node (main process and CLI). No Electron import.
//
// A BPF ring buffer consumer. Never blocks: `consume()` drains what is there (up to a cap)
// and returns; the caller runs it on a short timer.
import koffi from 'koffi';
import { BpfError } from './errors.js';
import { lastErrno, lib, RingBufferSampleFn } from './libbpf.js';

const CAP_REACHED = -1;

export class RingBuffer {
  private rb: unknown;
  private readonly cb: bigint;
  private readonly scratch: Buffer;
  private handler: (record: Buffer) => void;
  private budget = 0;
  private taken = 0;
  /** Exceptions thrown by the handler (they cannot cross into C; they are counted here). */
  handlerErrors = 0;
  lastHandlerError: unknown;

  /**
   * @param recordSize size of one record (every record of our ring buffer has the same size)
   * @param handler called with a Buffer that is reused: copy what you keep
   */
  constructor(mapFd: number, recordSize: number, handler: (record: Buffer) => void) {
    this.scratch = Buffer.alloc(recordSize);
    this.handler = handler;
    this.cb = koffi.register((_ctx: unknown, data: bigint, size: number | bigint) => {
      try {
        const n = Math.min(Number(size), this.scratch.length);
        lib().memcpy(this.scratch, data, n);
        this.handler(n === this.scratch.length ? this.scratch : this.scratch.subarray(0, n));
      } catch (err) {
        this.handlerErrors++;
        this.lastHandlerError = err;
      }
      this.taken++;
      return this.taken >= this.budget ? CAP_REACHED : 0;
    }, koffi.pointer(RingBufferSampleFn));
    this.rb = lib().ring_buffer__new(mapFd, this.cb, null, null);
    if (!this.rb) {
      const errno = lastErrno();
      koffi.unregister(this.cb);
      throw new BpfError('ring_buffer__new', errno);
    }
  }

  /** Consumes at most `max` records; returns how many. */
  consume(max: number): number {
    if (!this.rb) return 0;
    this.budget = max;
    this.taken = 0;
    const ret: number = lib().ring_buffer__consume(this.rb);
    if (ret < 0 && ret !== CAP_REACHED) throw new BpfError('ring_buffer__consume', -ret);
    return this.taken;
  }

  close(): void {
    if (this.rb) {
      lib().ring_buffer__free(this.rb);
      this.rb = undefined;
      koffi.unregister(this.cb);
    }
  }
}
