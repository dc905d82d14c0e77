/**
 * Offline kit verification (spec section 1): the kit manifest's signature with
 * the operator's trusted keys (keys/ inside the kit is never trusted), every
 * entry's size and SHA-256 as stored (computed in the same read that verifies
 * the bundle), each entry verified by kind, the delta chain ordered by
 * generation (gaps and duplicates reported), unlisted files ignored with a
 * warning, and a plan of what an import would do.
 */
import { createHash } from 'node:crypto';
import { createReadStream, lstatSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { z } from 'zod';
import { isOpsError, pickReportedCode, runbookAdvice, type ErrorCode } from '../../../shared/errors';
import { escapeUntrusted } from '../../../shared/escape';
import { parseStrictJson } from '../../../shared/strict-json';
import { openRegular, readRegular, resolveInside } from '../safe-fs';
import { decodeUtf8Strict } from './export-schema';
import { compareBytewise, sortBytewise } from '../../../shared/paths';
import type { BundleKind, JobProgress, Verdict } from '../../../shared/types';
import { loadPublicKey, verifyDetached } from './keys';
import { buildVerdict, checkSignerTenant, Report, verifyMirrorBundle, type MirrorBundleResult } from './mirror';
import { verifyTrivyBundle } from './trivy';
import type { VerifyOptions } from './types';
import { nowMs } from '../clock';

export const KIT_MANIFEST = 'offline-manifest.json';
export const KIT_MANIFEST_SIG = 'offline-manifest.json.sig';
const MANIFEST_CAP = 16 * 1024 * 1024;
const MAX_SIG_FILE = 64 * 1024;

const EntrySchema = z.looseObject({
  path: z.string().min(1),
  kind: z.enum(['mirror-full', 'mirror-delta', 'trivy-db', 'trivy-java-db']),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits'),
  size: z.number().int().nonnegative(),
  exportId: z.string().min(1).optional(),
  generation: z.number().int().nonnegative().optional(),
  signature: z.string().min(1).optional(),
});

export const KitManifestSchema = z.looseObject({
  kitVersion: z.literal(1),
  tenant: z.string().min(1),
  createdAt: z.string().min(1),
  entries: z.array(EntrySchema),
});
export type KitManifest = z.infer<typeof KitManifestSchema>;
export type KitManifestEntry = KitManifest['entries'][number];

export interface PlanStep {
  /** Entry path inside the kit. */
  path: string;
  kind: BundleKind;
  action: 'apply-full' | 'apply-delta' | 'install-trivy' | 'refuse';
  exportId: string | null;
  generation: number | null;
  /** Plain-language description of the step. */
  description: string;
}

export type KitVerdict = Verdict & { plan: PlanStep[]; tenant: string | null };

interface MirrorItem {
  entry: KitManifestEntry;
  result: MirrorBundleResult;
}

/** Adds a failed check to a verdict and recomputes its reported code. */
function addFailure(v: Verdict, name: string, code: ErrorCode, messageIn: string, path?: string): void {
  const message = escapeUntrusted(messageIn, 'text');
  v.checks.push({ name, ok: false, detail: message });
  v.failures = [...(v.failures ?? []), path ? { code, message, path } : { code, message }];
  const best = pickReportedCode(v.failures.map((f) => f.code))!;
  const first = v.failures.find((f) => f.code === best)!;
  v.ok = false;
  v.code = best;
  v.message = first.message;
  v.action = runbookAdvice(best)?.action ?? null;
  const withPath = v.failures.find((f) => f.code === best && f.path);
  if (withPath?.path) v.member = escapeUntrusted(withPath.path);
}

async function hashFile(file: string): Promise<{ sha256: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  const { fd } = openRegular(file);
  for await (const c of createReadStream('', { fd, highWaterMark: 4 * 1024 * 1024 }) as AsyncIterable<Buffer>) {
    h.update(c);
    size += c.length;
  }
  return { sha256: h.digest('hex'), size };
}

function listFiles(dir: string, base = dir, out: string[] = []): string[] {
  for (const d of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, d.name);
    if (d.isDirectory()) listFiles(p, base, out);
    else out.push(relative(base, p).split(sep).join('/'));
  }
  return out;
}

/**
 * Resolves a kit-relative path with the same rules as the import
 * (safe-fs.resolveInside: the path policy, confined to the kit folder, no
 * symbolic link on the way, a regular file); returns an error text otherwise.
 */
