/** The offline kit manifest (spec section 1): read, check its signature, list entries. */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { z } from 'zod';
import { OpsError } from '../../../shared/errors';
import { bundlePathProblem, compareBytewise } from '../../../shared/paths';
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
  const bytes = readFileSync(file);
  const sigFile = `${file}.sig`;
  if (!existsSync(sigFile)) throw new OpsError('ERR_VERIFY_SIGNATURE', `The kit manifest has no signature (${KIT_MANIFEST}.sig is missing): the kit cannot be trusted.`, { path: sigFile });
  const sig = verifyDetached(bytes, readFileSync(sigFile, 'utf8'), keys);
  if (!sig.ok) {
    throw new OpsError('ERR_VERIFY_SIGNATURE', `The kit manifest signature does not verify with any trusted key (${sig.tried.length} tried). Do not import this kit.`, { path: sigFile, details: { tried: sig.tried } });
  }
  let parsed: z.infer<typeof ManifestSchema>;
  try {
    parsed = ManifestSchema.parse(JSON.parse(bytes.toString('utf8')));
  } catch (e) {
    throw new OpsError('ERR_BUNDLE_CORRUPT', `The kit manifest ${file} is not valid: ${(e as Error).message.slice(0, 300)}`, { path: file });
  }
  const seen = new Set<string>();
  for (const e of parsed.entries) {
    const problem = bundlePathProblem(e.path);
    if (problem) throw new OpsError('ERR_BUNDLE_UNSAFE_ENTRY', `The kit manifest lists an unsafe path "${e.path}" (${problem}).`, { path: file });
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

export function kitEntryFile(kit: KitManifest, e: KitEntry): string {
  const f = join(kit.dir, ...e.path.split('/'));
  if (relative(kit.dir, f).startsWith('..')) throw new OpsError('ERR_BUNDLE_UNSAFE_ENTRY', `Kit entry ${e.path} points outside the kit.`);
  if (!existsSync(f) || !statSync(f).isFile()) throw new OpsError('ERR_VERIFY_MISSING_FILE', `The kit lists ${e.path} but the file is missing.`, { path: f });
  return f;
}
