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
import { createGunzip } from 'node:zlib';
import Database from 'better-sqlite3';
import { Parser, type ReadEntry } from 'tar';
import { z } from 'zod';
import { OpsError, isOpsError, type ErrorCode } from '../../../shared/errors';
import type { Check, Failure, Verdict } from '../../../shared/types';
import type { Workspace } from '../workspace/index';
import { logEvent, type LogEvent } from '../obs/index';
import { BboltHeadCollector } from './bbolt';
import { decodeSignature, signatureSchemes, verifyDetached, type TrustedKey } from './keys';
import { buildVerdict, reportOf } from './verdict';
import { TarGate } from './tar-gate';
import type { VerifyOptions } from './types';
import { openRegular, readRegular, removeTreeQuiet } from '../safe-fs';

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
  let db: Database.Database | null = null;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
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

/**
 * Verifies a Trivy DB bundle. Returns a Verdict for every finding about the
 * bundle itself; throws an OpsError only when the input cannot be read at all
 * (ERR_INPUT_NOT_FOUND), on cancellation (ERR_CANCELLED) or on a full disk
 * while extracting (ERR_NO_SPACE).
 */
export async function verifyTrivyBundle(file: string, opts: TrivyVerifyOptions): Promise<Verdict> {
  const started = Date.now();
  throwIfAborted(opts.signal, file);
  let size: number;
  try {
    const st = await lstat(file);
    if (st.isSymbolicLink() || !st.isFile()) throw new OpsError(st.isSymbolicLink() || st.isFIFO() || st.isCharacterDevice() || st.isBlockDevice() || st.isSocket() ? 'ERR_BUNDLE_UNSAFE_ENTRY' : 'ERR_INPUT_NOT_FOUND', `${file} is not a regular file. Give the path of a Trivy bundle (db.bundle or java-db.bundle).`, { path: file });
    size = st.size;
  } catch (e) {
    if (isOpsError(e)) throw e;
    throw new OpsError('ERR_INPUT_NOT_FOUND', `The Trivy bundle ${file} was not found or cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'}). Check the path and the media.`, { path: file });
  }

  const checks: Check[] = [];
  const failures: Failure[] = [];
  const warnings: string[] = [];
  const addFailure = (code: ErrorCode, message: string, path?: string) => failures.push({ code, message, ...(path ? { path } : {}) });
  let kind: TrivyKind | null = opts.kind ?? trivyKindFromName(file);

  // The signature file (small) is read first; the bundle itself only once.
  let sigPath: string | undefined = opts.signature;
  let sigText: string | null = null;
  if (!sigPath) {
    for (const candidate of signatureCandidates(file, kind)) {
      // lstat: whatever is there (a FIFO or a link included) is the candidate, and is judged below.
      if (existsNoFollow(candidate)) {
        sigPath = candidate;
        break;
      }
    }
  }
  if (sigPath) {
    try {
      // lstat first, regular files only, O_NOFOLLOW | O_NONBLOCK: a FIFO in a signature's place cannot block the read.
      sigText = readRegular(sigPath, MAX_SIGNATURE_BYTES, { label: `The signature file ${sigPath}` }).toString('latin1');
    } catch (e) {
      if (isOpsError(e) && e.code !== 'ERR_INPUT_NOT_FOUND') throw e;
      if (opts.signature) {
        throw new OpsError('ERR_INPUT_NOT_FOUND', `The signature file ${sigPath} cannot be read (${(e as Error).message}).`, { path: sigPath });
      }
      sigText = null;
    }
  }
  const signature = new StreamingSignature(opts.keys, sigText);

  const gate = new TarGate({ top: null, limits: opts.limits, label: 'the Trivy bundle' });
  const rawHash = createHash('sha256');
  let rawBytes = 0;
  let privateDir: string | null = null;
  const openFds: number[] = [];
  const state: MemberState = { metadata: null, metadataTooLarge: false, dbName: null, bbolt: null, sqliteFile: null, sqliteHead: Buffer.alloc(0), dbBytes: 0, files: 0 };
  let streamError: OpsError | null = null;
  let lastProgress = 0;
  const progress = (member?: string, force = false) => {
    if (!opts.onProgress) return;
    const now = Date.now();
    if (!force && now - lastProgress < 200) return;
    lastProgress = now;
    const seconds = (now - started) / 1000;
    opts.onProgress({ jobId: `verify:${basename(file)}`, phase: 'verify', bytesDone: rawBytes, bytesTotal: size, ...(member ? { member } : {}), ...(seconds > 0 ? { bytesPerSecond: rawBytes / seconds } : {}) });
  };

  if (opts.extractTo) mkdirSync(opts.extractTo, { recursive: true });
  const openOut = (name: string): number => {
    let target: string;
    if (opts.extractTo) {
      target = join(opts.extractTo, name);
    } else {
      privateDir ??= mkdtempSync(join(tmpdir(), 'okc-trivy-'));
      target = join(privateDir, name);
    }
    const fd = openSync(target, 'w', 0o600);
    openFds.push(fd);
    return fd;
  };

  const parser = new Parser({ strict: true, brotli: false, zstd: false });
  let currentMember: string | undefined;
  let fail: (e: unknown) => void = () => undefined;

  parser.on('entry', (entry: ReadEntry) => {
    if (streamError) {
      entry.resume();
      return;
    }
    let decision;
    try {
      decision = gate.admit({ path: entry.path, type: entry.type, size: entry.size ?? 0, linkpath: entry.linkpath || undefined });
    } catch (e) {
      entry.resume();
      fail(e);
      return;
    }
    const name = decision.path;
    currentMember = name;
    if (decision.kind === 'directory') {
      addFailure('ERR_VERIFY_EXTRA_FILE', `The Trivy bundle holds a folder "${name}/"; it must hold only ${METADATA} and the database file at its root.`, name);
      entry.resume();
      return;
    }
    state.files++;
    if (name === METADATA) {
      if ((entry.size ?? 0) > MAX_METADATA_BYTES) {
        state.metadataTooLarge = true;
        entry.resume();
        return;
      }
      const parts: Buffer[] = [];
      const fd = opts.extractTo ? openOut(METADATA) : null;
      entry.on('data', (c: Buffer) => {
        parts.push(c);
        if (fd !== null) writeSync(fd, c);
      });
      entry.on('end', () => {
        state.metadata = Buffer.concat(parts);
        if (fd !== null) fsyncSync(fd);
      });
      return;
    }
    const dbKind = (Object.keys(TRIVY_DB_FILE) as TrivyKind[]).find((k) => TRIVY_DB_FILE[k] === name);
    if (dbKind && (kind === null || kind === dbKind) && state.dbName === null) {
      kind = dbKind;
      state.dbName = name;
      const needFile = dbKind === 'trivy-java-db' || !!opts.extractTo;
      const fd = needFile ? openOut(name) : null;
      if (dbKind === 'trivy-db') state.bbolt = new BboltHeadCollector();
      else state.sqliteFile = opts.extractTo ? join(opts.extractTo, name) : join(privateDir!, name);
      entry.on('data', (c: Buffer) => {
        try {
          state.dbBytes += c.length;
          if (state.bbolt) state.bbolt.push(c);
          else if (state.sqliteHead.length < SQLITE_HEADER.length) state.sqliteHead = Buffer.concat([state.sqliteHead, c.subarray(0, SQLITE_HEADER.length - state.sqliteHead.length)]);
          if (fd !== null) writeSync(fd, c);
        } catch (e) {
          fail(e);
        }
      });
      entry.on('end', () => {
        try {
          if (fd !== null) fsyncSync(fd);
        } catch (e) {
          fail(e);
        }
      });
      return;
    }
    const expected = kind ? `${METADATA} and ${TRIVY_DB_FILE[kind]}` : `${METADATA} and trivy.db or trivy-java.db`;
    addFailure('ERR_VERIFY_EXTRA_FILE', `The Trivy bundle holds "${name}", which does not belong in it (expected only ${expected} at the root).`, name);
    entry.resume();
  });

  let copyFd: number | null = null;
  if (opts.copyTo) {
    copyFd = openSync(opts.copyTo, 'w', 0o600);
    openFds.push(copyFd);
  }
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
      progress(currentMember);
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
        gate.addUnpacked(chunk.length, currentMember);
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
  parser.on('error', (e: Error) => fail(e));
  fail = (e: unknown) => {
    if (!streamError) streamError = streamErrorToOps(e, file);
    sink.destroy(streamError);
  };

  try {
    try {
      await pipeline(createReadStream('', { fd: openRegular(file).fd, highWaterMark: 1024 * 1024 }), rawTap, createGunzip(), sink, ...(opts.signal ? [{ signal: opts.signal }] : []));
    } catch (e) {
      throwIfAborted(opts.signal, file);
      if (!streamError) streamError = streamErrorToOps(e, file);
    }
    if (streamError && (streamError.code === 'ERR_INPUT_NOT_FOUND' || streamError.code === 'ERR_NO_SPACE')) throw streamError;
    throwIfAborted(opts.signal, file);
    if (copyFd !== null && !streamError) fsyncSync(copyFd);
    progress(undefined, true);

    const stats = { bytes: rawBytes, files: state.files, seconds: (Date.now() - started) / 1000 };
    const finalKind: TrivyKind = kind ?? 'trivy-db';

    if (streamError) {
      // The first stream error stops reading and is the verdict.
      const se: OpsError = streamError;
      checks.push({ name: 'archive', ok: false, detail: se.message });
      const member = se.path && se.path !== file ? se.path : typeof se.details?.member === 'string' ? (se.details.member as string) : undefined;
      return makeVerdict(file, finalKind, checks, [{ code: se.code, message: se.message, ...(member ? { path: member } : {}) }], warnings, stats, { tried: signature.tried, signedBy: [] });
    }
    const rawSha256 = rawHash.digest('hex');
    checks.push({ name: 'archive', ok: true, detail: `gzip tar read completely: ${gate.members} member(s), sha256 ${rawSha256}` });

    // Signature over the file's bytes.
    const sig = signature.finish();
    if (!signature.hasSignature) {
      const msg = `No signature was found for the Trivy bundle (looked for ${signatureCandidates(file, kind).map((p) => basename(dirname(p)) + '/' + basename(p)).join(', ')}). Give it with --signature <file>.`;
      addFailure('ERR_VERIFY_SIGNATURE', msg);
      checks.push({ name: 'signature', ok: false, detail: msg });
    } else if (!signature.decodable) {
      const msg = `The signature file ${sigPath} is not a base64 signature (cosign sign-blob format).`;
      addFailure('ERR_VERIFY_SIGNATURE', msg, undefined);
      checks.push({ name: 'signature', ok: false, detail: msg });
    } else if (opts.keys.length === 0) {
      const msg = 'No trusted key was given or pinned for this tenant, so the Trivy bundle’s signature cannot be checked. Pin the Export Center key (mirror keys add) or pass --key.';
      addFailure('ERR_VERIFY_SIGNATURE', msg);
      checks.push({ name: 'signature', ok: false, detail: msg });
    } else if (!sig.ok) {
      const msg = `No trusted key verifies the Trivy bundle’s signature (keys tried: ${sig.tried.join(', ')}).${sig.note ? ` ${sig.note}.` : ''} The bundle was signed by another key, or it was altered after signing.`;
      addFailure('ERR_VERIFY_SIGNATURE', msg);
      checks.push({ name: 'signature', ok: false, detail: msg });
    } else {
      checks.push({ name: 'signature', ok: true, detail: `signed by ${sig.signedBy.join(', ')}` });
    }

    // metadata.json
    let metadata: TrivyMetadata | null = null;
    if (state.metadataTooLarge) {
      const msg = `${METADATA} is larger than ${MAX_METADATA_BYTES} bytes; it is not a Trivy metadata file.`;
      addFailure('ERR_BUNDLE_CORRUPT', msg, METADATA);
      checks.push({ name: 'metadata', ok: false, detail: msg });
    } else if (state.metadata === null) {
      const msg = `The Trivy bundle has no ${METADATA} at its root.`;
      addFailure('ERR_VERIFY_MISSING_FILE', msg, METADATA);
      checks.push({ name: 'metadata', ok: false, detail: msg });
    } else {
      let json: unknown;
      let parseProblem: string | null = null;
      try {
        json = JSON.parse(state.metadata.toString('utf8'));
      } catch (e) {
        parseProblem = `${METADATA} is not valid JSON (${(e as Error).message})`;
      }
      if (!parseProblem) {
        const r = TrivyMetadataSchema.safeParse(json);
        if (r.success) metadata = r.data;
        else parseProblem = `${METADATA} does not have the Trivy metadata fields: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`;
      }
      if (parseProblem) {
        addFailure('ERR_BUNDLE_CORRUPT', `${parseProblem}.`, METADATA);
        checks.push({ name: 'metadata', ok: false, detail: parseProblem });
      } else {
        checks.push({ name: 'metadata', ok: true, detail: `Version ${metadata!.Version}, UpdatedAt ${metadata!.UpdatedAt}, NextUpdate ${metadata!.NextUpdate}` });
      }
    }
    if (metadata) {
      const want = SUPPORTED_TRIVY_VERSION[finalKind];
      if (metadata.Version !== want) {
        const msg = `The Trivy database schema Version ${metadata.Version} is not supported: this console accepts Version ${want} for ${TRIVY_DB_FILE[finalKind]} (the version Trivy itself accepts).`;
        addFailure('ERR_EXPORT_UNSUPPORTED_SCHEMA', msg, METADATA);
        checks.push({ name: 'metadata.version', ok: false, detail: `Version ${metadata.Version}; supported ${want}` });
      } else {
        checks.push({ name: 'metadata.version', ok: true, detail: `Version ${metadata.Version}` });
      }
      const next = Date.parse(metadata.NextUpdate);
      const now = (opts.now ?? new Date()).getTime();
      if (next < now) {
        const days = Math.floor((now - next) / 86_400_000);
        warnings.push(`The Trivy database is stale: its NextUpdate (${metadata.NextUpdate}) is ${days > 0 ? `${days} day(s) ` : ''}in the past. Bring in a newer Trivy DB bundle soon.`);
        checks.push({ name: 'freshness', ok: true, detail: `stale since ${metadata.NextUpdate}` });
      } else {
        checks.push({ name: 'freshness', ok: true, detail: `next update due ${metadata.NextUpdate}` });
      }
    }

    // The database file.
    const dbFile = TRIVY_DB_FILE[finalKind];
    if (state.dbName === null) {
      const msg = `The Trivy bundle has no ${dbFile} at its root.`;
      addFailure('ERR_VERIFY_MISSING_FILE', msg, dbFile);
      checks.push({ name: 'database', ok: false, detail: msg });
    } else if (state.bbolt) {
      const r = state.bbolt.result();
      if (r.ok) {
        checks.push({ name: 'database', ok: true, detail: `bbolt, page size ${r.pageSize}, ${state.dbBytes} bytes, txid ${r.txid}` });
        for (const n of r.notes) warnings.push(`${dbFile}: ${n}.`);
      } else {
        const msg = `${dbFile} is not a sound bbolt database: ${r.problems.join('; ')}.`;
        addFailure('ERR_BUNDLE_CORRUPT', msg, dbFile);
        checks.push({ name: 'database', ok: false, detail: msg });
      }
    } else if (state.sqliteFile && !sig.ok) {
      // An SQLite file nobody trusted signed is never opened (SQLite parses it deeply).
      checks.push({ name: 'database', ok: false, detail: `${dbFile} was not opened: the bundle's signature did not verify, and an unsigned database is never opened` });
    } else if (state.sqliteFile) {
      let problem: string | null = null;
      if (!state.sqliteHead.equals(SQLITE_HEADER)) problem = 'it does not start with the SQLite 3 header ("SQLite format 3\\0")';
      else problem = sqliteQuickCheck(state.sqliteFile);
      if (problem) {
        const msg = `${dbFile} is not a sound SQLite database: ${problem}.`;
        addFailure('ERR_BUNDLE_CORRUPT', msg, dbFile);
        checks.push({ name: 'database', ok: false, detail: msg });
      } else {
        checks.push({ name: 'database', ok: true, detail: `SQLite 3, ${state.dbBytes} bytes, quick_check ok` });
      }
    }

    return { ...makeVerdict(file, finalKind, checks, failures, warnings, stats, { tried: sig.tried, signedBy: sig.signedBy }), file: { sha256: rawSha256, size: rawBytes } };
  } finally {
    for (const fd of openFds) {
      try {
        closeSync(fd);
      } catch {
        /* closed */
      }
    }
    if (privateDir) removeTreeQuiet(privateDir);
  }
}

function makeVerdict(
  file: string,
  kind: TrivyKind,
  checks: Check[],
  failures: Failure[],
  warnings: string[],
  stats: Verdict['stats'],
  keys: { tried: string[]; signedBy: string[] },
): Verdict {
  const label = kind === 'trivy-java-db' ? 'Trivy Java DB bundle' : 'Trivy DB bundle';
  return buildVerdict({
    report: reportOf(checks, failures, warnings),
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
