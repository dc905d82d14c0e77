/**
 * A minimal valid bbolt (BoltDB) file: two meta pages, an empty freelist page
 * and an empty root leaf page. Enough for the contract's offline format check
 * (spec section 7: magic 0xED0CDAED, version 2, FNV-1a 64 checksum over the 56
 * meta bytes) and for bbolt itself to open an empty database.
 */

const MAGIC = 0xed0cdaed;
const VERSION = 2;
const PAGE_FLAG_BRANCH = 0x01;
const PAGE_FLAG_LEAF = 0x02;
const PAGE_FLAG_META = 0x04;
const PAGE_FLAG_FREELIST = 0x10;
void PAGE_FLAG_BRANCH;

/** FNV-1a 64-bit over the bytes. */
export function fnv1a64(bytes: Uint8Array): bigint {
  let h = 0xcbf29ce484222325n;
  for (const b of bytes) {
    h ^= BigInt(b);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h;
}

export interface BboltOptions {
  pageSize?: number;
  /** Break the file on purpose: bad magic in both metas, bad checksums in both, or wrong version. */
  corrupt?: 'magic' | 'checksum' | 'version';
}

export function minimalBbolt(opts: BboltOptions = {}): Buffer {
  const pageSize = opts.pageSize ?? 4096;
  const buf = Buffer.alloc(pageSize * 4);
  const pageHeader = (id: number, flags: number) => {
    const o = id * pageSize;
    buf.writeBigUInt64LE(BigInt(id), o); // id
    buf.writeUInt16LE(flags, o + 8); // flags
    buf.writeUInt16LE(0, o + 10); // count
    buf.writeUInt32LE(0, o + 12); // overflow
  };
  for (const id of [0, 1]) {
    pageHeader(id, PAGE_FLAG_META);
    const m = id * pageSize + 16;
    buf.writeUInt32LE(opts.corrupt === 'magic' ? 0xdeadbeef : MAGIC, m);
    buf.writeUInt32LE(opts.corrupt === 'version' ? 3 : VERSION, m + 4);
    buf.writeUInt32LE(pageSize, m + 8);
    buf.writeUInt32LE(0, m + 12); // flags
    buf.writeBigUInt64LE(3n, m + 16); // root bucket page
    buf.writeBigUInt64LE(0n, m + 24); // root bucket sequence
    buf.writeBigUInt64LE(2n, m + 32); // freelist page
    buf.writeBigUInt64LE(4n, m + 40); // high water mark (next page id)
    buf.writeBigUInt64LE(BigInt(id), m + 48); // txid
    let sum = fnv1a64(buf.subarray(m, m + 56));
    if (opts.corrupt === 'checksum') sum ^= 1n;
    buf.writeBigUInt64LE(sum, m + 56);
  }
  pageHeader(2, PAGE_FLAG_FREELIST);
  pageHeader(3, PAGE_FLAG_LEAF);
  return buf;
}
