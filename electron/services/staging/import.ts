/**
 * `mirror import`: verify and extract each bundle in ONE read (the verifier
 * writes the payload into incoming/<job>/files and tees the raw bytes to the
 * library), then apply in generation order with the chain rules.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, readSync, realpathSync, statSync } from 'node:fs';
import { openRegular, readRegular, removeTreeQuiet } from '../safe-fs';
import { basename, dirname, join, resolve } from 'node:path';
import { OpsError, isOpsError, runbookAdvice, toErrorShape, type ErrorCode } from '../../../shared/errors';
import type { BundleKind, JobProgress, Verdict } from '../../../shared/types';
import { appendAudit } from '../audit/index';
import type { Db } from '../db/index';
import { bumpCounter, logEvent } from '../obs/index';
import { disposeTrash, emptyTrash } from './trash';
import { verifyMirrorBundle } from '../verify/index';
import { logTrivyVerdictEvents, verifyTrivyBundle } from '../verify/trivy';
import type { TrustedKey } from '../verify/keys';
import type { Workspace } from '../workspace/index';
import { incomingJobDir } from '../workspace/layout';
import { applyPrepared, isFullLike, noSpaceError, recordApplyFailure } from './apply';
import { SparePool, trimSpares } from './spares';
import { freeBytes, isNoSpace, nodeStagingFs, type StagingHooks } from './fsops';
import { isKitDir, kitEntryFile, kitSignatureFile, readKitManifest, type KitEntry, type KitManifest } from './kit';
import { currentGeneration, getLibrary, readState, setLastApply } from './store';
import { installTrivy, type TrivyKind } from './trivy-install';
import { libraryTmpFile } from './library-place';
import { rollback as rollbackLocked } from './rollback';
import type { GenerationRow, ImportItem, ImportResult, PreparedBundle, StagingExport } from './types';
import type { Limits } from '../../../shared/settings';
import { nowMs } from '../clock';

export interface ImportOptions {
  /** Keys trusted for this import (workspace keys and any --key / --keyring). */
  keys: TrustedKey[];
  identities?: string[];
  passphrase?: string;
  trustedRoot?: string;
  certificateIdentity?: string;
  certificateOidcIssuer?: string;
  limits?: Partial<Limits>;
  forceReason?: string;
  /**
   * All or nothing (the 7.2 restore): every loose bundle is verified and
   * extracted first and the chain they form is checked (a full bundle, then
   * deltas each naming the one before); only then is anything applied. A bad
   * bundle or a gap leaves staging exactly where it was. If an apply still
   * fails part-way (for example a full disk), staging returns to the
   * generation it held before.
   */
  allOrNothing?: boolean;
  dryRun?: boolean;
  operator?: string;
  signal?: AbortSignal;
  onProgress?: (p: JobProgress) => void;
  hooks?: StagingHooks;
  /** Set by the import itself: which bundle of how many is being worked on ("bundle k of n" in progress events). */
  bundleOf?: { index: number; count: number; name: string };
  /** Set by the import itself: the emptying of trash/ it started (a space check waits for it before it refuses). */
  trashEmptied?: Promise<unknown>;
  /** Set by the import itself: the workspace's spare files, one pool for all its bundles (a spare is handed out once). */
  spares?: SparePool;
  now?: () => Date;
}

/** The caller's progress callback with "bundle k of n" added. */
function withBundle(opts: ImportOptions): ((p: JobProgress) => void) | undefined {
  const cb = opts.onProgress;
  const b = opts.bundleOf;
  if (!cb) return undefined;
  if (!b) return cb;
  return (p) => cb({ ...p, bundleIndex: b.index, bundleCount: b.count, bundle: b.name });
}

/** Options for the next bundle (1-based index). */
function nthBundle(opts: ImportOptions, index: number, count: number, path: string): ImportOptions {
  return { ...opts, bundleOf: { index, count, name: basename(path) } };
}

