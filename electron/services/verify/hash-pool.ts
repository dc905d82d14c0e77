/**
 * Output buffers for the decompressor and SHA-256 of the members, either on the
 * main thread (small bundles) or on a worker thread that reads the very same
 * memory (large bundles): the decompressor writes into slots of a
 * SharedArrayBuffer and the worker hashes ranges of those slots, so hashing
 * runs on a second core without copying the payload. A slot is reused only
 * once the reader is done with it and every range in it has been hashed.
 * Memory is bounded by the slot count (plus `drain` for other inputs).
 */
import { createHash, type Hash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { workerThreads } from '../lazy-builtins';
import { WRITE_BATCH_SOURCE, type FromWriter, type WriterTransport } from './stream/file-writer';

export const SLOT_SIZE = 1024 * 1024;

/** Atomics.waitAsync (in Node since 16; not in this TypeScript lib's declarations). */
const waitAsync = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number): { async: boolean; value: Promise<string> | string } }).waitAsync;

export interface HashPool {
  /** A writable buffer of SLOT_SIZE bytes for the decompressor. */
  acquire(): Promise<Buffer>;
  /** The reader is done with (every view of) a buffer from acquire(). */
  done(buf: Buffer): void;
  /** One more holder of a buffer from acquire() (for example a write in flight); released by done(). */
  hold(buf: Buffer): void;
  start(): number;
  /** Hashes `chunk` for stream `id`. The chunk must not change until it is hashed (slot rules do that). */
  update(id: number, chunk: Buffer): void;
  finish(id: number): Promise<string>;
  /** Bytes copied to the worker but not hashed yet (for inputs that are not slots). */
  readonly backlog: number;
  drain(below: number): Promise<void>;
  close(): Promise<void>;
  /** The thread that also writes extracted files (file-writer.ts), or null when there is none. */
  writerTransport(): WriterTransport | null;
}

/**
 * Everything on the calling thread: node:crypto hashes, and buffers reused
 * once every holder is done with them (hashing is synchronous here, so a
 * released buffer is free at once). Fresh memory is what costs on these
 * machines (a 4 KiB page's first touch ~12 µs): a small bundle's reads and
 * decompression go through two or three buffers instead of one per MiB.
 */
export class InlinePool implements HashPool {
  private next = 0;
  private readonly hashes = new Map<number, Hash>();
  /** Holders of each buffer handed out (by its memory; a view of it counts as the buffer). */
  private readonly holders = new Map<ArrayBufferLike, { buf: Buffer; n: number }>();
  private readonly free: Buffer[] = [];
  readonly backlog = 0;
  acquire(): Promise<Buffer> {
    const buf = this.free.pop() ?? Buffer.allocUnsafeSlow(SLOT_SIZE);
    this.holders.set(buf.buffer, { buf, n: 1 });
    return Promise.resolve(buf);
  }
  done(buf: Buffer): void {
    const h = this.holders.get(buf.buffer);
    if (!h || --h.n > 0) return;
    this.holders.delete(buf.buffer);
    this.free.push(h.buf);
  }
  hold(buf: Buffer): void {
    const h = this.holders.get(buf.buffer);
    if (h) h.n++;
  }
  start(): number {
    const id = this.next++;
    this.hashes.set(id, createHash('sha256'));
    return id;
  }
  update(id: number, chunk: Buffer): void {
    this.hashes.get(id)!.update(chunk);
  }
  finish(id: number): Promise<string> {
    const h = this.hashes.get(id)!;
    this.hashes.delete(id);
    return Promise.resolve(h.digest('hex'));
  }
  drain(): Promise<void> {
    return Promise.resolve();
  }
  close(): Promise<void> {
    this.hashes.clear();
    return Promise.resolve();
  }
  writerTransport(): null {
    return null;
  }
}