function kitFile(root: string, rel: string, what = 'kit manifest entry'): { file: string } | { problem: string; unsafe: boolean } {
  try {
    return { file: resolveInside(root, rel, what) };
  } catch (e) {
    if (!isOpsError(e)) throw e;
    const m = e.message.replace(/\.$/, '');
    return { problem: m.charAt(0).toLowerCase() + m.slice(1), unsafe: e.code === 'ERR_BUNDLE_UNSAFE_ENTRY' };
  }
}

/**
 * For the operator only: which key in the kit's keys/ folder (never trusted)
 * made the manifest's signature, so its fingerprint can be compared with the
 * published one. Returns a warning text, or null.
 */
function untrustedSigner(root: string, manifestBytes: Buffer, sig: Buffer): string | null {
  let names: string[];
  try {
    names = readdirSync(join(root, 'keys')).filter((n) => /\.(pub|pem)$/i.test(n)).sort();
  } catch {
    return null;
  }
  for (const n of names.slice(0, 16)) {
    try {
      const file = join(root, 'keys', n);
      if (!lstatSync(file).isFile() || statSync(file).size > 64 * 1024) continue;
      const k = loadPublicKey(readFileSync(file, 'utf8'), 'cli');
      if (verifyDetached(manifestBytes, sig, [k]).ok) {
        return `The kit manifest is signed by keys/${n} (${k.fingerprint}), a key that travels with the kit and is therefore not trusted. If this fingerprint matches the one the Export Center published through a separate channel, pin it (mirror keys add) and verify again.`;
      }
    } catch {
      /* not a usable key: ignore */
    }
  }
  return null;
}

/** What verifyKit gathers while it goes (the verdict is built once, from this, in finishKit). */
interface KitRun {
  dirIn: string;
  root: string;
  started: number;
  report: Report;
  plan: PlanStep[];
  items: Verdict[];
  bytes: number;
  files: number;
  tenant: string | null;
  keysInfo?: { tried: string[]; signedBy: string[] };
}

function finishKit(run: KitRun, latest: { exportId: string | null; generation: number | null } = { exportId: null, generation: null }): KitVerdict {
  const { items } = run;
  const v = buildVerdict({
    report: run.report,
    path: run.dirIn,
    kind: 'kit',
    exportId: latest.exportId,
    generation: latest.generation,
    bytes: run.bytes,
    files: run.files,
    started: run.started,
    okMessage: `The kit verified: ${items.length} entr${items.length === 1 ? 'y' : 'ies'}, signed by a trusted key.`,
    items,
    ...(run.keysInfo ? { keys: run.keysInfo } : {}),
  });
  return { ...v, plan: run.plan, tenant: run.tenant };
}

/** 1. The kit manifest's bytes and its signature (trusted keys only). Returns null when nothing more can be checked. */
function checkKitManifestSignature(run: KitRun, opts: VerifyOptions): Buffer | null {
  const { report, root } = run;
  let manifestBytes: Buffer;
  try {
    // lstat first, regular files only, never blocking on a FIFO (safe-fs.readRegular).
    manifestBytes = readRegular(join(root, KIT_MANIFEST), MANIFEST_CAP, { label: KIT_MANIFEST });
  } catch (e) {
    if (isOpsError(e) && e.code !== 'ERR_INPUT_NOT_FOUND') report.fail('kit manifest', e.code, e.message, KIT_MANIFEST);
    else report.fail('kit manifest', 'ERR_INPUT_NOT_FOUND', `${run.dirIn} has no readable ${KIT_MANIFEST}: it is not an offline kit.`, KIT_MANIFEST);
    return null;
  }
  let sigBytes: Buffer | null = null;
  try {
    sigBytes = readRegular(join(root, KIT_MANIFEST_SIG), MAX_SIG_FILE, { label: KIT_MANIFEST_SIG });
  } catch (e) {
    if (isOpsError(e) && e.code !== 'ERR_INPUT_NOT_FOUND') {
      report.fail('kit manifest signature', e.code, e.message, KIT_MANIFEST_SIG);
      return null;
    }
    sigBytes = null;
  }
  if (!sigBytes) {
    report.fail('kit manifest signature', 'ERR_VERIFY_SIGNATURE', `The kit has no ${KIT_MANIFEST_SIG}: its manifest is not signed.`, KIT_MANIFEST_SIG);
    return manifestBytes;
  }
  const r = verifyDetached(manifestBytes, sigBytes, opts.keys);
  run.keysInfo = { tried: r.tried, signedBy: r.signedBy };
  if (!r.ok) {
    const hint = untrustedSigner(root, manifestBytes, sigBytes);
    if (hint) report.warnings.push(hint);
  }
  if (r.ok) report.ok('kit manifest signature', `signed by ${r.signedBy.join(', ')}`);
  else if (!opts.keys.length) report.fail('kit manifest signature', 'ERR_VERIFY_SIGNATURE', 'No trusted key was given, so the kit manifest\'s signature cannot be checked. Pin the Export Center\'s key for this tenant, or pass --key. (Keys inside the kit are never trusted.)', KIT_MANIFEST_SIG);
  else report.fail('kit manifest signature', 'ERR_VERIFY_SIGNATURE', `The kit manifest was not signed by any trusted key (tried ${r.tried.join(', ')}).${r.note ? ` ${r.note}` : ''} Keys inside the kit's keys/ folder are never trusted.`, KIT_MANIFEST_SIG);
  return manifestBytes;
}

