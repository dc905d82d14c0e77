/**
 * zstd decompression on the hashing thread, for bundles read through a
 * SharedPool: the main thread hands over the raw slots the bundle was read
 * into and lends empty slots; the thread decompresses from the one into the
 * other and hands the filled slots back, so decompression overlaps the
 * main thread's parsing of the previous slot (verify's critical path is the
 * main thread: tar headers, the gate, export.json, the member table).
 *
 * Same contract as the inline decompressor (./zstd.ts): output slots are
 * filled completely before they are handed back (tar blocks stay aligned),
 * output is bounded by the slots lent (a decompression bomb costs no memory),
 * the frame log says where the last frame began, a stream that ends inside a
 * frame is truncated.
 *
 * Messages, main → thread: `zb` begin, `zi` input range (slot held until
 * `zc`), `zo` an empty output slot, `ze` end of input, `zq` quit.
 * Thread → main: `zc` input slot consumed, `zf` output slot filled (`n`
 * bytes), `zs` a lent slot given back unused (after the end, a quit or a failure), `zd` done (return code,
 * frame log, unused slots), `zx` failure (`k`: 'stall' or 'zstd').
 */
import { OpsError } from '../../../../shared/errors';

/** Runs on the thread (plain JavaScript, evaluated with the hashing thread's source). */
export const INFLATE_SOURCE = `
let __z = null;
const __Z_EMPTY = Buffer.alloc(0);
const __Z_STALL = {};
function __inflate(m, sab, bindingPath, SLOT, postAny) {
  // Every message names its stream (q): a stream's late answers never reach the next one.
  const post = (r) => {
    r.q = m.q;
    postAny(r);
  };
  if (m.t === 'zb') {
    const B = require(bindingPath);
    __z = { q: m.q, d: new B.DCtx(), inq: [], outq: [], cur: -1, filled: 0, out: 0, frameDone: false, ret: 0, lastStart: -1, ending: false };
    return;
  }
  const z = __z !== null && __z.q === m.q ? __z : null;
  if (m.t === 'zq') {
    if (z !== null) {
      __inflateGiveBack(z, post);
      __z = null;
    }
    return;
  }
  if (z === null) {
    if (m.t === 'zi') post({ t: 'zc', s: m.s });
    else if (m.t === 'zo') post({ t: 'zs', s: m.s });
    return;
  }
  if (m.t === 'zi') z.inq.push({ b: Buffer.from(sab, m.o, m.n), s: m.s });
  else if (m.t === 'zo') z.outq.push(m.s);
  else if (m.t === 'ze') z.ending = true;
  try {
    __inflatePump(z, sab, SLOT, post);
  } catch (e) {
    __z = null;
    __inflateGiveBack(z, post);
    post({ t: 'zx', k: e === __Z_STALL ? 'stall' : 'zstd', m: String((e && e.message) || e) });
  }
}
// Every slot the thread holds goes back: inputs as consumed, lent ones as spare.
function __inflateGiveBack(z, post) {
  for (const i of z.inq) post({ t: 'zc', s: i.s });
  for (const s of z.outq) post({ t: 'zs', s });
  if (z.cur >= 0) post({ t: 'zs', s: z.cur });
  z.inq = [];
  z.outq = [];
  z.cur = -1;
}
function __inflatePump(z, sab, SLOT, post) {
  for (;;) {
    if (z.cur < 0) {
      if (z.outq.length === 0) return;
      z.cur = z.outq.shift();
      z.filled = 0;
    }
    const input = z.inq.length > 0 ? z.inq[0] : null;
    if (input === null && !z.ending) return;
    const src = input === null ? __Z_EMPTY : input.b;
    const r = z.d.decompressStream(Buffer.from(sab, z.cur * SLOT + z.filled, SLOT - z.filled), src);
    // Each call stops at the end of a frame (returning 0): input read after that is a new frame.
    if (r[2] > 0 && z.frameDone) z.lastStart = z.out;
    // A call that neither reads nor writes reports the next frame's header size: not a truncation.
    if (r[1] > 0 || r[2] > 0) {
      z.ret = r[0];
      z.frameDone = z.ret === 0;
    }
    z.out += r[1];
    z.filled += r[1];
    if (input !== null) {
      input.b = src.subarray(r[2]);
      if (input.b.length === 0) {
        z.inq.shift();
        post({ t: 'zc', s: input.s });
      } else if (r[1] === 0 && r[2] === 0 && z.filled < SLOT) {
        throw __Z_STALL;
      }
    }
    if (z.filled === SLOT) {
      post({ t: 'zf', s: z.cur, n: SLOT });
      z.cur = -1;
      continue;
    }
    if (input === null && r[1] === 0) {
      const spare = z.outq.slice();
      if (z.filled > 0) post({ t: 'zf', s: z.cur, n: z.filled });
      else spare.push(z.cur);
      post({ t: 'zd', ret: z.ret, lastStart: z.lastStart, spare });
      __z = null;
      return;
    }
  }
}
`;

/** Answers of the thread; each names its stream (`q`, set by the transport). */
export type FromInflate = { q: number } & (
  | { t: 'zc'; s: number }
  | { t: 'zf'; s: number; n: number }
  | { t: 'zs'; s: number }
  | { t: 'zd'; ret: number; lastStart: number; spare: number[] }
  | { t: 'zx'; k: 'stall' | 'zstd'; m: string }
);