function newJob(): string {
  return `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

function item(path: string, kind: BundleKind | null, outcome: ImportItem['outcome'], code: ErrorCode | null, message: string, extra: Partial<ImportItem> = {}): ImportItem {
  return { path, kind, exportId: null, generation: null, outcome, code, message, ...extra };
}

function trivyKindOf(file: string): TrivyKind {
  return /java/i.test(basename(file)) ? 'trivy-java-db' : 'trivy-db';
}

/** Has this exact export (id + export.json digest) been applied in this workspace at some point? */
function appliedBefore(db: Db, exportId: string, exportJsonSha256: string): boolean {
  return !!db.prepare('SELECT 1 FROM staging_generations WHERE export_id = ? AND export_json_sha256 = ? LIMIT 1').get(exportId, exportJsonSha256);
}

interface Verified {
  item: ImportItem;
  prepared?: PreparedBundle;
}

/** Verifies one mirror bundle into a private incoming folder (one read). */
async function verifyInto(ws: Workspace, db: Db, file: string, shownPath: string, opts: ImportOptions, expect?: KitEntry): Promise<Verified> {
  const job = newJob();
  const jobDir = incomingJobDir(ws.layout, job);
  mkdirSync(jobDir, { recursive: true, mode: 0o700 });
  const filesDir = join(jobDir, 'files');
  const libTmp = libraryTmpFile(ws, job);
  const t0 = nowMs();
  const rawSize = statSync(file).size;
  let free = freeBytes(ws.dir);
  if (free !== null && free < rawSize * 2 && opts.trashEmptied) {
    // The last import's trash (a pruned tree, say) is being removed on a helper thread: that space comes first.
    await opts.trashEmptied;
    free = freeBytes(ws.dir);
  }
  if (free !== null && free < rawSize * 2) {
    rmQuiet(jobDir);
    throw noSpaceError(`importing ${shownPath}`, rawSize * 2, free);
  }
  let res;
  try {
    res = await verifyMirrorBundle(file, {
      keys: opts.keys,
      identities: opts.identities,
      passphrase: opts.passphrase,
      trustedRoot: opts.trustedRoot,
      certificateIdentity: opts.certificateIdentity,
      certificateOidcIssuer: opts.certificateOidcIssuer,
      limits: opts.limits,
      signal: opts.signal,
      onProgress: withBundle(opts),
      extractTo: filesDir,
      // The extraction is flushed on a helper thread while the apply plans; its build waits for it.
      flushLater: true,
      copyTo: libTmp,
      spares: opts.spares,
      // Spooled inside the job's own folder: the kept export.json is then a second name of the spool.
      spoolIn: jobDir,
      // export.json handed over as a file, never read back into memory (a million-entry list is ~200 MB).
      controlBytes: false,
      keepExportJsonAt: join(jobDir, 'export.json'),
    });
  } catch (e) {
    rmQuiet(jobDir);
    rmQuiet(libTmp);
    if (isNoSpace(e)) throw noSpaceError(`verifying and extracting ${shownPath}`, rawSize * 2, freeBytes(ws.dir), e);
    throw e;
  }
  const verifySeconds = (nowMs() - t0) / 1000;
  const v: Verdict = res.verdict;
  const exp = res.exportJson as StagingExport | undefined;
  // A full disk while extracting is an environment problem, not a damaged bundle.
  const texts = [v.message, ...(v.failures ?? []).map((f) => f.message)].join(' ');
  if (!v.ok && /\b(ENOSPC|EDQUOT)\b|no space left/i.test(texts)) {
    rmQuiet(jobDir);
    rmQuiet(libTmp);
    let unpacked = 0;
    for (const f of exp?.files ?? []) unpacked += f.size;
    const needed = rawSize + (unpacked || rawSize * 2);
    throw noSpaceError(`verifying and extracting ${shownPath}`, needed, freeBytes(ws.dir));
  }
  const base: Partial<ImportItem> = { exportId: v.exportId, generation: v.generation, verdict: v, ...(res.rawSha256 ? { sha256: res.rawSha256 } : {}), size: res.rawSize || rawSize };
  const kind: BundleKind = v.kind === 'mirror-delta' || v.kind === 'mirror-full' ? v.kind : exp?.profile.variant === 'full' ? 'mirror-full' : 'mirror-delta';
  const refuse = (code: ErrorCode, message: string): Verified => {
    rmQuiet(jobDir);
    rmQuiet(libTmp);
    return { item: item(shownPath, kind, 'refused', code, message, base) };
  };
  // export.json comes as the verifier's copy of its spool (never held in memory), or as bytes.
  const exportJsonFile = res.exportJsonFile;
  if (!v.ok || !exp || (!res.exportJsonBytes && !exportJsonFile) || !res.exportJsonSha256) return refuse(v.code ?? 'ERR_BUNDLE_CORRUPT', v.message);
  if ((res as { plaintextVerified?: boolean }).plaintextVerified === false) {
    return refuse('ERR_DECRYPT_NO_RECIPIENT', `${shownPath} is encrypted per file and no identity decrypted it: an import needs the age identity (--identity).`);
  }
  if (expect) {
    if (expect.sha256 !== res.rawSha256 || expect.size !== res.rawSize) {
      return refuse('ERR_VERIFY_DIGEST', `${shownPath} does not match the kit manifest (sha256 ${res.rawSha256}, ${res.rawSize} bytes; the manifest says ${expect.sha256}, ${expect.size} bytes). Copy the kit again.`);
    }
    if (expect.exportId !== exp.exportId || expect.generation !== exp.generation) {
      return refuse('ERR_BUNDLE_CORRUPT', `${shownPath}: the kit manifest says ${expect.exportId} generation ${expect.generation}, the signed export.json says ${exp.exportId} generation ${exp.generation}.`);
    }
  }
  return {
    item: item(shownPath, kind, 'planned', null, v.message, base),
    prepared: {
      path: shownPath,
      exp,
      ...(res.exportJsonBytes ? { exportJsonBytes: res.exportJsonBytes } : { exportJsonFile }),
      exportJsonSha256: res.exportJsonSha256,
      filesDir,
      job,
      library: { tmpFile: libTmp, sha256: res.rawSha256, size: res.rawSize, name: basename(file) },
      verifySeconds,
      ...(res.durable ? { durable: res.durable } : {}),
      ...(res.placed ? { placed: res.placed } : {}),
    },
  };
}

function discardPrepared(ws: Workspace, p: PreparedBundle): void {
  rmQuiet(incomingJobDir(ws.layout, p.job));
  if (p.library) rmQuiet(p.library.tmpFile);
}

/**
 * The first break in a chain of verified bundles sorted by generation: it
 * must start with a full (or resetBaseline) bundle and each delta must name
 * the bundle before it (export id, export.json digest, next generation).
 */
function chainBreak(list: Verified[]): { message: string; missing: number[]; item: Verified } | null {
  let prev: PreparedBundle | null = null;
  for (const v of list) {
    const p = v.prepared!;
    const exp = p.exp;
    if (!prev) {
      if (!isFullLike(exp)) return { item: v, missing: [], message: `The chain starts with the delta ${exp.exportId} (generation ${exp.generation}), not a full bundle: nothing to build it on. Nothing was changed.` };
    } else if (!isFullLike(exp)) {
      const b = exp.base;
      if (exp.generation !== prev.exp.generation + 1) {
        const missing = Array.from({ length: Math.max(0, Math.min(exp.generation - prev.exp.generation - 1, 1000)) }, (_, i) => prev!.exp.generation + 1 + i);
        return { item: v, missing, message: `Generation(s) ${missing.join(', ') || '?'} are missing between ${prev.exp.exportId} (generation ${prev.exp.generation}) and ${exp.exportId} (generation ${exp.generation}). Nothing was changed.` };
      }
      if (!b || b.exportId !== prev.exp.exportId || b.manifestDigest !== `sha256:${prev.exportJsonSha256}`) {
        return { item: v, missing: [], message: `Delta ${exp.exportId} (generation ${exp.generation}) does not name ${prev.exp.exportId} (export.json sha256:${prev.exportJsonSha256}) as its base. Nothing was changed.` };
      }
    }
    prev = p;
  }
  return null;
}

function rmQuiet(p: string): void {
  // Iterative removal (any depth); what is left is tidied, or set aside, by the next start's recovery.
  removeTreeQuiet(p);
}

function recordFailure(ws: Workspace, db: Db, it: ImportItem, opts: ImportOptions, verification: boolean, exp?: StagingExport): void {
  try {
    recordFailureUnsafe(ws, db, it, opts, verification, exp);
  } catch {
    /* recording is best effort (the disk may be full); the refusal itself is reported */
  }
}

function isTrivyKind(kind: BundleKind | null): boolean {
  return kind === 'trivy-db' || kind === 'trivy-java-db';
}

function fileSize(path: string): number | null {
  try {
    const st = statSync(path);
    return st.isFile() ? st.size : null;
  } catch {
    return null;
  }
}

/** SHA-256 of a refused file when the verifier stopped before hashing all of it (for the audit record only). */
function sha256Of(path: string): string | null {
  let fd: number | null = null;
  try {
    fd = openRegular(path).fd; // lstat, regular file only, no link followed, never blocks

    const h = createHash('sha256');
    const buf = Buffer.allocUnsafe(1 << 20);
    for (let n = readSync(fd, buf, 0, buf.length, null); n > 0; n = readSync(fd, buf, 0, buf.length, null)) h.update(buf.subarray(0, n));
    return h.digest('hex');
  } catch {
    return null;
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

/**
 * What an auditor needs about a refused bundle: where it was, its sha256 and
 * size, who signed it (when known), the error code and message.
 */
function refusalFacts(it: ImportItem): Record<string, unknown> {
  return {
    path: it.path,
    kind: it.kind,
    exportId: it.exportId,
    generation: it.generation,
    sha256: it.sha256 || sha256Of(it.path),
    size: it.size ?? fileSize(it.path),
    signedBy: it.verdict?.keys?.signedBy ?? [],
    errorCode: it.code,
    message: it.message,
    source: 'import',
  };
}

function recordFailureUnsafe(ws: Workspace, db: Db, it: ImportItem, opts: ImportOptions, verification: boolean, exp?: StagingExport): void {
  if (!it.code) return;
  const facts = refusalFacts(it);
  if (verification) {
    // Refused before anything was applied: a verification failure (mirror or Trivy), never an apply event.
    const event = isTrivyKind(it.kind) ? 'trivy.verify.failed' : 'mirror.verify.failed';
    const at = (opts.now?.() ?? new Date()).toISOString();
    db.transaction(() => {
      if (!isTrivyKind(it.kind)) setLastApply(db, { ok: false, at, path: it.path, exportId: it.exportId ?? null, generation: it.generation ?? null, code: it.code, message: it.message });
      appendAudit(db, { action: event, subject: it.exportId ?? it.path, operator: opts.operator, details: facts });
    })();
    logEvent(ws, { event, level: 'error', exportId: it.exportId ?? undefined, errorCode: it.code, message: it.message, path: it.path, kind: it.kind ?? undefined });
    bumpCounter(ws, 'verify_failures_total', { error_code: it.code });
    return;
  }
  recordApplyFailure(ws, db, { path: it.path, kind: it.kind, exportId: it.exportId, generation: it.generation, runId: exp?.runId ?? null, profile: exp?.profile.id ?? null, operator: opts.operator, facts }, { code: it.code, message: it.message }, opts.now?.());
}

/** An import refused as a whole before any bundle was read (imports frozen, no space): still an audit row. */
function recordWholeRefusal(ws: Workspace, db: Db, paths: string[], opts: ImportOptions, err: { code: string; message: string }): void {
  try {
    appendAudit(db, { action: 'mirror.import.refused', subject: paths.length === 1 ? paths[0] : `${paths.length} inputs`, operator: opts.operator, details: { paths, sizes: paths.map(fileSize), errorCode: err.code, message: err.message } });
    logEvent(ws, { event: 'mirror.import.refused', level: 'error', errorCode: err.code, message: err.message });
  } catch {
    /* best effort: a full disk may refuse the row too; the refusal itself is reported */
  }
}

/** Applies one prepared bundle, turning refusals into an item. */
function applyOne(ws: Workspace, db: Db, p: PreparedBundle, it: ImportItem, opts: ImportOptions, keepSeqs: number[] = []): ImportItem {
  try {
    const progress = withBundle(opts);
    const r = applyPrepared(ws, db, p, {
      onStep: progress ? (step, done, total) => progress({ jobId: '', phase: step, bytesDone: done, bytesTotal: total }) : undefined,
      forceReason: opts.forceReason,
      operator: opts.operator,
      hooks: opts.hooks,
      now: opts.now,
      keepSeqs,
      auditDetails: { signedBy: it.verdict?.keys?.signedBy ?? [], keySources: [...new Set(opts.keys.filter((k) => it.verdict?.keys?.signedBy.includes(k.fingerprint)).map((k) => k.source))] },
    });
    return { ...it, outcome: 'applied', code: null, seq: r.seq, stats: r.stats, message: `${p.exp.exportId} (generation ${p.exp.generation}) applied as staging generation ${r.seq}${r.forced ? ' (forced, reason recorded)' : ''}; state ${r.stateDigest}.` };
  } catch (e) {
    rmQuiet(incomingJobDir(ws.layout, p.job));
    if (p.library) rmQuiet(p.library.tmpFile);
    const err = toErrorShape(e);
    const out: ImportItem = { ...it, outcome: 'refused', code: err.code, message: err.message };
    recordFailure(ws, db, out, opts, false, p.exp);
    if (!isOpsError(e)) throw e;
    return out;
  }
}

async function importTrivy(ws: Workspace, db: Db, file: string, shownPath: string, kind: TrivyKind, signature: string | undefined, opts: ImportOptions, expect?: KitEntry): Promise<ImportItem> {
  const job = newJob();
  const jobDir = incomingJobDir(ws.layout, job);
  const extractDir = join(jobDir, 'trivy');
  mkdirSync(jobDir, { recursive: true, mode: 0o700 });
  try {
    // The library copy is teed from the same read that is verified (check-then-use).
    const libTmp = libraryTmpFile(ws, job);
    const v = await verifyTrivyBundle(file, { keys: opts.keys, signature, kind, extractTo: extractDir, copyTo: libTmp, limits: opts.limits, signal: opts.signal, onProgress: withBundle(opts) });
    logTrivyVerdictEvents(ws, v); // adapter.trivy.unsupported_schema_version (spec section 7)
    if (!v.ok || !v.file) {
      rmQuiet(jobDir);
      rmQuiet(libTmp);
      const it = item(shownPath, kind, 'refused', v.code ?? 'ERR_BUNDLE_CORRUPT', v.message, { verdict: v, ...(v.file ? { sha256: v.file.sha256, size: v.file.size } : {}) });
      recordFailure(ws, db, it, opts, true);
      return it;
    }
    const { sha256, size } = v.file;
    if (expect && (expect.sha256 !== sha256 || expect.size !== size)) {
      rmQuiet(jobDir);
      rmQuiet(libTmp);
      const it = item(shownPath, kind, 'refused', 'ERR_VERIFY_DIGEST', `${shownPath} does not match the kit manifest (sha256 ${sha256}; the manifest says ${expect.sha256}). Copy the kit again.`, { verdict: v, sha256, size });
      recordFailure(ws, db, it, opts, true);
      return it;
    }
    const r = installTrivy(ws, db, { path: shownPath, kind, job, extractedDir: extractDir, library: { tmpFile: libTmp, sha256, size, name: basename(file) }, operator: opts.operator }, { hooks: opts.hooks, now: opts.now });
    return item(shownPath, kind, 'installed', null, `Trivy ${kind === 'trivy-db' ? 'DB' : 'Java DB'} installed for Trivy's --cache-dir ${ws.layout.trivy} (${r.dir}).`, { verdict: v });
  } catch (e) {
    rmQuiet(jobDir);
    if (isNoSpace(e)) throw noSpaceError(`installing ${shownPath}`, statSync(file).size * 4, freeBytes(ws.dir), e);
    throw e;
  }
}

