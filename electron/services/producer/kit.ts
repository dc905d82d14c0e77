/**
 * writeKit: an offline kit folder (spec section 1): mirror bundles (a full one
 * and deltas chained on it), Trivy DB bundles with their signatures, the
 * informational public key, and offline-manifest.json + its signature.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { compareBytewise } from '../../../shared/paths';
import { contentBytes, type Content } from './content';
import { signatureFile, type SigningKey } from './keys';
import { bundleFileName, jsonBytes, writeMirrorBundle, type MirrorBundleResult, type MirrorBundleSpec } from './mirror';
import { writeTrivyBundle, type TrivyBundleResult, type TrivyBundleSpec } from './trivy';

export type KitMirrorSpec = Omit<MirrorBundleSpec, 'key' | 'base'> & {
  key?: SigningKey;
  /** Default: the previous mirror bundle of the kit (a delta on it); null for a full bundle. */
  base?: MirrorBundleSpec['base'];
  /** File name inside mirror/ (default mirror-<YYYYMMDD>-<variant>.tar.zst[.age]). */
  fileName?: string;
};

export type KitTrivySpec = Omit<TrivyBundleSpec, 'key' | 'signatureFile'> & { key?: SigningKey };

export interface KitManifestEntry {
  path: string;
  kind: 'mirror-full' | 'mirror-delta' | 'trivy-db' | 'trivy-java-db';
  sha256: string;
  size: number;
  exportId?: string;
  generation?: number;
  signature?: string;
}

export interface KitSpec {
  tenant?: string;
  key: SigningKey;
  createdAt?: string;
  mirror?: KitMirrorSpec[];
  trivy?: KitTrivySpec[];
  /** Files written into the kit but not listed in the manifest (path relative to the kit). */
  extraFiles?: Record<string, Content>;
  /** Write keys/export-center.pub (default true; informational only). */
  publicKey?: boolean;
  tamper?: {
    /** Edit the manifest entries before signing (e.g. a wrong size or generation). */
    entries?: (entries: KitManifestEntry[]) => KitManifestEntry[];
    /** Sign offline-manifest.json with another key. */
    signWith?: SigningKey;
    /** Change offline-manifest.json after signing. */
    manifestAfterSigning?: (bytes: Buffer) => Buffer;
    /** Leave offline-manifest.json.sig out. */
    omitSignature?: boolean;
  };
}

export interface KitResult {
  dir: string;
  manifest: { kitVersion: 1; tenant: string; createdAt: string; entries: KitManifestEntry[] };
  manifestBytes: Buffer;
  mirror: MirrorBundleResult[];
  trivy: TrivyBundleResult[];
  /** The public key PEM (what an operator would pin). */
  publicPem: string;
}

export async function writeKit(dir: string, spec: KitSpec): Promise<KitResult> {
  const tenant = spec.tenant ?? 'acme';
  mkdirSync(dir, { recursive: true });
  const entries: KitManifestEntry[] = [];
  const mirror: MirrorBundleResult[] = [];
  let prev: MirrorBundleResult | null = null;
  const usedNames = new Set<string>();
  for (const m of spec.mirror ?? []) {
    const base = m.base === undefined ? prev : m.base;
    const variant = m.variant ?? (base ? 'delta' : 'full');
    const generation = m.generation ?? (base ? base.generation + 1 : 1);
    const createdAt = m.createdAt ?? new Date(Date.parse('2025-10-29T02:00:00Z') + (generation - 1) * 86_400_000).toISOString().replace('.000Z', 'Z');
    let name = m.fileName ?? bundleFileName(createdAt, variant, Boolean(m.age));
    // Two bundles of one day and variant would share a name: keep both (order comes from generation anyway).
    if (!m.fileName && usedNames.has(name)) name = name.replace('.tar.zst', `-g${generation}.tar.zst`);
    if (usedNames.has(name)) throw new Error(`producer: two kit bundles are both named ${name}`);
    usedNames.add(name);
    const rel = `mirror/${name}`;
    const res = await writeMirrorBundle(join(dir, rel), { ...m, key: m.key ?? spec.key, tenant: m.tenant ?? tenant, base, variant, generation, createdAt });
    mirror.push(res);
    prev = res;
    entries.push({ path: rel, kind: res.kind, sha256: res.rawSha256, size: res.rawSize, exportId: res.exportId, generation: res.generation });
  }
  const trivy: TrivyBundleResult[] = [];
  for (const t of spec.trivy ?? []) {
    const java = t.kind === 'trivy-java-db';
    const rel = java ? 'trivy/java-db.bundle' : 'trivy/db.bundle';
    const sigRel = java ? 'signatures/trivy-java-db.sig' : 'signatures/trivy-db.sig';
    const res = writeTrivyBundle(join(dir, rel), { ...t, key: t.key ?? spec.key, signatureFile: join(dir, sigRel) });
    trivy.push(res);
    entries.push({ path: rel, kind: t.kind, sha256: res.sha256, size: res.size, signature: sigRel });
  }
  for (const [rel, content] of Object.entries(spec.extraFiles ?? {})) {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), contentBytes(content));
  }
  if (spec.publicKey ?? true) {
    mkdirSync(join(dir, 'keys'), { recursive: true });
    writeFileSync(join(dir, 'keys/export-center.pub'), spec.key.publicPem);
  }
  let listed = entries.sort((a, b) => compareBytewise(a.path, b.path));
  if (spec.tamper?.entries) listed = spec.tamper.entries(listed);
  const createdAt = spec.createdAt ?? mirror.at(-1)?.exportJson.createdAt.replace(/T.*$/, 'T03:00:00Z') ?? '2025-10-31T03:00:00Z';
  const manifest = { kitVersion: 1 as const, tenant, createdAt, entries: listed };
  const signed = jsonBytes(manifest);
  const stored = spec.tamper?.manifestAfterSigning ? spec.tamper.manifestAfterSigning(signed) : signed;
  writeFileSync(join(dir, 'offline-manifest.json'), stored);
  if (!spec.tamper?.omitSignature) writeFileSync(join(dir, 'offline-manifest.json.sig'), signatureFile(spec.tamper?.signWith ?? spec.key, signed));
  return { dir, manifest, manifestBytes: stored, mirror, trivy, publicPem: spec.key.publicPem };
}
