/**
 * Writes the small signed demo kit shipped in resources/demo-kit/ (a full
 * bundle, two deltas, a Trivy DB bundle, offline-manifest.json + .sig and the
 * informational keys/export-center.pub) and the demo public key
 * resources/demo-kit.pub. The private key exists only in this process: the
 * demo is verify-only. Content is deterministic; signatures change with the
 * key on each run.
 *
 *   npx tsx bench/make-demo-kit.ts [outDir]
 *   npx --no mirror verify resources/demo-kit --key resources/demo-kit.pub
 */
import { rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateSigningKey, samplePayload, writeKit } from '../electron/services/producer/index';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = resolve(process.argv[2] ?? join(root, 'resources', 'demo-kit'));
const pubFile = process.argv[2] ? join(dirname(outDir), 'demo-kit.pub') : join(root, 'resources', 'demo-kit.pub');

async function main(): Promise<void> {
  const key = generateSigningKey('ed25519');
  rmSync(outDir, { recursive: true, force: true });
  const kit = await writeKit(outDir, {
    tenant: 'demo',
    key,
    createdAt: '2025-10-31T03:00:00Z',
    mirror: [
      {
        profileId: 'mirror-nightly',
        createdAt: '2025-10-29T02:00:00Z',
        files: samplePayload({ parts: 8, partSize: 1024, seed: 'demo-1' }),
        compressionLevel: 19,
      },
      {
        createdAt: '2025-10-30T02:00:00Z',
        files: [
          { path: 'data/raw/advisories/part-00000.jsonl.zst', content: { size: 1024, seed: 'demo-2:0', kind: 'text' } },
          { path: 'data/raw/advisories/part-00008.jsonl.zst', content: { size: 768, seed: 'demo-2:8', kind: 'text' } },
        ],
        removed: ['data/normalized/vex/part-00003.jsonl.zst'],
        compressionLevel: 19,
      },
      {
        createdAt: '2025-10-31T02:00:00Z',
        files: [
          { path: 'data/raw/vex/part-00001.jsonl.zst', content: { size: 1024, seed: 'demo-3:1', kind: 'text' } },
          { path: 'data/policy/snapshot.json', content: '{"policy":"default","seed":"demo-3"}\n' },
        ],
        removed: ['data/normalized/advisories/part-00006.jsonl.zst'],
        compressionLevel: 19,
      },
    ],
    trivy: [{ kind: 'trivy-db', updatedAt: '2025-10-30T00:00:00Z', nextUpdate: '2099-01-01T00:00:00Z', downloadedAt: '2025-10-30T06:00:00Z' }],
  });
  writeFileSync(pubFile, key.publicPem);
  for (const e of kit.manifest.entries) console.log(`${e.kind.padEnd(13)} ${String(e.size).padStart(6)} B  ${e.path}`);
  console.log(`demo key ${key.fingerprint} -> ${pubFile}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
