/**
 * The collector fed a real bundle's tar stream in chunks of odd sizes: every
 * member, manifest.yaml line and export.json entry split across chunks at
 * some point. What it gathers must not depend on where the chunks end.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decompress } from 'zstd-napi';
import { generatedPayload, generateSigningKey, writeMirrorBundle } from '../../producer/index';
import { tempDir } from '../../testing/fixtures';
import { InlinePool } from '../hash-pool';
import { loadPublicKey } from '../keys';
import { TarGate } from '../tar-gate';
import { MemberCollector } from './collector';

const dir = tempDir('okc-collector-');
afterAll(() => dir.cleanup());

async function* chunks(tar: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let o = 0; o < tar.length; o += size) yield Buffer.from(tar.subarray(o, o + size));
}

describe('MemberCollector', () => {
  it('gathers the same digests, manifest verdict and export.json whatever the chunk sizes', async () => {
    const key = generateSigningKey('ecdsa-p256');
    const files = generatedPayload(1500, 700, { seed: 'chunks', kind: 'ndjson', perDir: 400 });
    const b = await writeMirrorBundle(join(dir.dir, 'b.tar.zst'), { key, files });
    const tar = decompress(readFileSync(b.file));
    const want = new Map(b.exportJson.files.map((f) => [f.path, f.sha256]));
    // 1 MiB (as the decompressor's slots), whole blocks of odd counts, and sizes that are not blocks at all.
    for (const size of [1024 * 1024, 512 * 7, 4093, 100_003]) {
      const pool = new InlinePool();
      const gate = new TarGate({ top: 'mirror' });
      const c = new MemberCollector({ pool, gate, keepEncrypted: false, keys: [loadPublicKey(key.publicPem)] });
      try {
        await c.consume(chunks(tar, size));
        await c.settle();
        expect(c.exportError, `chunks of ${size}`).toBeNull();
        expect(c.exportJson?.files.length).toBe(want.size);
        expect(c.manifestRecognised, `chunks of ${size}`).toBe(true);
        expect(c.payloadCount).toBe(want.size);
        const names = [...c.payload.namesInOrder()];
        expect(new Set(names)).toEqual(new Set(want.keys()));
        for (const name of names) {
          const id = gate.idOf(`mirror/${name}`);
          expect(c.payload.digestOf(id).toString('hex'), name).toBe(want.get(name));
        }
      } finally {
        c.removeSpool();
        await pool.close();
      }
    }
  });
});