function summarise(items: ImportItem[], missing: number[], dryRun: boolean, db: Db, warnings: string[]): ImportResult {
  const failed = items.find((i) => i.outcome === 'refused');
  const code = failed?.code ?? null;
  const cur = currentGeneration(db);
  const applied = items.filter((i) => i.outcome === 'applied').length;
  const skipped = items.filter((i) => i.outcome === 'already-applied').length;
  let message: string;
  if (dryRun) message = `Plan: ${items.filter((i) => i.outcome === 'planned').length} to apply, ${skipped} already applied.${failed ? ` Would stop: ${failed.message}` : ''}`;
  else if (failed) message = `${applied} applied, ${skipped} already applied, then stopped: ${failed.message}${missing.length ? ` Missing generation(s): ${missing.join(', ')}.` : ''}`;
  else message = `${applied} applied, ${skipped} already applied${items.some((i) => i.outcome === 'installed') ? `, ${items.filter((i) => i.outcome === 'installed').length} Trivy database(s) installed` : ''}. Staging is at generation ${cur?.generation ?? 'none'}${cur ? ` (${cur.export_id})` : ''}.`;
  return {
    ok: !failed,
    code,
    message,
    action: code ? runbookAdvice(code)?.action ?? null : null,
    dryRun,
    items,
    missing,
    current: cur ? { seq: cur.seq, exportId: cur.export_id, generation: cur.generation, stateDigest: cur.state_digest } : null,
    warnings,
  };
}

