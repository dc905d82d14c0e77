/** Shared set-up for the bundle benchmarks: a big signed bundle and the manual pipeline's inputs. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateSigningKey, generatedPayload, writeMirrorBundle, type MirrorBundleResult, type SigningKey } from '../electron/services/producer';
import { CLI, firstLine, MiB, parseJsonOut, ROOT, timed } from './lib';

export interface BigBundle {
  bundle: string;
  pub: string;
  sigDer: string;
  sums: string;
  result: MirrorBundleResult;
  key: SigningKey;
  genSeconds: number;
  payloadBytes: number;
}

/** A bundle of `totalMiB` of incompressible payload in files of `fileMiB`, signed with ECDSA P-256. */
export async function makeBigBundle(dir: string, totalMiB: number, fileMiB: number, key = generateSigningKey('ecdsa-p256')): Promise<BigBundle> {
  const count = Math.max(1, Math.round(totalMiB / fileMiB));
  const t0 = process.hrtime.bigint();
  const result = await writeMirrorBundle(join(dir, 'mirror-20251029-full.tar.zst'), {
    key,
    files: generatedPayload(count, fileMiB * MiB, { seed: `bench-${totalMiB}`, perDir: 32 }),
    compressionLevel: 1,
  });
  const genSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { ...writeManualInputs(dir, result, key), result, key, genSeconds, payloadBytes: count * fileMiB * MiB };
}

/** k.pub, the DER signature over export.json, and a sha256sum list built from export.json. */
export function writeManualInputs(dir: string, result: MirrorBundleResult, key: SigningKey): { bundle: string; pub: string; sigDer: string; sums: string } {
  const pub = join(dir, 'k.pub');
  writeFileSync(pub, key.publicPem);
  const sigDer = join(dir, 'export.sig.der');
  // The bundle's signatures/export.sig holds base64 of this DER signature; openssl wants the DER.
  writeFileSync(sigDer, Buffer.from(result.exportSignature, 'base64'));
  const sums = join(dir, 'sums.txt');
  writeFileSync(sums, result.exportJson.files.map((f) => `${f.sha256}  ${f.path}\n`).join(''));
  return { bundle: result.file, pub, sigDer, sums };
}

/** The manual pipeline a user would run: extract, check every digest, verify the export.json signature. */
export function manualScript(b: { bundle: string; pub: string; sigDer: string; sums: string }, out: string, durable = false): string {
  return [
    `rm -rf '${out}' && mkdir -p '${out}'`,
    `zstd -q -dc '${b.bundle}' | tar -x -C '${out}'`,
    durable ? 'sync' : ':',
    `cd '${out}/mirror' && sha256sum --quiet -c '${b.sums}'`,
    `openssl dgst -sha256 -verify '${b.pub}' -signature '${b.sigDer}' '${out}/mirror/export.json' >/dev/null`,
  ].join(' && ');
}

/** Does `mirror verify` verify the shipped demo kit? Returns null when it does, else why not. */
export async function probeVerify(): Promise<string | null> {
  const t = await timed(process.execPath, [CLI, 'verify', join(ROOT, 'resources/demo-kit'), '--key', join(ROOT, 'resources/demo-kit.pub'), '--json']);
  if (t.exitCode === 0) return null;
  const j = parseJsonOut(t.stdout);
  const msg = (j && typeof j.message === 'string' ? j.message : '') || firstLine(t.stderr) || firstLine(t.stdout);
  return `mirror verify does not verify the demo kit yet (exit ${t.exitCode}: ${msg})`;
}

/** Does `mirror import` import the shipped demo kit into a fresh workspace? Returns null when it does, else why not. */
export async function probeImport(scratch: string): Promise<string | null> {
  const ws = join(scratch, 'probe-ws');
  const t = await timed(process.execPath, [CLI, 'import', join(ROOT, 'resources/demo-kit'), '--workspace', ws, '--key', join(ROOT, 'resources/demo-kit.pub'), '--json']);
  if (t.exitCode === 0) return null;
  const j = parseJsonOut(t.stdout);
  const msg = (j && typeof j.message === 'string' ? j.message : '') || firstLine(t.stderr) || firstLine(t.stdout);
  return `mirror import does not import the demo kit yet (exit ${t.exitCode}: ${msg})`;
}

/** `mirror import <bundle> --workspace <ws> --key <pub> --json`, timed; throws when it does not succeed. */
export async function mirrorImport(bundle: string, ws: string, pub: string) {
  const t = await timed(process.execPath, [CLI, 'import', bundle, '--workspace', ws, '--key', pub, '--json']);
  const j = parseJsonOut(t.stdout);
  if (t.exitCode !== 0 || (j && j.ok === false)) {
    throw new Error(`mirror import failed (exit ${t.exitCode}): ${j ? `${String(j.code)} ${String(j.message)}` : t.stderr.slice(0, 500)}`);
  }
  return { ...t, json: j };
}

/** Numeric fields anywhere in a JSON value whose key matches the pattern (e.g. how an import split its work). */
export function findNumbers(v: unknown, pattern: RegExp, prefix = ''): Record<string, number> {
  const out: Record<string, number> = {};
  if (Array.isArray(v)) v.forEach((x, i) => Object.assign(out, findNumbers(x, pattern, `${prefix}[${i}]`)));
  else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      const key = prefix ? `${prefix}.${k}` : k;
      if (typeof x === 'number' && pattern.test(k)) out[key] = x;
      else Object.assign(out, findNumbers(x, pattern, key));
    }
  }
  return out;
}
