/**
 * Trivy DB bundles (spec section 7): `db.bundle` (metadata.json + trivy.db,
 * bbolt, Version 2) and `java-db.bundle` (metadata.json + trivy-java.db,
 * SQLite, Version 1), gzip-compressed tar, signed over the file's bytes.
 *
 * One read of the file: raw bytes → SHA-256 + detached signature check →
 * gunzip → tar Parser → member gate (./tar-gate) → per member: metadata.json
 * kept in memory (small), the database streamed to its check (and to
 * `extractTo` or a private temporary file when it must be opened).
 */
import { createHash, createPublicKey, createVerify, type KeyObject, type Verify } from 'node:crypto';
import { closeSync, fsyncSync, lstatSync, mkdirSync, mkdtempSync, openSync, writeSync, createReadStream } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { Writable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createRequire } from 'node:module';
import type * as Tar from 'tar';
import type { ReadEntry } from 'tar';
import { z } from 'zod';
import { OpsError, isOpsError, type ErrorCode } from '../../../shared/errors';
import type { Verdict } from '../../../shared/types';
import type { Workspace } from '../workspace/index';
import { logEvent, type LogEvent } from '../obs/index';
import { BboltHeadCollector } from './bbolt';
import { decodeSignature, signatureSchemes, verifyDetached, type TrustedKey } from './keys';
import { buildVerdict, Report, reportOf } from './verdict';
import { TarGate } from './tar-gate';
import type { VerifyOptions } from './types';
import { openRegular, readRegular, removeTreeQuiet } from '../safe-fs';
import { newSqlite, type Db } from '../db/index';
import { zlib } from '../lazy-builtins';

// Loaded on first use: verifying or importing a mirror bundle does not need it (~33 ms of a
// command's start-up on the 2-core build machine).
let tarModule: typeof Tar | undefined;
const tar = (): typeof Tar => (tarModule ??= createRequire(import.meta.url)('tar') as typeof Tar);

