import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FIXTURES, tempDir } from '../testing/fixtures';
import { BboltHeadCollector, checkBbolt, checkBboltFile, fnv1a64, fnv1a64Reference, writeMinimalBbolt } from './bbolt';

const UPSTREAM = join(FIXTURES, 'trivy-upstream', 'trivy.db');
const upstream = readFileSync(UPSTREAM);
const tmp = tempDir('okc-bbolt-');
afterAll(() => tmp.cleanup());

/** Sets a u32 of the meta struct of `page` (meta starts at page offset 16). */
function poke32(buf: Buffer, pageSize: number, page: number, metaOffset: number, value: number): Buffer {
  const b = Buffer.from(buf);
  b.writeUInt32LE(value, page * pageSize + 16 + metaOffset);
  return b;
}

describe('fnv1a64', () => {
  it('matches the published FNV-1a 64 test values and the BigInt reference', () => {
    expect(fnv1a64(Buffer.alloc(0))).toBe(0xcbf29ce484222325n);
    expect(fnv1a64(Buffer.from('a'))).toBe(0xaf63dc4c8601ec8cn);
    expect(fnv1a64(Buffer.from('foobar'))).toBe(0x85944171f73967e8n);
    let seed = 7;
    for (let n = 0; n < 300; n++) {
      const b = Buffer.alloc(n % 97);
      for (let i = 0; i < b.length; i++) b[i] = (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
      expect(fnv1a64(b)).toBe(fnv1a64Reference(b));
    }
  });
});

describe('checkBbolt', () => {
  it('accepts the database Trivy’s tooling wrote, with page size 4096 and both metas valid', async () => {
    const r = checkBbolt(upstream);
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.pageSize).toBe(4096);
    expect(r.metas.map((m) => m.valid)).toEqual([true, true]);
    expect(r.metas.map((m) => m.txid)).toEqual([2n, 1n]);
    expect(r.txid).toBe(2n);
    expect((await checkBboltFile(UPSTREAM)).ok).toBe(true);
  });

  it('refuses a bad magic on either meta page', () => {
    const r0 = checkBbolt(poke32(upstream, 4096, 0, 0, 0xdeadbeef));
    expect(r0.ok).toBe(false);
    expect(r0.problems.join(' ')).toMatch(/magic|not a bbolt/);
    const r1 = checkBbolt(poke32(upstream, 4096, 1, 0, 0xdeadbeef));
    expect(r1.ok).toBe(false);
    expect(r1.problems.join(' ')).toMatch(/meta page 1: magic/);
  });

  it('refuses a version other than 2', () => {
    const r = checkBbolt(poke32(upstream, 4096, 1, 4, 3));
    expect(r.ok).toBe(false);
    expect(r.problems.join(' ')).toMatch(/version is 3/);
  });

  it('accepts one damaged checksum (bbolt falls back to the other meta) but not two', () => {
    // Flip a byte inside the checksummed area (txid) without fixing the checksum.
    const one = Buffer.from(upstream);
    one[16 + 48] ^= 0xff;
    const r1 = checkBbolt(one);
    expect(r1.ok).toBe(true);
    expect(r1.metas[0].checksumOk).toBe(false);
    expect(r1.notes.join(' ')).toMatch(/checksum/);
    expect(r1.txid).toBe(1n);
    const both = Buffer.from(one);
    both[4096 + 16 + 56] ^= 0x01; // the stored checksum of meta 1
    const r2 = checkBbolt(both);
    expect(r2.ok).toBe(false);
    expect(r2.problems.join(' ')).toMatch(/neither meta page/);
  });

  it('finds meta page 1 when meta page 0’s page size field is itself damaged', () => {
    for (const ps of [4096, 16384]) {
      const db = writeMinimalBbolt(ps);
      const damaged = poke32(db, ps, 0, 8, 12345); // page size field of meta 0, checksum now wrong
      const r = checkBbolt(damaged);
      expect(r.ok, r.problems.join('; ')).toBe(true);
      expect(r.pageSize).toBe(ps);
      expect(r.metas[0].checksumOk).toBe(false);
      const c = new BboltHeadCollector();
      for (let i = 0; i < damaged.length; i += 1000) c.push(damaged.subarray(i, i + 1000));
      expect(c.result().ok).toBe(true);
      // With meta 1 damaged too, nothing is left.
      expect(checkBbolt(poke32(damaged, ps, 1, 8, 999)).ok).toBe(false);
    }
  });

  it('refuses truncated files and non-bbolt data', () => {
    expect(checkBbolt(upstream.subarray(0, 4096)).ok).toBe(false);
    expect(checkBbolt(upstream.subarray(0, 40)).ok).toBe(false);
    expect(checkBbolt(Buffer.from('SQLite format 3\0' + '\0'.repeat(8000))).ok).toBe(false);
    // Meta 0 claims 7 pages, meta 1 (older) claims 4: cut to 5 pages, only meta 1 still fits.
    const five = checkBbolt(upstream.subarray(0, 5 * 4096));
    expect(five.ok).toBe(true);
    expect(five.metas[0].valid).toBe(false);
    expect(five.notes.join(' ')).toMatch(/truncated/);
    const three = checkBbolt(upstream.subarray(0, 3 * 4096));
    expect(three.ok).toBe(false);
    expect(three.problems.join(' ')).toMatch(/truncated/);
  });

  it('collects only the head of a streamed file, in any chunking', () => {
    for (const size of [1, 7, 100, 4096, 5000, 65536]) {
      const c = new BboltHeadCollector();
      for (let i = 0; i < upstream.length; i += size) c.push(upstream.subarray(i, i + size));
      expect(c.size).toBe(upstream.length);
      const r = c.result();
      expect(r.ok, `chunk ${size}`).toBe(true);
    }
    const bad = new BboltHeadCollector();
    bad.push(poke32(upstream, 4096, 0, 4, 1));
    expect(bad.result().ok).toBe(false);
  });
});

describe('writeMinimalBbolt', () => {
  it('writes a database the checker accepts, for several page sizes', async () => {
    for (const ps of [4096, 16384, 65536]) {
      const db = writeMinimalBbolt(ps);
      expect(db.length).toBe(4 * ps);
      const r = checkBbolt(db);
      expect(r.ok, r.problems.join('; ')).toBe(true);
      expect(r.pageSize).toBe(ps);
    }
    const file = join(tmp.dir, 'min.db');
    writeFileSync(file, writeMinimalBbolt());
    expect((await checkBboltFile(file)).ok).toBe(true);
  });

  it('writes the same initial pages as bbolt itself (meta 1, freelist, root leaf of the upstream file)', () => {
    const db = writeMinimalBbolt(4096);
    // The upstream file still holds bbolt's initial pages 1 to 3 (its later transaction used pages 5 and 6).
    for (const page of [1, 2, 3]) {
      expect(Buffer.compare(db.subarray(page * 4096, (page + 1) * 4096), upstream.subarray(page * 4096, (page + 1) * 4096)), `page ${page}`).toBe(0);
    }
  });
});
