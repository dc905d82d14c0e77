/**
 * The first stream stage: the bundle file, chunk by chunk, with the raw
 * SHA-256 and the library copy (copyTo) taken from the same read.
 *
 * Without age, each chunk is read into a hash-pool slot (read ahead by one),
 * so the hashing thread hashes it in place and the library copy writes it
 * from there: no copy of the raw bytes. A slot is released once the
 * decompressor has consumed it, its copy write is done and it is hashed. Copy
 * writes are positional and overlap decompression (a few in flight). The age
 * reader keeps views across chunks, so it gets fresh buffers.
 */
import { constants as fsc, createReadStream } from 'node:fs';

/** O_NONBLOCK: a FIFO or device swapped in for the bundle never blocks a read. */
const OPEN_FLAGS = fsc.O_RDONLY | (fsc.O_NONBLOCK ?? 0);
import { open as openAsync, type FileHandle } from 'node:fs/promises';
import { OpsError, isOpsError } from '../../../../shared/errors';
import type { JobProgress } from '../../../../shared/types';
import type { HashPool } from '../hash-pool';
import { nowMs } from '../../clock';

const READ_CHUNK = 4 * 1024 * 1024;
/** Bytes of raw file data handed to the hashing thread before the reader waits for it. */
const HASH_BACKLOG = 32 * 1024 * 1024;
/** Library copy writes in flight at most. */
const COPY_IN_FLIGHT = 4;

export function checkAbort(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new OpsError('ERR_CANCELLED', 'Verification was cancelled. Nothing was changed.');
}

export interface RawReaderOptions {
  pool: HashPool;
  /** Whole-file age: read with fresh buffers (the decrypter keeps views across chunks). */
  freshBuffers: boolean;
  /** Hash stream id for the raw SHA-256, or -1 for none. */
  rawId: number;
  /** Where the library copy goes (an open, empty file), if any. */
  copy?: FileHandle;
  total: number;
  signal?: AbortSignal;
  onProgress?: (p: JobProgress) => void;
  /** Raw bytes read so far (for the gate's ratio limit). */
  onRead?: (rawSize: number) => void;
  /** The member being read, for progress reports. */
  member?: () => string | undefined;
}

export class RawReader {
  size = 0;
  private readonly copyWrites = new Set<Promise<void>>();
  private copyError: unknown = null;
  private copyPos = 0;

  constructor(
    private readonly file: string,
    private readonly o: RawReaderOptions,
  ) {}

  /** The chunks, hashed and copied as they pass; read errors become ERR_INPUT_NOT_FOUND. */
  async *chunks(): AsyncGenerator<Buffer> {
    const { pool, rawId, copy } = this.o;
    let lastProgress = 0;
    try {
      for await (const chunk of this.read()) {
        checkAbort(this.o.signal);
        if (this.copyError) throw this.copyError;
        if (rawId >= 0) {
          pool.update(rawId, chunk);
          if (pool.backlog > HASH_BACKLOG) await pool.drain(HASH_BACKLOG / 2);
        }
        this.size += chunk.length;
        this.o.onRead?.(this.size);
        if (copy) {
          this.writeCopy(copy, chunk);
          while (this.copyWrites.size > COPY_IN_FLIGHT) await Promise.race(this.copyWrites);
        }
        const now = nowMs();
        if (this.o.onProgress && (now - lastProgress > 100 || this.size === this.o.total)) {
          lastProgress = now;
          const p: JobProgress = { jobId: '', phase: 'verify', bytesDone: this.size, bytesTotal: this.o.total };
          const member = this.o.member?.();
          if (member) p.member = member;
          this.o.onProgress(p);
        }
        yield chunk;
      }
      await Promise.all(this.copyWrites);
      if (this.copyError) throw this.copyError;
    } catch (e) {
      await Promise.all(this.copyWrites);
      if (isOpsError(e)) throw e;
      const syscall = (e as NodeJS.ErrnoException).syscall;
      // Writing the copy (copyTo) failed: a problem of this host, passed on as it is.
      if (syscall && syscall !== 'read' && syscall !== 'open') throw e;
      throw new OpsError('ERR_INPUT_NOT_FOUND', `Reading the bundle failed (${(e as Error).message}). Check the media.`, { cause: e });
    }
  }

  private async *read(): AsyncGenerator<Buffer> {
    if (this.o.freshBuffers) {
      const fh = await openAsync(this.file, OPEN_FLAGS);
      yield* createReadStream('', { fd: fh, highWaterMark: READ_CHUNK }) as AsyncIterable<Buffer>;
      return;
    }
    const pool = this.o.pool;
    const fh = await openAsync(this.file, OPEN_FLAGS);
    if (!(await fh.stat()).isFile()) {
      await fh.close();
      throw Object.assign(new Error('not a regular file'), { code: 'EINVAL', syscall: 'open' });
    }
    const readOne = async (): Promise<Buffer> => {
      const b = await pool.acquire();
      try {
        const { bytesRead } = await fh.read(b, 0, b.length, null);
        return b.subarray(0, bytesRead);
      } catch (e) {
        pool.done(b);
        throw e;
      }
    };
    let pending: Promise<Buffer> | null = null;
    try {
      pending = readOne();
      for (;;) {
        const b = await pending;
        pending = null;
        if (b.length === 0) {
          pool.done(b);
          return;
        }
        pending = readOne();
        try {
          yield b;
        } finally {
          pool.done(b);
        }
      }
    } finally {
      // Never close the file under a read still in flight.
      if (pending) await pending.then((b) => pool.done(b), () => undefined);
      await fh.close();
    }
  }

  private writeCopy(fh: FileHandle, chunk: Buffer): void {
    const at = this.copyPos;
    this.copyPos += chunk.length;
    this.o.pool.hold(chunk);
    const w = (async () => {
      let off = 0;
      while (off < chunk.length) off += (await fh.write(chunk, off, chunk.length - off, at + off)).bytesWritten;
    })().then(
      () => undefined,
      (e: unknown) => {
        this.copyError ??= e;
      },
    );
    const tracked = w.finally(() => {
      this.o.pool.done(chunk);
      this.copyWrites.delete(tracked);
    });
    this.copyWrites.add(tracked);
  }
}