function existsNoFollow(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

export type TrivyKind = 'trivy-db' | 'trivy-java-db';

/**
 * VerifyOptions (./types; the Trivy reader uses keys, signature, limits,
 * signal, onProgress) plus the Trivy reader's own options.
 */
export type TrivyVerifyOptions = VerifyOptions & {
  kind?: TrivyKind;
  /**
   * Folder to write `metadata.json` and the database file into during the
   * read (fsynced). Use them only when the verdict is ok.
   */
  extractTo?: string;
  /**
   * File to tee the raw bundle bytes into during the same read (the library
   * copy), fsynced; its SHA-256 is in the `archive` check. Use it only when
   * the verdict is ok.
   */
  copyTo?: string;
  /** Clock for the staleness check (tests). */
  now?: Date;
};

export const TRIVY_UNSUPPORTED_SCHEMA_EVENT = 'adapter.trivy.unsupported_schema_version';

/** Schema versions Trivy itself accepts. */
export const SUPPORTED_TRIVY_VERSION: Record<TrivyKind, number> = { 'trivy-db': 2, 'trivy-java-db': 1 };
export const TRIVY_DB_FILE: Record<TrivyKind, string> = { 'trivy-db': 'trivy.db', 'trivy-java-db': 'trivy-java.db' };
const SIGNATURE_NAME: Record<TrivyKind, string> = { 'trivy-db': 'trivy-db.sig', 'trivy-java-db': 'trivy-java-db.sig' };
const METADATA = 'metadata.json';
const MAX_METADATA_BYTES = 1024 * 1024;
const MAX_SIGNATURE_BYTES = 64 * 1024;
/** Beyond this, an Ed25519 key (which cannot verify a stream) is not tried. */
const MAX_WHOLE_FILE_SIGNATURE_BYTES = 2 * 1024 ** 3;
const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const timestamp = z.string().regex(RFC3339, 'not an RFC 3339 timestamp').refine((s) => !Number.isNaN(Date.parse(s)), 'not a valid date');

/** `metadata.json` of a Trivy DB (extra keys allowed). */
export const TrivyMetadataSchema = z.looseObject({
  Version: z.number().int().nonnegative(),
  NextUpdate: timestamp,
  UpdatedAt: timestamp,
  DownloadedAt: timestamp.optional(),
});
export type TrivyMetadata = z.infer<typeof TrivyMetadataSchema>;

/** Kind from the file name (`db.bundle`, `java-db.bundle`), or null. */
export function trivyKindFromName(file: string): TrivyKind | null {
  const name = basename(file).toLowerCase();
  if (name.includes('java')) return 'trivy-java-db';
  if (name === 'db.bundle' || name.includes('trivy-db') || name.startsWith('db.')) return 'trivy-db';
  return null;
}

/**
 * Where a Trivy bundle's signature usually lies when none is given: a kit's
 * `signatures/<kind>.sig` (bundle in `trivy/`), or beside the bundle.
 */
export function signatureCandidates(file: string, kind: TrivyKind | null): string[] {
  const dir = dirname(file);
  const names = kind ? [SIGNATURE_NAME[kind]] : Object.values(SIGNATURE_NAME);
  return [...names.map((n) => join(dir, '..', 'signatures', n)), ...names.map((n) => join(dir, n)), `${file}.sig`];
}

/**
 * Verifies a cosign-style detached signature while the bytes stream past:
 * ECDSA and RSA keys hash incrementally; Ed25519 (pure) needs the whole
 * message, so its bytes are kept only when an Ed25519 key is pinned.
 */
class StreamingSignature {
  private readonly sig: Buffer | null;
  private readonly verifiers: { fingerprint: string; verify: Verify; check: (v: Verify, sig: Buffer) => boolean }[] = [];
  private readonly edKeys: TrustedKey[] = [];
  /** P-256 keys also hashed with SHA-384, only to explain a refusal (that pair is outside the contract). */
  private readonly refusedPair: { fingerprint: string; verify: Verify; key: KeyObject }[] = [];
  private whole: Buffer[] | null = null;
  private wholeBytes = 0;
  private wholeDropped = false;
  readonly tried: string[];

  constructor(
    keys: TrustedKey[],
    private readonly sigText: string | null,
  ) {
    this.tried = [...new Set(keys.map((k) => k.fingerprint))];
    this.sig = sigText === null ? null : decodeSignature(sigText);
    if (!this.sig) return;
    for (const k of keys) {
      let key: KeyObject;
      try {
        key = createPublicKey(k.pem);
      } catch {
        continue;
      }
      // The scheme table is keys.ts's: streamed digests here, Ed25519 over the whole file at the end.
      for (const scheme of signatureSchemes(key)) {
        if (scheme.hash === null) {
          this.edKeys.push(k);
          continue;
        }
        const opts = scheme.key;
        this.verifiers.push({
          fingerprint: k.fingerprint,
          verify: createVerify(scheme.hash),
          check: (v, s) => {
            try {
              return v.verify(opts, s);
            } catch {
              return false;
            }
          },
        });
      }
      if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') this.refusedPair.push({ fingerprint: k.fingerprint, verify: createVerify('sha384'), key });
    }
    if (this.edKeys.length > 0) this.whole = [];
  }

  get hasSignature(): boolean {
    return this.sigText !== null;
  }
  get decodable(): boolean {
    return this.sig !== null;
  }

  update(chunk: Buffer): void {
    for (const v of this.verifiers) v.verify.update(chunk);
    for (const v of this.refusedPair) v.verify.update(chunk);
    if (this.whole) {
      this.wholeBytes += chunk.length;
      if (this.wholeBytes > MAX_WHOLE_FILE_SIGNATURE_BYTES) {
        this.whole = null;
        this.wholeDropped = true;
      } else {
        this.whole.push(chunk);
      }
    }
  }

  finish(): { ok: boolean; signedBy: string[]; tried: string[]; note?: string } {
    if (!this.sig) return { ok: false, signedBy: [], tried: this.tried };
    const signedBy = new Set<string>();
    for (const v of this.verifiers) if (!signedBy.has(v.fingerprint) && v.check(v.verify, this.sig)) signedBy.add(v.fingerprint);
    if (this.whole && this.sigText !== null) {
      const r = verifyDetached(Buffer.concat(this.whole), this.sigText, this.edKeys);
      for (const fp of r.signedBy) signedBy.add(fp);
      this.whole = null;
    }
    let note = this.wholeDropped ? 'Ed25519 keys were not tried: the file is larger than 2 GiB' : undefined;
    if (signedBy.size === 0) {
      const sig = this.sig;
      const p = this.refusedPair.find((v) => {
        try {
          return v.verify.verify({ key: v.key, dsaEncoding: 'der' }, sig);
        } catch {
          return false;
        }
      });
      if (p) note = `The signature was made with the ECDSA P-256 key ${p.fingerprint} over a SHA-384 digest: a P-256 key must sign SHA-256 (the pairs cosign accepts), so it is not accepted. Re-sign with SHA-256 (cosign sign-blob does by default)`;
    }
    return { ok: signedBy.size > 0, signedBy: [...signedBy], tried: this.tried, ...(note ? { note } : {}) };
  }
}

interface MemberState {
  metadata: Buffer | null;
  metadataTooLarge: boolean;
  dbName: string | null;
  bbolt: BboltHeadCollector | null;
  sqliteFile: string | null;
  sqliteHead: Buffer;
  dbBytes: number;
  files: number;
}

function streamErrorToOps(e: unknown, file: string): OpsError {
  if (isOpsError(e)) return e;
  const err = e as NodeJS.ErrnoException & { tarCode?: string };
  if (err && typeof err === 'object' && (err.code === 'Z_DATA_ERROR' || err.code === 'Z_BUF_ERROR' || err.errno === -5 || /unexpected end of file|incorrect header check|invalid/i.test(err.message ?? ''))) {
    if (err.tarCode || /^TAR_/.test(err.code ?? '')) {
      return new OpsError('ERR_BUNDLE_CORRUPT', `The Trivy bundle is not a readable tar archive (${err.message}). The file is damaged or incomplete.`, { path: file });
    }
    return new OpsError('ERR_BUNDLE_CORRUPT', `The Trivy bundle is not a readable gzip stream (${err.message}). The file is damaged, truncated, or not a Trivy bundle.`, { path: file });
  }
  if (err && typeof err === 'object' && (err.tarCode || /^TAR_/.test(err.code ?? ''))) {
    return new OpsError('ERR_BUNDLE_CORRUPT', `The Trivy bundle is not a readable tar archive (${err.message}). The file is damaged or incomplete.`, { path: file });
  }
  if (err && typeof err === 'object' && (err.code === 'ENOSPC' || err.code === 'EDQUOT')) {
    return new OpsError('ERR_NO_SPACE', `No space left while writing the Trivy database out (${err.message}).`, { path: file });
  }
  if (err && typeof err === 'object' && (err.code === 'EIO' || err.code === 'ENOENT' || err.code === 'EACCES' || err.code === 'EISDIR')) {
    return new OpsError('ERR_INPUT_NOT_FOUND', `The Trivy bundle ${file} could not be read (${err.code}). Check the media and the path, then try again.`, { path: file });
  }
  return new OpsError('ERR_BUNDLE_CORRUPT', `The Trivy bundle could not be read: ${err?.message ?? String(e)}.`, { path: file });
}

function sqliteQuickCheck(file: string): string | null {
  let db: Db | null = null;
  try {
    db = newSqlite(file, { readonly: true, fileMustExist: true });
    const rows = db.pragma('quick_check') as Record<string, unknown>[];
    const values = rows.map((r) => String(Object.values(r)[0]));
    if (values.length === 1 && values[0] === 'ok') return null;
    return `PRAGMA quick_check reports: ${values.slice(0, 5).join('; ')}${values.length > 5 ? ` (and ${values.length - 5} more)` : ''}`;
  } catch (e) {
    return `the database cannot be opened read-only: ${(e as Error).message}`;
  } finally {
    try {
      db?.close();
    } catch {
      /* already closed */
    }
  }
}

function throwIfAborted(signal: AbortSignal | undefined, file: string): void {
  if (signal?.aborted) throw new OpsError('ERR_CANCELLED', 'Verification of the Trivy bundle was cancelled; nothing was changed.', { path: file });
}

/** lstat of the input: a regular file (its size), else ERR_BUNDLE_UNSAFE_ENTRY / ERR_INPUT_NOT_FOUND. */
async function statTrivyInput(file: string): Promise<number> {
  try {
    const st = await lstat(file);
    if (st.isSymbolicLink() || !st.isFile()) throw new OpsError(st.isSymbolicLink() || st.isFIFO() || st.isCharacterDevice() || st.isBlockDevice() || st.isSocket() ? 'ERR_BUNDLE_UNSAFE_ENTRY' : 'ERR_INPUT_NOT_FOUND', `${file} is not a regular file. Give the path of a Trivy bundle (db.bundle or java-db.bundle).`, { path: file });
    return st.size;
  } catch (e) {
    if (isOpsError(e)) throw e;
    throw new OpsError('ERR_INPUT_NOT_FOUND', `The Trivy bundle ${file} was not found or cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'}). Check the path and the media.`, { path: file });
  }
}

/** The signature file (small) is read first, the bundle itself only once: the given one, or the first candidate found. */
function readTrivySignature(file: string, kind: TrivyKind | null, given: string | undefined): { path: string | undefined; text: string | null } {
  let path = given;
  if (!path) {
    // lstat: whatever is there (a FIFO or a link included) is the candidate, and is judged below.
    path = signatureCandidates(file, kind).find(existsNoFollow);
  }
  if (!path) return { path, text: null };
  try {
    // lstat first, regular files only, O_NOFOLLOW | O_NONBLOCK: a FIFO in a signature's place cannot block the read.
    return { path, text: readRegular(path, MAX_SIGNATURE_BYTES, { label: `The signature file ${path}` }).toString('latin1') };
  } catch (e) {
    if (isOpsError(e) && e.code !== 'ERR_INPUT_NOT_FOUND') throw e;
    if (given) throw new OpsError('ERR_INPUT_NOT_FOUND', `The signature file ${path} cannot be read (${(e as Error).message}).`, { path });
    return { path, text: null };
  }
}

/**
 * The tar members of a Trivy bundle as the parser hands them over: the gate
 * admits each, metadata.json is kept (small), the database is streamed to
 * its check (and to `extractTo` or a private temporary file when it must be
 * opened); anything else is an extra-file failure. The first stream error
 * stops the read.
 */
class TrivyMemberReader {
  /** Findings made during the read (extra files, folders). */
  readonly report = new Report();
  readonly state: MemberState = { metadata: null, metadataTooLarge: false, dbName: null, bbolt: null, sqliteFile: null, sqliteHead: Buffer.alloc(0), dbBytes: 0, files: 0 };
  readonly gate: TarGate;
  current: string | undefined;
  streamError: OpsError | null = null;
  /** Stops the stream (set by readTrivyStream). */
  onFail: (e: OpsError) => void = () => undefined;
  private privateDir: string | null = null;
  private readonly fds: number[] = [];

  constructor(
    private readonly file: string,
    private readonly opts: TrivyVerifyOptions,
    public kind: TrivyKind | null,
  ) {
    this.gate = new TarGate({ top: null, limits: opts.limits, label: 'the Trivy bundle' });
    if (opts.extractTo) mkdirSync(opts.extractTo, { recursive: true });
  }

  fail(e: unknown): void {
    if (!this.streamError) this.streamError = streamErrorToOps(e, this.file);
    this.onFail(this.streamError);
  }

  /** A new file for a member: in `extractTo`, else in a private temporary folder. */
  private openOut(name: string): number {
    let target: string;
    if (this.opts.extractTo) {
      target = join(this.opts.extractTo, name);
    } else {
      this.privateDir ??= mkdtempSync(join(tmpdir(), 'okc-trivy-'));
      target = join(this.privateDir, name);
    }
    return this.openFile(target);
  }

  openFile(target: string): number {
    const fd = openSync(target, 'w', 0o600);
    this.fds.push(fd);
    return fd;
  }

  entry(entry: ReadEntry): void {
    if (this.streamError) {
      entry.resume();
      return;
    }
    let decision;
    try {
      decision = this.gate.admit({ path: entry.path, type: entry.type, size: entry.size ?? 0, linkpath: entry.linkpath || undefined });
    } catch (e) {
      entry.resume();
      this.fail(e);
      return;
    }
    const name = decision.path;
    this.current = name;
    if (decision.kind === 'directory') {
      this.extra(`The Trivy bundle holds a folder "${name}/"; it must hold only ${METADATA} and the database file at its root.`, name);
      entry.resume();
      return;
    }
    this.state.files++;
    if (name === METADATA) return this.takeMetadata(entry);
    const dbKind = (Object.keys(TRIVY_DB_FILE) as TrivyKind[]).find((k) => TRIVY_DB_FILE[k] === name);
    if (dbKind && (this.kind === null || this.kind === dbKind) && this.state.dbName === null) return this.takeDatabase(entry, dbKind, name);
    const expected = this.kind ? `${METADATA} and ${TRIVY_DB_FILE[this.kind]}` : `${METADATA} and trivy.db or trivy-java.db`;
    this.extra(`The Trivy bundle holds "${name}", which does not belong in it (expected only ${expected} at the root).`, name);
    entry.resume();
  }

  private extra(message: string, path: string): void {
    this.report.failures.push({ code: 'ERR_VERIFY_EXTRA_FILE', message, path });
  }

  private takeMetadata(entry: ReadEntry): void {
    if ((entry.size ?? 0) > MAX_METADATA_BYTES) {
      this.state.metadataTooLarge = true;
      entry.resume();
      return;
    }
    const parts: Buffer[] = [];
    const fd = this.opts.extractTo ? this.openOut(METADATA) : null;
    entry.on('data', (c: Buffer) => {
      parts.push(c);
      if (fd !== null) writeSync(fd, c);
    });
    entry.on('end', () => {
      this.state.metadata = Buffer.concat(parts);
      if (fd !== null) fsyncSync(fd);
    });
  }

  private takeDatabase(entry: ReadEntry, dbKind: TrivyKind, name: string): void {
    const state = this.state;
    this.kind = dbKind;
    state.dbName = name;
    const needFile = dbKind === 'trivy-java-db' || !!this.opts.extractTo;
    const fd = needFile ? this.openOut(name) : null;
    if (dbKind === 'trivy-db') state.bbolt = new BboltHeadCollector();
    else state.sqliteFile = this.opts.extractTo ? join(this.opts.extractTo, name) : join(this.privateDir!, name);
    entry.on('data', (c: Buffer) => {
      try {
        state.dbBytes += c.length;
        if (state.bbolt) state.bbolt.push(c);
        else if (state.sqliteHead.length < SQLITE_HEADER.length) state.sqliteHead = Buffer.concat([state.sqliteHead, c.subarray(0, SQLITE_HEADER.length - state.sqliteHead.length)]);
        if (fd !== null) writeSync(fd, c);
      } catch (e) {
        this.fail(e);
      }
    });
    entry.on('end', () => {
      try {
        if (fd !== null) fsyncSync(fd);
      } catch (e) {
        this.fail(e);
      }
    });
  }

  /** Closes every file opened and removes the private temporary folder. */
  close(): void {
    for (const fd of this.fds) {
      try {
        closeSync(fd);
      } catch {
        /* closed */
      }
    }
    if (this.privateDir) removeTreeQuiet(this.privateDir);
  }
}

/**
 * The one read: raw bytes → SHA-256, signature, optional library copy →
 * gunzip → (double-compression check, unpacked limit) → tar Parser → the
 * member reader. Returns the raw size and digest ('' after a stream error,
 * which is in reader.streamError); throws for cancellation, an unreadable
 * input and a full disk.
 */
async function readTrivyStream(file: string, size: number, opts: TrivyVerifyOptions, signature: StreamingSignature, reader: TrivyMemberReader, started: number): Promise<{ rawBytes: number; rawSha256: string }> {
  const { gate } = reader;
  const rawHash = createHash('sha256');
  let rawBytes = 0;
  let lastProgress = 0;
  const progress = (member?: string, force = false) => {
    if (!opts.onProgress) return;
    const now = Date.now();
    if (!force && now - lastProgress < 200) return;
    lastProgress = now;
    const seconds = (now - started) / 1000;
    opts.onProgress({ jobId: `verify:${basename(file)}`, phase: 'verify', bytesDone: rawBytes, bytesTotal: size, ...(member ? { member } : {}), ...(seconds > 0 ? { bytesPerSecond: rawBytes / seconds } : {}) });
  };
  const parser = new (tar().Parser)({ strict: true, brotli: false, zstd: false });
  parser.on('entry', (entry: ReadEntry) => reader.entry(entry));
  const copyFd = opts.copyTo ? reader.openFile(opts.copyTo) : null;
  const rawTap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (copyFd !== null) {
        try {
          writeSync(copyFd, chunk);
        } catch (e) {
          cb(e as Error);
          return;
        }
      }
      rawBytes += chunk.length;
      rawHash.update(chunk);
      signature.update(chunk);
      gate.setCompressed(rawBytes);
      progress(reader.current);
      cb(null, chunk);
    },
  });
  let firstBytes = true;
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      try {
        if (firstBytes) {
          firstBytes = false;
          if ((chunk[0] === 0x1f && chunk[1] === 0x8b) || chunk.readUInt32LE(0) === 0xfd2fb528) {
            throw new OpsError('ERR_BUNDLE_CORRUPT', 'The Trivy bundle is compressed twice (a compressed stream inside the gzip stream); it is not a Trivy bundle.', { path: file });
          }
        }
        gate.addUnpacked(chunk.length, reader.current);
      } catch (e) {
        cb(e as Error);
        return;
      }
      if (parser.write(chunk)) cb();
      else parser.once('drain', () => cb());
    },
    final(cb) {
      parser.once('end', () => cb());
      parser.end();
    },
  });
  parser.on('error', (e: Error) => reader.fail(e));
  reader.onFail = (e) => sink.destroy(e);
  try {
    await pipeline(createReadStream('', { fd: openRegular(file).fd, highWaterMark: 1024 * 1024 }), rawTap, zlib().createGunzip(), sink, ...(opts.signal ? [{ signal: opts.signal }] : []));
  } catch (e) {
    throwIfAborted(opts.signal, file);
    if (!reader.streamError) reader.streamError = streamErrorToOps(e, file);
  }
  const se = reader.streamError as OpsError | null;
  if (se && (se.code === 'ERR_INPUT_NOT_FOUND' || se.code === 'ERR_NO_SPACE')) throw se;
  throwIfAborted(opts.signal, file);
  if (copyFd !== null && !se) fsyncSync(copyFd);
  progress(undefined, true);
  return { rawBytes, rawSha256: se ? '' : rawHash.digest('hex') };
}