function gapMissing(db: Db, upTo: number): number[] {
  const cur = currentGeneration(db);
  const from = (cur?.generation ?? 0) + 1;
  const out: number[] = [];
  for (let g = from; g < upTo && out.length < 1000; g++) out.push(g);
  return out;
}

/** Plans a kit without reading its bundles (dry run): order, already-applied (by library digest), expected gaps. */
function planKit(db: Db, kit: KitManifest): { items: ImportItem[]; missing: number[] } {
  const items: ImportItem[] = [];
  let gen = currentGeneration(db)?.generation ?? 0;
  let missing: number[] = [];
  let stopped = false;
  for (const e of kit.entries.filter((x) => x.kind.startsWith('mirror-')).sort((a, b) => a.generation! - b.generation!)) {
    const lib = getLibrary(db, e.sha256);
    const shown = join(kit.dir, e.path);
    const base = { exportId: e.exportId ?? null, generation: e.generation ?? null };
    if (lib && lib.export_id === e.exportId && lib.export_json_sha256 && appliedBefore(db, lib.export_id!, lib.export_json_sha256) && e.generation! <= gen) {
      items.push(item(shown, e.kind, 'already-applied', null, `${e.exportId} (generation ${e.generation}) is already applied.`, base));
    } else if (stopped) {
      items.push(item(shown, e.kind, 'not-applied', null, 'Not applied: an earlier entry stops the chain.', base));
    } else if (e.kind === 'mirror-delta' && e.generation !== gen + 1) {
      if (e.generation! <= gen) items.push(item(shown, e.kind, 'refused', 'ERR_IMPORT_NON_MONOTONIC', `${e.exportId} (generation ${e.generation}) is not newer than the current generation ${gen}.`, base));
      else {
        missing = Array.from({ length: e.generation! - gen - 1 }, (_, i) => gen + 1 + i);
        items.push(item(shown, e.kind, 'refused', 'ERR_EXPORT_BASE_MISSING', `${e.exportId} (generation ${e.generation}) would not apply: generation(s) ${missing.join(', ')} are missing.`, base));
        stopped = true;
      }
    } else if (e.kind === 'mirror-full' && e.generation! <= gen) {
      items.push(item(shown, e.kind, 'refused', 'ERR_IMPORT_NON_MONOTONIC', `${e.exportId} (generation ${e.generation}) is not newer than the current generation ${gen}.`, base));
    } else {
      items.push(item(shown, e.kind, 'planned', null, `Would verify and apply ${e.exportId} (generation ${e.generation}).`, base));
      gen = e.generation!;
    }
  }
  for (const e of kit.entries.filter((x) => !x.kind.startsWith('mirror-'))) items.push(item(join(kit.dir, e.path), e.kind, 'planned', null, `Would verify and install the ${e.kind} bundle.`));
  return { items, missing };
}

