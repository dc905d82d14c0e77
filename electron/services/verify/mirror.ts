/**
 * Streaming verification of one mirror bundle (spec sections 2 to 6).
 *
 * One pass over the file: read (raw SHA-256, optional copy) → optional
 * whole-file age decryption → zstd → tar Parser → member gate → per-member
 * SHA-256 and size (and, with `extractTo`, the payload written as it streams).
 * At the end: signatures, schema, digests, missing/extra files, provenance,
 * delta rules, then per-file decryption where export.json asks for it.
 */
import { createDecipheriv, createHash, hkdfSync } from 'node:crypto';
import { constants as fsc, createReadStream, closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { open as openAsync, type FileHandle } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve, sep, dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { makeTreeDurable } from '../durability';
import { checkYaml } from './yaml-check';
import type * as ZstdBinding from 'zstd-napi/binding';
import { OpsError, isOpsError, pickReportedCode, runbookAdvice, type ErrorCode } from '../../../shared/errors';
import { compareBytewise, isPayloadPath } from '../../../shared/paths';
import { stateDigestText } from '../../../shared/state-digest';
import type { Check, Failure, JobProgress, Verdict, VerdictKind } from '../../../shared/types';
import { preAuthEncoding, parseDsseEnvelope } from './dsse';
import { isEncryptedFile, parseExportJson, type ExportJson } from './export-schema';
import { decodeSignature, verifyDetached, verifyRaw, type TrustedKey } from './keys';
import { hashPoolFor, type HashPool } from './hash-pool';
import { TarGate } from './tar-gate';
import { TarReader, type TarHeader, type TarMemberSink } from './stream/tar-reader';
import type { VerifyOptions } from './types';

export const DSSE_PAYLOAD_TYPE = 'application/vnd.stellaops.export+json';

export interface MirrorBundleResult {
  verdict: Verdict;
  exportJson?: ExportJson;
  exportJsonBytes?: Buffer;
  /** mirror/manifest.yaml as read in the verified stream (use only if verdict.ok). */
  manifestYamlBytes?: Buffer;
  /** hex */
  exportJsonSha256?: string;
  /** SHA-256 (hex) of the file as stored (what a kit manifest lists); '' when not computed (rawDigest: false) or unreadable. */
  rawSha256: string;
  rawSize: number;
  /**
   * False when the bundle is encrypted per file and was not decrypted (no
   * identity): the stored bytes verified, the plaintext did not. An import
   * must not use such a result.
   */
  plaintextVerified: boolean;
}

export type MirrorVerifyOptions = VerifyOptions & {
  /** Payload files (plaintext) are written below this folder during the read. Use only if verdict.ok. */
  extractTo?: string;
  /** The raw bundle bytes are copied to this (new) file during the same read. */
  copyTo?: string;
  /**
   * Compute `rawSha256` (default true). A lone `mirror verify` turns it off:
   * nothing compares the file's own digest there, and it saves a second hash.
   */
  rawDigest?: boolean;
};

const READ_CHUNK = 4 * 1024 * 1024;
const CONTROL_CAP: Record<string, number> = {
  'export.json': 256 * 1024 * 1024,
  'manifest.yaml': 256 * 1024 * 1024,
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
const AGE_MAGIC = Buffer.from('age-encryption.org/v1\n');
const AGE_ARMOR = Buffer.from('-----BEGIN AGE ENCRYPTED FILE-----');
const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
/** age STREAM: 64 KiB plaintext chunks, each followed by a 16-byte Poly1305 tag. */
const AGE_TAG = 16;
const AGE_CHUNK = 64 * 1024 + AGE_TAG;
const AGE_HEADER_CAP = 1024 * 1024;
const EMPTY = Buffer.alloc(0);
/** Bytes of raw file data handed to the hashing thread before the reader waits for it. */
const HASH_BACKLOG = 32 * 1024 * 1024;
/** Members up to this size are hashed on the calling thread (no round trip to the hashing thread). */
const INLINE_HASH_MAX = 64 * 1024;
// zstd-napi's low-level binding (a CommonJS native module without an exports map).
const zstdBinding = createRequire(import.meta.url)('zstd-napi/binding') as typeof ZstdBinding;

interface Member {
  size: number;
  sha256: string;
  /** Where the stored bytes are on disk (extract target or private spool), if kept. */
  location?: string;
}

/** Collects checks and failures; the reported code follows the spec's precedence. */
export class Report {
  readonly checks: Check[] = [];
  readonly failures: Failure[] = [];
  readonly warnings: string[] = [];
  ok(name: string, detail?: string): void {
    this.checks.push(detail === undefined ? { name, ok: true } : { name, ok: true, detail });
  }
  fail(name: string, code: ErrorCode, message: string, path?: string): void {
    this.checks.push({ name, ok: false, detail: message });
    this.failures.push(path === undefined ? { code, message } : { code, message, path });
  }
  get failed(): boolean {
    return this.failures.length > 0;
  }
}

export function buildVerdict(input: {
  report: Report;
  path: string;
  kind: VerdictKind;
  exportId: string | null;
  generation: number | null;
  bytes: number;
  files: number;
  started: number;
  okMessage: string;
  items?: Verdict[];
  keys?: { tried: string[]; signedBy: string[] };
}): Verdict {
  const { report } = input;
  const code = pickReportedCode(report.failures.map((f) => f.code));
  const first = code === null ? undefined : report.failures.find((f) => f.code === code);
  const memberFailure = code === null ? undefined : report.failures.find((f) => f.code === code && f.path);
  const v: Verdict = {
    ok: code === null,
    code,
    message: first ? first.message : input.okMessage,
    action: code ? (runbookAdvice(code)?.action ?? null) : null,
    path: input.path,
    kind: input.kind,
    exportId: input.exportId,
    generation: input.generation,
    checks: report.checks,
    items: input.items ?? [],
    warnings: report.warnings,
    stats: { bytes: input.bytes, files: input.files, seconds: Math.round((performance.now() - input.started)) / 1000 },
  };
  if (report.failures.length) v.failures = report.failures;
  if (memberFailure?.path) v.member = memberFailure.path;
  if (input.keys) v.keys = input.keys;
  return v;
}

function isControl(rel: string): boolean {
  return !isPayloadPath(rel);
}

/** Reads the first bytes of a file (format sniffing; not a verification read). */
function sniff(file: string, n: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const b = Buffer.alloc(n);
    const got = readSync(fd, b, 0, n, 0);
    return b.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

function checkAbort(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new OpsError('ERR_CANCELLED', 'Verification was cancelled. Nothing was changed.');
}

/**
 * A file being written straight from the caller's buffers (decompression
 * slots: no copy; a write returns before the slot is reused). Durability is
 * the caller's: extracted trees are flushed together by makeTreeDurable.
 */
class SinkFile {
  private fd: number;
  constructor(readonly path: string) {
    this.fd = openSync(path, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
  }
  write(chunk: Buffer): void {
    writeAll(this.fd, chunk);
  }
  close(): void {
    closeSync(this.fd);
    this.fd = -1;
  }
  abandon(): void {
    if (this.fd >= 0) {
      try {
        closeSync(this.fd);
      } catch {
        /* already closed */
      }
      this.fd = -1;
    }
  }
}

function writeAll(fd: number, b: Buffer): void {
  let off = 0;
  while (off < b.length) off += writeSync(fd, b, off, b.length - off);
}

function prepareExtractRoot(dir: string): string {
  const root = resolve(dir);
  let exists = false;
  try {
    const st = statSync(root);
    if (!st.isDirectory()) throw new OpsError('ERR_USAGE', `The extraction target ${root} exists and is not a folder.`);
    exists = true;
  } catch (e) {
    if (isOpsError(e)) throw e;
  }
  if (exists) {
    if (readdirSync(root).length > 0) throw new OpsError('ERR_USAGE', `The extraction target ${root} is not empty; extraction needs a fresh private folder.`);
  } else {
    mkdirSync(root, { recursive: true, mode: 0o700 });
  }
  return root;
}

function safeJoin(root: string, rel: string): string {
  const p = resolve(root, ...rel.split('/'));
  if (!p.startsWith(root + sep)) throw new OpsError('ERR_BUNDLE_UNSAFE_ENTRY', `The member "mirror/${rel}" would be written outside the extraction folder.`, { path: `mirror/${rel}` });
  return p;
}

/** Adds the caller's age identities and passphrase; a malformed identity is a usage error. */
function addIdentities(d: { addIdentity(s: string): void; addPassphrase(s: string): void }, opts: VerifyOptions): void {
  for (const id of opts.identities ?? []) {
    try {
      d.addIdentity(id);
    } catch (e) {
      throw new OpsError('ERR_USAGE', `An age identity given is not valid (${(e as Error).message}). Identity files hold AGE-SECRET-KEY-1… lines.`);
    }
  }
  if (opts.passphrase) d.addPassphrase(opts.passphrase);
}

function classifyAgeError(e: unknown, phase: 'header' | 'payload'): OpsError {
  if (isOpsError(e)) return e;
  const msg = e instanceof Error ? e.message : String(e);
  if (/no identity matched/i.test(msg)) {
    return new OpsError('ERR_DECRYPT_NO_RECIPIENT', 'None of the age identities given can decrypt this bundle (it was encrypted for other recipients).');
  }
  if (phase === 'header' && !/HMAC/i.test(msg)) {
    return new OpsError('ERR_BUNDLE_CORRUPT', `The age-encrypted bundle has a damaged header (${msg}).`);
  }
  return new OpsError('ERR_DECRYPT_AUTH', `The age-encrypted bundle failed authentication while decrypting (${msg}): it was altered or truncated.`);
}

/**
 * Verifies one mirror bundle file. Never throws for a bad bundle: the verdict
 * says what is wrong. Throws only for usage problems (for example a non-empty
 * extraction folder).
 */
export async function verifyMirrorBundle(file: string, opts: MirrorVerifyOptions): Promise<MirrorBundleResult> {
  const started = performance.now();
  const report = new Report();
  const wantRaw = opts.rawDigest !== false || opts.copyTo !== undefined;
  let rawId = -1;
  const pendingDigests: Promise<unknown>[] = [];
  let rawSize = 0;
  const guessKind: VerdictKind = /-delta\.tar\.zst(\.age)?$/.test(file) ? 'mirror-delta' : 'mirror-full';

  let total: number;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new Error('not a regular file');
    total = st.size;
  } catch (e) {
    report.fail('read bundle', 'ERR_INPUT_NOT_FOUND', `The bundle ${file} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}). Check the path and that the media is mounted.`);
    return { verdict: buildVerdict({ report, path: file, kind: guessKind, exportId: null, generation: null, bytes: 0, files: 0, started, okMessage: '' }), rawSha256: '', rawSize: 0, plaintextVerified: false };
  }

  const head = sniff(file, 64);
  const extractRoot = opts.extractTo ? prepareExtractRoot(opts.extractTo) : undefined;
  const pool: HashPool = hashPoolFor(total);
  let spoolDir: string | undefined;
  const ensureSpool = (): string => {
    if (extractRoot) {
      spoolDir ??= mkdtempSync(join(extractRoot, '.okc-spool-'));
    } else {
      spoolDir ??= mkdtempSync(join(tmpdir(), 'okc-spool-'));
    }
    return spoolDir;
  };
  const wantDecrypt = (opts.identities?.length ?? 0) > 0 || (opts.passphrase !== undefined && opts.passphrase !== '');

  const ageArmored = head.toString('latin1').trimStart().startsWith(AGE_ARMOR.toString('latin1'));
  const ageWhole = head.subarray(0, AGE_MAGIC.length).equals(AGE_MAGIC) || ageArmored;
  const members = new Map<string, Member>();
  const control = new Map<string, Buffer>();
  const ignoredControl: string[] = [];
  let controlBytes = 0;
  let exportEarly: ExportJson | null = null;
  /** Why export.json did not parse (it is parsed once, as soon as its bytes are in). */
  let exportError: unknown = null;
  const gate = new TarGate({ top: 'mirror', limits: opts.limits, label: 'the bundle' });
  let currentMember: string | undefined;
  let spoolSeq = 0;

  let copy: FileHandle | undefined;
  const openSinks = new Set<SinkFile>();
  /** Folders already made below the extraction root (each is made once). */
  const madeDirs = new Set<string>();

  /**
   * The file, chunk by chunk. Without age, each chunk is read into a pool slot
   * (read ahead by one), so the hashing thread hashes it in place and the
   * library copy writes it from there: no copy of the raw bytes. A slot is
   * released once the decompressor has consumed it, its copy write is done
   * and it is hashed. The age reader keeps views across chunks, so it gets
   * fresh buffers.
   */
  async function* readChunks(): AsyncGenerator<Buffer> {
    if (ageWhole) {
      yield* createReadStream(file, { highWaterMark: READ_CHUNK }) as AsyncIterable<Buffer>;
      return;
    }
    const fh = await openAsync(file, 'r');
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

  /** Library copy writes in flight (positional, so they overlap with decompression). */
  const copyWrites = new Set<Promise<void>>();
  let copyError: unknown = null;
  let copyPos = 0;
  const writeCopy = (fh: FileHandle, chunk: Buffer): void => {
    const at = copyPos;
    copyPos += chunk.length;
    pool.hold(chunk);
    const w = (async () => {
      let off = 0;
      while (off < chunk.length) off += (await fh.write(chunk, off, chunk.length - off, at + off)).bytesWritten;
    })().then(
      () => undefined,
      (e: unknown) => {
        copyError ??= e;
      },
    );
    const tracked = w.finally(() => {
      pool.done(chunk);
      copyWrites.delete(tracked);
    });
    copyWrites.add(tracked);
  };

  async function* rawSource(): AsyncGenerator<Buffer> {
    let lastProgress = 0;
    try {
      for await (const chunk of readChunks()) {
        checkAbort(opts.signal);
        if (copyError) throw copyError;
        if (wantRaw) {
          pool.update(rawId, chunk);
          if (pool.backlog > HASH_BACKLOG) await pool.drain(HASH_BACKLOG / 2);
        }
        rawSize += chunk.length;
        gate.setCompressed(rawSize);
        if (copy) {
          writeCopy(copy, chunk);
          // Bounded: at most a few writes in flight (each holds its slot).
          while (copyWrites.size > 4) await Promise.race(copyWrites);
        }
        if (opts.onProgress) {
          const now = performance.now();
          if (now - lastProgress > 100 || rawSize === total) {
            lastProgress = now;
            const p: JobProgress = { jobId: '', phase: 'verify', bytesDone: rawSize, bytesTotal: total };
            if (currentMember) p.member = currentMember;
            opts.onProgress(p);
          }
        }
        yield chunk;
      }
      await Promise.all(copyWrites);
      if (copyError) throw copyError;
    } catch (e) {
      await Promise.all(copyWrites);
      if (isOpsError(e)) throw e;
      const syscall = (e as NodeJS.ErrnoException).syscall;
      // Writing the copy (copyTo) failed: a problem of this host, passed on as it is.
      if (syscall && syscall !== 'read' && syscall !== 'open') throw e;
      throw new OpsError('ERR_INPUT_NOT_FOUND', `Reading the bundle failed (${(e as Error).message}). Check the media.`, { cause: e });
    }
  }

  /**
   * Whole-file age (spec 5.1). The header (recipient stanzas and MAC) is
   * handled by age-encryption, which unwraps the file key with the
   * identities; the payload (STREAM: 64 KiB ChaCha20-Poly1305 chunks) is
   * decrypted here with node:crypto's native cipher, chunk by chunk.
   */
  async function* ageDecrypt(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    if (!wantDecrypt) {
      throw new OpsError('ERR_DECRYPT_NO_RECIPIENT', 'The bundle is age-encrypted as a whole, and no age identity (--identity) or passphrase (--passphrase-file) was given to decrypt it.');
    }
    // Loaded when needed: it is the slowest module to load and most bundles are not encrypted.
    const { Decrypter } = await import('age-encryption');
    const d = new Decrypter();
    addIdentities(d, opts);
    let buf: Buffer = EMPTY;
    let headerEnd = -1;
    const it = source[Symbol.asyncIterator]();
    // 1. The text header, up to and including the "--- <MAC>" line.
    while (headerEnd < 0) {
      const r = await it.next();
      if (r.done) throw new OpsError('ERR_BUNDLE_CORRUPT', 'The age-encrypted bundle ends inside its header.');
      buf = buf.length ? Buffer.concat([buf, r.value]) : r.value;
      const mac = buf.indexOf('\n--- ');
      if (mac >= 0) {
        const nl = buf.indexOf('\n', mac + 1);
        if (nl >= 0) headerEnd = nl + 1;
      }
      if (headerEnd < 0 && buf.length > AGE_HEADER_CAP) throw new OpsError('ERR_BUNDLE_CORRUPT', 'The age-encrypted bundle has no header end within 1 MiB.');
    }
    let fileKey: Uint8Array;
    try {
      fileKey = await d.decryptHeader(buf.subarray(0, headerEnd));
    } catch (e) {
      throw classifyAgeError(e, 'header');
    }
    buf = buf.subarray(headerEnd);
    // 2. The 16-byte payload nonce, then STREAM chunks; the last one carries the last-chunk flag.
    let nonce: Buffer | null = null;
    let counter = 0;
    let key: Buffer | null = null;
    const decryptChunk = (ct: Buffer, last: boolean): Buffer => {
      if (ct.length < AGE_TAG) throw new OpsError('ERR_DECRYPT_AUTH', 'The age-encrypted bundle is truncated (a payload chunk is shorter than its tag).');
      const iv = Buffer.alloc(12);
      iv.writeUIntBE(counter, 5, 6);
      if (last) iv[11] = 1;
      counter++;
      const dc = createDecipheriv('chacha20-poly1305', key!, iv, { authTagLength: AGE_TAG });
      dc.setAuthTag(ct.subarray(ct.length - AGE_TAG));
      try {
        const out = dc.update(ct.subarray(0, ct.length - AGE_TAG));
        dc.final();
        return out;
      } catch {
        throw new OpsError('ERR_DECRYPT_AUTH', 'The age-encrypted bundle failed authentication while decrypting: it was altered or truncated.');
      }
    };
    // Whole chunks are decrypted straight from the input buffers; only a chunk that spans two
    // inputs is copied. A chunk is the last one only when no byte follows it in the file.
    let pend: Buffer = buf;
    for (;;) {
      const r = await it.next();
      const out: Buffer[] = [];
      if (r.done) {
        if (!nonce) {
          if (pend.length < 16) throw new OpsError('ERR_DECRYPT_AUTH', 'The age-encrypted bundle is truncated (no payload nonce).');
          nonce = Buffer.from(pend.subarray(0, 16));
          key = Buffer.from(hkdfSync('sha256', fileKey, nonce, 'payload', 32));
          pend = pend.subarray(16);
        }
        while (pend.length > AGE_CHUNK) {
          out.push(decryptChunk(pend.subarray(0, AGE_CHUNK), false));
          pend = pend.subarray(AGE_CHUNK);
        }
        const last = decryptChunk(pend, true);
        if (last.length === 0 && counter > 1) throw new OpsError('ERR_DECRYPT_AUTH', 'The age-encrypted bundle ends with an empty final chunk, which age does not allow.');
        out.push(last);
        for (const o of out) if (o.length) yield o;
        return;
      }
      let input: Buffer = r.value;
      if (!input.length) continue;
      if (!nonce) {
        if (pend.length + input.length < 16) {
          pend = Buffer.concat([pend, input]);
          continue;
        }
        if (pend.length < 16) {
          input = Buffer.concat([pend, input]);
          pend = EMPTY;
        }
        const from = pend.length ? pend : input;
        nonce = Buffer.from(from.subarray(0, 16));
        key = Buffer.from(hkdfSync('sha256', fileKey, nonce, 'payload', 32));
        if (pend.length) pend = pend.subarray(16);
        else input = input.subarray(16);
        if (!input.length) continue;
      }
      // `input` follows `pend`, so every whole chunk in `pend` has bytes after it: not the last.
      while (pend.length >= AGE_CHUNK) {
        out.push(decryptChunk(pend.subarray(0, AGE_CHUNK), false));
        pend = pend.subarray(AGE_CHUNK);
      }
      if (pend.length) {
        const k = AGE_CHUNK - pend.length;
        if (input.length > k) {
          out.push(decryptChunk(Buffer.concat([pend, input.subarray(0, k)]), false));
          pend = input.subarray(k);
        } else {
          pend = Buffer.concat([pend, input]);
        }
      } else {
        pend = input;
      }
      // Whole chunks of the new input that still have bytes after them.
      while (pend.length > AGE_CHUNK) {
        out.push(decryptChunk(pend.subarray(0, AGE_CHUNK), false));
        pend = pend.subarray(AGE_CHUNK);
      }
      for (const o of out) if (o.length) yield o;
    }
  }

  async function* zstdCheck(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    let first = true;
    let buffered: Buffer | null = null;
    for await (const c of source) {
      if (first) {
        buffered = buffered ? Buffer.concat([buffered, c]) : c;
        if (buffered.length < 4) {
          buffered = Buffer.from(buffered); // the source may reuse its buffer
          continue;
        }
        if (!buffered.subarray(0, 4).equals(ZSTD_MAGIC)) {
          throw new OpsError('ERR_BUNDLE_CORRUPT', `The bundle ${ageWhole ? '(after age decryption) ' : ''}is not a zstd stream. A mirror bundle is a zstd-compressed tar (.tar.zst).`);
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
  async function* zstdDecompress(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    const p = pool;
    const dctx = new zstdBinding.DCtx();
    let ret = 0;
    let dst = await p.acquire();
    let filled = 0;
    const step = (src: Buffer): [number, number] => {
      try {
        const r = dctx.decompressStream(dst.subarray(filled), src);
        // A call that neither reads nor writes reports the next frame's header size: not a truncation.
        if (r[1] > 0 || r[2] > 0) ret = r[0];
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

  /** Decodes an ASCII-armored age file (PEM-like base64 lines) as it streams. */
  async function* armorDecode(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    let text = '';
    let begun = false;
    let ended = false;
    for await (const chunk of source) {
      if (ended) continue;
      text += chunk.toString('latin1');
      let nl: number;
      const out: Buffer[] = [];
      while (!ended && (nl = text.indexOf('\n')) >= 0) {
        const line = text.slice(0, nl).replace(/\r$/, '').trim();
        text = text.slice(nl + 1);
        if (!begun) {
          if (line === '') continue;
          if (line !== '-----BEGIN AGE ENCRYPTED FILE-----') throw new OpsError('ERR_BUNDLE_CORRUPT', 'The armored age file does not start with its BEGIN line.');
          begun = true;
        } else if (line === '-----END AGE ENCRYPTED FILE-----') {
          ended = true;
        } else if (line.length > 64 || !/^[A-Za-z0-9+/]*={0,2}$/.test(line) || line.length % 4 !== 0) {
          throw new OpsError('ERR_BUNDLE_CORRUPT', 'The armored age file has a line that is not valid base64.');
        } else {
          out.push(Buffer.from(line, 'base64'));
        }
      }
      if (text.length > 1024) throw new OpsError('ERR_BUNDLE_CORRUPT', 'The armored age file has an overlong line.');
      if (out.length) yield Buffer.concat(out);
    }
    if (!ended) throw new OpsError('ERR_DECRYPT_AUTH', 'The armored age file is truncated (no END line).');
  }

  /** One member's header: admitted by the gate, then a sink for its bytes (null: skipped unread). */
  const onHeader = (entry: TarHeader): TarMemberSink | null => {
    const dec = gate.admit({ path: entry.path, type: entry.type, size: entry.size, linkpath: entry.linkpath });
    currentMember = dec.path;
    if (dec.kind === 'directory') return null;
    const rel = dec.rel;
    if (isControl(rel) && !KNOWN_CONTROL.has(rel)) {
      // Not something this console reads: never buffered (a bundle cannot make us hold it in memory).
      ignoredControl.push(rel);
      return null;
    }
    if (isControl(rel)) {
      const cap = CONTROL_CAP[rel] ?? OTHER_CONTROL_CAP;
      if (entry.size > cap) throw new OpsError('ERR_BUNDLE_LIMIT', `The control file "${dec.path}" is ${entry.size} bytes, above the ${cap}-byte limit for such files.`, { path: dec.path });
      controlBytes += entry.size;
      if (controlBytes > CONTROL_TOTAL_CAP) throw new OpsError('ERR_BUNDLE_LIMIT', `The bundle's control files (export.json, manifests, signatures) exceed ${CONTROL_TOTAL_CAP} bytes together, at "${dec.path}".`, { path: dec.path });
      const parts: Buffer[] = [];
      const h = createHash('sha256');
      return {
        data: (c: Buffer) => {
          parts.push(Buffer.from(c));
          h.update(c);
        },
        end: () => {
        const bytes = Buffer.concat(parts);
        control.set(rel, bytes);
        members.set(rel, { size: bytes.length, sha256: h.digest('hex') });
        if (rel === 'export.json') {
          try {
            exportEarly = parseExportJson(bytes);
          } catch (e) {
            exportEarly = null; // reported after the stream
            exportError = e;
          }
        }
        },
      };
    }
    // Payload file: hash while streaming; keep on disk when extracting or when it may need decryption.
    let target: string | undefined;
    if (extractRoot) {
      target = safeJoin(extractRoot, rel);
      const parent = dirname(target);
      if (!madeDirs.has(parent)) {
        // Folders inside the private (0700) extraction root: 0755, as the staging tree serves them.
        mkdirSync(parent, { recursive: true, mode: 0o755 });
        madeDirs.add(parent);
      }
    } else if (wantDecrypt && (exportEarly === null ? rel.startsWith('data/') : isEncryptedFile(exportEarly, rel))) {
      // Before export.json is known, files under data/ (where per-file encryption applies, spec 5.2) may need decrypting later.
      target = join(ensureSpool(), String(spoolSeq++));
    }
    // Extracted files are made durable together at the end (one syncfs), not one fsync each.
    const sink = target ? new SinkFile(target) : undefined;
    if (sink) openSinks.add(sink);
    let size = 0;
    const m: Member = { size: 0, sha256: '', ...(target ? { location: target } : {}) };
    if (entry.size <= INLINE_HASH_MAX) {
      // A small member is hashed here: cheaper than three messages to the hashing thread and back.
      const h = createHash('sha256');
      return {
        data: (c: Buffer) => {
          h.update(c);
          size += c.length;
          sink?.write(c);
        },
        end: () => {
          if (sink) {
            sink.close();
            openSinks.delete(sink);
          }
          m.size = size;
          m.sha256 = h.digest('hex');
          members.set(rel, m);
        },
      };
    }
    const p = pool;
    const hid = p.start();
    return {
      data: (c: Buffer) => {
        p.update(hid, c);
        size += c.length;
        sink?.write(c);
      },
      end: () => {
        if (sink) {
          sink.close();
          openSinks.delete(sink);
        }
        m.size = size;
        members.set(rel, m);
        pendingDigests.push(p.finish(hid).then((hex) => (m.sha256 = hex)));
      },
    };
  };

  async function tarSink(source: AsyncIterable<Buffer>): Promise<void> {
    const reader = new TarReader(onHeader);
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
          gate.addUnpacked(chunk.length, currentMember);
          // Synchronous: every view of the chunk is hashed, written or copied before write() returns.
          reader.write(chunk);
        } finally {
          pool.done(chunk);
        }
        checkAbort(opts.signal);
      }
      reader.end();
    } catch (e) {
      if (isOpsError(e) && e.code === 'ERR_BUNDLE_CORRUPT' && !e.path && currentMember) throw new OpsError(e.code, e.message, { path: currentMember, cause: e });
      throw e;
    }
  }

  let streamError: OpsError | null = null;
  /** A failure of this host while writing (disk full, I/O error): not a verdict about the bundle. */
  let hostError: unknown = null;
  let rawHex = '';
  if (wantRaw) rawId = pool.start();
  try {
    if (opts.copyTo) copy = await openAsync(opts.copyTo, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
    if (ageArmored) {
      await pipeline(rawSource, armorDecode, ageDecrypt, zstdCheck, zstdDecompress, tarSink);
    } else if (ageWhole) {
      await pipeline(rawSource, ageDecrypt, zstdCheck, zstdDecompress, tarSink);
    } else {
      await pipeline(rawSource, zstdCheck, zstdDecompress, tarSink);
    }
    if (copy) await copy.sync();
    if (wantRaw) rawHex = await pool.finish(rawId);
    await Promise.all(pendingDigests);
  } catch (e) {
    const sys = e as NodeJS.ErrnoException;
    if (!isOpsError(e) && typeof sys?.code === 'string' && typeof sys.syscall === 'string') hostError = e;
    streamError = isOpsError(e)
      ? e
      : new OpsError('ERR_BUNDLE_CORRUPT', `The bundle is not a readable zstd/tar stream (${(e as Error).message}). It may be truncated or damaged.`, currentMember ? { path: currentMember } : {});
    if (opts.signal?.aborted && streamError.code !== 'ERR_CANCELLED') streamError = new OpsError('ERR_CANCELLED', 'Verification was cancelled. Nothing was changed.');
  } finally {
    for (const s of openSinks) s.abandon();
    if (copy) await copy.close();
    await pool.close();
  }

  const exportBytes = control.get('export.json');
  const result: MirrorBundleResult = {
    verdict: undefined as unknown as Verdict,
    rawSha256: streamError ? '' : rawHex,
    rawSize,
    plaintextVerified: false,
  };
  let exp: ExportJson | undefined;
  let keysInfo: { tried: string[]; signedBy: string[] } | undefined = undefined;
  let plaintextDone = false;

  const payloadCount = [...members.keys()].filter((r) => !isControl(r)).length;
  const finish = (): MirrorBundleResult => {
    if (spoolDir) rmSync(spoolDir, { recursive: true, force: true });
    // What will be applied must be on stable storage before the caller commits to it.
    if (extractRoot && !report.failed) makeTreeDurable(extractRoot);
    const kind: VerdictKind = exp ? (exp.profile.variant === 'delta' ? 'mirror-delta' : 'mirror-full') : guessKind;
    result.plaintextVerified = !report.failed && !!exp && (!exp.encryption || plaintextDone);
    result.verdict = buildVerdict({
      report,
      path: file,
      kind,
      exportId: exp?.exportId ?? null,
      generation: exp?.generation ?? null,
      bytes: rawSize,
      files: payloadCount,
      started,
      okMessage: exp ? `The bundle ${exp.exportId} (generation ${exp.generation}) is intact and signed by a trusted key.` : 'The bundle verified.',
      ...(keysInfo ? { keys: keysInfo } : {}),
    });
    return result;
  };

  if (hostError || streamError?.code === 'ERR_USAGE') {
    if (spoolDir) rmSync(spoolDir, { recursive: true, force: true });
    throw hostError ?? streamError;
  }
  if (streamError) {
    report.fail('read bundle stream', streamError.code, streamError.message, streamError.path);
    return finish();
  }
  report.ok('read bundle stream', `${gate.members} members, ${gate.unpacked} bytes unpacked`);
  if (ageWhole) report.ok('age decryption (whole file)');

  if (!exportBytes) {
    report.fail('export.json present', 'ERR_BUNDLE_CORRUPT', 'The bundle has no mirror/export.json: it is not a mirror bundle, or it is incomplete.', 'mirror/export.json');
    return finish();
  }
  result.exportJsonBytes = exportBytes;
  result.exportJsonSha256 = members.get('export.json')!.sha256;

  // 1. Signatures.
  const keys = opts.keys;
  const sigCheck = (name: string, sigRel: string, blobRel: string, blob: Buffer | undefined): { tried: string[]; signedBy: string[] } | undefined => {
    const sig = control.get(sigRel);
    if (!blob) return undefined;
    if (!sig) {
      report.fail(name, 'ERR_VERIFY_SIGNATURE', `The bundle has no mirror/${sigRel}: ${blobRel} is not signed.`, `mirror/${sigRel}`);
      return undefined;
    }
    const r = verifyDetached(blob, sig, keys);
    if (r.ok) report.ok(name, `signed by ${r.signedBy.join(', ')}`);
    else if (keys.length === 0) report.fail(name, 'ERR_VERIFY_SIGNATURE', `No trusted key was given, so the signature over ${blobRel} cannot be checked. Pin the Export Center's key for this tenant, or pass --key.`, `mirror/${sigRel}`);
    else if (!decodeSignature(sig)) report.fail(name, 'ERR_VERIFY_SIGNATURE', `mirror/${sigRel} is not a base64 signature.`, `mirror/${sigRel}`);
    else report.fail(name, 'ERR_VERIFY_SIGNATURE', `The signature over ${blobRel} was not made by any trusted key (tried ${r.tried.join(', ')}). The bundle was signed by another key, or altered after signing.`, `mirror/${sigRel}`);
    return { tried: r.tried, signedBy: r.signedBy };
  };
  keysInfo = sigCheck('signature export.sig over export.json', 'signatures/export.sig', 'export.json', exportBytes);
  const manifestBytes = control.get('manifest.yaml');
  if (manifestBytes) result.manifestYamlBytes = manifestBytes;
  if (!manifestBytes) report.fail('manifest.yaml present', 'ERR_VERIFY_MISSING_FILE', 'The bundle has no mirror/manifest.yaml.', 'mirror/manifest.yaml');
  else sigCheck('signature manifest.sig over manifest.yaml', 'signatures/manifest.sig', 'manifest.yaml', manifestBytes);

  const dsse = control.get('signatures/export.dsse.json');
  if (dsse) checkDsse(report, dsse, exportBytes, keys);
  const sigstore = control.get('signatures/export.sigstore.json');
  if (sigstore) {
    try {
      // Loaded only for a bundle that carries a Sigstore bundle (the module takes ~100–250 ms to load).
      const { verifySigstoreBundle } = await import('./sigstore');
      const r = await verifySigstoreBundle(sigstore, exportBytes, {
        keys,
        ...(opts.trustedRoot ? { trustedRootFile: opts.trustedRoot } : {}),
        ...(opts.certificateIdentity ? { certificateIdentity: opts.certificateIdentity } : {}),
        ...(opts.certificateOidcIssuer ? { certificateOidcIssuer: opts.certificateOidcIssuer } : {}),
      });
      if (r.ok) report.ok('Sigstore bundle export.sigstore.json', r.detail);
      else report.fail('Sigstore bundle export.sigstore.json', 'ERR_VERIFY_SIGNATURE', `The Sigstore bundle over export.json does not verify: ${r.detail}`, 'mirror/signatures/export.sigstore.json');
    } catch (e) {
      report.fail('Sigstore bundle export.sigstore.json', 'ERR_VERIFY_SIGNATURE', `The Sigstore bundle over export.json cannot be verified: ${(e as Error).message}`, 'mirror/signatures/export.sigstore.json');
    }
  }
  for (const rel of ignoredControl) {
    report.warnings.push(`mirror/${rel} is not a ${rel.startsWith('delta/') ? 'delta file' : 'signature'} this console knows; it was ignored.`);
  }

  // 2. Schema.
  try {
    if (exportError) throw exportError;
    exp = exportEarly ?? parseExportJson(exportBytes);
    report.ok('export.json schema', `schemaVersion 1, ${exp.files.length} files`);
  } catch (e) {
    const err = isOpsError(e) ? e : new OpsError('ERR_BUNDLE_CORRUPT', String(e));
    report.fail('export.json schema', err.code, err.message, 'mirror/export.json');
    return finish();
  }
  result.exportJson = exp;
  checkSignerTenant(report, keys, keysInfo?.signedBy ?? [], exp.tenant, 'export.json');

  if (manifestBytes) {
    try {
      checkYaml(manifestBytes.toString('utf8'));
      report.ok('manifest.yaml parses');
    } catch (e) {
      report.fail('manifest.yaml parses', 'ERR_BUNDLE_CORRUPT', `mirror/manifest.yaml is not valid YAML (${(e as Error).message.split('\n')[0]}).`, 'mirror/manifest.yaml');
    }
  }

  // 3. Provenance.
  const provBytes = control.get('provenance.json');
  let provenance: Record<string, unknown> | null = null;
  if (!provBytes) {
    report.fail('provenance.json present', 'ERR_VERIFY_MISSING_FILE', 'The bundle has no mirror/provenance.json.', 'mirror/provenance.json');
  } else {
    try {
      const p: unknown = JSON.parse(provBytes.toString('utf8'));
      if (!p || typeof p !== 'object' || Array.isArray(p)) throw new Error('not a JSON object');
      provenance = p as Record<string, unknown>;
    } catch (e) {
      report.fail('provenance.json parses', 'ERR_BUNDLE_CORRUPT', `mirror/provenance.json is not valid JSON (${(e as Error).message}).`, 'mirror/provenance.json');
    }
    if (provenance) checkProvenanceSubjects(report, provenance, members);
  }

  // 4. Content: every listed file present with its size and digest; nothing extra.
  let contentOk = true;
  const listed = new Set<string>();
  const encrypted: { path: string; sha256: string; size: number; location?: string }[] = [];
  for (const f of exp.files) {
    listed.add(f.path);
    const m = members.get(f.path);
    if (!m) {
      contentOk = false;
      report.fail('payload files', 'ERR_VERIFY_MISSING_FILE', `mirror/${f.path} is listed in export.json but is not in the bundle.`, `mirror/${f.path}`);
      continue;
    }
    const enc = isEncryptedFile(exp, f.path);
    const wantSize = enc ? f.storedSize! : f.size;
    const wantSha = enc ? f.storedSha256! : f.sha256;
    if (m.size !== wantSize) {
      contentOk = false;
      report.fail('payload files', 'ERR_VERIFY_DIGEST', `mirror/${f.path} is ${m.size} bytes, but export.json says ${wantSize}${enc ? ' (stored, encrypted)' : ''}.`, `mirror/${f.path}`);
    } else if (m.sha256 !== wantSha) {
      contentOk = false;
      report.fail('payload files', 'ERR_VERIFY_DIGEST', `mirror/${f.path} does not match its ${enc ? 'stored (encrypted) ' : ''}digest in export.json (got sha256:${m.sha256.slice(0, 16)}…, expected sha256:${wantSha.slice(0, 16)}…).`, `mirror/${f.path}`);
    } else if (enc) {
      encrypted.push({ path: f.path, sha256: f.sha256, size: f.size, ...(m.location ? { location: m.location } : {}) });
    }
  }
  const extras = [...members.keys()].filter((r) => !isControl(r) && !listed.has(r)).sort(compareBytewise);
  for (const r of extras) {
    contentOk = false;
    report.fail('payload files', 'ERR_VERIFY_EXTRA_FILE', `mirror/${r} is in the bundle but export.json does not list it.`, `mirror/${r}`);
  }
  if (contentOk) report.ok('payload files', `${exp.files.length} files match their size and digest${exp.encryption ? ' (stored bytes)' : ''}`);

  if (exp.profile.variant === 'full') {
    const text = stateDigestText(exp.files.map((f) => ({ path: f.path, sha256: f.sha256, size: f.size })));
    const digest = 'sha256:' + createHash('sha256').update(text, 'utf8').digest('hex');
    const totalBytes = exp.files.reduce((a, f) => a + f.size, 0);
    if (digest !== exp.state.digest || exp.state.fileCount !== exp.files.length || exp.state.totalBytes !== totalBytes) {
      report.fail('state digest', 'ERR_VERIFY_DIGEST', `export.json "state" (${exp.state.fileCount} files, ${exp.state.totalBytes} bytes, ${exp.state.digest}) does not describe the files it lists (${exp.files.length} files, ${totalBytes} bytes, ${digest}).`, 'mirror/export.json');
    } else {
      report.ok('state digest', exp.state.digest);
    }
  }

  // 5. Delta rules.
  if (exp.profile.variant === 'delta') checkDelta(report, exp, control);
  else for (const rel of control.keys()) if (rel.startsWith('delta/')) report.warnings.push(`mirror/${rel} in a full bundle was ignored.`);

  // 6. Per-file decryption.
  if (exp.encryption) {
    if (!wantDecrypt) {
      report.warnings.push(`The files under ${exp.encryption.paths} are encrypted per file and no age identity was given: signatures and stored (encrypted) digests were checked, the plaintext was not. An import needs the identity (--identity).`);
      report.ok('per-file encryption', 'not decrypted (no identity given)');
    } else if (!report.failed) {
      plaintextDone = await decryptPerFile(report, exp, provenance, encrypted, opts, extractRoot);
    }
  }

  return finish();
}

/**
 * Keys pinned in a workspace carry their tenant: a signature by a key trusted
 * only for another tenant does not count (trust is pinned per tenant).
 */
export function checkSignerTenant(report: Report, keys: TrustedKey[], signedBy: string[], tenant: string, what: string): void {
  if (!signedBy.length) return;
  const signers = keys.filter((k) => signedBy.includes(k.fingerprint));
  if (signers.some((k) => k.tenant === undefined || k.tenant === tenant)) return;
  report.fail(`signer trusted for tenant ${tenant}`, 'ERR_VERIFY_SIGNATURE', `${what} is for tenant "${tenant}", but the key that signed it (${signers.map((k) => k.fingerprint).join(', ')}) is trusted only for tenant ${[...new Set(signers.map((k) => `"${k.tenant}"`))].join(', ')}.`);
}

function checkDsse(report: Report, bytes: Buffer, exportBytes: Buffer, keys: TrustedKey[]): void {
  const name = 'DSSE envelope export.dsse.json';
  const where = 'mirror/signatures/export.dsse.json';
  const env = parseDsseEnvelope(bytes);
  if (!env) return report.fail(name, 'ERR_VERIFY_SIGNATURE', 'mirror/signatures/export.dsse.json is not a well-formed DSSE envelope.', where);
  if (env.payloadType !== DSSE_PAYLOAD_TYPE) return report.fail(name, 'ERR_VERIFY_SIGNATURE', `The DSSE envelope has payloadType "${env.payloadType}", expected "${DSSE_PAYLOAD_TYPE}".`, where);
  if (!env.payload.equals(exportBytes)) return report.fail(name, 'ERR_VERIFY_SIGNATURE', 'The DSSE envelope\'s payload is not the bundle\'s export.json.', where);
  const pae = preAuthEncoding(env.payloadType, env.payload);
  const signedBy = new Set<string>();
  for (const s of env.signatures) for (const k of keys) if (verifyRaw(pae, s.sig, k)) signedBy.add(k.fingerprint);
  if (signedBy.size) report.ok(name, `signed by ${[...signedBy].join(', ')}`);
  else report.fail(name, 'ERR_VERIFY_SIGNATURE', `No trusted key verifies the DSSE envelope over export.json (tried ${keys.map((k) => k.fingerprint).join(', ') || 'no keys'}).`, where);
}

function checkProvenanceSubjects(report: Report, prov: Record<string, unknown>, members: Map<string, Member>): void {
  const subjects = Array.isArray(prov.subject) ? (prov.subject as unknown[]) : [];
  let ok = true;
  for (const name of ['export.json', 'manifest.yaml']) {
    const m = members.get(name);
    if (!m) continue;
    const s = subjects.find((x): x is { name: string; digest?: { sha256?: unknown } } => !!x && typeof x === 'object' && (x as { name?: unknown }).name === name);
    if (!s) {
      ok = false;
      report.fail('provenance subjects', 'ERR_VERIFY_DIGEST', `provenance.json has no subject for ${name}.`, 'mirror/provenance.json');
    } else if (s.digest?.sha256 !== m.sha256) {
      ok = false;
      report.fail('provenance subjects', 'ERR_VERIFY_DIGEST', `provenance.json gives ${name} the digest ${String(s.digest?.sha256)}, but the bundle's ${name} has sha256 ${m.sha256}.`, 'mirror/provenance.json');
    }
  }
  if (ok) report.ok('provenance subjects', 'export.json and manifest.yaml digests agree');
}

function sortedUnique(xs: unknown): string[] | null {
  if (!Array.isArray(xs) || !xs.every((x) => typeof x === 'string')) return null;
  for (let i = 1; i < xs.length; i++) if (compareBytewise(xs[i - 1] as string, xs[i] as string) >= 0) return null;
  return xs as string[];
}

function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function checkDelta(report: Report, exp: ExportJson, control: Map<string, Buffer>): void {
  const name = 'delta tombstones and diff';
  const fail = (msg: string, path: string): void => report.fail(name, 'ERR_VERIFY_TOMBSTONE', msg, path);
  const diffBytes = control.get('delta/manifest.diff.json');
  const tombBytes = control.get('delta/tombstones.jsonl');
  let ok = true;
  if (!diffBytes) {
    ok = false;
    fail('The delta bundle has no mirror/delta/manifest.diff.json.', 'mirror/delta/manifest.diff.json');
  }
  if (!tombBytes) {
    ok = false;
    fail('The delta bundle has no mirror/delta/tombstones.jsonl (required even when nothing is removed).', 'mirror/delta/tombstones.jsonl');
  }
  if (diffBytes) {
    const where = 'mirror/delta/manifest.diff.json';
    let diff: Record<string, unknown> | null = null;
    try {
      const d: unknown = JSON.parse(diffBytes.toString('utf8'));
      if (d && typeof d === 'object' && !Array.isArray(d)) diff = d as Record<string, unknown>;
    } catch {
      diff = null;
    }
    if (!diff) {
      ok = false;
      fail('mirror/delta/manifest.diff.json is not a JSON object.', where);
    } else {
      const added = sortedUnique(diff.added);
      const changed = sortedUnique(diff.changed);
      const removed = sortedUnique(diff.removed);
      const files = exp.files.map((f) => f.path);
      if (!added || !changed || !removed) {
        ok = false;
        fail('manifest.diff.json must hold sorted, unique "added", "changed" and "removed" lists.', where);
      } else {
        const union = [...added, ...changed].sort(compareBytewise);
        if (!sameList(union, files)) {
          ok = false;
          fail(`manifest.diff.json "added" + "changed" (${union.length} paths) do not equal the files export.json lists (${files.length}).`, where);
        }
        if (!sameList(removed, exp.removed)) {
          ok = false;
          fail(`manifest.diff.json "removed" (${removed.length} paths) disagrees with export.json "removed" (${exp.removed.length}).`, where);
        }
        const counts = diff.counts as Record<string, unknown> | undefined;
        if (!counts || counts.added !== added.length || counts.changed !== changed.length || counts.removed !== removed.length) {
          ok = false;
          fail('manifest.diff.json "counts" do not match its lists.', where);
        }
      }
      if (exp.base) {
        if (diff.baseExportId !== exp.base.exportId) {
          ok = false;
          fail(`manifest.diff.json names base ${String(diff.baseExportId)}, export.json names ${exp.base.exportId}.`, where);
        }
        if (diff.baseManifestHash !== exp.base.manifestDigest) {
          ok = false;
          fail('manifest.diff.json "baseManifestHash" differs from export.json "base.manifestDigest".', where);
        }
      }
    }
  }
  if (tombBytes) {
    const where = 'mirror/delta/tombstones.jsonl';
    const seen = new Set<string>();
    let bad: string | null = null;
    const lines = tombBytes.toString('utf8').split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i].trim();
      if (!line) continue;
      let t: unknown;
      try {
        t = JSON.parse(line);
      } catch {
        bad = `line ${i + 1} is not JSON`;
        break;
      }
      const p = (t as { path?: unknown } | null)?.path;
      if (typeof p !== 'string') {
        bad = `line ${i + 1} has no "path"`;
        break;
      }
      if (seen.has(p)) {
        bad = `"${p}" has two tombstones`;
        break;
      }
      seen.add(p);
    }
    if (bad) {
      ok = false;
      fail(`mirror/delta/tombstones.jsonl is malformed: ${bad}.`, where);
    } else {
      const removed = new Set(exp.removed);
      for (const p of exp.removed) if (!seen.has(p)) {
        ok = false;
        fail(`"${p}" is removed in export.json but has no tombstone.`, where);
      }
      for (const p of seen) if (!removed.has(p)) {
        ok = false;
        fail(`There is a tombstone for "${p}", which export.json does not remove.`, where);
      }
    }
  }
  if (ok) report.ok(name, `${exp.files.length} added/changed, ${exp.removed.length} removed`);
}

interface Recipient {
  wrappedKey?: unknown;
  keyId?: unknown;
  recipient?: unknown;
}

async function unwrapDek(prov: Record<string, unknown> | null, opts: VerifyOptions): Promise<Buffer | OpsError> {
  const enc = ((prov?.predicate as Record<string, unknown> | undefined)?.environment as Record<string, unknown> | undefined)?.encryption as Record<string, unknown> | undefined;
  const recipients = Array.isArray(enc?.recipients) ? (enc!.recipients as Recipient[]) : [];
  if (!recipients.length) {
    return new OpsError('ERR_DECRYPT_NO_RECIPIENT', 'provenance.json lists no recipients for the per-file encryption, so the data key cannot be unwrapped.', { path: 'mirror/provenance.json' });
  }
  const { Decrypter } = await import('age-encryption');
  const d = new Decrypter();
  try {
    addIdentities(d, opts);
  } catch (e) {
    return isOpsError(e) ? e : new OpsError('ERR_USAGE', String(e));
  }
  for (const r of recipients) {
    if (typeof r?.wrappedKey !== 'string') continue;
    let dek: Uint8Array;
    try {
      dek = await d.decrypt(Buffer.from(r.wrappedKey, 'base64'));
    } catch {
      continue;
    }
    if (dek.length !== 32) return new OpsError('ERR_DECRYPT_AUTH', `The data key unwrapped for recipient ${String(r.keyId ?? r.recipient ?? '?')} is ${dek.length} bytes, not 32.`, { path: 'mirror/provenance.json' });
    return Buffer.from(dek);
  }
  return new OpsError('ERR_DECRYPT_NO_RECIPIENT', `None of the age identities given matches a recipient of this bundle (${recipients.map((r) => String(r.keyId ?? r.recipient ?? '?')).join(', ')}).`, { path: 'mirror/provenance.json' });
}

async function decryptPerFile(
  report: Report,
  exp: ExportJson,
  prov: Record<string, unknown> | null,
  files: { path: string; sha256: string; size: number; location?: string }[],
  opts: VerifyOptions,
  extractRoot: string | undefined,
): Promise<boolean> {
  const name = 'per-file decryption';
  const dek = await unwrapDek(prov, opts);
  if (dek instanceof OpsError) {
    report.fail(name, dek.code, dek.message, dek.path);
    return false;
  }
  let ok = true;
  for (const f of files) {
    checkAbort(opts.signal);
    const where = `mirror/${f.path}`;
    if (!f.location) {
      ok = false;
      report.fail(name, 'ERR_DECRYPT_AUTH', `The encrypted bytes of ${where} were not kept for decryption.`, where);
      continue;
    }
    const out = extractRoot ? `${f.location}.okc-plain` : undefined;
    const r = await decryptOne(f.location, out, dek, `${exp.runId}:${f.path}`);
    if (r.error) {
      ok = false;
      report.fail(name, 'ERR_DECRYPT_AUTH', `${where} failed authentication when decrypted (AES-256-GCM with AAD "<runId>:<path>"): it was altered or encrypted for another run.`, where);
      if (out) rmSync(out, { force: true });
      continue;
    }
    if (r.size !== f.size || r.sha256 !== f.sha256) {
      ok = false;
      report.fail(name, 'ERR_VERIFY_DIGEST', `The decrypted ${where} does not match its plaintext digest or size in export.json.`, where);
      if (out) rmSync(out, { force: true });
      continue;
    }
    if (out) renameSync(out, f.location);
  }
  if (ok) report.ok(name, `${files.length} files decrypted; plaintext digests match`);
  return ok;
}

async function decryptOne(file: string, out: string | undefined, dek: Buffer, aad: string): Promise<{ error?: string; size: number; sha256: string }> {
  const st = statSync(file);
  if (st.size < 28) return { error: 'too short', size: 0, sha256: '' };
  const fd = openSync(file, 'r');
  const nonce = Buffer.alloc(12);
  const tag = Buffer.alloc(16);
  try {
    readSync(fd, nonce, 0, 12, 0);
    readSync(fd, tag, 0, 16, st.size - 16);
  } finally {
    closeSync(fd);
  }
  const decipher = createDecipheriv('aes-256-gcm', dek, nonce);
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(tag);
  const h = createHash('sha256');
  let size = 0;
  const sink = out ? new SinkFile(out) : undefined;
  try {
    const rs = createReadStream(file, { start: 12, end: st.size - 17, highWaterMark: READ_CHUNK });
    for await (const c of rs as AsyncIterable<Buffer>) {
      const p = decipher.update(c);
      h.update(p);
      size += p.length;
      sink?.write(p);
    }
    const last = decipher.final();
    h.update(last);
    size += last.length;
    sink?.write(last);
    sink?.close();
  } catch (e) {
    sink?.abandon();
    return { error: (e as Error).message, size, sha256: '' };
  }
  return { size, sha256: h.digest('hex') };
}
