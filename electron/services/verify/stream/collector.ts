/**
 * The last stream stage: the tar reader's members, judged by the gate, then
 * collected. Control files (export.json, manifest.yaml, signatures, delta
 * files) are kept in memory within caps, except export.json, which is parsed
 * as its bytes arrive (../export-stream), hashed and signature-checked
 * incrementally and spooled to a private file (./signed-blob), never held
 * whole. Payload files are hashed (small ones here, large ones on the hashing
 * thread) and, when extracting, written below the extraction root straight
 * from the decompression slots; their digests and sizes go to a compact
 * table indexed by the gate's member ids (PayloadTable: ~41 bytes per member
 * plus a front-coded name log of ~15 bytes), not to a Map of objects.
 */
import { isAscii } from 'node:buffer';
import { createHash, hash, type Hash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { OpsError, isOpsError } from '../../../../shared/errors';
import { isPayloadPath } from '../../../../shared/paths';
import { escapeUntrusted } from '../../../../shared/escape';
import { removeTreeQuiet } from '../../safe-fs';
import { isEncryptedFile, type ExportJson } from '../export-schema';
import { ExportJsonStream } from '../export-stream';
import type { HashPool } from '../hash-pool';
import type { TrustedKey } from '../keys';
import { SimpleManifestLines } from '../yaml-check';
import { PagedArray, PagedRecords, SpillLog } from '../paged';
import { SignedBlob } from './signed-blob';
import type { TarGate } from '../tar-gate';
import { checkAbort } from './read';
import { FileWriterThread } from './file-writer';
import { SinkFile } from './sink';
import { SPARE_MAX_BYTES, SpareSink, type SpareFiles } from './spare';
import { TarReader, type TarHeader, type TarMemberSink } from './tar-reader';

export interface Member {
  size: number;
  sha256: string;
  /** Where the stored bytes are on disk (extract target or private spool), if kept. */
  location?: string;
}

const CONTROL_CAP: Record<string, number> = {
  'provenance.json': 16 * 1024 * 1024,
  'delta/manifest.diff.json': 256 * 1024 * 1024,
  'delta/tombstones.jsonl': 256 * 1024 * 1024,
  'signatures/export.dsse.json': 384 * 1024 * 1024,
};
const OTHER_CONTROL_CAP = 16 * 1024 * 1024;
/** All control files together (they are held in memory until the end of the read). */
const CONTROL_TOTAL_CAP = 768 * 1024 * 1024;
/** Control files whose content is read; any other file under signatures/ or delta/ is skipped unread. */
const KNOWN_CONTROL = new Set([
  'export.json',
  'manifest.yaml',
  'provenance.json',
  'signatures/export.sig',
  'signatures/manifest.sig',
  'signatures/export.dsse.json',
  'signatures/export.sigstore.json',
  'delta/manifest.diff.json',
  'delta/tombstones.jsonl',
]);
/** manifest.yaml is decoded in pieces of about this many bytes (whole lines). */
const MANIFEST_PIECE = 64 * 1024;
/** Members up to this size are hashed on the calling thread (no round trip to the hashing thread). */
const INLINE_HASH_MAX = 64 * 1024;

/**
 * SHA-256 of a small member: one call when its bytes come in one piece (most
 * do: a member is split only where a decompression slot ends), else a
 * streaming hash. One object less per member than createHash. The digest is
 * a byte string (one char per byte): as a plain V8 string it costs about
 * half what a Buffer with its own ArrayBuffer does (100,000 digests of ~1 KiB:
 * 260 -> 133 ms).
 */
class SmallDigest {
  private h: Hash | null = null;
  private d: string | null = null;
  constructor(private declared: number) {}
  /** Starts over for another member (one object serving member after member). */
  reset(declared: number): void {
    this.declared = declared;
    this.h = null;
    this.d = null;
  }
  update(c: Buffer): void {
    if (this.d !== null) throw new Error('more bytes than the member declared');
    if (this.h === null && c.length === this.declared) {
      this.d = hash('sha256', c, 'binary');
      return;
    }
    (this.h ??= createHash('sha256')).update(c);
  }
  digest(): string {
    return this.d ?? (this.h ?? createHash('sha256')).digest('binary');
  }
}

/**
 * The sink of a small payload member read only to be hashed (a verify that
 * does not extract, with nothing to keep for decryption): one object with
 * one SmallDigest, reused member after member (members are read one at a
 * time), where a fresh digest, sink and closures per member cost ~420 bytes
 * of garbage each (100,000 members: 42 MB).
 */
class HashOnlySink implements TarMemberSink {
  private id = 0;
  private rel = '';
  private size = 0;
  private readonly digest = new SmallDigest(0);

  constructor(private readonly table: PayloadTable) {}

  reset(id: number, rel: string, declared: number): this {
    this.id = id;
    this.rel = rel;
    this.size = 0;
    this.digest.reset(declared);
    return this;
  }

  data(c: Buffer): void {
    this.digest.update(c);
    this.size += c.length;
  }

  end(): void {
    this.table.add(this.id, this.rel, this.size, undefined);
    this.table.setDigestBytes(this.id, this.digest.digest());
  }
}

const HEX_DIGITS = [...'0123456789abcdef'].map((c) => c.charCodeAt(0));

/** Whether 32 raw digest bytes are the 64 lowercase hex digits `hex` (no string made). */
export function hexEquals(d: Buffer, hex: string): boolean {
  return hexEqualsAt(d, 0, hex);
}

/** hexEquals for the 32 bytes at `at` in `d`. */
function hexEqualsAt(d: Buffer, at: number, hex: string): boolean {
  if (hex.length !== 64) return false;
  for (let k = 0; k < 32; k++) {
    const v = d[at + k];
    if (hex.charCodeAt(2 * k) !== HEX_DIGITS[v >> 4] || hex.charCodeAt(2 * k + 1) !== HEX_DIGITS[v & 15]) return false;
  }
  return true;
}

export function isControl(rel: string): boolean {
  return !isPayloadPath(rel);
}

function safeJoin(root: string, rel: string): string {
  const p = resolve(root, ...rel.split('/'));
  if (!p.startsWith(root + sep)) throw new OpsError('ERR_BUNDLE_UNSAFE_ENTRY', `The member "mirror/${rel}" would be written outside the extraction folder.`, { path: `mirror/${rel}` });
  return p;
}

/**
 * src[from, to) into dst at `at`: a loop for the few bytes a front-coded name
 * adds (Buffer#copy makes a view of its source for any range but the whole
 * buffer: an object per call), Buffer#copy beyond 64.
 */
function copyShort(src: Buffer, from: number, to: number, dst: Buffer, at: number): void {
  if (to - from > 64) {
    src.copy(dst, at, from, to);
    return;
  }
  for (let i = from; i < to; i++) dst[at++] = src[i];
}

/**
 * Reads the front-coded name at `pos` into `into.name` (which holds the
 * previous name: its shared prefix stays where it is); returns the position
 * of the next one.
 */
function readName(log: SpillLog, pos: number, into: { name: Buffer; len: number }): number {
  const h = log.at(pos, 4);
  const k = log.atBuffer.readUInt16LE(h);
  const rest = log.atBuffer.readUInt16LE(h + 2);
  if (k + rest > into.name.length) {
    const grown = Buffer.allocUnsafe(Math.max(2 * into.name.length, k + rest));
    into.name.copy(grown, 0, 0, k);
    into.name = grown;
  }
  const o = log.at(pos + 4, rest);
  copyShort(log.atBuffer, o, o + rest, into.name, k);
  into.len = k + rest;
  return pos + 4 + rest;
}

/**
 * Payload members' digests and sizes, by the gate's member id (dense), and
 * their names in arrival order, front-coded (each name stored as the length
 * it shares with the previous one plus the rest), read back only to name
 * members export.json does not list.
 */
export class PayloadTable {
  // Paged columns (../paged.ts): never copied as the table grows.
  private readonly digests = new PagedRecords(32);
  private readonly sizes = new PagedArray((n) => new Float64Array(n));
  /** 1: bytes read (digest maybe pending), 2: digest known, 4: matched by export.json. */
  private readonly flags = new PagedArray((n) => new Uint8Array(n));
  /** Front-coded names, spilled to a private spool file (read back only in order). */
  private readonly names: SpillLog;
  /** The last name's UTF-8 bytes and the one being added (two scratch buffers, swapped, grown when too small). */
  private prev = Buffer.allocUnsafe(1024);
  private prevLen = 0;
  private cur = Buffer.allocUnsafe(1024);
  private readonly locations = new Map<number, string>();
  count = 0;

  /** `spoolFile`: a new private file for the names beyond the first MiB. */
  constructor(spoolFile: () => string) {
    this.names = new SpillLog(spoolFile);
  }

  /** Closes the names' spool file (the owner removes it). */
  close(): void {
    this.names.close();
  }

  /** Front-codes a name into the log: no buffer, closure or object per name. */
  private pushName(rel: string): void {
    if (rel.length * 3 > this.cur.length) this.cur = Buffer.allocUnsafe(rel.length * 3);
    const b = this.cur;
    const n = b.write(rel, 0, 'utf8');
    const prev = this.prev;
    let k = 0;
    const max = Math.min(n, this.prevLen, 0xffff);
    while (k < max && b[k] === prev[k]) k++;
    const rest = n - k;
    const o = this.names.reserve(4 + rest);
    const page = this.names.buffer;
    page.writeUInt16LE(k, o);
    page.writeUInt16LE(rest, o + 2);
    copyShort(b, k, n, page, o + 4);
    this.cur = prev;
    this.prev = b;
    this.prevLen = n;
  }

  /** A payload member's bytes were read (its digest may still be on the hashing thread). */
  add(id: number, rel: string, size: number, location: string | undefined): void {
    this.sizes.set(id, size);
    this.flags.set(id, 1);
    if (location !== undefined) this.locations.set(id, location);
    this.pushName(rel);
    this.count++;
  }

  setDigest(id: number, digest: Buffer): void {
    this.digests.write(id, digest);
    this.flags.set(id, this.flags.get(id) | 2);
  }

  /** setDigest with the 32 bytes as a byte string (one char per byte). */
  setDigestBytes(id: number, digest: string): void {
    this.digests.writeLatin1(id, digest);
    this.flags.set(id, this.flags.get(id) | 2);
  }

  has(id: number): boolean {
    return id >= 0 && (this.flags.get(id) & 1) !== 0;
  }

  hasDigest(id: number): boolean {
    return id >= 0 && (this.flags.get(id) & 2) !== 0;
  }

  sizeOf(id: number): number {
    return this.sizes.get(id);
  }

  /** Whether member `id`'s digest is the 64 lowercase hex digits `hex` (no view made). */
  digestIsHex(id: number, hex: string): boolean {
    const at = this.digests.locate(id);
    return hexEqualsAt(this.digests.located, at, hex);
  }

  /** 32 raw bytes (a view). */
  digestOf(id: number): Buffer {
    return this.digests.view(id);
  }

  digestHexOf(id: number): string {
    return this.digests.hexAt(id);
  }

  locationOf(id: number): string | undefined {
    return this.locations.get(id);
  }

  markMatched(id: number): void {
    this.flags.set(id, this.flags.get(id) | 4);
  }

  isMatched(id: number): boolean {
    return (this.flags.get(id) & 4) !== 0;
  }

  /** Where the in-order walk (`nextInOrder`) stands: the id and name offset of the next payload member, its name (`name[0, len)`). */
  private readonly walk = { id: -1, off: 0, name: Buffer.allocUnsafe(1024), len: 0, pending: false };

  /**
   * The id of the member that arrived after the last one the walk passed
   * (its name in `walkName()`), or -1; entries of export.json in the order
   * members arrived are matched by this walk, others by the gate's table.
   * Calling it again without advance() gives the same member.
   */
  nextInOrder(): number {
    const w = this.walk;
    if (!w.pending) {
      if (w.off >= this.names.end) return -1;
      let id = w.id + 1;
      const cap = this.flags.capacity;
      while (id < cap && (this.flags.get(id) & 1) === 0) id++;
      if (id >= cap) return -1;
      w.off = readName(this.names, w.off, w);
      w.id = id;
      w.pending = true;
    }
    return w.id;
  }

  /** The name of the member nextInOrder() returned (a view, valid until the walk moves). */
  walkName(): Buffer {
    return this.walk.name.subarray(0, this.walk.len);
  }

  /** The walk moves past the member nextInOrder() returned. */
  advance(): void {
    this.walk.pending = false;
  }

  /**
   * The id of the member named `pathBytes` when members arrived in the
   * order of the (sorted) file list: walks them along, past any smaller
   * name, without hashing. -1 when the walk does not find it (the caller
   * then looks the path up in the gate's table).
   */
  matchInOrder(pathBytes: Buffer): number {
    const w = this.walk;
    for (let id = this.nextInOrder(); id >= 0; id = this.nextInOrder()) {
      const c = w.name.compare(pathBytes, 0, pathBytes.length, 0, w.len);
      if (c > 0) return -1;
      this.advance();
      if (c === 0) return id;
    }
    return -1;
  }

  /** Every payload member's name (relative to mirror/), in arrival order. */
  *namesInOrder(): Generator<string> {
    const r = { name: Buffer.allocUnsafe(1024), len: 0 };
    const end = this.names.end;
    for (let pos = 0; pos < end; ) {
      pos = readName(this.names, pos, r);
      yield r.name.toString('utf8', 0, r.len);
    }
  }

  /** Bytes held (tests assert it stays proportional to the member count). */
  get heldBytes(): number {
    return this.digests.byteLength + this.sizes.byteLength + this.flags.byteLength + this.names.byteLength;
  }
}

export interface CollectorOptions {
  pool: HashPool;
  gate: TarGate;
  /** Payload files are written below this (prepared, empty) folder. */
  extractRoot?: string;
  /** Keep files that may need per-file decryption (in a private spool when not extracting). */
  keepEncrypted: boolean;
  /** Trusted keys: their signature verifiers are fed as export.json streams. */
  keys: TrustedKey[];
  signal?: AbortSignal;
  /**
   * Spare files (a workspace's, spare.ts) the small files of a plain delta
   * are written into instead of new files below `extractRoot`; `placed`
   * then names where each went.
   */
  spares?: SpareFiles;
  /**
   * A private folder of the caller's to spool into (export.json, manifest.yaml,
   * large tables), instead of a folder of its own in the temporary folder:
   * an import's extraction folder, where the kept export.json is then a link
   * away and nothing is swept or removed besides the spool files themselves.
   */
  spoolIn?: string;
}

export class MemberCollector {
  /** Control files (size, digest). Payload files are in `payload`. */
  readonly members = new Map<string, Member>();
  readonly control = new Map<string, Buffer>();
  readonly payload = new PayloadTable(() => this.spoolFile());
  /** export.json as streamed: digest, signature verifiers, spooled bytes (null: not in the bundle). */
  exportBlob: SignedBlob | null = null;
  /** manifest.yaml as streamed (null: not in the bundle), and whether the line-by-line fast path recognised it as YAML. */
  manifestBlob: SignedBlob | null = null;
  manifestRecognised = false;
  readonly ignoredControl: string[] = [];
  /** export.json as parsed when its bytes came in, or why it did not parse. */
  exportJson: ExportJson | null = null;
  exportError: unknown = null;
  /** The member being read (messages, progress). */
  current: string | undefined;
  private controlBytes = 0;
  private spoolDir: string | undefined;
  private spoolSeq = 0;
  private readonly openSinks = new Set<SinkFile | SpareSink>();
  /** Payload files written into spare files (their path below the bundle's root -> the spare's path); the others are below extractRoot. */
  readonly placed = new Map<string, string>();
  /** Folders already made below the extraction root (each is made once). */
  private readonly madeDirs = new Set<string>();
  private readonly pendingDigests: Promise<unknown>[] = [];
  /** The sink of small members read only to be hashed (created on first use, then reused). */
  private hashOnly: HashOnlySink | null = null;
  /** Small extracted files go to the hashing thread (undefined: not decided yet; null: there is none, written in place). */
  private writer: FileWriterThread | null | undefined = undefined;

  /** Offset just after the tar end-of-archive marker in the decompressed stream (-1 before the end). */
  tarEnd = -1;

  constructor(private readonly o: CollectorOptions) {}

  /** Reads the decompressed tar stream to its end; each chunk's slot is released once read. */
  async consume(source: AsyncIterable<Buffer>): Promise<void> {
    const reader = new TarReader((h) => this.onHeader(h));
    const { pool, gate } = this.o;
    let first = true;
    try {
      for await (const chunk of source) {
        if (first) {
          first = false;
          if (chunk.length >= 2 && chunk[0] === 0x1f && chunk[1] === 0x8b) {
            pool.done(chunk);
            throw new OpsError('ERR_BUNDLE_CORRUPT', 'The zstd stream holds a gzip stream, not a tar archive.');
          }
        }
        try {
          gate.addUnpacked(chunk.length, this.current);
          // Synchronous: every view of the chunk is hashed, written or copied before write() returns.
          reader.write(chunk);
          // The end-of-archive is the end (spec section 2): zero padding to the record may follow, nothing else.
          if (reader.trailingNonZero) throw new OpsError('ERR_BUNDLE_CORRUPT', 'The bundle holds data after the tar end-of-archive marker: bytes no signature covers. It was not kept.');
        } finally {
          pool.done(chunk);
        }
        checkAbort(this.o.signal);
        if (this.writer) await this.writer.drain().catch((e) => this.writeFailed(e));
      }
      reader.end();
      this.tarEnd = reader.eofAt;
      if (this.writer) await this.writer.flush().catch((e) => this.writeFailed(e));
    } catch (e) {
      if (isOpsError(e) && e.code === 'ERR_BUNDLE_CORRUPT' && !e.path && this.current) throw new OpsError(e.code, e.message, { path: this.current, cause: e });
      throw e;
    }
  }

  /** Waits for the digests computed on the hashing thread. */
  async settle(): Promise<void> {
    await Promise.all(this.pendingDigests);
    this.pendingDigests.length = 0;
  }

  /** A write on the file thread failed: a path too long for this host is the bundle's limit; anything else is this host's failure. */
  private writeFailed(e: unknown): never {
    const path = (e as { path?: string }).path;
    const root = this.o.extractRoot;
    if (root && path?.startsWith(root + sep)) {
      const rel = path.slice(root.length + 1).split(sep).join('/');
      this.current = `mirror/${rel}`;
      throw tooLongHere(e, rel, root);
    }
    throw e;
  }

  private fileWriter(): FileWriterThread | null {
    if (this.writer === undefined) {
      const via = this.o.pool.writerTransport();
      this.writer = via ? new FileWriterThread(via) : null;
    }
    return this.writer;
  }

  /** Waits for the file writes handed over (after a failure, before the caller removes the extraction folder); no write happens after this. */
  async closeWriter(): Promise<void> {
    const w = this.writer;
    this.writer = null;
    await w?.close();
  }

  /** Closes files left open by a failed read. */
  abandon(): void {
    for (const s of this.openSinks) s.abandon();
    this.openSinks.clear();
    this.exportBlob?.close();
    this.manifestBlob?.close();
  }

  /** Spool files made in the caller's folder (spoolIn), removed by removeSpool. */
  private readonly spooledIn: string[] = [];

  private spoolFile(): string {
    if (this.o.spoolIn) {
      const f = join(this.o.spoolIn, `spool-${this.spoolSeq++}`);
      this.spooledIn.push(f);
      return f;
    }
    if (!this.spoolDir) {
      sweepStaleSpools(tmpdir());
      this.spoolDir = mkdtempSync(join(tmpdir(), `okc-spool-${process.pid}-`));
    }
    return join(this.spoolDir, String(this.spoolSeq++));
  }

  /** Removes the private spool (files kept only for decryption). */
  removeSpool(): void {
    this.payload.close();
    if (this.spoolDir) removeTreeQuiet(this.spoolDir);
    this.spoolDir = undefined;
    for (const f of this.spooledIn.splice(0)) removeTreeQuiet(f);
  }

  /** Payload members (not control files). */
  get payloadCount(): number {
    return this.payload.count;
  }

  /** One member's header: admitted by the gate, then a sink for its bytes (null: skipped unread). */
  private onHeader(entry: TarHeader): TarMemberSink | null {
    const dec = this.o.gate.admit({ path: entry.path, type: entry.type, size: entry.size, linkpath: entry.linkpath });
    this.current = dec.path;
    if (dec.kind === 'directory') return null;
    const rel = dec.rel;
    if (!isControl(rel)) return this.payloadFile(rel, dec.id, entry.size);
    if (!KNOWN_CONTROL.has(rel)) {
      // Not something this console reads: never buffered (a bundle cannot make us hold it in memory).
      this.ignoredControl.push(rel);
      return null;
    }
    if (rel === 'export.json') return this.exportFile();
    if (rel === 'manifest.yaml') return this.manifestFile();
    return this.controlFile(rel, dec.path, entry.size);
  }

  /**
   * manifest.yaml: hashed, signature-checked and spooled as it streams, its
   * lines fed to the YAML fast path (yaml-check) as they complete; only a
   * manifest that path does not recognise is read back and parsed whole.
   */
  private manifestFile(): TarMemberSink {
    const blob = new SignedBlob(this.spoolFile(), this.o.keys);
    this.manifestBlob = blob;
    const lines = new SimpleManifestLines();
    let ok = true;
    let partial: Buffer[] = [];
    let partialLen = 0;
    const LINE_MAX = 1024 * 1024;
    const line = (b: Buffer): void => {
      if (ok) ok = lines.line(b.toString('utf8'));
    };
    /** The bytes after the chunk's last newline wait for the next chunk. */
    const keep = (c: Buffer, from: number): void => {
      if (from >= c.length) return;
      partial.push(Buffer.from(c.subarray(from)));
      partialLen += c.length - from;
      if (partialLen > LINE_MAX) ok = false; // not a manifest line: the whole-document check decides
    };
    return {
      data: (c: Buffer) => {
        blob.update(c);
        if (!ok) return;
        const last = c.lastIndexOf(0x0a);
        if (last < 0) return keep(c, 0);
        let from = 0;
        if (partialLen) {
          // The line begun in earlier chunks ends here.
          const nl = c.indexOf(0x0a);
          partial.push(c.subarray(0, nl));
          line(Buffer.concat(partial));
          partial = [];
          partialLen = 0;
          if (!ok) return;
          from = nl + 1;
        }
        // The chunk's complete lines decoded some 64 KiB at a time (a newline never falls inside a UTF-8
        // sequence, so this is each line's own decoding; pieces this small stay in the young
        // generation), then cut at the newlines in the text: one decode and string searches per piece
        // instead of a Buffer search and a decode per line (3 lines a file). ASCII (as manifests are)
        // decodes as Latin-1: a copy, ~6x faster than Node's UTF-8 decoder.
        while (from <= last) {
          let to = from + MANIFEST_PIECE >= last ? last : c.lastIndexOf(0x0a, from + MANIFEST_PIECE);
          if (to < from) to = c.indexOf(0x0a, from);
          const bytes = c.subarray(from, to);
          const text = bytes.toString(isAscii(bytes) ? 'latin1' : 'utf8');
          for (let at = 0; ; ) {
            const nl = text.indexOf('\n', at);
            ok = lines.line(nl < 0 ? text.slice(at) : text.slice(at, nl));
            if (!ok) return;
            if (nl < 0) break;
            at = nl + 1;
          }
          from = to + 1;
        }
        keep(c, last + 1);
      },
      end: () => {
        blob.end();
        if (ok && partialLen) line(Buffer.concat(partial));
        partial = [];
        this.manifestRecognised = ok && lines.end();
        this.members.set('manifest.yaml', { size: blob.size, sha256: blob.sha256, location: blob.spoolPath });
      },
    };
  }

  /** export.json: parsed, hashed, signature-checked and spooled as it streams (never held whole). */
  private exportFile(): TarMemberSink {
    const blob = new SignedBlob(this.spoolFile(), this.o.keys);
    this.exportBlob = blob;
    const gate = this.o.gate;
    const payload = this.payload;
    const parser: ExportJsonStream = new ExportJsonStream({
      maxDepth: gate.limits.maxDepth,
      maxFiles: gate.limits.maxMembers,
      digests: payload,
      // An entry whose member was already read with this size and digest is matched now, and the list
      // shares the member table's digest (when no per-file encryption can apply: that compares stored digests, at the end).
      share: (e, pathBytes) => {
        // No member read yet (export.json first): nothing to match, no lookup to pay for.
        if (payload.count === 0 || parser.field('encryption') !== null) return -1;
        let id = payload.matchInOrder(pathBytes);
        if (id < 0) id = gate.idOf(`mirror/${e.path}`);
        if (!payload.hasDigest(id) || payload.sizeOf(id) !== e.size || payload.isMatched(id)) return -1;
        if (!payload.digestIsHex(id, e.sha256)) return -1;
        payload.markMatched(id);
        return id;
      },
    });
    return {
      data: (c: Buffer) => {
        blob.update(c);
        parser.write(c);
      },
      end: () => {
        blob.end();
        this.members.set('export.json', { size: blob.size, sha256: blob.sha256, location: blob.spoolPath });
        try {
          this.exportJson = parser.end();
        } catch (e) {
          this.exportJson = null; // reported after the stream
          this.exportError = e;
        }
      },
    };
  }

  private controlFile(rel: string, path: string, size: number): TarMemberSink {
    const cap = CONTROL_CAP[rel] ?? OTHER_CONTROL_CAP;
    if (size > cap) throw new OpsError('ERR_BUNDLE_LIMIT', `The control file "${path}" is ${size} bytes, above the ${cap}-byte limit for such files.`, { path });
    this.controlBytes += size;
    if (this.controlBytes > CONTROL_TOTAL_CAP) throw new OpsError('ERR_BUNDLE_LIMIT', `The bundle's control files held in memory (provenance, signatures, delta files) exceed ${CONTROL_TOTAL_CAP} bytes together, at "${path}".`, { path });
    const parts: Buffer[] = [];
    const h = createHash('sha256');
    return {
      data: (c: Buffer) => {
        parts.push(Buffer.from(c));
        h.update(c);
      },
      end: () => {
        const bytes = Buffer.concat(parts);
        this.control.set(rel, bytes);
        this.members.set(rel, { size: bytes.length, sha256: h.digest('hex') });
      },
    };
  }

  /** Where a payload file's stored bytes go: the extraction tree, the spool, or nowhere (hashed only). */
  private targetOf(rel: string): string | undefined {
    const root = this.o.extractRoot;
    if (root) {
      const target = safeJoin(root, rel);
      const parent = dirname(target);
      if (!this.madeDirs.has(parent)) {
        // Folders inside the private (0700) extraction root: 0755, as the staging tree serves them.
        try {
          mkdirSync(parent, { recursive: true, mode: 0o755 });
        } catch (e) {
          throw tooLongHere(e, rel, root);
        }
        this.madeDirs.add(parent);
      }
      return target;
    }
    const exp = this.exportJson;
    // Before export.json is known, files under data/ (where per-file encryption applies, spec 5.2) may need decrypting later.
    if (this.o.keepEncrypted && (exp === null ? rel.startsWith('data/') : isEncryptedFile(exp, rel))) return this.spoolFile();
    return undefined;
  }

  /** Payload file: hashed while streaming; kept on disk when extracting or when it may need decryption. */
  private payloadFile(rel: string, id: number, declared: number): TarMemberSink {
    const spare = this.spareFor(declared);
    if (spare) return this.spareSink(rel, id, declared, new SpareSink(spare));
    const target = this.targetOf(rel);
    // A small member read only to be hashed (a verify): the one reused sink, nothing allocated per
    // member (not even the closures' context, which payloadSink allocates on entry).
    if (!target && declared <= INLINE_HASH_MAX) return (this.hashOnly ??= new HashOnlySink(this.payload)).reset(id, rel, declared);
    return this.payloadSink(rel, id, declared, target);
  }

  /**
   * A spare file for a small payload file, unless export.json (when it came
   * first) says the bundle is not a plain delta: a full or new-baseline
   * bundle's extraction folder becomes the tree as a whole, and per-file
   * encryption decrypts below it. (Members come in any order, and producers
   * write export.json after the payload: a full bundle read before it
   * shows may get some spares, which its apply moves into the tree first.)
   */
  private spareFor(declared: number): ReturnType<SpareFiles['take']> {
    if (!this.o.spares || !this.o.extractRoot || this.o.keepEncrypted || declared > SPARE_MAX_BYTES) return null;
    const exp = this.exportJson;
    if (exp && (exp.profile.variant === 'full' || exp.resetBaseline || exp.encryption)) return null;
    return this.o.spares.take();
  }

  /** A small payload file written into a spare file, hashed here. */
  private spareSink(rel: string, id: number, declared: number, sink: SpareSink): TarMemberSink {
    const table = this.payload;
    this.openSinks.add(sink);
    const h = new SmallDigest(declared);
    let size = 0;
    return {
      data: (c: Buffer) => {
        h.update(c);
        size += c.length;
        sink.write(c);
      },
      end: () => {
        sink.close();
        this.openSinks.delete(sink);
        this.placed.set(rel, sink.path);
        table.add(id, rel, size, undefined);
        table.setDigestBytes(id, h.digest());
      },
    };
  }

  private payloadSink(rel: string, id: number, declared: number, target: string | undefined): TarMemberSink {
    const table = this.payload;
    // Extracted files are made durable together at the end (one syncfs), not one fsync each.
    const w = target && this.o.extractRoot && declared <= INLINE_HASH_MAX ? this.fileWriter() : null;
    if (target && w) {
      // A small extracted member: hashed here, its bytes copied to the hashing thread, which writes the file.
      w.begin(target, declared);
      const location = this.o.keepEncrypted ? target : undefined;
      const h = new SmallDigest(declared);
      let size = 0;
      return {
        data: (c: Buffer) => {
          h.update(c);
          size += c.length;
          w.data(c);
        },
        end: () => {
          w.end();
          table.add(id, rel, size, location);
          table.setDigestBytes(id, h.digest());
        },
      };
    }
    let sink: SinkFile | undefined;
    try {
      sink = target ? new SinkFile(target) : undefined;
    } catch (e) {
      throw tooLongHere(e, rel, this.o.extractRoot);
    }
    if (sink) this.openSinks.add(sink);
    // Locations are kept only where decryption may need them.
    const location = target && this.o.keepEncrypted ? target : undefined;
    let size = 0;
    const close = (): void => {
      if (!sink) return;
      sink.close();
      this.openSinks.delete(sink);
    };
    if (declared <= INLINE_HASH_MAX) {
      // A small member is hashed here: cheaper than three messages to the hashing thread and back.
      const h = new SmallDigest(declared);
      return {
        data: (c: Buffer) => {
          h.update(c);
          size += c.length;
          sink?.write(c);
        },
        end: () => {
          close();
          table.add(id, rel, size, location);
          table.setDigestBytes(id, h.digest());
        },
      };
    }
    const p = this.o.pool;
    const hid = p.start();
    return {
      data: (c: Buffer) => {
        p.update(hid, c);
        size += c.length;
        sink?.write(c);
      },
      end: () => {
        close();
        table.add(id, rel, size, location);
        this.pendingDigests.push(p.finish(hid).then((hex) => table.setDigest(id, Buffer.from(hex, 'hex'))));
      },
    };
  }
}

/**
 * A path within the spec's 4,096 bytes can still be too long below this
 * workspace's folder on this host (ENAMETOOLONG): a limit, named, not a host failure.
 */
function tooLongHere(e: unknown, rel: string, root: string | undefined): unknown {
  if ((e as NodeJS.ErrnoException).code !== 'ENAMETOOLONG') return e;
  return new OpsError('ERR_BUNDLE_LIMIT', `The member "mirror/${escapeUntrusted(rel)}" cannot be extracted here: its path is too long for this host's file system below ${root ?? 'the extraction folder'}.`, { path: `mirror/${rel}` });
}

let swept = false;

/**
 * Removes the private spool folders (`okc-spool-<pid>-*`) of processes that
 * no longer run: a verify killed mid-way (SIGKILL, power loss) cannot remove
 * its own. Once per process; a folder whose process is alive (or any other
 * process now has that pid) is left alone, and so is one changed within the
 * last hour (a process of another pid namespace sharing this folder).
 */
export function sweepStaleSpools(dir: string, force = false): string[] {
  if (swept && !force) return [];
  swept = true;
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    const m = /^okc-spool-(\d+)-/.exec(name);
    if (!m || Number(m[1]) === process.pid) continue;
    try {
      if (Date.now() - statSync(join(dir, name)).mtimeMs < 3_600_000) continue;
    } catch {
      continue;
    }
    try {
      process.kill(Number(m[1]), 0);
      continue; // alive
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') continue; // EPERM: alive, not ours
    }
    removeTreeQuiet(join(dir, name));
    removed.push(name);
  }
  return removed;
}
