import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashPoolFor, InlinePool, SharedPool, SLOT_SIZE, type HashPool } from './hash-pool';

const sha = (...bufs: Buffer[]) => {
  const h = createHash('sha256');
  for (const b of bufs) h.update(b);
  return h.digest('hex');
};

async function interleaved(pool: HashPool, rounds: number) {
  const a = pool.start();
  const b = pool.start();
  const seenA: Buffer[] = [];
  const seenB: Buffer[] = [];
  for (let i = 0; i < rounds; i++) {
    const slot = await pool.acquire();
    expect(slot.length).toBe(SLOT_SIZE);
    randomBytes(SLOT_SIZE).copy(slot);
    // Two streams reading ranges of the same slot, as tar members do.
    const cut = 1000 + i * 512;
    pool.update(a, slot.subarray(0, cut));
    pool.update(b, slot.subarray(cut));
    seenA.push(Buffer.from(slot.subarray(0, cut)));
    seenB.push(Buffer.from(slot.subarray(cut)));
    pool.done(slot);
  }
  // A chunk that is not a slot (copied to the worker).
  const extra = randomBytes(3 * 1024 * 1024 + 17);
  pool.update(a, extra);
  seenA.push(extra);
  await pool.drain(1);
  expect(await pool.finish(a)).toBe(sha(...seenA));
  expect(await pool.finish(b)).toBe(sha(...seenB));
}

describe('hash pools', () => {
  it('SharedPool: digests of interleaved streams over reused slots equal node:crypto\'s', async () => {
    const pool = new SharedPool(2);
    try {
      // 40 rounds over 2 slots: every slot is reused many times, only after the worker hashed it.
      await interleaved(pool, 40);
      expect(pool.backlog).toBe(0);
    } finally {
      await pool.close();
    }
  });

  it('SharedPool with two hashing threads gives the same digests', async () => {
    const pool = new SharedPool(3, 2);
    try {
      await interleaved(pool, 12);
    } finally {
      await pool.close();
    }
  });

  it('InlinePool gives the same digests', async () => {
    const pool = new InlinePool();
    await interleaved(pool, 5);
    await pool.close();
  });

  it('InlinePool hands a buffer out again only once every holder is done with it (a view counts as the buffer)', async () => {
    const pool = new InlinePool();
    const a = await pool.acquire();
    pool.hold(a.subarray(10, 20)); // a write in flight
    pool.done(a);
    const b = await pool.acquire();
    expect(b.buffer).not.toBe(a.buffer);
    pool.done(a.subarray(0, 5)); // the write ends
    const c = await pool.acquire();
    expect(c.buffer).toBe(a.buffer);
    expect(c.length).toBe(SLOT_SIZE);
    pool.done(b);
    pool.done(c);
    pool.done(c); // once too often: ignored, not handed out twice
    const d = await pool.acquire();
    const e = await pool.acquire();
    expect(d.buffer).not.toBe(e.buffer);
    await pool.close();
  });

  it('a slot is not handed out again while a range in it is still to be hashed or held by the reader', async () => {
    const pool = new SharedPool(1);
    try {
      const id = pool.start();
      const s1 = await pool.acquire();
      s1.fill(1);
      pool.update(id, s1);
      let second = false;
      const p = pool.acquire().then((b) => ((second = true), b));
      await new Promise((r) => setTimeout(r, 50));
      expect(second).toBe(false); // still held by the reader
      // Hashed by now (the digest is back), so only the reader's hold keeps the slot: releasing it
      // here on the reader's own thread must wake the waiting acquire().
      const digest = await pool.finish(id);
      expect(second).toBe(false);
      pool.done(s1);
      const s2 = await p;
      expect(second).toBe(true);
      pool.done(s2);
      expect(digest).toBe(sha(Buffer.alloc(SLOT_SIZE, 1)));
    } finally {
      await pool.close();
    }
  });

  it('hashPoolFor picks the inline pool for small inputs', async () => {
    const p = hashPoolFor(1024);
    expect(p).toBeInstanceOf(InlinePool);
    await p.close();
  });
});