// A hashed range releases its slot in shared memory (no message back): the reader sees the slot
// free at its next acquire() without waiting for its event loop to deliver an acknowledgement.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
${WRITE_BATCH_SOURCE}
const { createHash } = require('node:crypto');
const sab = workerData.sab;
const refs = new Int32Array(workerData.refs);
const hashes = new Map();
parentPort.on('message', (m) => {
  switch (m.t) {
    case 's': hashes.set(m.id, createHash('sha256')); break;
    case 'u':
      hashes.get(m.id).update(new Uint8Array(sab, m.o, m.n));
      if (Atomics.sub(refs, m.s, 1) === 1) { Atomics.add(refs, refs.length - 1, 1); Atomics.notify(refs, refs.length - 1); }
      break;
    case 'c': hashes.get(m.id).update(new Uint8Array(m.b)); parentPort.postMessage({ t: 'b', n: m.b.byteLength }); break;
    case 'f': { const h = hashes.get(m.id); hashes.delete(m.id); parentPort.postMessage({ t: 'd', id: m.id, hex: h.digest('hex') }); break; }
    case 'w': __writeBatch(m, (r, t) => parentPort.postMessage(r, t)); break;
  }
});
`;

type FromWorker = { t: 'b'; n: number } | { t: 'd'; id: number; hex: string } | FromWriter;

/**
 * Slots in a SharedArrayBuffer; hashing on worker threads that read the slots
 * in place. Each stream is hashed by one worker (streams are spread over them).
 */
export class SharedPool implements HashPool {
  private readonly sab: SharedArrayBuffer;
  /** Started on first use: a bundle of small members (hashed inline) never pays for a thread. */
  private readonly workers: (Worker | undefined)[];
  /**
   * Per slot, in shared memory: reader hold (1 while the reader may use it) + ranges not yet hashed
   * (the hashing thread takes its part off itself). The last word counts slots freed by that thread
   * (what a reader waiting for a slot waits on).
   */
  private readonly refs: Int32Array;
  private readonly freedWord: number;
  private drainWaiters: { below: number; resolve: () => void }[] = [];
  private readonly results = new Map<number, { resolve: (hex: string) => void; reject: (e: Error) => void }>();
  private pending = 0;
  private next = 0;
  private failure: Error | null = null;
  private writer: { onReply: (m: FromWriter) => void; onFailure: (e: Error) => void } | null = null;

  constructor(slots = 16, threads = 1) {
    this.sab = new SharedArrayBuffer(SLOT_SIZE * slots);
    this.refs = new Int32Array(new SharedArrayBuffer(4 * (slots + 1)));
    this.freedWord = slots;
    this.workers = new Array<Worker | undefined>(Math.max(1, threads)).fill(undefined);
  }

  private spawn(): Worker {
    const worker = new (workerThreads().Worker)(WORKER_SOURCE, { eval: true, workerData: { sab: this.sab, refs: this.refs.buffer } });
    worker.unref();
    worker.on('message', (m: FromWorker) => {
      if (m.t === 'wd' || m.t === 'we') this.writer?.onReply(m);
      else if (m.t === 'b') {
        this.pending -= m.n;
        this.wakeDrain();
      } else {
        const r = this.results.get(m.id);
        this.results.delete(m.id);
        r?.resolve(m.hex);
      }
    });
    worker.on('error', (e) => this.fail(e));
    worker.on('exit', () => this.fail(new Error('the hashing thread stopped')));
    return worker;
  }

  private workerOf(id: number): Worker {
    const i = id % this.workers.length;
    return (this.workers[i] ??= this.spawn());
  }

  private fail(e: Error): void {
    if (this.failure) return;
    this.failure = e;
    for (const r of this.results.values()) r.reject(e);
    this.results.clear();
    // A reader waiting for a slot wakes up and finds the failure.
    this.wakeSlotWaiter();
    this.wakeDrain();
    this.writer?.onFailure(e);
  }

  private unref(slot: number): void {
    if (Atomics.sub(this.refs, slot, 1) === 1) this.wakeSlotWaiter();
  }

  /** Counts a freed slot (or a failure) in the last word and wakes a reader waiting in acquire(), as the hashing thread does. */
  private wakeSlotWaiter(): void {
    Atomics.add(this.refs, this.freedWord, 1);
    Atomics.notify(this.refs, this.freedWord);
  }

  /**
   * The lowest free slot, taken (reader hold), or -1. Lowest first: slots never needed at once are
   * never touched, so their pages never become resident.
   */
  private take(): number {
    for (let i = 0; i < this.freedWord; i++) if (Atomics.compareExchange(this.refs, i, 0, 1) === 0) return i;
    return -1;
  }

  private wakeDrain(): void {
    const still: typeof this.drainWaiters = [];
    for (const w of this.drainWaiters) {
      if (this.pending < w.below || this.failure) w.resolve();
      else still.push(w);
    }
    this.drainWaiters = still;
  }

  async acquire(): Promise<Buffer> {
    for (;;) {
      if (this.failure) throw this.failure;
      const seen = Atomics.load(this.refs, this.freedWord);
      const slot = this.take();
      if (slot >= 0) return Buffer.from(this.sab, slot * SLOT_SIZE, SLOT_SIZE);
      // Every slot is held: wait until one is freed (by the hashing thread, or by done() here: both
      // count it in the last word and wake the waiter). A count that moved since `seen` (a slot
      // freed in between) ends the wait at once, so no wake-up is missed and none needs a timeout.
      const w = waitAsync(this.refs, this.freedWord, seen);
      if (w.async) await w.value;
    }
  }

  private slotOf(buf: Buffer): number {
    return buf.buffer === this.sab ? Math.floor(buf.byteOffset / SLOT_SIZE) : -1;
  }

  done(buf: Buffer): void {
    const slot = this.slotOf(buf);
    if (slot >= 0) this.unref(slot);
  }

  hold(buf: Buffer): void {
    const slot = this.slotOf(buf);
    if (slot >= 0) Atomics.add(this.refs, slot, 1);
  }

  start(): number {
    const id = this.next++;
    this.workerOf(id).postMessage({ t: 's', id });
    return id;
  }

  update(id: number, chunk: Buffer): void {
    if (chunk.length === 0) return;
    const slot = this.slotOf(chunk);
    if (slot >= 0 && Math.floor((chunk.byteOffset + chunk.length - 1) / SLOT_SIZE) === slot) {
      Atomics.add(this.refs, slot, 1);
      this.workerOf(id).postMessage({ t: 'u', id, o: chunk.byteOffset, n: chunk.length, s: slot });
      return;
    }
    const ab = new ArrayBuffer(chunk.length);
    new Uint8Array(ab).set(chunk);
    this.pending += chunk.length;
    this.workerOf(id).postMessage({ t: 'c', id, b: ab }, [ab]);
  }

  finish(id: number): Promise<string> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.results.set(id, { resolve, reject });
      this.workerOf(id).postMessage({ t: 'f', id });
    });
  }

  get backlog(): number {
    return this.pending;
  }

  drain(below: number): Promise<void> {
    if (this.pending < below || this.failure) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push({ below, resolve }));
  }

  /** Extracted files are written on the first hashing thread (one helper thread for an import, not two). */
  writerTransport(): WriterTransport {
    return {
      post: (m, transfer) => this.workerOf(0).postMessage(m, transfer),
      listen: (onReply, onFailure) => {
        this.writer = { onReply, onFailure };
        if (this.failure) onFailure(this.failure);
      },
    };
  }

  async close(): Promise<void> {
    const started = this.workers.filter((w): w is Worker => w !== undefined);
    for (const w of started) w.removeAllListeners('exit');
    await Promise.all(started.map((w) => w.terminate()));
  }
}

/** A worker-backed pool when the input is large and a second core exists, else inline. */
export function hashPoolFor(totalBytes: number): HashPool {
  const cores = availableParallelism();
  // One hashing thread keeps up with decompression on two cores; more help only with more cores.
  // 24 slots: decompression output, and the raw reads (read ahead, hashed and copied in place).
  return totalBytes >= 32 * 1024 * 1024 && cores > 1 ? new SharedPool(24, cores >= 4 ? 2 : 1) : new InlinePool();
}