/** Signature over the file's bytes. Returns the keys that verified it. */
function checkTrivySignature(report: Report, signature: StreamingSignature, sigPath: string | undefined, file: string, kind: TrivyKind | null, keyCount: number): { ok: boolean; signedBy: string[]; tried: string[] } {
  const sig = signature.finish();
  const fail = (msg: string): void => {
    report.failures.push({ code: 'ERR_VERIFY_SIGNATURE', message: msg });
    report.checks.push({ name: 'signature', ok: false, detail: msg });
  };
  if (!signature.hasSignature) fail(`No signature was found for the Trivy bundle (looked for ${signatureCandidates(file, kind).map((p) => basename(dirname(p)) + '/' + basename(p)).join(', ')}). Give it with --signature <file>.`);
  else if (!signature.decodable) fail(`The signature file ${sigPath} is not a base64 signature (cosign sign-blob format).`);
  else if (keyCount === 0) fail('No trusted key was given or pinned for this tenant, so the Trivy bundle’s signature cannot be checked. Pin the Export Center key (mirror keys add) or pass --key.');
  else if (!sig.ok) fail(`No trusted key verifies the Trivy bundle’s signature (keys tried: ${sig.tried.join(', ')}).${sig.note ? ` ${sig.note}.` : ''} The bundle was signed by another key, or it was altered after signing.`);
  else report.checks.push({ name: 'signature', ok: true, detail: `signed by ${sig.signedBy.join(', ')}` });
  return sig;
}

