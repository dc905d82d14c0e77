/**
 * Small extracted files written on their own thread (issue 13): contents
 * exactly as handed over however the bytes were split and whenever a batch
 * was posted (mid-file too); a failed write names its member and stops the
 * writer; a path too long for this host stays the bundle's limit.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateSigningKey, writeMirrorBundle } from '../../producer/index';
import { tempDir } from '../../testing/fixtures';
import { loadPublicKey } from '../keys';
import { verifyMirrorBundle } from '../mirror';
import { SharedPool } from '../hash-pool';
import { FileWriterThread } from './file-writer';

const tmp = tempDir('okc-file-writer-');
afterAll(() => tmp.cleanup());
let n = 0;
const fresh = (name: string): string => join(tmp.dir, `${n++}-${name}`);

function rng(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

// On the hashing thread, as an import of a large bundle runs it (one helper thread).
describe('FileWriterThread on the hashing thread', () => {
  let pool: SharedPool | null = null;
  const pools: SharedPool[] = [];
  const writer = (): FileWriterThread => {
    pool = new SharedPool(4);
    pools.push(pool);
    return new FileWriterThread(pool.writerTransport());
  };
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.close()));
  });

  it('writes every file with its exact bytes, split into any chunks, with batches posted mid-file', async () => {
    const root = fresh('out');
    const r = rng(11);
    const w = writer();
    // The hashing thread keeps hashing while it writes.
    const hid = pool?.start();
    if (pool && hid !== undefined) pool.update(hid, Buffer.from('abc'));
    const want = new Map<string, Buffer>();
    try {
      for (let i = 0; i < 3000; i++) {
        const dir = `d${i % 17}`;
        mkdirSync(join(root, dir), { recursive: true });
        const size = i % 97 === 0 ? 0 : Math.floor(r() * 65536);
        const data = Buffer.alloc(size);
        for (let k = 0; k < size; k++) data[k] = (i * 31 + k * 7 + (k >> 8)) & 0xff;
        const rel = `${dir}/f-${i}.bin`;
        want.set(rel, data);
        w.begin(join(root, rel), size);
        for (let o = 0; o < size; ) {
          const step = Math.min(size - o, 1 + Math.floor(r() * 9000));
          w.data(data.subarray(o, o + step));
          o += step;
          await w.drain(); // between chunks: may post the complete files and carry this one over
        }
        w.end();
      }
      await w.flush();
      if (pool && hid !== undefined) expect(await pool.finish(hid)).toBe(createHash('sha256').update('abc').digest('hex'));
    } finally {
      await w.close();
    }
    let count = 0;
    for (const d of readdirSync(root)) count += readdirSync(join(root, d)).length;
    expect(count).toBe(want.size);
    for (const [rel, data] of want) {
      const got = readFileSync(join(root, rel));
      expect(got.length).toBe(data.length);
      expect(createHash('sha256').update(got).digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
    }
    expect(statSync(join(root, 'd0/f-0.bin')).mode & 0o777).toBe(0o600);
  });

  it('a failed write names its member (code and syscall kept), and nothing after it is written', async () => {
    const root = fresh('out');
    mkdirSync(join(root, 'ok'), { recursive: true });
    const w = writer();
    try {
      for (let i = 0; i < 400; i++) {
        // Member 123's folder does not exist: its open fails.
        const rel = i === 123 ? `missing/f-${i}` : `ok/f-${i}`;
        w.begin(join(root, rel), 1000);
        w.data(Buffer.alloc(1000, i & 0xff));
        w.end();
        await w.drain().catch(() => {}); // the failure is reported once more at flush
      }
      await expect(w.flush()).rejects.toMatchObject({ code: 'ENOENT', syscall: 'open', path: join(root, 'missing/f-123') });
    } finally {
      await w.close();
    }
    const written = readdirSync(join(root, 'ok'));
    expect(written).toContain('f-122');
    expect(written).not.toContain('f-124');
    expect(written.length).toBe(123);
    expect(existsSync(join(root, 'missing'))).toBe(false);
  });
});

describe('FileWriterThread', () => {
  it('refuses bytes beyond or short of the declared size (a tar member is exactly its size)', async () => {
    const pool = new SharedPool(2);
    const w = new FileWriterThread(pool.writerTransport());
    try {
      w.begin(join(fresh('x'), 'a'), 3);
      expect(() => w.data(Buffer.from('abcd'))).toThrow(/more bytes/);
      w.data(Buffer.from('ab'));
      expect(() => w.end()).toThrow(/fewer bytes/);
    } finally {
      await w.close();
      await pool.close();
    }
  });
});

describe('extraction through the hashing thread', () => {
  it('a small member whose path is too long for this host (not for the spec) is ERR_BUNDLE_LIMIT naming it; the file is not written', async () => {
    const key = generateSigningKey('ecdsa-p256');
    // The folder fits below the extraction root; the file's full path passes the host's 4,095 bytes.
    const out = fresh('o'.repeat(120));
    const dirs = 'data/' + Array.from({ length: 15 }, (_, i) => String(i).padStart(250, 'd')).join('/');
    const longName = `${dirs}/${'f'.repeat(250)}`;
    expect(out.length + 1 + dirs.length).toBeLessThan(4095);
    expect(out.length + 1 + longName.length).toBeGreaterThan(4095);
    const b = await writeMirrorBundle(fresh('long.tar.zst'), {
      key,
      files: [
        { path: 'data/a.json', content: '{"a":1}\n' },
        { path: longName, content: 'small\n' },
        // 33 MiB in all: the bundle gets a hashing thread (hashPoolFor), so small files go through it.
        { path: 'data/z-padding.bin', content: { size: 33 * 1024 * 1024, seed: 'pad' } },
      ],
      compressionLevel: 1,
    });
    expect(b.rawSize).toBeGreaterThan(32 * 1024 * 1024);
    const r = await verifyMirrorBundle(b.file, { keys: [loadPublicKey(key.publicPem)], extractTo: out });
    expect(r.verdict.code).toBe('ERR_BUNDLE_LIMIT');
    expect(r.verdict.message).toContain(`"mirror/${longName}"`);
    expect(r.verdict.message).toMatch(/too long for this host/);
    expect(existsSync(join(out, longName))).toBe(false);
  });
});
