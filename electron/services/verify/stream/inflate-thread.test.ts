/**
 * zstd decompression on the hashing thread (./inflate-thread.ts) against the
 * inline decompressor, on real zstd streams: same bytes, same frame log,
 * same verdicts for damaged and truncated streams, and a consumer that stops
 * early leaves the pool usable.
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { compress } from 'zstd-napi';
import { isOpsError } from '../../../../shared/errors';
import { InlinePool, SharedPool, SLOT_SIZE, type HashPool } from '../hash-pool';
import { zstdDecompress, type FrameLog } from './zstd';

/** NDJSON-like text (compressible, like advisory feeds) with some random bytes between. */
function payload(bytes: number): Buffer {
  const parts: Buffer[] = [];
  let n = 0;
  for (let i = 0; n < bytes; i++) {
    const line = Buffer.from(`{"id":"ADV-${i}","pkg":"lib${i % 97}","digest":"${randomBytes(16).toString('hex')}","severity":"${['low', 'high', 'critical'][i % 3]}"}\n`);
    parts.push(line);
    n += line.length;
  }
  return Buffer.concat(parts).subarray(0, bytes);
}

/** The source as a raw reader gives it: each chunk read into a slot of the pool, released after the consumer moves on. */
async function* inSlots(pool: HashPool, data: Buffer): AsyncGenerator<Buffer> {
  for (let o = 0; o < data.length; o += SLOT_SIZE) {
    const b = await pool.acquire();
    const n = data.copy(b, 0, o, Math.min(o + SLOT_SIZE, data.length));
    try {
      yield b.subarray(0, n);
    } finally {
      pool.done(b);
    }
  }
}

/** The source in small fresh buffers (not slots: a decrypted stream, a first chunk put together). */
async function* inPieces(data: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let o = 0; o < data.length; o += size) yield Buffer.from(data.subarray(o, o + size));
}

async function drain(gen: AsyncGenerator<Buffer>, pool: HashPool): Promise<{ sha: string; length: number; sizes: number[] }> {
  const h = createHash('sha256');
  let length = 0;
  const sizes: number[] = [];
  for await (const b of gen) {
    h.update(b);
    length += b.length;
    sizes.push(b.length);
    pool.done(b);
  }
  return { sha: h.digest('hex'), length, sizes };
}

async function failure(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (e) {
    if (isOpsError(e)) return { code: e.code, message: e.message };
    return { code: 'not an OpsError', message: (e as Error).message };
  }
  return { code: 'no error', message: '' };
}

const pools: SharedPool[] = [];
function sharedPool(slots = 24): SharedPool {
  const p = new SharedPool(slots);
  pools.push(p);
  return p;
}
afterEach(async () => {
  for (const p of pools.splice(0)) await p.close();
});

describe('zstd decompression on the hashing thread', () => {
  const text = payload(5 * SLOT_SIZE + 12345);
  const oneFrame = compress(text);

  it('gives the inline decompressor\'s bytes, in full slots but the last, from slots or from small fresh buffers', async () => {
    const want = createHash('sha256').update(text).digest('hex');
    const pool = sharedPool();
    const fromSlots = await drain(zstdDecompress(inSlots(pool, oneFrame), pool, undefined, true), pool);
    expect(fromSlots.sha).toBe(want);
    expect(fromSlots.length).toBe(text.length);
    expect(fromSlots.sizes.slice(0, -1).every((n) => n === SLOT_SIZE)).toBe(true);
    const fromPieces = await drain(zstdDecompress(inPieces(oneFrame, 4093), pool, undefined, true), pool);
    expect(fromPieces.sha).toBe(want);
    const inline = new InlinePool();
    expect((await drain(zstdDecompress(inPieces(oneFrame, 65536), inline), inline)).sha).toBe(want);
  });

  it('reports where a later frame begins, as the inline decompressor does', async () => {
    const a = payload(SLOT_SIZE + 100);
    const b = payload(3000);
    const two = Buffer.concat([compress(a), compress(b)]);
    const threadLog: FrameLog = { lastStart: -1 };
    const pool = sharedPool();
    await drain(zstdDecompress(inSlots(pool, two), pool, threadLog, true), pool);
    const inlineLog: FrameLog = { lastStart: -1 };
    const inline = new InlinePool();
    await drain(zstdDecompress(inPieces(two, 1000), inline, inlineLog), inline);
    expect(threadLog.lastStart).toBe(a.length);
    expect(inlineLog.lastStart).toBe(a.length);
    const single: FrameLog = { lastStart: -1 };
    await drain(zstdDecompress(inSlots(pool, oneFrame), pool, single, true), pool);
    expect(single.lastStart).toBe(-1);
  });

  it('a stream cut short is "truncated"; damaged bytes are "not a readable zstd stream"; both ERR_BUNDLE_CORRUPT', async () => {
    const pool = sharedPool();
    const cut = await failure(drain(zstdDecompress(inSlots(pool, oneFrame.subarray(0, oneFrame.length - 40)), pool, undefined, true), pool));
    expect(cut.code).toBe('ERR_BUNDLE_CORRUPT');
    expect(cut.message).toMatch(/truncated/);
    // With a content checksum (as pzstd and zstd -C write): a flipped byte anywhere is caught.
    const damaged = compress(text, { checksumFlag: true });
    for (let i = 200; i < 260; i++) damaged[i] ^= 0xa5;
    const inline = new InlinePool();
    const inlineBad = await failure(drain(zstdDecompress(inPieces(damaged, 65536), inline), inline));
    const bad = await failure(drain(zstdDecompress(inSlots(pool, damaged), pool, undefined, true), pool));
    expect(bad.code).toBe('ERR_BUNDLE_CORRUPT');
    expect(bad.message).toMatch(/not a readable zstd stream/);
    expect(bad).toEqual(inlineBad);
    // The pool still decompresses a good stream afterwards.
    expect((await drain(zstdDecompress(inSlots(pool, oneFrame), pool, undefined, true), pool)).length).toBe(text.length);
  });

  it('a read error of the source reaches the consumer as it was', async () => {
    const pool = sharedPool();
    async function* failing(): AsyncGenerator<Buffer> {
      yield* inSlots(pool, oneFrame.subarray(0, 3 * 1024));
      throw Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO', syscall: 'read' });
    }
    const f = await failure(drain(zstdDecompress(failing(), pool, undefined, true), pool));
    expect(f.message).toMatch(/EIO/);
  });

  it('a consumer that stops after the first slot leaves no slot behind: the same pool serves many more streams', async () => {
    // 8 slots in all: a stream that kept the slots lent to the thread would starve the next ones.
    const pool = sharedPool(8);
    for (let round = 0; round < 6; round++) {
      for await (const b of zstdDecompress(inSlots(pool, oneFrame), pool, undefined, true)) {
        expect(b.length).toBe(SLOT_SIZE);
        pool.done(b);
        break;
      }
    }
    expect((await drain(zstdDecompress(inSlots(pool, oneFrame), pool, undefined, true), pool)).length).toBe(text.length);
  });

  it('slots are recycled as the consumer releases them: a 64 MiB stream of zeros (a bomb\'s shape) through a 12-slot pool', async () => {
    const zeros = compress(Buffer.alloc(64 * SLOT_SIZE));
    expect(zeros.length).toBeLessThan(64 * 1024);
    const pool = sharedPool(12);
    const got = await drain(zstdDecompress(inSlots(pool, zeros), pool, undefined, true), pool);
    expect(got.length).toBe(64 * SLOT_SIZE);
  });
});
