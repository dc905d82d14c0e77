/**
 * Small extracted files written on the hashing thread (issue 13: a
 * 1,000,000-file import spent two thirds of its time in open/write/close on
 * the thread that also decompresses and hashes; `zstd | tar` overlaps the
 * two in two processes). The reading thread copies each small member's
 * bytes into a batch (path and bytes, ~256 KiB a batch) and hands the batch
 * over; that thread creates the files in order with the same flags as
 * a file written in place (O_CREAT | O_EXCL | O_NOFOLLOW, mode 0600).
 *
 * Folders are made by the reading thread before a file in them is batched.
 * A failed write stops the writer (later batches are dropped) and is
 * reported, naming the file, at the next `drain` or `flush`; `close`
 * returns only once no batch of this writer is in progress, so a caller may
 * then remove the extraction folder. Without a hashing thread (small
 * bundles, one core) the collector writes files in place instead. Durability stays the
 * caller's (one syncfs of the tree after `flush`).
 */

const BATCH_BYTES = 256 * 1024;
/** Batches handed over and not yet written, before the reader waits (~2 MiB of copies). */
const MAX_IN_FLIGHT = 8;

/**
 * The batch writer as thread source: `__writeBatch(m, post)` handles
 * { t: 'w', seq, n, len, buf } and answers { t: 'wd', seq, buf } (the buffer
 * handed back) or { t: 'we', seq, path, code, syscall, errno, message }. After a
 * failure, later batches are handed back unwritten. Part of the hashing
 * thread's source (hash-pool.ts), so an import runs one helper thread, not two.
 */
export const WRITE_BATCH_SOURCE = `
const __wfs = require('node:fs');
const __W_FLAGS = __wfs.constants.O_WRONLY | __wfs.constants.O_CREAT | __wfs.constants.O_EXCL | __wfs.constants.O_NOFOLLOW;
let __writeFailed = false;
function __writeBatch(m, post) {
  if (__writeFailed) return post({ t: 'wd', seq: m.seq, buf: m.buf }, [m.buf]);
  const b = Buffer.from(m.buf, 0, m.len);
  let o = 0;
  for (let i = 0; i < m.n; i++) {
    const pathLen = b.readUInt32LE(o);
    const dataLen = b.readUInt32LE(o + 4);
    const path = b.toString('utf8', o + 8, o + 8 + pathLen);
    const start = o + 8 + pathLen;
    o = start + dataLen;
    let fd = -1;
    try {
      fd = __wfs.openSync(path, __W_FLAGS, 0o600);
      for (let w = start; w < o; ) w += __wfs.writeSync(fd, b, w, o - w);
      const f = fd;
      fd = -1;
      __wfs.closeSync(f);
    } catch (e) {
      if (fd >= 0) try { __wfs.closeSync(fd); } catch {}
      __writeFailed = true;
      return post({ t: 'we', seq: m.seq, path, code: e.code, syscall: e.syscall, errno: e.errno, message: e.message });
    }
  }
  // The batch's memory goes back to be filled again (no garbage waiting for this thread's GC).
  post({ t: 'wd', seq: m.seq, buf: m.buf }, [m.buf]);
}
`;

/** A thread that runs WRITE_BATCH_SOURCE for us (the hashing thread): batches to it, its answers and its failure back. */
export interface WriterTransport {
  post(m: { t: 'w'; seq: number; n: number; len: number; buf: ArrayBuffer }, transfer: ArrayBuffer[]): void;
  /** Registers the handler of the thread's 'wd'/'we' answers and of its failure. */
  listen(onReply: (m: FromWriter) => void, onFailure: (e: Error) => void): void;
}

export type FromWriter = { t: 'wd'; seq: number; buf: ArrayBuffer } | { t: 'we'; seq: number; path: string; code?: string; syscall?: string; errno?: number; message: string };

/** A write the writer thread could not do: the member and the system error (code, syscall as Node gives them). */
export interface WriteFailure {
  /** The file's path, as batched. */
  path: string;
  error: NodeJS.ErrnoException;
}

export class FileWriterThread {
  private listening = false;
  private buf = Buffer.from(new ArrayBuffer(BATCH_BYTES));
  /** Batch buffers the thread handed back, to be filled again. */
  private readonly spare: ArrayBuffer[] = [];
  private len = 0;
  /** Bytes of the complete files in `buf` (a file being filled follows them). */
  private complete = 0;
  private count = 0;
  /** Batches in flight (no per-file data is kept for them: a failure names its file itself). */
  private readonly inFlight = new Set<number>();
  private seq = 0;
  private failure: WriteFailure | null = null;
  private threadError: Error | null = null;
  private waiters: (() => void)[] = [];
  /** The entry being filled: where its data length goes, and the bytes expected. */
  private open = { lenAt: -1, expected: 0, got: 0 };

