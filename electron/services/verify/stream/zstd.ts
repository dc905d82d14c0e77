/**
 * Stream stages for zstd: the magic check, and decompression into the hash
 * pool's slots (full 1 MiB slots: tar blocks stay aligned, memory bounded).
 */
import { createRequire } from 'node:module';
import type * as ZstdBinding from 'zstd-napi/binding';
import { OpsError } from '../../../../shared/errors';
import type { HashPool } from '../hash-pool';

const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
const EMPTY = Buffer.alloc(0);
// zstd-napi's low-level binding (a CommonJS native module without an exports map).
const zstdBinding = createRequire(import.meta.url)('zstd-napi/binding') as typeof ZstdBinding;

export async function* zstdCheck(source: AsyncIterable<Buffer>, afterAge: boolean): AsyncGenerator<Buffer> {
  let first = true;
  let buffered: Buffer | null = null;
  for await (const c of source) {
    if (first) {
      buffered = buffered ? Buffer.concat([buffered, c]) : c;
      if (buffered.length < 4) {
        buffered = Buffer.from(buffered); // the source may reuse its buffer
        continue;
      }
      // A zstd frame, or a skippable frame (magic 0x184D2A50..5F, little-endian) first: valid zstd
      // (pzstd writes one before each frame); the decompressor skips it.
      const skippable = (buffered.readUInt32LE(0) & 0xfffffff0) === 0x184d2a50;
      if (!skippable && !buffered.subarray(0, 4).equals(ZSTD_MAGIC)) {
        throw new OpsError('ERR_BUNDLE_CORRUPT', `The bundle ${afterAge ? '(after age decryption) ' : ''}is not a zstd stream. A mirror bundle is a zstd-compressed tar (.tar.zst).`);
      }
      first = false;
      yield buffered;
      buffered = null;
      continue;
    }
    yield c;
  }
  if (first) throw new OpsError('ERR_BUNDLE_CORRUPT', 'The bundle is empty or too short to be a zstd stream.');
}

/**
 * zstd decompression with real backpressure: each output buffer (a pool
 * slot) is filled completely before it is yielded, so chunks stay aligned to
 * tar's 512-byte blocks (the tar parser then never copies) and memory stays
 * bounded (zstd-napi's DecompressStream pushes all output of an input chunk
 * at once, which a decompression bomb turns into unbounded memory).
 */
/**
 * Where frames begin in the decompressed output: `lastStart` is the output
 * offset at which the last frame after the first one began (-1: one frame).
 * The caller compares it with the tar end-of-archive: a frame that starts at
 * or after it carries bytes no signature covers (spec section 2).
 */
export interface FrameLog {
  lastStart: number;
}

export async function* zstdDecompress(source: AsyncIterable<Buffer>, p: HashPool, frames?: FrameLog): AsyncGenerator<Buffer> {
  const dctx = new zstdBinding.DCtx();
  let ret = 0;
  let out = 0;
  let frameDone = false;
  let dst = await p.acquire();
  let filled = 0;
  const step = (src: Buffer): [number, number] => {
    try {
      const r = dctx.decompressStream(dst.subarray(filled), src);
      // Each call stops at the end of a frame (returning 0): input read after that is a new frame.
      if (r[2] > 0 && frameDone && frames) frames.lastStart = out;
      // A call that neither reads nor writes reports the next frame's header size: not a truncation.
      if (r[1] > 0 || r[2] > 0) {
        ret = r[0];
        frameDone = ret === 0;
      }
      out += r[1];
      return [r[1], r[2]];
    } catch (e) {
      throw new OpsError('ERR_BUNDLE_CORRUPT', `The bundle is not a readable zstd stream (${(e as Error).message}). It may be truncated or damaged.`);
    }
  };
  for await (const chunk of source) {
    let src: Buffer = chunk;
    for (;;) {
      const [produced, consumed] = step(src);
      filled += produced;
      src = src.subarray(consumed);
      if (filled === dst.length) {
        yield dst;
        dst = await p.acquire();
        filled = 0;
        continue;
      }
      if (src.length === 0) break;
      if (produced === 0 && consumed === 0) throw new OpsError('ERR_BUNDLE_CORRUPT', 'The bundle\'s zstd stream makes no progress: it is damaged.');
    }
  }
  for (;;) {
    const [produced] = step(EMPTY);
    filled += produced;
    if (filled === dst.length) {
      yield dst;
      dst = await p.acquire();
      filled = 0;
      continue;
    }
    if (produced === 0) break;
  }
  if (filled > 0) yield dst.subarray(0, filled);
  else p.done(dst);
  if (ret !== 0) throw new OpsError('ERR_BUNDLE_CORRUPT', 'The bundle\'s zstd stream ends in the middle of a frame: the bundle is truncated.');
}
