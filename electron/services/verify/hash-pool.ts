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
import { WRITE_BATCH_SOURCE, type FromWriter, type WriterTransport } from './stream/file-writer';
import { INFLATE_SOURCE, type FromInflate, type InflateTransport } from './stream/inflate-thread';
import { zstdBindingPath } from './stream/zstd';
import { bootThread, HASH_THREAD_MIN_BYTES } from './thread-boot';

export const SLOT_SIZE = 1024 * 1024;

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
  /** The thread that can decompress from and into slots (./stream/inflate-thread.ts), or null when there is none. */
  inflateTransport(): InflateTransport | null;
  /**
   * Where batched digests go (hashInBatch): `tag`, and the 32 bytes at `at` in `digests`.
   * Without a sink, hashInBatch declines.
   */
  setBatchSink(sink: (tag: number, digests: Buffer, at: number) => void): void;
  /**
   * The SHA-256 of a whole small member lying in one slot, computed on the hashing thread
   * together with the slot's other members (one message per slot, not three per member).
   * False: not possible here (no thread, not a slot, no sink): the caller hashes it itself.
   */
  hashInBatch(chunk: Buffer, tag: number): boolean;
  /** Every batched digest has reached the sink. */
  batchesDone(): Promise<void>;
}

/** Everything on the calling thread: fresh buffers, node:crypto hashes. */
export class InlinePool implements HashPool {
  private next = 0;
  private readonly hashes = new Map<number, Hash>();
  readonly backlog = 0;
  acquire(): Promise<Buffer> {
    return Promise.resolve(Buffer.allocUnsafe(SLOT_SIZE));
  }
  done(): void {}
  hold(): void {}
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
  inflateTransport(): null {
    return null;
  }
  setBatchSink(): void {}
  hashInBatch(): boolean {
    return false;
  }
  batchesDone(): Promise<void> {
    return Promise.resolve();
  }
}

/** The hashing thread's program (run by ./thread-boot.ts's boot, with require, parentPort and workerData). */
const WORKER_SOURCE = `
${WRITE_BATCH_SOURCE}
${INFLATE_SOURCE}
const { createHash, hash } = require('node:crypto');
const sab = workerData.sab;
const SLOT = ${SLOT_SIZE};
const hashes = new Map();
parentPort.on('message', (m) => {
  switch (m.t) {
    case 'zb': case 'zi': case 'zo': case 'ze': case 'zq': __inflate(m, sab, workerData.zstd, SLOT, (r) => parentPort.postMessage(r)); break;
    case 's': hashes.set(m.id, createHash('sha256')); break;
    case 'u': hashes.get(m.id).update(new Uint8Array(sab, m.o, m.n)); parentPort.postMessage({ t: 'a', s: m.s }); break;
    case 'c': hashes.get(m.id).update(new Uint8Array(m.b)); parentPort.postMessage({ t: 'b', n: m.b.byteLength }); break;
    case 'f': { const h = hashes.get(m.id); hashes.delete(m.id); parentPort.postMessage({ t: 'd', id: m.id, hex: h.digest('hex') }); break; }
    case 'w': __writeBatch(m, (r, t) => parentPort.postMessage(r, t)); break;
    case 'hb': {
      const r = m.r, n = r.length >> 1, out = new Uint8Array(32 * n);
      for (let i = 0; i < n; i++) out.set(hash('sha256', new Uint8Array(sab, r[2 * i], r[2 * i + 1]), 'buffer'), 32 * i);
      parentPort.postMessage({ t: 'hd', s: m.s, d: out.buffer }, [out.buffer]);
      break;
    }
  }
});
`;

type FromWorker = { t: 'a'; s: number } | { t: 'b'; n: number } | { t: 'd'; id: number; hex: string } | { t: 'hd'; s: number; d: ArrayBuffer } | FromWriter | FromInflate;

/**
 * Slots in a SharedArrayBuffer; hashing on worker threads that read the slots
 * in place. Each stream is hashed by one worker (streams are spread over them).
 */
export class SharedPool implements HashPool {
  private readonly sab: SharedArrayBuffer;
  /** Started on first use: a bundle of small members (hashed inline) never pays for a thread. */
  private readonly workers: (Worker | undefined)[];
  /** Per slot: reader hold (1 while the reader may use it) + ranges not yet hashed. */
  private readonly refs: number[];
  private readonly free: number[] = [];
  private slotWaiters: (() => void)[] = [];
  private drainWaiters: { below: number; resolve: () => void }[] = [];
  private readonly results = new Map<number, { resolve: (hex: string) => void; reject: (e: Error) => void }>();
  private pending = 0;
  private next = 0;
  private failure: Error | null = null;
  private writer: { onReply: (m: FromWriter) => void; onFailure: (e: Error) => void } | null = null;
  /** Decompression streams by id (their late answers, after a stop, still find them). */
  private readonly inflaters = new Map<number, { onReply: (m: FromInflate) => void; onFailure: (e: Error) => void }>();
  private inflateSeq = 0;
  /** The slot whose small members are being gathered for one hashing message (it holds the slot once). */
  private batch: { slot: number; ranges: number[]; tags: number[] } | null = null;
  /** Tags of the batches sent, in order (the thread answers in order). */
  private readonly batchTags: number[][] = [];
  private batchSink: ((tag: number, digests: Buffer, at: number) => void) | null = null;
  private batchWaiters: { resolve: () => void; reject: (e: Error) => void }[] = [];

