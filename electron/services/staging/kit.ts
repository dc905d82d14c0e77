/** The offline kit manifest (spec section 1): read, check its signature, list entries. */
import { existsSync, lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { OpsError } from '../../../shared/errors';
import { escapeUntrusted } from '../../../shared/escape';
import { bundlePathProblem, compareBytewise, describePathProblem } from '../../../shared/paths';
import { parseStrictJson } from '../../../shared/strict-json';
import { readRegular, resolveInside } from '../safe-fs';
import { decodeUtf8Strict } from '../verify/export-schema';
import type { BundleKind } from '../../../shared/types';
import { verifyDetached, type TrustedKey } from '../verify/keys';

const EntrySchema = z.object({
  path: z.string().min(1),
  kind: z.enum(['mirror-full', 'mirror-delta', 'trivy-db', 'trivy-java-db']),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  size: z.number().int().nonnegative(),
  exportId: z.string().optional(),
  generation: z.number().int().nonnegative().optional(),
  signature: z.string().optional(),
});
const ManifestSchema = z.object({
  kitVersion: z.literal(1),
  tenant: z.string().min(1),
  createdAt: z.string(),
  entries: z.array(EntrySchema),
});

export type KitEntry = z.infer<typeof EntrySchema> & { kind: BundleKind };
export interface KitManifest {
  dir: string;
  tenant: string;
  createdAt: string;
  entries: KitEntry[];
  signedBy: string[];
  tried: string[];
  warnings: string[];
}

export const KIT_MANIFEST = 'offline-manifest.json';
const MANIFEST_CAP = 16 * 1024 * 1024;
const MAX_SIG_FILE = 64 * 1024;

export function isKitDir(dir: string): boolean {
  return existsSync(join(dir, KIT_MANIFEST));
}

function listFiles(root: string, rel = ''): string[] {
  const out: string[] = [];
  for (const d of readdirSync(rel ? join(root, rel) : root, { withFileTypes: true })) {
    const p = rel ? `${rel}/${d.name}` : d.name;
    if (d.isDirectory()) out.push(...listFiles(root, p));
    else out.push(p);
  }
  return out;
}

/**
 * Reads the kit manifest and checks its detached signature with `keys`
 * (trust never comes from the kit). Throws ERR_VERIFY_SIGNATURE / ERR_BUNDLE_CORRUPT.
 */
export function readKitManifest(dir: string, keys: TrustedKey[]): KitManifest {
  const file = join(dir, KIT_MANIFEST);
  // lstat first, regular files only, never blocking on a FIFO (safe-fs.ts), as mirror verify reads them.
  const bytes = readRegular(file, MANIFEST_CAP, { label: KIT_MANIFEST });
  const sigFile = `${file}.sig`;
  if (!existsSync(sigFile) && !isLink(sigFile)) throw new OpsError('ERR_VERIFY_SIGNATURE', `The kit manifest has no signature (${KIT_MANIFEST}.sig is missing): the kit cannot be trusted.`, { path: sigFile });
  const sig = verifyDetached(bytes, readRegular(sigFile, MAX_SIG_FILE, { label: `${KIT_MANIFEST}.sig` }).toString('utf8'), keys);
  if (!sig.ok) {
    throw new OpsError('ERR_VERIFY_SIGNATURE', `The kit manifest signature does not verify with any trusted key (${sig.tried.length} tried). Do not import this kit.`, { path: sigFile, details: { tried: sig.tried } });
  }
  let parsed: z.infer<typeof ManifestSchema>;
  try {
    parsed = ManifestSchema.parse(parseStrictJson(decodeUtf8Strict(bytes)));
  } catch (e) {
    throw new OpsError('ERR_BUNDLE_CORRUPT', `The kit manifest ${file} is not valid: ${(e as Error).message.slice(0, 300)}`, { path: file });
  }
  const seen = new Set<string>();
  for (const e of parsed.entries) {
    const problem = bundlePathProblem(e.path);
    if (problem) throw new OpsError('ERR_BUNDLE_UNSAFE_ENTRY', `The kit manifest lists ${describePathProblem(problem)}: "${escapeUntrusted(e.path)}".`, { path: file });
    if (e.signature !== undefined) {
      const sp = bundlePathProblem(e.signature);
      if (sp) throw new OpsError('ERR_BUNDLE_UNSAFE_ENTRY', `The kit manifest names a signature at ${describePathProblem(sp)}: "${escapeUntrusted(e.signature)}".`, { path: file });
    }
    if (seen.has(e.path)) throw new OpsError('ERR_BUNDLE_CORRUPT', `The kit manifest lists "${e.path}" twice.`, { path: file });
    seen.add(e.path);
    if (e.kind.startsWith('mirror-') && (e.exportId === undefined || e.generation === undefined)) {
      throw new OpsError('ERR_BUNDLE_CORRUPT', `The kit manifest entry "${e.path}" lacks exportId/generation.`, { path: file });
    }
  }
  const warnings: string[] = [];
  for (const p of listFiles(dir)) {
    if (p === KIT_MANIFEST || p === `${KIT_MANIFEST}.sig` || seen.has(p) || p.startsWith('keys/')) continue;
    if (parsed.entries.some((e) => e.signature === p)) continue;
    warnings.push(`${p} is in the kit folder but not in its manifest: ignored.`);
  }
  const entries = [...parsed.entries].sort((a, b) => compareBytewise(a.path, b.path)) as KitEntry[];
  return { dir, tenant: parsed.tenant, createdAt: parsed.createdAt, entries, signedBy: sig.signedBy, tried: sig.tried, warnings };
}

/** The file of a kit entry: the path policy, inside the kit folder, no symbolic link on the way, a regular file. */
export function kitEntryFile(kit: KitManifest, e: KitEntry): string {
  return resolveInside(kit.dir, e.path, 'kit manifest entry');
}

/** The signature file a kit entry names (same rules as the entry itself), or undefined. */
export function kitSignatureFile(kit: KitManifest, e: KitEntry): string | undefined {
  return e.signature === undefined ? undefined : resolveInside(kit.dir, e.signature, 'kit manifest signature path');
}

function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}