/** metadata.json: present, small, JSON with the Trivy metadata fields. */
function checkTrivyMetadata(report: Report, state: MemberState): TrivyMetadata | null {
  const fail = (code: ErrorCode, message: string, detail = message): null => {
    report.failures.push({ code, message, path: METADATA });
    report.checks.push({ name: 'metadata', ok: false, detail });
    return null;
  };
  if (state.metadataTooLarge) return fail('ERR_BUNDLE_CORRUPT', `${METADATA} is larger than ${MAX_METADATA_BYTES} bytes; it is not a Trivy metadata file.`);
  if (state.metadata === null) return fail('ERR_VERIFY_MISSING_FILE', `The Trivy bundle has no ${METADATA} at its root.`);
  let json: unknown;
  try {
    json = JSON.parse(state.metadata.toString('utf8'));
  } catch (e) {
    const problem = `${METADATA} is not valid JSON (${(e as Error).message})`;
    return fail('ERR_BUNDLE_CORRUPT', `${problem}.`, problem);
  }
  const r = TrivyMetadataSchema.safeParse(json);
  if (!r.success) {
    const problem = `${METADATA} does not have the Trivy metadata fields: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`;
    return fail('ERR_BUNDLE_CORRUPT', `${problem}.`, problem);
  }
  const metadata = r.data;
  report.checks.push({ name: 'metadata', ok: true, detail: `Version ${metadata.Version}, UpdatedAt ${metadata.UpdatedAt}, NextUpdate ${metadata.NextUpdate}` });
  return metadata;
}