type ImportOut = { items: ImportItem[]; missing: number[]; warnings: string[] };

/**
 * The kit's manifest read with the keys that count for its tenant (a
 * workspace key pinned for another tenant does not), and checked against the
 * workspace's chain. Returns the kit and those keys, or null after recording
 * the refusal.
 */
function openKit(ws: Workspace, db: Db, dir: string, opts: ImportOptions, out: ImportOut): { kit: KitManifest; opts: ImportOptions } | null {
  let kit: KitManifest;
  try {
    const st = readState(db);
    // Trust is pinned per tenant: a workspace key pinned for another tenant does not count for this kit.
    let claimed: string | undefined;
    try {
      claimed = (JSON.parse(readRegular(join(dir, 'offline-manifest.json'), 16 * 1024 * 1024).toString('utf8')) as { tenant?: unknown }).tenant as string | undefined;
    } catch {
      claimed = undefined; // readKitManifest reports the problem
    }
    const keys = opts.keys.filter((k) => k.source !== 'workspace' || k.tenant === undefined || typeof claimed !== 'string' || k.tenant === claimed);
    kit = readKitManifest(dir, keys);
    opts = { ...opts, keys };
    if (st.chain_tenant && kit.tenant !== st.chain_tenant) {
      throw new OpsError('ERR_EXPORT_BASE_MISSING', `This kit is for tenant "${kit.tenant}", but the workspace holds the chain of tenant "${st.chain_tenant}". A workspace holds one chain.`, { path: dir });
    }
  } catch (e) {
    const err = toErrorShape(e);
    const it = item(dir, null, 'refused', err.code, err.message);
    if (!opts.dryRun) recordFailure(ws, db, it, opts, true);
    out.items.push(it);
    return null;
  }
  return { kit, opts };
}