/** The manifest's schema (strict signed JSON), its signer's tenant, and entries sorted by path. Null when it breaks its schema. */
function checkKitManifestSchema(run: KitRun, manifestBytes: Buffer, opts: VerifyOptions): KitManifest | null {
  const { report } = run;
  let manifest: KitManifest;
  try {
    // Signed JSON, read strictly: UTF-8, no duplicate keys (shared/strict-json.ts).
    const json: unknown = parseStrictJson(decodeUtf8Strict(manifestBytes));
    const r = KitManifestSchema.safeParse(json);
    if (!r.success) {
      const i = r.error.issues[0];
      throw new Error(`${i.path.length ? `"${i.path.join('.')}" ` : ''}${i.message}`);
    }
    manifest = r.data;
  } catch (e) {
    report.fail('kit manifest schema', 'ERR_BUNDLE_CORRUPT', `${KIT_MANIFEST} breaks its schema: ${(e as Error).message}.`, KIT_MANIFEST);
    return null;
  }
  run.tenant = manifest.tenant;
  checkSignerTenant(report, opts.keys, run.keysInfo?.signedBy ?? [], manifest.tenant, 'The kit');
  for (let i = 1; i < manifest.entries.length; i++) {
    if (compareBytewise(manifest.entries[i - 1].path, manifest.entries[i].path) >= 0) {
      report.fail('kit manifest schema', 'ERR_BUNDLE_CORRUPT', `${KIT_MANIFEST} entries are not sorted by path, or repeat one ("${manifest.entries[i - 1].path}" before "${manifest.entries[i].path}").`, KIT_MANIFEST);
      return manifest;
    }
  }
  report.ok('kit manifest schema', `kitVersion 1, tenant ${manifest.tenant}, ${manifest.entries.length} entries`);
  return manifest;
}

/** A mirror entry: its bundle verified, and the manifest's claims (id, generation, variant, tenant) matched against the signed export.json. */
async function verifyMirrorEntry(entry: KitManifestEntry, file: string, manifest: KitManifest, entryOpts: VerifyOptions): Promise<MirrorItem> {
  const result = await verifyMirrorBundle(file, entryOpts);
  const item = result.verdict;
  const exp = result.exportJson;
  if (exp && item.code !== 'ERR_CANCELLED') {
    const name = 'kit entry matches export.json';
    if (entry.exportId !== exp.exportId || entry.generation !== exp.generation) {
      addFailure(item, name, 'ERR_BUNDLE_CORRUPT', `The kit manifest says ${entry.path} is ${entry.exportId ?? '(no exportId)'} generation ${entry.generation ?? '(none)'}, but its signed export.json says ${exp.exportId} generation ${exp.generation}.`, entry.path);
    } else if ((entry.kind === 'mirror-delta') !== (exp.profile.variant === 'delta')) {
      addFailure(item, name, 'ERR_BUNDLE_CORRUPT', `The kit manifest says ${entry.path} is a ${entry.kind}, but its export.json says variant "${exp.profile.variant}".`, entry.path);
    } else if (exp.tenant !== manifest.tenant) {
      addFailure(item, name, 'ERR_BUNDLE_CORRUPT', `${entry.path} belongs to tenant "${exp.tenant}", but the kit is for tenant "${manifest.tenant}".`, entry.path);
    } else {
      item.checks.push({ name, ok: true, detail: `${exp.exportId} generation ${exp.generation}` });
    }
  }
  return { entry, result };
}

