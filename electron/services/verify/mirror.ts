/**
 * Streaming verification of one mirror bundle (spec sections 2 to 6).
 *
 * One pass over the file through small stream stages: read (raw SHA-256,
 * optional library copy; stream/read) → optional whole-file age decryption
 * (stream/age) → zstd (stream/zstd) → tar reader → member gate → collector
 * (per-member SHA-256 and size, control files, and with `extractTo` the
 * payload written as it streams; stream/collector). Then the pure checks
 * (./checks): signatures, schema, digests, missing/extra files, provenance,
 * delta rules, and per-file decryption where export.json asks for it
 * (./decrypt). The verdict is built by ./verdict.
 */
import { constants as fsc, closeSync, copyFileSync, linkSync, mkdirSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { open as openAsync, type FileHandle } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { OpsError, isOpsError } from '../../../shared/errors';
import type { Verdict, VerdictKind } from '../../../shared/types';
import { canFlushNatively, deferTreeDurable, makeTreeDurable, startNativeTreeDurable, startTreeDurable, type PendingDurable } from '../durability';
import { checkContent, checkDeltaOrIgnored, checkManifestYaml, checkProvenance, checkSchema, checkSignatures, checkSignerTenant, checkStateDigest, type KeysInfo } from './checks';
import { decryptPerFile } from './decrypt';
import type { ExportJson } from './export-schema';
import type { SpareFiles } from './stream/spare';
import { hashPoolFor, type HashPool } from './hash-pool';
import { ageDecrypt, ageFormat, armorDecode, wantsDecrypt } from './stream/age';
import { MemberCollector } from './stream/collector';
import { RawReader } from './stream/read';
import { zstdCheck, zstdDecompress, type FrameLog } from './stream/zstd';
import { TarGate } from './tar-gate';
import type { VerifyOptions } from './types';
import { buildVerdict, Report } from './verdict';
import { nowMs } from '../clock';

/** An extraction at least this large (bytes or files) is flushed on a helper thread (durability.ts). */
const BACKGROUND_FLUSH_BYTES = 32 * 1024 * 1024;
const BACKGROUND_FLUSH_FILES = 5000;

export { DSSE_PAYLOAD_TYPE, checkSignerTenant } from './checks';
export { buildVerdict, Report } from './verdict';

export interface MirrorBundleResult {
  verdict: Verdict;
  exportJson?: ExportJson;
  exportJsonBytes?: Buffer;
  /** mirror/manifest.yaml as read in the verified stream (use only if verdict.ok). */
  manifestYamlBytes?: Buffer;
  /** hex */
  exportJsonSha256?: string;
  /** With `keepExportJsonAt`: that file, holding exactly the verified export.json bytes (only when verdict.ok). */
  exportJsonFile?: string;
  /** SHA-256 (hex) of the file as stored (what a kit manifest lists); '' when not computed (rawDigest: false) or unreadable. */
  rawSha256: string;
  rawSize: number;
  /**
   * False when the bundle is encrypted per file and was not decrypted (no
   * identity): the stored bytes verified, the plaintext did not. An import
   * must not use such a result.
   */
  plaintextVerified: boolean;
  /**
   * Bytes held by the per-file structures of the read (for tests and
   * benchmarks: they grow by tens of bytes per file, issue 13): the gate's
   * name table, the payload digest table, the parsed file list.
   */
  tables?: { members: number; gate: number; payload: number; files: number };
  /** With `flushLater` (and a bundle that verified): the extracted tree's flush, running; wait() before committing to it. */
  durable?: PendingDurable;
  /** With `spares`: payload files written into spare files (path -> the spare's path); every other one is below `extractTo`. */
  placed?: ReadonlyMap<string, string>;
}

export type MirrorVerifyOptions = VerifyOptions & {
  /** Payload files (plaintext) are written below this folder during the read. Use only if verdict.ok. */
  extractTo?: string;
  /**
   * Do not wait for the extracted tree to reach stable storage: start its
   * flush and hand it back as `durable` (the caller waits before it commits
   * to the files, and may do other work meanwhile). Default: flushed before
   * this returns.
   */
  flushLater?: boolean;
  /** The raw bundle bytes are copied to this (new) file during the same read. */
  copyTo?: string;
  /** With `extractTo`: spare files to write a plain delta's small files into (collector.ts), named in `placed`. */
  spares?: SpareFiles;
  /** A private folder to spool into instead of one of its own in the temporary folder (collector.ts `spoolIn`). */
  spoolIn?: string;
  /**
   * Hand back export.json's and manifest.yaml's bytes (`exportJsonBytes`,
   * `manifestYamlBytes`; default true). export.json is streamed to a private
   * spool during the read, not held: the bytes are read back from it only for
   * a caller that asks (up to 256 MiB). A lone verify turns it off.
   */
  controlBytes?: boolean;
  /**
   * Copy the verified export.json to this new file (kernel copy from the spool,
   * never through memory) and name it in `exportJsonFile`, when the verdict is
   * ok. An import uses it with `controlBytes: false`: a file list of millions
   * of entries is then never held, and has no read-back cap.
   */
  keepExportJsonAt?: string;
  /**
   * Compute `rawSha256` (default true). A lone `mirror verify` turns it off:
   * nothing compares the file's own digest there, and it saves a second hash.
   */
  rawDigest?: boolean;
};

/** Reads the first bytes of a file (format sniffing; not a verification read). */
function sniff(file: string, n: number): Buffer {
  // O_NONBLOCK: a FIFO never blocks the read (the caller has already refused anything but a regular file).
  const fd = openSync(file, fsc.O_RDONLY | fsc.O_NONBLOCK);
  try {
    const b = Buffer.alloc(n);
    const got = readSync(fd, b, 0, n, 0);
    return b.subarray(0, got);
  } finally {
    closeSync(fd);
  }
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

/** What the read of the stream left behind for the checks. */
interface StreamOutcome {
  collector: MemberCollector;
  gate: TarGate;
  age: 'none' | 'binary' | 'armored';
  rawSize: number;
  rawHex: string;
  /** A verdict about the bundle (damaged, unsafe, over a limit, cancelled), or null when it read completely. */
  streamError: OpsError | null;
}

/**
 * The one pass over the file: read → [armor] → [age] → zstd → tar → collector.
 * Throws only for a failure of this host (disk full, I/O error while writing)
 * or a usage problem; everything about the bundle is in `streamError`.
 */
async function readStream(file: string, total: number, opts: MirrorVerifyOptions, extractRoot: string | undefined, copyFlushedLater: boolean): Promise<StreamOutcome> {
  const age = ageFormat(sniff(file, 64));
  const pool: HashPool = hashPoolFor(total);
  const gate = new TarGate({ top: 'mirror', limits: opts.limits, label: 'the bundle' });
  const collector = new MemberCollector({ pool, gate, extractRoot, keepEncrypted: wantsDecrypt(opts), keys: opts.keys, signal: opts.signal, spares: extractRoot ? opts.spares : undefined, spoolIn: opts.spoolIn });
  const wantRaw = opts.rawDigest !== false || opts.copyTo !== undefined;
  const rawId = wantRaw ? pool.start() : -1;
  let copy: FileHandle | undefined;
  let reader: RawReader | undefined;
  let rawHex = '';
  let streamError: OpsError | null = null;
  try {
    if (opts.copyTo) copy = await openAsync(opts.copyTo, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
    const r = new RawReader(file, { pool, freshBuffers: age !== 'none', rawId, copy, total, signal: opts.signal, onProgress: opts.onProgress, onRead: (n) => gate.setCompressed(n), member: () => collector.current });
    reader = r;
    const raw = (): AsyncGenerator<Buffer> => r.chunks();
    const frames: FrameLog = { lastStart: -1 };
    const zstd = (s: AsyncIterable<Buffer>): AsyncGenerator<Buffer> => zstdDecompress(zstdCheck(s, age !== 'none'), pool, frames);
    const decrypt = (s: AsyncIterable<Buffer>): AsyncGenerator<Buffer> => ageDecrypt(s, opts);
    const sink = (s: AsyncIterable<Buffer>): Promise<void> => collector.consume(s);
    if (age === 'armored') await pipeline(raw, armorDecode, decrypt, zstd, sink);
    else if (age === 'binary') await pipeline(raw, decrypt, zstd, sink);
    else await pipeline(raw, zstd, sink);
    // A zstd frame beginning at or after the tar's end carries bytes no signature covers (spec section 2).
    if (frames.lastStart >= 0 && collector.tarEnd >= 0 && frames.lastStart >= collector.tarEnd) {
      throw new OpsError('ERR_BUNDLE_CORRUPT', 'The bundle holds another zstd frame after the one(s) holding the tar archive: bytes no signature covers. It was not kept.');
    }
    // The copy's own fsync, unless the extraction's flush (one syncfs of the same filesystem, started
    // after this read) covers it.
    if (copy && !copyFlushedLater) await copy.sync();
    if (wantRaw) rawHex = await pool.finish(rawId);
    await collector.settle();
  } catch (e) {
    const sys = e as NodeJS.ErrnoException;
    if (!isOpsError(e) && typeof sys?.code === 'string' && typeof sys.syscall === 'string') {
      collector.removeSpool();
      throw e; // a failure of this host while writing: not a verdict about the bundle
    }
    streamError = isOpsError(e)
      ? e
      : new OpsError('ERR_BUNDLE_CORRUPT', `The bundle is not a readable zstd/tar stream (${(e as Error).message}). It may be truncated or damaged.`, collector.current ? { path: collector.current } : {});
    if (opts.signal?.aborted && streamError.code !== 'ERR_CANCELLED') streamError = new OpsError('ERR_CANCELLED', 'Verification was cancelled. Nothing was changed.');
    if (streamError.code === 'ERR_USAGE') {
      collector.removeSpool();
      throw streamError;
    }
  } finally {
    await collector.closeWriter();
    collector.abandon();
    if (copy) await copy.close();
    await pool.close();
  }
  return { collector, gate, age, rawSize: reader?.size ?? 0, rawHex: streamError ? '' : rawHex, streamError };
}

/** The checks after the stream, in the spec's order. Returns what the verdict needs. */
async function judge(report: Report, s: StreamOutcome, opts: MirrorVerifyOptions, extractRoot: string | undefined, result: MirrorBundleResult): Promise<{ exp?: ExportJson; keys?: KeysInfo; plaintext: boolean }> {
  const { collector, gate } = s;
  const control = collector.control;
  if (s.streamError) {
    report.fail('read bundle stream', s.streamError.code, s.streamError.message, s.streamError.path);
    return { plaintext: false };
  }
  report.ok('read bundle stream', `${gate.members} members, ${gate.unpacked} bytes unpacked`);
  if (s.age !== 'none') report.ok('age decryption (whole file)');
  const exportBlob = collector.exportBlob;
  if (!exportBlob) {
    report.fail('export.json present', 'ERR_BUNDLE_CORRUPT', 'The bundle has no mirror/export.json: it is not a mirror bundle, or it is incomplete.', 'mirror/export.json');
    return { plaintext: false };
  }
  result.exportJsonSha256 = exportBlob.sha256;
  const manifestBlob = collector.manifestBlob;
  if (opts.controlBytes !== false) {
    try {
      result.exportJsonBytes = exportBlob.bytes('export.json');
      if (manifestBlob) result.manifestYamlBytes = manifestBlob.bytes('manifest.yaml');
    } catch (e) {
      report.fail('export.json and manifest.yaml read back', isOpsError(e) ? e.code : 'ERR_BUNDLE_LIMIT', (e as Error).message, 'mirror/export.json');
    }
  }
  // 1. Signatures.
  const keys = await checkSignatures(report, control, exportBlob, manifestBlob, opts);
  for (const rel of collector.ignoredControl) {
    report.warnings.push(`mirror/${rel} is not a ${rel.startsWith('delta/') ? 'delta file' : 'signature'} this console knows; it was ignored.`);
  }
  // 2. Schema (export.json was parsed once, as its bytes came in).
  const exp = checkSchema(report, collector.exportJson, collector.exportError);
  if (!exp) return { keys, plaintext: false };
  result.exportJson = exp;
  checkSignerTenant(report, opts.keys, keys?.signedBy ?? [], exp.tenant, 'export.json');
  checkManifestYaml(report, manifestBlob, collector.manifestRecognised);
  // 3. Provenance. 4. Content and state. 5. Delta rules.
  const provenance = checkProvenance(report, control.get('provenance.json'), collector.members);
  const encrypted = checkContent(report, exp, collector.payload, gate);
  checkStateDigest(report, exp);
  checkDeltaOrIgnored(report, exp, control);
  // 6. Per-file decryption.
  let plaintext = false;
  if (exp.encryption) {
    if (!wantsDecrypt(opts)) {
      report.warnings.push(`The files under ${exp.encryption.paths} are encrypted per file and no age identity was given: signatures and stored (encrypted) digests were checked, the plaintext was not. An import needs the identity (--identity).`);
      report.ok('per-file encryption', 'not decrypted (no identity given)');
    } else if (!report.failed) {
      plaintext = await decryptPerFile(report, exp, provenance, encrypted, opts, extractRoot);
    }
  }
  return { exp, keys, plaintext };
}

/** Whether two existing paths are on one filesystem (a syncfs of one covers the other). */
function sameFilesystem(a: string, b: string): boolean {
  try {
    return statSync(a).dev === statSync(b).dev;
  } catch {
    return false;
  }
}

/**
 * Verifies one mirror bundle file. Never throws for a bad bundle: the verdict
 * says what is wrong. Throws only for usage problems (for example a non-empty
 * extraction folder) and failures of this host while writing.
 */
export async function verifyMirrorBundle(file: string, opts: MirrorVerifyOptions): Promise<MirrorBundleResult> {
  const started = nowMs();
  const report = new Report();
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
  const extractRoot = opts.extractTo ? prepareExtractRoot(opts.extractTo) : undefined;
  // With the native module, an import's flush starts as soon as the read is done, on a thread of its
  // own, while the bundle is judged and planned; it then also covers the library copy when that is on
  // the same filesystem (the copy's own fsync is skipped). Not when files are decrypted one by one
  // after the read (they are written into the tree while the bundle is judged).
  const nativeFlush = !!extractRoot && !!opts.flushLater && !wantsDecrypt(opts) && canFlushNatively();
  const copyFlushedLater = nativeFlush && !!opts.copyTo && sameFilesystem(dirname(opts.copyTo), extractRoot!);
  const s = await readStream(file, total, opts, extractRoot, copyFlushedLater);
  const earlyFlush = nativeFlush && !s.streamError ? startNativeTreeDurable(extractRoot!, process.env, [...s.collector.placed.values(), ...(copyFlushedLater ? [opts.copyTo!] : [])]) : null;
  const result: MirrorBundleResult = { verdict: undefined as unknown as Verdict, rawSha256: s.rawHex, rawSize: s.rawSize, plaintextVerified: false };
  let j: Awaited<ReturnType<typeof judge>>;
  try {
    j = await judge(report, s, opts, extractRoot, result);
    const exportBlob = s.collector.exportBlob;
    if (opts.keepExportJsonAt && !report.failed && exportBlob) {
      // A spool on the same filesystem gives its file a second name (a new one: never over another file).
      if (opts.spoolIn) linkSync(exportBlob.spoolPath, opts.keepExportJsonAt);
      else copyFileSync(exportBlob.spoolPath, opts.keepExportJsonAt, fsc.COPYFILE_EXCL);
      result.exportJsonFile = opts.keepExportJsonAt;
    }
  } finally {
    s.collector.removeSpool();
  }
  // What will be applied must be on stable storage before the caller commits to it.
  const exp = j.exp;
  if (extractRoot && !report.failed) {
    // The payload was extracted during the verified read; this step puts it on stable storage.
    const unpacked = exp?.files.bytes ?? 0;
    opts.onProgress?.({ jobId: '', phase: 'extract', bytesDone: 0, bytesTotal: unpacked });
    // A large tree is flushed on a helper thread while the apply plans; a small one when it is needed.
    const placed = s.collector.placed;
    const also = [...placed.values()];
    if (placed.size) result.placed = placed;
    if (earlyFlush) result.durable = earlyFlush;
    else if (opts.flushLater) result.durable = unpacked >= BACKGROUND_FLUSH_BYTES || (exp?.files.length ?? 0) >= BACKGROUND_FLUSH_FILES ? startTreeDurable(extractRoot, process.env, also) : deferTreeDurable(extractRoot, process.env, also);
    else makeTreeDurable(extractRoot, process.env, also);
    opts.onProgress?.({ jobId: '', phase: 'extract', bytesDone: unpacked, bytesTotal: unpacked });
  }
  result.tables = { members: s.gate.members, gate: s.gate.table.bytes, payload: s.collector.payload.heldBytes, files: exp?.files.heldBytes ?? 0 };
  result.plaintextVerified = !report.failed && !!exp && (!exp.encryption || j.plaintext);
  result.verdict = buildVerdict({
    report,
    path: file,
    kind: exp ? (exp.profile.variant === 'delta' ? 'mirror-delta' : 'mirror-full') : guessKind,
    exportId: exp?.exportId ?? null,
    generation: exp?.generation ?? null,
    bytes: s.rawSize,
    files: s.collector.payloadCount,
    started,
    okMessage: exp ? `The bundle ${exp.exportId} (generation ${exp.generation}) is intact and signed by a trusted key.` : 'The bundle verified.',
    ...(j.keys ? { keys: j.keys } : {}),
  });
  return result;
}