/** A kit: its mirror entries applied in generation order (stopping at the first break in the chain), then its Trivy entries installed; progress says "bundle k of n". */
async function importKit(ws: Workspace, db: Db, dir: string, optsIn: ImportOptions, out: ImportOut): Promise<void> {
  const opened = openKit(ws, db, dir, optsIn, out);
  if (!opened) return;
  const { kit, opts } = opened;
  out.warnings.push(...kit.warnings);
  if (opts.dryRun) {
    const plan = planKit(db, kit);
    out.items.push(...plan.items);
    out.missing.push(...plan.missing);
    return;
  }
  const mirror = kit.entries.filter((e) => e.kind === 'mirror-full' || e.kind === 'mirror-delta').sort((a, b) => a.generation! - b.generation! || (a.kind === 'mirror-full' ? -1 : 1));
  const trivyEntries = kit.entries.filter((x) => x.kind === 'trivy-db' || x.kind === 'trivy-java-db');
  const count = mirror.length + trivyEntries.length;
  await importKitMirrors(ws, db, kit, dir, mirror, count, opts, out);
  await importKitTrivy(ws, db, kit, dir, trivyEntries, { first: mirror.length + 1, count }, opts, out);
}

/** The kit's mirror entries in generation order (bundles 1..m of `count`): already-applied ones skipped without reading, each verified into incoming and applied; a refusal stops the chain. */
async function importKitMirrors(ws: Workspace, db: Db, kit: KitManifest, dir: string, mirror: KitEntry[], count: number, outer: ImportOptions, out: ImportOut): Promise<void> {
  let stopped = false;
  let index = 0;
  let opts = outer;
  for (const e of mirror) {
    const shown = join(dir, e.path);
    opts = nthBundle(outer, ++index, count, e.path);
    const base = { exportId: e.exportId ?? null, generation: e.generation ?? null };
    if (stopped) {
      out.items.push(item(shown, e.kind, 'not-applied', null, `Not applied: the chain stopped before generation ${e.generation}.`, base));
      continue;
    }
    const cur = currentGeneration(db);
    // Already applied, known without reading: the library holds these exact bytes and that export was applied.
    const lib = getLibrary(db, e.sha256);
    if (cur && e.generation! <= cur.generation && lib && lib.export_json_sha256 && lib.export_id === e.exportId && appliedBefore(db, lib.export_id, lib.export_json_sha256)) {
      out.items.push(item(shown, e.kind, 'already-applied', null, `${e.exportId} (generation ${e.generation}) is already applied.`, base));
      continue;
    }
    let file: string;
    try {
      file = kitEntryFile(kit, e);
    } catch (err) {
      const s = toErrorShape(err);
      const it = item(shown, e.kind, 'refused', s.code, s.message, base);
      recordFailure(ws, db, it, opts, true);
      out.items.push(it);
      stopped = true;
      continue;
    }
    const v = await verifyInto(ws, db, file, shown, opts, e);
    if (!v.prepared) {
      recordFailure(ws, db, v.item, opts, true);
      out.items.push(v.item);
      stopped = true;
      continue;
    }
    const p = v.prepared;
    if (cur && p.exp.generation <= cur.generation && appliedBefore(db, p.exp.exportId, p.exportJsonSha256)) {
      rmQuiet(incomingJobDir(ws.layout, p.job));
      if (p.library) rmQuiet(p.library.tmpFile);
      out.items.push({ ...v.item, outcome: 'already-applied', message: `${p.exp.exportId} (generation ${p.exp.generation}) is already applied.` });
      continue;
    }
    const r = applyOne(ws, db, p, v.item, opts);
    out.items.push(r);
    if (r.outcome === 'refused') {
      if (r.code === 'ERR_EXPORT_BASE_MISSING') out.missing.push(...gapMissing(db, p.exp.generation));
      if (r.code !== 'ERR_IMPORT_NON_MONOTONIC') stopped = true;
    }
  }
}