/** The schema Version Trivy accepts for this kind, and freshness (a stale DB is a warning). */
function checkTrivyVersion(report: Report, metadata: TrivyMetadata, kind: TrivyKind, clock: Date | undefined): void {
  const want = SUPPORTED_TRIVY_VERSION[kind];
  if (metadata.Version !== want) {
    const msg = `The Trivy database schema Version ${metadata.Version} is not supported: this console accepts Version ${want} for ${TRIVY_DB_FILE[kind]} (the version Trivy itself accepts).`;
    report.failures.push({ code: 'ERR_EXPORT_UNSUPPORTED_SCHEMA', message: msg, path: METADATA });
    report.checks.push({ name: 'metadata.version', ok: false, detail: `Version ${metadata.Version}; supported ${want}` });
  } else {
    report.checks.push({ name: 'metadata.version', ok: true, detail: `Version ${metadata.Version}` });
  }
  const next = Date.parse(metadata.NextUpdate);
  const now = (clock ?? new Date()).getTime();
  if (next < now) {
    const days = Math.floor((now - next) / 86_400_000);
    report.warnings.push(`The Trivy database is stale: its NextUpdate (${metadata.NextUpdate}) is ${days > 0 ? `${days} day(s) ` : ''}in the past. Bring in a newer Trivy DB bundle soon.`);
    report.checks.push({ name: 'freshness', ok: true, detail: `stale since ${metadata.NextUpdate}` });
  } else {
    report.checks.push({ name: 'freshness', ok: true, detail: `next update due ${metadata.NextUpdate}` });
  }
}