  /** Starts a file of `size` bytes at `path` (absolute; its folder exists). */
  begin(path: string, size: number): void {
    const pathBytes = Buffer.byteLength(path, 'utf8');
    const need = 8 + pathBytes + size;
    if (this.len + need > this.buf.length) {
      this.post();
      if (this.len + need > this.buf.length) {
        const b = Buffer.from(new ArrayBuffer(Math.max(BATCH_BYTES, this.len + need)));
        this.buf.copy(b, 0, 0, this.len);
        this.buf = b;
      }
    }
    const b = this.buf;
    b.writeUInt32LE(pathBytes, this.len);
    this.open = { lenAt: this.len + 4, expected: size, got: 0 };
    b.write(path, this.len + 8, 'utf8');
    this.len += 8 + pathBytes;
  }

  /** Bytes of the file begun last (copied: the caller may reuse `chunk` at once). */
  data(chunk: Buffer): void {
    const o = this.open;
    if (o.got + chunk.length > o.expected) throw new Error('more bytes than the member declared');
    chunk.copy(this.buf, this.len);
    this.len += chunk.length;
    o.got += chunk.length;
  }

  /** The file begun last is complete. */
  end(): void {
    const o = this.open;
    if (o.got !== o.expected) throw new Error('fewer bytes than the member declared');
    this.buf.writeUInt32LE(o.got, o.lenAt);
    this.count++;
    this.complete = this.len;
    this.open = { lenAt: -1, expected: 0, got: 0 };
  }

  /** `via`: the thread that runs the batch writer (the hashing thread: an import keeps one helper thread). */
  constructor(private readonly via: WriterTransport) {}

  private reply(m: FromWriter): void {
    this.inFlight.delete(m.seq);
    if (m.t === 'wd' && m.buf.byteLength === BATCH_BYTES) this.spare.push(m.buf);
    if (m.t === 'we' && !this.failure) {
      const error = Object.assign(new Error(m.message), { code: m.code, syscall: m.syscall, errno: m.errno }) as NodeJS.ErrnoException;
      this.failure = { path: m.path, error };
    }
    this.wake();
  }

  private threadFailed(e: Error): void {
    this.threadError ??= e;
    this.wake();
  }

  private wake(): void {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }

  /** Hands the complete files batched so far to the thread. */
  private post(): void {
    if (this.count === 0) return;
    const seq = this.seq++;
    // The filled buffer itself goes to the thread (transferred, not copied); a file still being
    // filled moves to the front of the next one.
    const full = this.buf;
    const next = this.len - this.complete <= BATCH_BYTES ? this.spare.pop() : undefined;
    this.buf = next ? Buffer.from(next) : Buffer.from(new ArrayBuffer(Math.max(BATCH_BYTES, this.len - this.complete)));
    full.copy(this.buf, 0, this.complete, this.len);
    this.inFlight.add(seq);
    if (!this.listening) {
      this.listening = true;
      this.via.listen(
        (m) => this.reply(m),
        (e) => this.threadFailed(e),
      );
    }
    const ab = full.buffer as ArrayBuffer;
    this.via.post({ t: 'w', seq, n: this.count, len: this.complete, buf: ab }, [ab]);
    if (this.open.lenAt >= 0) this.open.lenAt -= this.complete;
    this.len -= this.complete;
    this.complete = 0;
    this.count = 0;
  }

  private check(): void {
    if (this.failure) {
      const f = this.failure;
      throw Object.assign(f.error, { path: f.path });
    }
    if (this.threadError) throw this.threadError;
  }

  private async waitBelow(n: number): Promise<void> {
    while (this.inFlight.size > n && !this.failure && !this.threadError) await new Promise<void>((r) => this.waiters.push(r));
    this.check();
  }

  /** Between members: waits while too many batches are in flight; throws a failed write (with its `path`). */
  async drain(): Promise<void> {
    if (this.complete >= BATCH_BYTES / 2) this.post();
    if (this.failure || this.threadError) this.check();
    if (this.inFlight.size >= MAX_IN_FLIGHT) await this.waitBelow(MAX_IN_FLIGHT / 2);
  }

  /** Every file batched is written (or the first failure is thrown, with its `path`). */
  async flush(): Promise<void> {
    this.post();
    await this.waitBelow(0);
  }

  /**
   * Resolves once no write of this writer can still happen: the batches
   * handed over are waited for (a few milliseconds each; the thread's
   * failure ends the wait too).
   */
  async close(): Promise<void> {
    while (this.inFlight.size > 0 && !this.threadError) await new Promise<void>((r) => this.waiters.push(r));
  }
}