/** A Trivy entry: verified with its signature from the manifest and only the keys trusted for the kit's tenant. */
async function verifyTrivyEntry(root: string, entry: KitManifestEntry, file: string, manifest: KitManifest, entryOpts: VerifyOptions, opts: VerifyOptions): Promise<Verdict> {
  const sig = entry.signature ? kitFile(root, entry.signature, 'kit manifest signature path') : null;
  // Trivy bundles carry no tenant: only keys trusted for the kit's tenant (or for no tenant in particular) count.
  const trivyOpts = { ...entryOpts, kind: entry.kind as 'trivy-db' | 'trivy-java-db', keys: opts.keys.filter((k) => k.tenant === undefined || k.tenant === manifest.tenant) };
  if (sig && 'file' in sig) Object.assign(trivyOpts, { signature: sig.file });
  const item = await verifyTrivyBundle(file, trivyOpts);
  if (sig && 'problem' in sig) addFailure(item, 'Trivy signature file', sig.unsafe ? 'ERR_BUNDLE_UNSAFE_ENTRY' : 'ERR_VERIFY_SIGNATURE', `The Trivy bundle's signature: ${sig.problem}.`, entry.signature);
  if (!entry.signature) addFailure(item, 'Trivy signature file', 'ERR_VERIFY_SIGNATURE', `The kit manifest names no signature for ${entry.path}.`, entry.path);
  return item;
}

/** The entry's bytes as stored against the manifest's size and SHA-256. */
function checkEntryDigest(item: Verdict, entry: KitManifestEntry, raw: { sha256: string; size: number }): void {
  const name = 'kit entry size and digest';
  if (raw.size !== entry.size) addFailure(item, name, 'ERR_VERIFY_DIGEST', `${entry.path} is ${raw.size} bytes, but the kit manifest says ${entry.size}.`, entry.path);
  else if (raw.sha256 && raw.sha256 !== entry.sha256) addFailure(item, name, 'ERR_VERIFY_DIGEST', `${entry.path} does not match its SHA-256 in the kit manifest: it was altered or copied incompletely.`, entry.path);
  else if (raw.sha256) item.checks.push({ name, ok: true, detail: `${raw.size} bytes, sha256 ${raw.sha256}` });
}

/** 2. Every entry, read once: size and digest as stored, and verification by kind. Null when cancelled. */
async function verifyKitEntries(run: KitRun, manifest: KitManifest, opts: VerifyOptions): Promise<{ mirrors: MirrorItem[]; trivies: Verdict[]; listed: Set<string> } | null> {
  const { report, root, plan } = run;
  const totalBytes = manifest.entries.reduce((a, e) => a + e.size, 0);
  let doneBytes = 0;
  const mirrors: MirrorItem[] = [];
  const trivies: Verdict[] = [];
  const listed = new Set<string>([KIT_MANIFEST, KIT_MANIFEST_SIG]);
  const cancelled = (): null => {
    report.fail('kit', 'ERR_CANCELLED', 'Verification was cancelled. Nothing was changed.');
    return null;
  };
  for (const entry of manifest.entries) {
    listed.add(entry.path);
    if (entry.signature) listed.add(entry.signature);
    const offset = doneBytes;
    const entryOpts: VerifyOptions = {
      ...opts,
      ...(opts.onProgress ? { onProgress: (p: JobProgress) => opts.onProgress!({ ...p, phase: `verify ${entry.path}`, bytesDone: offset + p.bytesDone, bytesTotal: totalBytes }) } : {}),
    };
    delete entryOpts.signature;
    const where = kitFile(root, entry.path);
    if ('problem' in where) {
      const code: ErrorCode = where.unsafe ? 'ERR_BUNDLE_UNSAFE_ENTRY' : 'ERR_VERIFY_MISSING_FILE';
      report.fail(`entry ${entry.path}`, code, `${where.problem[0].toUpperCase()}${where.problem.slice(1)}.`, entry.path);
      plan.push({ path: entry.path, kind: entry.kind, action: 'refuse', exportId: entry.exportId ?? null, generation: entry.generation ?? null, description: `refuse ${entry.path}: ${where.problem}` });
      continue;
    }
    if (opts.signal?.aborted) return cancelled();
    let item: Verdict;
    let raw: { sha256: string; size: number };
    if (entry.kind === 'mirror-full' || entry.kind === 'mirror-delta') {
      const m = await verifyMirrorEntry(entry, where.file, manifest, entryOpts);
      item = m.result.verdict;
      if (item.code === 'ERR_CANCELLED') return cancelled();
      raw = { sha256: m.result.rawSha256, size: m.result.rawSize };
      mirrors.push(m);
    } else {
      item = await verifyTrivyEntry(root, entry, where.file, manifest, entryOpts, opts);
      if (item.code === 'ERR_CANCELLED') return cancelled();
      // The Trivy reader reports the file's SHA-256 computed during its one read; a stream it could not finish is hashed here.
      raw = item.file ?? (await hashFile(where.file));
      trivies.push(item);
    }
    doneBytes += entry.size;
    run.bytes += raw.size;
    run.files += item.stats.files;
    checkEntryDigest(item, entry, raw);
  }
  return { mirrors, trivies, listed };
}