/** The kit's Trivy entries (bundles first..count), each resolved inside the kit with its signature and installed. */
async function importKitTrivy(ws: Workspace, db: Db, kit: KitManifest, dir: string, trivyEntries: KitEntry[], n: { first: number; count: number }, outer: ImportOptions, out: ImportOut): Promise<void> {
  let index = n.first - 1;
  const count = n.count;
  let opts = outer;
  for (const e of trivyEntries) {
    const shown = join(dir, e.path);
    opts = nthBundle(outer, ++index, count, e.path);
    try {
      const file = kitEntryFile(kit, e);
      // Resolved like the entry itself: inside the kit, no link, a regular file (was joined unchecked).
      const sig = kitSignatureFile(kit, e);
      out.items.push(await importTrivy(ws, db, file, shown, e.kind as TrivyKind, sig, opts, e));
    } catch (err) {
      if (isOpsError(err) && err.code === 'ERR_NO_SPACE') throw err;
      const s = toErrorShape(err);
      const it = item(shown, e.kind, 'refused', s.code, s.message);
      recordFailure(ws, db, it, opts, true);
      out.items.push(it);
    }
  }
}

/**
 * Imports bundles and kits into a workspace. The caller holds the write lock
 * and has run recovery (see importBundles in ./index).
 */
export async function importLocked(ws: Workspace, db: Db, paths: string[], opts: ImportOptions): Promise<ImportResult> {
  const out = { items: [] as ImportItem[], missing: [] as number[], warnings: [] as string[] };
  if (paths.length === 0) throw new OpsError('ERR_USAGE', 'Nothing to import: give one or more bundle files or kit folders.');
  const st = readState(db);
  if (st.imports_frozen && !opts.dryRun) {
    const err = new OpsError('ERR_IMPORTS_FROZEN', `Imports are frozen in this workspace since ${st.frozen_at ?? '?'}${st.frozen_reason ? ` (${st.frozen_reason})` : ''}. Nothing was imported.`);
    recordWholeRefusal(ws, db, paths, opts, err);
    throw err;
  }
  // The last delta's undo folder (trash.ts) is removed on a helper thread while this import verifies.
  const trash = opts.dryRun ? Promise.resolve(null) : emptyTrash(ws.layout);
  try {
    // A delta's small files are written into the spare files the last recycled delta left (spares.ts).
    const spares = opts.dryRun ? undefined : new SparePool(ws.layout);
    return await importChecked(ws, db, paths, { ...opts, trashEmptied: trash, spares }, out);
  } catch (e) {
    if (isOpsError(e) && e.code === 'ERR_NO_SPACE' && !opts.dryRun) recordWholeRefusal(ws, db, paths, opts, e);
    throw e;
  } finally {
    // Spare sets beyond the newest two: dropped now that no bundle of this import can still be in one.
    if (!opts.dryRun) {
      try {
        trimSpares(ws.layout, nodeStagingFs);
      } catch {
        /* the next import trims again */
      }
    }
    const failed = await trash;
    if (failed) logEvent(ws, { event: 'workspace.trash.failed', level: 'warn', path: ws.layout.trash, message: `could not empty ${ws.layout.trash}: ${failed.message} (the next import tries again)` });
    // What this import put there (undo folder, dropped metadata, extraction folders, pruned trees): removed
    // here when small, else by a detached process after it (trash.ts disposeTrash).
    else if (!opts.dryRun) disposeTrash(ws.layout);
  }
}

/** Kits are imported as they come; loose files are returned for verifyLoose. */
async function importInputs(ws: Workspace, db: Db, paths: string[], opts: ImportOptions, out: ImportOut): Promise<string[]> {
  for (const p of paths) {
    if (!existsSync(p)) throw new OpsError('ERR_INPUT_NOT_FOUND', `${p} does not exist: give a bundle file or a kit folder.`, { path: p });
  }
  const loose: string[] = [];
  for (const p of paths) {
    // The operator's path is followed once (it may be a link they chose); inside it, nothing is followed.
    const abs = realpathSync(resolve(p));
    if (statSync(abs).isDirectory()) {
      if (!isKitDir(abs)) throw new OpsError('ERR_USAGE', `${p} is a folder without offline-manifest.json: not an offline kit. Give the kit folder or bundle files.`, { path: p });
      await importKit(ws, db, abs, opts, out);
    } else loose.push(p);
  }
  return loose;
}

/** Loose bundle files (bundle k of n): Trivy bundles installed at once; mirror bundles verified into incoming (one read each), returned in generation order. */
async function verifyLoose(ws: Workspace, db: Db, loose: string[], outer: ImportOptions, out: ImportOut): Promise<Verified[]> {
  const prepared: Verified[] = [];
  for (const [i, p] of loose.entries()) {
    const opts = nthBundle(outer, i + 1, loose.length, p);
    // The operator's path is followed once (it may be a link they chose); inside it, nothing is followed.
    const abs = realpathSync(resolve(p));
    if (/\.bundle$/.test(abs)) {
      const kind = trivyKindOf(abs);
      if (opts.dryRun) {
        out.items.push(item(p, kind, 'planned', null, `Would verify and install the ${kind} bundle.`));
        continue;
      }
      const candidates = [`${abs}.sig`, join(dirname(abs), `${kind}.sig`), join(dirname(dirname(abs)), 'signatures', `${kind}.sig`)];
      const sig = candidates.find((c) => existsSync(c));
      out.items.push(await importTrivy(ws, db, abs, p, kind, sig, opts));
      continue;
    }
    if (opts.dryRun) {
      out.items.push(item(p, null, 'planned', null, 'Would verify this bundle and apply it in generation order with the other inputs.'));
      continue;
    }
    const v = await verifyInto(ws, db, abs, p, opts);
    if (!v.prepared) {
      recordFailure(ws, db, v.item, opts, true);
      out.items.push(v.item);
    } else prepared.push(v);
  }
  prepared.sort((a, b) => a.prepared!.exp.generation - b.prepared!.exp.generation || (isFullLike(a.prepared!.exp) ? -1 : 1));
  return prepared;
}