/** Requests to the thread (the transport adds the stream's `q`). */
export type ToInflate = { t: 'zb' } | { t: 'zi'; o: number; n: number; s: number } | { t: 'zo'; s: number } | { t: 'ze' } | { t: 'zq' };

/** What the pool gives one decompression stream: its thread (messages of this stream only), and its slots by number. */
export interface InflateTransport {
  post(m: ToInflate): void;
  listen(onReply: (m: FromInflate) => void, onFailure: (e: Error) => void): void;
  acquire(): Promise<Buffer>;
  /** The slot a buffer lies in wholly, or -1. */
  slotOf(buf: Buffer): number;
  view(slot: number, n: number): Buffer;
  hold(buf: Buffer): void;
  /** Drops one hold of a slot. */
  release(slot: number): void;
}

/** Input ranges handed over and not yet consumed, at most. */
const IN_AHEAD = 3;
/** Output slots lent or filled and not yet taken, at most. */
const OUT_AHEAD = 4;

export class ThreadInflate {
  private readonly ready: Buffer[] = [];
  private lent = 0;
  private inFlight = 0;
  private ended = false;
  private closed = false;
  private lending = false;
  private error: unknown = null;
  private feederWaiter: (() => void) | null = null;
  private consumerWaiter: (() => void) | null = null;
  /** The zstd return code at the end (0: the last frame is complete). */
  ret = 0;
  /** Output offset at which the last frame after the first began (-1: one frame). */
  lastStart = -1;

  constructor(private readonly t: InflateTransport) {
    t.listen(
      (m) => this.onReply(m),
      (e) => this.fail(e),
    );
    t.post({ t: 'zb' });
    void this.lend();
  }

  private onReply(m: FromInflate): void {
    switch (m.t) {
      case 'zc':
        this.t.release(m.s);
        this.inFlight--;
        this.wake();
        break;
      case 'zf':
        this.lent--;
        if (this.closed) this.t.release(m.s);
        else this.ready.push(this.t.view(m.s, m.n));
        this.wake();
        void this.lend();
        break;
      case 'zs':
        this.t.release(m.s);
        break;
      case 'zd':
        for (const s of m.spare) this.t.release(s);
        this.lent = 0;
        this.ret = m.ret;
        this.lastStart = m.lastStart;
        this.ended = true;
        this.wake();
        break;
      case 'zx':
        this.fail(
          m.k === 'stall'
            ? new OpsError('ERR_BUNDLE_CORRUPT', "The bundle's zstd stream makes no progress: it is damaged.")
            : new OpsError('ERR_BUNDLE_CORRUPT', `The bundle is not a readable zstd stream (${m.m}). It may be truncated or damaged.`),
        );
        break;
    }
  }

  private wake(): void {
    const f = this.feederWaiter;
    const c = this.consumerWaiter;
    this.feederWaiter = this.consumerWaiter = null;
    f?.();
    c?.();
  }

  /** Keeps OUT_AHEAD output slots lent or filled. */
  private async lend(): Promise<void> {
    if (this.lending) return;
    this.lending = true;
    try {
      while (!this.ended && !this.closed && this.error === null && this.lent + this.ready.length < OUT_AHEAD) {
        const b = await this.t.acquire();
        const slot = this.t.slotOf(b);
        if (this.ended || this.closed || this.error !== null) {
          this.t.release(slot);
          break;
        }
        this.lent++;
        this.t.post({ t: 'zo', s: slot });
      }
    } catch (e) {
      this.fail(e);
    } finally {
      this.lending = false;
    }
  }

  /** A failure of the stream (a read error, a damaged frame, the thread gone): the consumer gets it. */
  fail(e: unknown): void {
    if (this.error !== null || this.closed) return;
    this.error = e;
    this.wake();
  }

  /** Hands over one chunk of the compressed stream (waits while IN_AHEAD are in flight). */
  async push(chunk: Buffer): Promise<void> {
    let rest = chunk;
    while (rest.length > 0) {
      while (this.inFlight >= IN_AHEAD && this.error === null && !this.closed) await new Promise<void>((r) => (this.feederWaiter = r));
      if (this.error !== null) throw this.error;
      if (this.closed) throw new Error('decompression closed');
      let piece: Buffer;
      let slot = this.t.slotOf(rest);
      if (slot >= 0) {
        piece = rest;
        this.t.hold(piece);
      } else {
        // Not a slot (a first chunk put together from short reads, a decrypted chunk): copied into one.
        const b = await this.t.acquire();
        const n = Math.min(rest.length, b.length);
        rest.copy(b, 0, 0, n);
        piece = b.subarray(0, n);
        slot = this.t.slotOf(b);
      }
      rest = rest.subarray(piece.length);
      this.inFlight++;
      this.t.post({ t: 'zi', o: piece.byteOffset, n: piece.length, s: slot });
    }
  }

  end(): void {
    if (!this.closed && this.error === null) this.t.post({ t: 'ze' });
  }

  /** The next filled slot, or null after the last. The caller releases it (pool.done). */
  async next(): Promise<Buffer | null> {
    for (;;) {
      if (this.error !== null) throw this.error;
      const b = this.ready.shift();
      if (b) {
        void this.lend();
        return b;
      }
      if (this.ended) return null;
      await new Promise<void>((r) => (this.consumerWaiter = r));
    }
  }

  /** Stops: the thread drops its state; filled slots not taken are released. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (!this.ended) this.t.post({ t: 'zq' });
    for (const b of this.ready.splice(0)) this.t.release(this.t.slotOf(b));
    this.wake();
  }
}