/** The database file: bbolt head checked as it streamed; SQLite opened read-only (quick_check) only when signed. */
function checkTrivyDatabase(report: Report, state: MemberState, kind: TrivyKind, signed: boolean): void {
  const dbFile = TRIVY_DB_FILE[kind];
  const fail = (code: ErrorCode, msg: string): void => {
    report.failures.push({ code, message: msg, path: dbFile });
    report.checks.push({ name: 'database', ok: false, detail: msg });
  };
  if (state.dbName === null) {
    fail('ERR_VERIFY_MISSING_FILE', `The Trivy bundle has no ${dbFile} at its root.`);
  } else if (state.bbolt) {
    const r = state.bbolt.result();
    if (r.ok) {
      report.checks.push({ name: 'database', ok: true, detail: `bbolt, page size ${r.pageSize}, ${state.dbBytes} bytes, txid ${r.txid}` });
      for (const n of r.notes) report.warnings.push(`${dbFile}: ${n}.`);
    } else {
      fail('ERR_BUNDLE_CORRUPT', `${dbFile} is not a sound bbolt database: ${r.problems.join('; ')}.`);
    }
  } else if (state.sqliteFile && !signed) {
    // An SQLite file nobody trusted signed is never opened (SQLite parses it deeply).
    report.checks.push({ name: 'database', ok: false, detail: `${dbFile} was not opened: the bundle's signature did not verify, and an unsigned database is never opened` });
  } else if (state.sqliteFile) {
    const problem = !state.sqliteHead.equals(SQLITE_HEADER) ? 'it does not start with the SQLite 3 header ("SQLite format 3\\0")' : sqliteQuickCheck(state.sqliteFile);
    if (problem) fail('ERR_BUNDLE_CORRUPT', `${dbFile} is not a sound SQLite database: ${problem}.`);
    else report.checks.push({ name: 'database', ok: true, detail: `SQLite 3, ${state.dbBytes} bytes, quick_check ok` });
  }
}