  constructor(slots = 16, threads = 1) {
    this.sab = new SharedArrayBuffer(SLOT_SIZE * slots);
    this.refs = new Array<number>(slots).fill(0);
    // Popped from the end: the slots freed last are reused first, so slots that were never needed
    // at once are never touched (their pages never become resident).
    for (let i = slots - 1; i >= 0; i--) this.free.push(i);
    this.workers = new Array<Worker | undefined>(Math.max(1, threads)).fill(undefined);
  }

  private spawn(): Worker {
    const worker = bootThread(WORKER_SOURCE, { sab: this.sab, zstd: zstdBindingPath() });
    worker.unref();
    worker.on('message', (m: FromWorker) => {
      if (m.t === 'wd' || m.t === 'we') this.writer?.onReply(m);
      else if (m.t === 'zc' || m.t === 'zf' || m.t === 'zs' || m.t === 'zd' || m.t === 'zx') this.inflaters.get(m.q)?.onReply(m);
      else if (m.t === 'a') this.unref(m.s);
      else if (m.t === 'hd') this.onBatch(m.s, Buffer.from(m.d));
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
    for (const w of this.slotWaiters) w();
    this.slotWaiters = [];
    this.wakeDrain();
    this.writer?.onFailure(e);
    for (const z of this.inflaters.values()) z.onFailure(e);
    for (const w of this.batchWaiters.splice(0)) w.reject(e);
  }

  private unref(slot: number): void {
    if (--this.refs[slot] === 0) {
      this.free.push(slot);
      const w = this.slotWaiters.shift();
      w?.();
    }
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
    while (this.free.length === 0) {
      if (this.failure) throw this.failure;
      await new Promise<void>((r) => this.slotWaiters.push(r));
    }
    if (this.failure) throw this.failure;
    const slot = this.free.pop()!;
    this.refs[slot] = 1;
    return Buffer.from(this.sab, slot * SLOT_SIZE, SLOT_SIZE);
  }

  private slotOf(buf: Buffer): number {
    return buf.buffer === this.sab ? Math.floor(buf.byteOffset / SLOT_SIZE) : -1;
  }

  done(buf: Buffer): void {
    const slot = this.slotOf(buf);
    if (slot < 0) return;
    // The reader is through with the slot: its batch is complete.
    if (this.batch?.slot === slot) this.sendBatch();
    this.unref(slot);
  }

  setBatchSink(sink: (tag: number, digests: Buffer, at: number) => void): void {
    this.batchSink = sink;
  }

  hashInBatch(chunk: Buffer, tag: number): boolean {
    const slot = this.slotOf(chunk);
    if (slot < 0 || this.batchSink === null || chunk.length === 0 || Math.floor((chunk.byteOffset + chunk.length - 1) / SLOT_SIZE) !== slot) return false;
    if (this.batch !== null && this.batch.slot !== slot) this.sendBatch();
    if (this.batch === null) {
      this.batch = { slot, ranges: [], tags: [] };
      this.refs[slot]++;
    }
    this.batch.ranges.push(chunk.byteOffset, chunk.length);
    this.batch.tags.push(tag);
    return true;
  }

  private sendBatch(): void {
    const b = this.batch;
    if (b === null) return;
    this.batch = null;
    this.batchTags.push(b.tags);
    this.workerOf(0).postMessage({ t: 'hb', s: b.slot, r: new Int32Array(b.ranges) });
  }

  private onBatch(slot: number, digests: Buffer): void {
    const tags = this.batchTags.shift()!;
    const sink = this.batchSink!;
    for (let i = 0; i < tags.length; i++) sink(tags[i], digests, 32 * i);
    this.unref(slot);
    if (this.batchTags.length === 0 && this.batch === null) for (const w of this.batchWaiters.splice(0)) w.resolve();
  }

  batchesDone(): Promise<void> {
    this.sendBatch();
    if (this.failure) return Promise.reject(this.failure);
    if (this.batchTags.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => this.batchWaiters.push({ resolve, reject }));
  }

  hold(buf: Buffer): void {
    const slot = this.slotOf(buf);
    if (slot >= 0) this.refs[slot]++;
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
      this.refs[slot]++;
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

  /** Decompression runs on the first hashing thread too (the one that hashes the raw stream). */
  inflateTransport(): InflateTransport {
    const q = this.inflateSeq++;
    return {
      post: (m) => this.workerOf(0).postMessage({ ...m, q }),
      listen: (onReply, onFailure) => {
        this.inflaters.set(q, { onReply, onFailure });
        if (this.failure) onFailure(this.failure);
      },
      acquire: () => this.acquire(),
      slotOf: (buf) => {
        const slot = this.slotOf(buf);
        return slot >= 0 && buf.length > 0 && Math.floor((buf.byteOffset + buf.length - 1) / SLOT_SIZE) === slot ? slot : -1;
      },
      view: (slot, n) => Buffer.from(this.sab, slot * SLOT_SIZE, n),
      hold: (buf) => this.hold(buf),
      release: (slot) => this.unref(slot),
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
  return totalBytes >= HASH_THREAD_MIN_BYTES && cores > 1 ? new SharedPool(24, cores >= 4 ? 2 : 1) : new InlinePool();
}
