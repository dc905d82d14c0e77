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
import { compareBytewise } from '../../../shared/paths';
import type { BundleKind, JobProgress, Verdict } from '../../../shared/types';
import { loadPublicKey, verifyDetached } from './keys';
import { buildVerdict, checkSignerTenant, Report, verifyMirrorBundle, type MirrorBundleResult } from './mirror';
import { verifyTrivyBundle } from './trivy';
import type { VerifyOptions } from './types';

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

/** Verifies a kit folder. Never throws for a bad kit: the verdict says what is wrong. */
export async function verifyKit(dirIn: string, opts: VerifyOptions): Promise<KitVerdict> {
  const started = performance.now();
  const root = resolve(dirIn);
  const report = new Report();
  const plan: PlanStep[] = [];
  const items: Verdict[] = [];
  let bytes = 0;
  let files = 0;
  let tenant: string | null = null;
  let keysInfo: { tried: string[]; signedBy: string[] } | undefined;

  const finish = (latest: { exportId: string | null; generation: number | null } = { exportId: null, generation: null }): KitVerdict => {
    const v = buildVerdict({
      report,
      path: dirIn,
      kind: 'kit',
      exportId: latest.exportId,
      generation: latest.generation,
      bytes,
      files,
      started,
      okMessage: `The kit verified: ${items.length} entr${items.length === 1 ? 'y' : 'ies'}, signed by a trusted key.`,
      items,
      ...(keysInfo ? { keys: keysInfo } : {}),
    });
    return { ...v, plan, tenant };
  };

  // 1. The kit manifest and its signature.
  let manifestBytes: Buffer;
  try {
    // lstat first, regular files only, never blocking on a FIFO (safe-fs.readRegular).
    manifestBytes = readRegular(join(root, KIT_MANIFEST), MANIFEST_CAP, { label: KIT_MANIFEST });
  } catch (e) {
    if (isOpsError(e) && e.code !== 'ERR_INPUT_NOT_FOUND') {
      report.fail('kit manifest', e.code, e.message, KIT_MANIFEST);
    } else {
      report.fail('kit manifest', 'ERR_INPUT_NOT_FOUND', `${dirIn} has no readable ${KIT_MANIFEST}: it is not an offline kit.`, KIT_MANIFEST);
    }
    return finish();
  }
  let sigBytes: Buffer | null = null;
  try {
    sigBytes = readRegular(join(root, KIT_MANIFEST_SIG), MAX_SIG_FILE, { label: KIT_MANIFEST_SIG });
  } catch (e) {
    if (isOpsError(e) && e.code !== 'ERR_INPUT_NOT_FOUND') {
      report.fail('kit manifest signature', e.code, e.message, KIT_MANIFEST_SIG);
      return finish();
    }
    sigBytes = null;
  }
  if (!sigBytes) {
    report.fail('kit manifest signature', 'ERR_VERIFY_SIGNATURE', `The kit has no ${KIT_MANIFEST_SIG}: its manifest is not signed.`, KIT_MANIFEST_SIG);
  } else {
    const r = verifyDetached(manifestBytes, sigBytes, opts.keys);
    keysInfo = { tried: r.tried, signedBy: r.signedBy };
    if (!r.ok) {
      const hint = untrustedSigner(root, manifestBytes, sigBytes);
      if (hint) report.warnings.push(hint);
    }
    if (r.ok) report.ok('kit manifest signature', `signed by ${r.signedBy.join(', ')}`);
    else if (!opts.keys.length) report.fail('kit manifest signature', 'ERR_VERIFY_SIGNATURE', 'No trusted key was given, so the kit manifest\'s signature cannot be checked. Pin the Export Center\'s key for this tenant, or pass --key. (Keys inside the kit are never trusted.)', KIT_MANIFEST_SIG);
    else report.fail('kit manifest signature', 'ERR_VERIFY_SIGNATURE', `The kit manifest was not signed by any trusted key (tried ${r.tried.join(', ')}).${r.note ? ` ${r.note}` : ''} Keys inside the kit's keys/ folder are never trusted.`, KIT_MANIFEST_SIG);
  }

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
    return finish();
  }
  tenant = manifest.tenant;
  checkSignerTenant(report, opts.keys, keysInfo?.signedBy ?? [], manifest.tenant, 'The kit');
  let sorted = true;
  for (let i = 1; i < manifest.entries.length; i++) {
    if (compareBytewise(manifest.entries[i - 1].path, manifest.entries[i].path) >= 0) {
      sorted = false;
      report.fail('kit manifest schema', 'ERR_BUNDLE_CORRUPT', `${KIT_MANIFEST} entries are not sorted by path, or repeat one ("${manifest.entries[i - 1].path}" before "${manifest.entries[i].path}").`, KIT_MANIFEST);
      break;
    }
  }
  if (sorted) report.ok('kit manifest schema', `kitVersion 1, tenant ${manifest.tenant}, ${manifest.entries.length} entries`);

  // 2. Every entry, read once: size and digest as stored, and verification by kind.
  const totalBytes = manifest.entries.reduce((a, e) => a + e.size, 0);
  let doneBytes = 0;
  const mirrors: MirrorItem[] = [];
  const trivies: Verdict[] = [];
  const listed = new Set<string>([KIT_MANIFEST, KIT_MANIFEST_SIG]);
  for (const entry of manifest.entries) {
    listed.add(entry.path);
    if (entry.signature) listed.add(entry.signature);
    const offset = doneBytes;
    const entryOpts: VerifyOptions = {
      ...opts,
      ...(opts.onProgress
        ? { onProgress: (p: JobProgress) => opts.onProgress!({ ...p, phase: `verify ${entry.path}`, bytesDone: offset + p.bytesDone, bytesTotal: totalBytes }) }
        : {}),
    };
    delete entryOpts.signature;
    const where = kitFile(root, entry.path);
    if ('problem' in where) {
      const code: ErrorCode = where.unsafe ? 'ERR_BUNDLE_UNSAFE_ENTRY' : 'ERR_VERIFY_MISSING_FILE';
      report.fail(`entry ${entry.path}`, code, `${where.problem[0].toUpperCase()}${where.problem.slice(1)}.`, entry.path);
      plan.push({ path: entry.path, kind: entry.kind, action: 'refuse', exportId: entry.exportId ?? null, generation: entry.generation ?? null, description: `refuse ${entry.path}: ${where.problem}` });
      continue;
    }
    if (opts.signal?.aborted) {
      report.fail('kit', 'ERR_CANCELLED', 'Verification was cancelled. Nothing was changed.');
      return finish();
    }
    let item: Verdict;
    let raw: { sha256: string; size: number };
    if (entry.kind === 'mirror-full' || entry.kind === 'mirror-delta') {
      const result = await verifyMirrorBundle(where.file, entryOpts);
      item = result.verdict;
      raw = { sha256: result.rawSha256, size: result.rawSize };
      if (item.code === 'ERR_CANCELLED') {
        report.fail('kit', 'ERR_CANCELLED', 'Verification was cancelled. Nothing was changed.');
        return finish();
      }
      const exp = result.exportJson;
      if (exp) {
        if (entry.exportId !== exp.exportId || entry.generation !== exp.generation) {
          addFailure(item, 'kit entry matches export.json', 'ERR_BUNDLE_CORRUPT', `The kit manifest says ${entry.path} is ${entry.exportId ?? '(no exportId)'} generation ${entry.generation ?? '(none)'}, but its signed export.json says ${exp.exportId} generation ${exp.generation}.`, entry.path);
        } else if ((entry.kind === 'mirror-delta') !== (exp.profile.variant === 'delta')) {
          addFailure(item, 'kit entry matches export.json', 'ERR_BUNDLE_CORRUPT', `The kit manifest says ${entry.path} is a ${entry.kind}, but its export.json says variant "${exp.profile.variant}".`, entry.path);
        } else if (exp.tenant !== manifest.tenant) {
          addFailure(item, 'kit entry matches export.json', 'ERR_BUNDLE_CORRUPT', `${entry.path} belongs to tenant "${exp.tenant}", but the kit is for tenant "${manifest.tenant}".`, entry.path);
        } else {
          item.checks.push({ name: 'kit entry matches export.json', ok: true, detail: `${exp.exportId} generation ${exp.generation}` });
        }
      }
      mirrors.push({ entry, result });
    } else {
      const sig = entry.signature ? kitFile(root, entry.signature, 'kit manifest signature path') : null;
      // Trivy bundles carry no tenant: only keys trusted for the kit's tenant (or for no tenant in particular) count.
      const trivyOpts = { ...entryOpts, kind: entry.kind, keys: opts.keys.filter((k) => k.tenant === undefined || k.tenant === manifest.tenant) };
      if (sig && 'file' in sig) Object.assign(trivyOpts, { signature: sig.file });
      item = await verifyTrivyBundle(where.file, trivyOpts);
      if (sig && 'problem' in sig) addFailure(item, 'Trivy signature file', sig.unsafe ? 'ERR_BUNDLE_UNSAFE_ENTRY' : 'ERR_VERIFY_SIGNATURE', `The Trivy bundle's signature: ${sig.problem}.`, entry.signature);
      if (!entry.signature) addFailure(item, 'Trivy signature file', 'ERR_VERIFY_SIGNATURE', `The kit manifest names no signature for ${entry.path}.`, entry.path);
      if (item.code === 'ERR_CANCELLED') {
        report.fail('kit', 'ERR_CANCELLED', 'Verification was cancelled. Nothing was changed.');
        return finish();
      }
      // The Trivy reader reports the file's SHA-256 computed during its one read; a stream it could not finish is hashed here.
      raw = item.file ?? (await hashFile(where.file));
      trivies.push(item);
    }
    doneBytes += entry.size;
    bytes += raw.size;
    files += item.stats.files;
    if (raw.size !== entry.size) {
      addFailure(item, 'kit entry size and digest', 'ERR_VERIFY_DIGEST', `${entry.path} is ${raw.size} bytes, but the kit manifest says ${entry.size}.`, entry.path);
    } else if (raw.sha256 && raw.sha256 !== entry.sha256) {
      addFailure(item, 'kit entry size and digest', 'ERR_VERIFY_DIGEST', `${entry.path} does not match its SHA-256 in the kit manifest: it was altered or copied incompletely.`, entry.path);
    } else if (raw.sha256) {
      item.checks.push({ name: 'kit entry size and digest', ok: true, detail: `${raw.size} bytes, sha256 ${raw.sha256}` });
    }
  }

  // 3. Application order: mirror entries by generation (never by name or date), then Trivy.
  mirrors.sort((a, b) => (a.result.exportJson?.generation ?? a.entry.generation ?? 0) - (b.result.exportJson?.generation ?? b.entry.generation ?? 0));
  let prev: MirrorItem | null = null;
  let latest = { exportId: null as string | null, generation: null as number | null };
  let chainOk = true;
  for (const m of mirrors) {
    const exp = m.result.exportJson;
    const v = m.result.verdict;
    items.push(v);
    const gen = exp?.generation ?? m.entry.generation ?? null;
    const id = exp?.exportId ?? m.entry.exportId ?? null;
    const isDelta = exp ? exp.profile.variant === 'delta' && !exp.resetBaseline : m.entry.kind === 'mirror-delta';
    if (exp && prev?.result.exportJson) {
      const p = prev.result.exportJson;
      const chainP = `${p.tenant}/${p.profile.id}`;
      const chainC = `${exp.tenant}/${exp.profile.id}`;
      if (chainP !== chainC) {
        chainOk = false;
        addFailure(v, 'delta chain', 'ERR_EXPORT_BASE_MISSING', `${m.entry.path} belongs to the chain ${chainC}, but the kit's earlier bundles belong to ${chainP}; a workspace holds one chain.`, m.entry.path);
      } else if (exp.generation === p.generation) {
        chainOk = false;
        addFailure(v, 'delta chain', 'ERR_IMPORT_NON_MONOTONIC', `Generation ${exp.generation} appears twice in the kit (${prev.entry.path} and ${m.entry.path}).`, m.entry.path);
      } else if (isDelta) {
        const baseDigest = prev.result.exportJsonSha256 ? `sha256:${prev.result.exportJsonSha256}` : null;
        if (exp.generation !== p.generation + 1) {
          chainOk = false;
          addFailure(v, 'delta chain', 'ERR_EXPORT_BASE_MISSING', `The kit has a gap: ${m.entry.path} is generation ${exp.generation}, but the previous bundle in the kit is generation ${p.generation}; generation ${p.generation + 1} is missing.`, m.entry.path);
        } else if (!exp.base || exp.base.exportId !== p.exportId || exp.base.generation !== p.generation || exp.base.manifestDigest !== baseDigest) {
          chainOk = false;
          addFailure(v, 'delta chain', 'ERR_EXPORT_BASE_MISSING', `${m.entry.path} is a delta on ${exp.base ? `${exp.base.exportId} (generation ${exp.base.generation})` : 'no base'}, which is not the kit's ${p.exportId} (generation ${p.generation}) with the same export.json.`, m.entry.path);
        } else {
          v.checks.push({ name: 'delta chain', ok: true, detail: `applies on ${p.exportId} (generation ${p.generation})` });
        }
      }
    }
    const action: PlanStep['action'] = !v.ok ? 'refuse' : isDelta ? 'apply-delta' : 'apply-full';
    const description =
      action === 'refuse'
        ? `refuse ${m.entry.path} (${v.code}): ${v.message}`
        : action === 'apply-full'
          ? `apply ${id} (generation ${gen}, ${exp?.resetBaseline ? 'delta with resetBaseline' : 'full'}): replaces the staging tree with its ${exp?.files.length ?? 0} files`
          : prev
            ? `apply delta ${id} (generation ${gen}) on top of ${prev.result.exportJson?.exportId ?? '?'}: ${exp?.files.length ?? 0} added or changed, ${exp?.removed.length ?? 0} removed`
            : `apply delta ${id} (generation ${gen}): needs ${exp?.base?.exportId ?? '?'} (generation ${exp?.base?.generation ?? '?'}) to be the workspace's current export; ${exp?.files.length ?? 0} added or changed, ${exp?.removed.length ?? 0} removed`;
    plan.push({ path: m.entry.path, kind: m.entry.kind as BundleKind, action, exportId: id, generation: gen, description });
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
  // Items' failures make the kit's verdict (each with the entry's path).
  for (const it of items) {
    const entryPath = relative(root, it.path).split(sep).join('/');
    for (const f of it.failures ?? []) report.failures.push({ code: f.code, message: `${entryPath}: ${f.message}`, path: f.path && f.path !== entryPath ? `${entryPath}:${f.path}` : entryPath });
    if (!it.ok) report.checks.push({ name: `entry ${entryPath}`, ok: false, detail: `${it.code}: ${it.message}` });
    else report.checks.push({ name: `entry ${entryPath}`, ok: true, detail: it.kind + (it.exportId ? ` ${it.exportId} generation ${it.generation}` : '') });
    for (const w of it.warnings) report.warnings.push(`${entryPath}: ${w}`);
  }

  // 4. Files the manifest does not list: ignored, with a warning (keys/ is informational only).
  let unlisted: string[] = [];
  try {
    unlisted = listFiles(root).filter((p) => !listed.has(p)).sort(compareBytewise);
  } catch {
    unlisted = [];
  }
  const keyFiles = unlisted.filter((p) => p.startsWith('keys/'));
  if (keyFiles.length) report.warnings.push(`${keyFiles.join(', ')}: keys inside the kit are informational only and were not trusted.`);
  for (const p of unlisted.filter((x) => !x.startsWith('keys/'))) report.warnings.push(`${p} is not listed in the kit manifest and was ignored.`);

  return finish(latest);
}