/** All or nothing (the 7.2 restore): a refused input or a broken chain refuses everything before anything is applied. Returns true when it refused. */
function refuseIncompleteRestore(ws: Workspace, db: Db, prepared: Verified[], opts: ImportOptions, out: ImportOut): boolean {
  const refused = out.items.find((i) => i.outcome === 'refused');
  const broken = refused ? null : chainBreak(prepared);
  if (!refused && !broken) return false;
  if (broken) {
    const it: ImportItem = { ...broken.item.item, outcome: 'refused', code: 'ERR_EXPORT_BASE_MISSING', message: broken.message };
    recordFailure(ws, db, it, opts, false, broken.item.prepared?.exp);
    out.items.push(it);
    if (broken.missing.length) out.missing.push(...broken.missing);
  }
  for (const v of prepared) {
    if (broken && v === broken.item) continue;
    discardPrepared(ws, v.prepared!);
    out.items.push({ ...v.item, outcome: 'not-applied', message: `Not applied: the restore applies nothing unless every bundle of the chain verifies (${(refused ?? broken!.item.item).path} did not).` });
  }
  if (broken) discardPrepared(ws, broken.item.prepared!);
  return true;
}

/** The verified loose bundles applied in generation order (bundle k of n); a gap (or, all or nothing, any refusal) stops the rest. */
function applyInOrder(ws: Workspace, db: Db, prepared: Verified[], before: GenerationRow | null, outer: ImportOptions, out: ImportOut): void {
  let stopped = false;
  for (const [i, v] of prepared.entries()) {
    const p = v.prepared!;
    const opts = nthBundle(outer, i + 1, prepared.length, p.path);
    if (stopped) {
      rmQuiet(incomingJobDir(ws.layout, p.job));
      if (p.library) rmQuiet(p.library.tmpFile);
      out.items.push({ ...v.item, outcome: 'not-applied', message: `Not applied: the chain stopped before generation ${p.exp.generation}.` });
      continue;
    }
    // A restore (all or nothing) keeps the generation it started from until it completes: it returns there if a later bundle fails.
    const r = applyOne(ws, db, p, v.item, opts, before ? [before.seq] : []);
    out.items.push(r);
    if (r.outcome === 'refused' && r.code === 'ERR_EXPORT_BASE_MISSING') {
      out.missing.push(...gapMissing(db, p.exp.generation));
      stopped = true;
    }
    if (r.outcome === 'refused' && opts.allOrNothing) stopped = true;
  }
}

/** All or nothing: part of the chain switched, then an apply failed: staging returns to the generation it held before. */
async function returnToBefore(ws: Workspace, db: Db, before: GenerationRow | null, opts: ImportOptions, out: ImportOut): Promise<void> {
  if (!opts.allOrNothing || !before || !out.items.some((i) => i.outcome === 'refused') || currentGeneration(db)?.seq === before.seq) return;
  try {
    const back = await rollbackLocked(ws, db, { to: before.generation, reason: 'restore did not complete: back to the generation held before it', operator: opts.operator, hooks: opts.hooks, now: opts.now });
    out.warnings.push(`The restore did not complete; staging is back at generation ${back.to.generation} (${back.to.exportId}), as before it.`);
  } catch (e) {
    out.warnings.push(`The restore did not complete and staging could not return to generation ${before.generation}: ${toErrorShape(e).message}`);
  }
}

/** Inputs checked → kits imported → loose bundles verified → (all or nothing: the whole chain checked) → applied in order → (all or nothing: back on failure). */
async function importChecked(ws: Workspace, db: Db, paths: string[], opts: ImportOptions, out: ImportOut): Promise<ImportResult> {
  const loose = await importInputs(ws, db, paths, opts, out);
  const prepared = await verifyLoose(ws, db, loose, opts, out);
  if (opts.allOrNothing && !opts.dryRun && refuseIncompleteRestore(ws, db, prepared, opts, out)) return summarise(out.items, out.missing, false, db, out.warnings);
  const before = opts.allOrNothing ? currentGeneration(db) ?? null : null;
  applyInOrder(ws, db, prepared, before, opts, out);
  await returnToBefore(ws, db, before, opts, out);
  return summarise(out.items, out.missing, !!opts.dryRun, db, out.warnings);
}