/**
 * Verifies a Trivy DB bundle: input, signature file, one read of the stream,
 * then the checks (signature, metadata, version and freshness, database) and
 * the verdict. Returns a Verdict for every finding about the bundle itself;
 * throws an OpsError only when the input cannot be read at all
 * (ERR_INPUT_NOT_FOUND), on cancellation (ERR_CANCELLED) or on a full disk
 * while extracting (ERR_NO_SPACE).
 */
export async function verifyTrivyBundle(file: string, opts: TrivyVerifyOptions): Promise<Verdict> {
  const started = Date.now();
  throwIfAborted(opts.signal, file);
  const size = await statTrivyInput(file);
  const sigFile = readTrivySignature(file, opts.kind ?? trivyKindFromName(file), opts.signature);
  const signature = new StreamingSignature(opts.keys, sigFile.text);
  const reader = new TrivyMemberReader(file, opts, opts.kind ?? trivyKindFromName(file));
  try {
    const { rawBytes, rawSha256 } = await readTrivyStream(file, size, opts, signature, reader, started);
    const stats = { bytes: rawBytes, files: reader.state.files, seconds: (Date.now() - started) / 1000 };
    const kind: TrivyKind = reader.kind ?? 'trivy-db';
    const se = reader.streamError;
    if (se) {
      // The first stream error stops reading and is the verdict.
      const member = se.path && se.path !== file ? se.path : typeof se.details?.member === 'string' ? (se.details.member as string) : undefined;
      const report = reportOf([{ name: 'archive', ok: false, detail: se.message }], [{ code: se.code, message: se.message, ...(member ? { path: member } : {}) }]);
      return makeVerdict(file, kind, report, stats, { tried: signature.tried, signedBy: [] });
    }
    const report = reader.report;
    report.checks.push({ name: 'archive', ok: true, detail: `gzip tar read completely: ${reader.gate.members} member(s), sha256 ${rawSha256}` });
    const sig = checkTrivySignature(report, signature, sigFile.path, file, reader.kind, opts.keys.length);
    const metadata = checkTrivyMetadata(report, reader.state);
    if (metadata) checkTrivyVersion(report, metadata, kind, opts.now);
    checkTrivyDatabase(report, reader.state, kind, sig.ok);
    return { ...makeVerdict(file, kind, report, stats, { tried: sig.tried, signedBy: sig.signedBy }), file: { sha256: rawSha256, size: rawBytes } };
  } finally {
    reader.close();
  }
}