/** One mirror entry against the one before it in generation order: same chain, no repeat, a delta on exactly its predecessor. Returns false when broken. */
function checkChainLink(m: MirrorItem, prev: MirrorItem | null, isDelta: boolean): boolean {
  const exp = m.result.exportJson;
  const v = m.result.verdict;
  const p = prev?.result.exportJson;
  if (!exp || !p) return true;
  const chainP = `${p.tenant}/${p.profile.id}`;
  const chainC = `${exp.tenant}/${exp.profile.id}`;
  const broken = (code: ErrorCode, message: string): false => {
    addFailure(v, 'delta chain', code, message, m.entry.path);
    return false;
  };
  if (chainP !== chainC) return broken('ERR_EXPORT_BASE_MISSING', `${m.entry.path} belongs to the chain ${chainC}, but the kit's earlier bundles belong to ${chainP}; a workspace holds one chain.`);
  if (exp.generation === p.generation) return broken('ERR_IMPORT_NON_MONOTONIC', `Generation ${exp.generation} appears twice in the kit (${prev!.entry.path} and ${m.entry.path}).`);
  if (!isDelta) return true;
  const baseDigest = prev!.result.exportJsonSha256 ? `sha256:${prev!.result.exportJsonSha256}` : null;
  if (exp.generation !== p.generation + 1) return broken('ERR_EXPORT_BASE_MISSING', `The kit has a gap: ${m.entry.path} is generation ${exp.generation}, but the previous bundle in the kit is generation ${p.generation}; generation ${p.generation + 1} is missing.`);
  if (!exp.base || exp.base.exportId !== p.exportId || exp.base.generation !== p.generation || exp.base.manifestDigest !== baseDigest) {
    return broken('ERR_EXPORT_BASE_MISSING', `${m.entry.path} is a delta on ${exp.base ? `${exp.base.exportId} (generation ${exp.base.generation})` : 'no base'}, which is not the kit's ${p.exportId} (generation ${p.generation}) with the same export.json.`);
  }
  v.checks.push({ name: 'delta chain', ok: true, detail: `applies on ${p.exportId} (generation ${p.generation})` });
  return true;
}

/** The plan's line for a mirror entry. */
function mirrorPlanStep(m: MirrorItem, prev: MirrorItem | null, isDelta: boolean): PlanStep {
  const exp = m.result.exportJson;
  const v = m.result.verdict;
  const gen = exp?.generation ?? m.entry.generation ?? null;
  const id = exp?.exportId ?? m.entry.exportId ?? null;
  const action: PlanStep['action'] = !v.ok ? 'refuse' : isDelta ? 'apply-delta' : 'apply-full';
  const description =
    action === 'refuse'
      ? `refuse ${m.entry.path} (${v.code}): ${v.message}`
      : action === 'apply-full'
        ? `apply ${id} (generation ${gen}, ${exp?.resetBaseline ? 'delta with resetBaseline' : 'full'}): replaces the staging tree with its ${exp?.files.length ?? 0} files`
        : prev
          ? `apply delta ${id} (generation ${gen}) on top of ${prev.result.exportJson?.exportId ?? '?'}: ${exp?.files.length ?? 0} added or changed, ${exp?.removed.length ?? 0} removed`
          : `apply delta ${id} (generation ${gen}): needs ${exp?.base?.exportId ?? '?'} (generation ${exp?.base?.generation ?? '?'}) to be the workspace's current export; ${exp?.files.length ?? 0} added or changed, ${exp?.removed.length ?? 0} removed`;
  return { path: m.entry.path, kind: m.entry.kind as BundleKind, action, exportId: id, generation: gen, description };
}

