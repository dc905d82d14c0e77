/**
 * Writes a signed offline kit of any size with the project's producer, for
 * manual trials and demos (tests and benchmarks call the producer directly).
 * The public key is written beside the kit as <out>.pub; the private key is
 * thrown away.
 *
 *   npx tsx bench/make-kit.ts --out /tmp/kit [--size-mib 64] [--file-kib 1024] [--deltas 2]
 *        [--delta-percent 5] [--alg ecdsa-p256|ecdsa-p384|ed25519|rsa-pkcs1|rsa-pss]
 *        [--tenant acme] [--age-recipient age1...] [--per-file-recipient age1...] [--trivy]
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { generateSigningKey, generatedPayload, SIGNING_ALGORITHMS, writeKit, type KitMirrorSpec, type SigningAlgorithm } from '../electron/services/producer/index';

const { values } = parseArgs({
  options: {
    out: { type: 'string' },
    'size-mib': { type: 'string', default: '64' },
    'file-kib': { type: 'string', default: '1024' },
    deltas: { type: 'string', default: '2' },
    'delta-percent': { type: 'string', default: '5' },
    alg: { type: 'string', default: 'ecdsa-p256' },
    tenant: { type: 'string', default: 'acme' },
    'age-recipient': { type: 'string' },
    'per-file-recipient': { type: 'string' },
    trivy: { type: 'boolean', default: false },
  },
});

function num(name: string, v: string | undefined): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} expects a number, got "${v}"`);
  return n;
}

async function main(): Promise<void> {
  if (!values.out) throw new Error('--out <dir> is required');
  const alg = values.alg as SigningAlgorithm;
  if (!SIGNING_ALGORITHMS.includes(alg)) throw new Error(`--alg must be one of ${SIGNING_ALGORITHMS.join(', ')}`);
  const fileBytes = Math.max(1, Math.round(num('file-kib', values['file-kib']) * 1024));
  const count = Math.max(1, Math.round((num('size-mib', values['size-mib']) * 1024 * 1024) / fileBytes));
  const deltas = Math.round(num('deltas', values.deltas));
  const step = Math.max(1, Math.round(100 / Math.max(0.01, num('delta-percent', values['delta-percent']))));
  const files = generatedPayload(count, fileBytes, { seed: 'kit' });
  const common: Partial<KitMirrorSpec> = {
    ...(values['age-recipient'] ? { age: { recipients: [values['age-recipient']] } } : {}),
    ...(values['per-file-recipient'] ? { encryption: { recipients: [values['per-file-recipient']] } } : {}),
  };
  const mirror: KitMirrorSpec[] = [{ ...common, files }];
  for (let d = 1; d <= deltas; d++) {
    const changed = files.filter((_, i) => (i + d) % step === 0).map((f) => ({ path: f.path, content: { size: fileBytes, seed: `kit-delta-${d}:${f.path}` } }));
    mirror.push({ ...common, files: changed });
  }
  const key = generateSigningKey(alg);
  const out = resolve(values.out);
  const kit = await writeKit(out, { tenant: values.tenant, key, mirror, trivy: values.trivy ? [{ kind: 'trivy-db' }, { kind: 'trivy-java-db' }] : [] });
  writeFileSync(`${out}.pub`, key.publicPem);
  for (const e of kit.manifest.entries) console.log(`${e.kind.padEnd(13)} ${String(e.size).padStart(12)} B  ${e.path}`);
  console.log(`key ${key.fingerprint} -> ${out}.pub\nverify: npx --no mirror verify ${out} --key ${out}.pub`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