function makeVerdict(file: string, kind: TrivyKind, report: Report, stats: Verdict['stats'], keys: { tried: string[]; signedBy: string[] }): Verdict {
  const label = kind === 'trivy-java-db' ? 'Trivy Java DB bundle' : 'Trivy DB bundle';
  const warnings = report.warnings;
  return buildVerdict({
    report,
    path: file,
    kind,
    exportId: null,
    generation: null,
    stats,
    okMessage: `The ${label} is verified: signature, metadata and database check passed${warnings.length ? ` (${warnings.length} warning(s))` : ''}.`,
    keys,
    // The signature first, then the schema version, then the spec's order.
    firstCodes: ['ERR_VERIFY_SIGNATURE', 'ERR_EXPORT_UNSUPPORTED_SCHEMA'],
  });
}

/** The structured log events a Trivy verdict calls for (the unsupported schema version). */
export function trivyLogEvents(verdict: Verdict): LogEvent[] {
  if (verdict.kind !== 'trivy-db' && verdict.kind !== 'trivy-java-db') return [];
  const failure = verdict.failures?.find((f) => f.code === 'ERR_EXPORT_UNSUPPORTED_SCHEMA');
  if (!failure) return [];
  const detail = verdict.checks.find((c) => c.name === 'metadata.version')?.detail ?? '';
  const m = /^Version (\d+); supported (\d+)$/.exec(detail);
  return [
    {
      event: TRIVY_UNSUPPORTED_SCHEMA_EVENT,
      level: 'warn',
      message: failure.message,
      errorCode: 'ERR_EXPORT_UNSUPPORTED_SCHEMA',
      kind: verdict.kind,
      bundle: verdict.path,
      ...(m ? { version: Number(m[1]), supportedVersion: Number(m[2]) } : {}),
    },
  ];
}

/** Logs {@link trivyLogEvents} of a verdict to the workspace's structured log. */
export function logTrivyVerdictEvents(ws: Workspace, verdict: Verdict): void {
  for (const e of trivyLogEvents(verdict)) logEvent(ws, e);
}