/** 3. Application order: mirror entries by generation (never by name or date), the chain checked link by link, then Trivy. Returns the latest export. */
function orderKit(run: KitRun, mirrors: MirrorItem[], trivies: Verdict[]): { exportId: string | null; generation: number | null } {
  const { report, root, plan, items } = run;
  mirrors.sort((a, b) => (a.result.exportJson?.generation ?? a.entry.generation ?? 0) - (b.result.exportJson?.generation ?? b.entry.generation ?? 0));
  let prev: MirrorItem | null = null;
  let latest = { exportId: null as string | null, generation: null as number | null };
  let chainOk = true;
  for (const m of mirrors) {
    const exp = m.result.exportJson;
    items.push(m.result.verdict);
    const isDelta = exp ? exp.profile.variant === 'delta' && !exp.resetBaseline : m.entry.kind === 'mirror-delta';
    if (!checkChainLink(m, prev, isDelta)) chainOk = false;
    plan.push(mirrorPlanStep(m, prev, isDelta));
    if (exp) latest = { exportId: exp.exportId, generation: exp.generation };
    prev = m;
  }
  if (mirrors.length) {
    if (chainOk) report.ok('delta chain', `application order by generation: ${mirrors.map((m) => m.result.exportJson?.generation ?? '?').join(' → ')}`);
    else report.ok('delta chain', 'checked (see the entries)');
  }
  trivies.sort((a, b) => (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0));
  for (const t of trivies) {
    items.push(t);
    plan.push({ path: relative(root, t.path).split(sep).join('/'), kind: t.kind as BundleKind, action: t.ok ? 'install-trivy' : 'refuse', exportId: null, generation: null, description: t.ok ? `install the ${t.kind === 'trivy-java-db' ? 'Trivy Java DB' : 'Trivy DB'} from ${relative(root, t.path)}` : `refuse ${relative(root, t.path)} (${t.code}): ${t.message}` });
  }
  return latest;
}

/** Items' failures make the kit's verdict (each with the entry's path). */
function foldItems(run: KitRun): void {
  const { report, root } = run;
  for (const it of run.items) {
    const entryPath = relative(root, it.path).split(sep).join('/');
    for (const f of it.failures ?? []) report.failures.push({ code: f.code, message: `${entryPath}: ${f.message}`, path: f.path && f.path !== entryPath ? `${entryPath}:${f.path}` : entryPath });
    if (!it.ok) report.checks.push({ name: `entry ${entryPath}`, ok: false, detail: `${it.code}: ${it.message}` });
    else report.checks.push({ name: `entry ${entryPath}`, ok: true, detail: it.kind + (it.exportId ? ` ${it.exportId} generation ${it.generation}` : '') });
    for (const w of it.warnings) report.warnings.push(`${entryPath}: ${w}`);
  }
}

/** 4. Files the manifest does not list: ignored, with a warning (keys/ is informational only). */
function warnUnlisted(run: KitRun, listed: Set<string>): void {
  let unlisted: string[] = [];
  try {
    unlisted = sortBytewise(listFiles(run.root).filter((p) => !listed.has(p)));
  } catch {
    unlisted = [];
  }
  const keyFiles = unlisted.filter((p) => p.startsWith('keys/'));
  if (keyFiles.length) run.report.warnings.push(`${keyFiles.join(', ')}: keys inside the kit are informational only and were not trusted.`);
  for (const p of unlisted.filter((x) => !x.startsWith('keys/'))) run.report.warnings.push(`${p} is not listed in the kit manifest and was ignored.`);
}

/**
 * Verifies a kit folder: manifest signature → manifest schema → every entry →
 * application order and chain → items folded in → unlisted files. Never
 * throws for a bad kit: the verdict says what is wrong.
 */
export async function verifyKit(dirIn: string, opts: VerifyOptions): Promise<KitVerdict> {
  const run: KitRun = { dirIn, root: resolve(dirIn), started: nowMs(), report: new Report(), plan: [], items: [], bytes: 0, files: 0, tenant: null };
  const manifestBytes = checkKitManifestSignature(run, opts);
  if (!manifestBytes) return finishKit(run);
  const manifest = checkKitManifestSchema(run, manifestBytes, opts);
  if (!manifest) return finishKit(run);
  const entries = await verifyKitEntries(run, manifest, opts);
  if (!entries) return finishKit(run);
  const latest = orderKit(run, entries.mirrors, entries.trivies);
  foldItems(run);
  warnUnlisted(run, entries.listed);
  return finishKit(run, latest);
}
