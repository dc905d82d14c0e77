/**
 * The benchmark corpora, generated at run time by the project's producer
 * (never committed). Shaped like real Export Center bundles: advisory feeds as
 * NDJSON that zstd compresses ~3.7× mixed with `.jsonl.zst` parts that do not
 * compress further (stand-ins: keystream bytes), and many-small-file trees.
 *
 *   512m  ~512 MiB payload in 399 members (~69 % .jsonl.zst parts, ~31 % NDJSON): ~400 MB bundle
 *   100k  100,000 NDJSON files of ~1 KiB (600–1,450 bytes), 1,000 per folder
 *   1m    1,000,000 NDJSON files of ~1 KiB, 1,000 per folder
 *
 * Selection: BENCH_CORPUS=512m,100k (what `node build/bench.mjs --corpus …` sets).
 */
import type { PayloadFile } from '../electron/services/producer/index';
import { MiB } from './lib';

export interface Corpus {
  name: string;
  describe: string;
  files: () => PayloadFile[];
}

/** A deterministic spread of sizes around `mean` (±45 %). */
function spread(i: number, mean: number): number {
  const x = ((i * 2654435761) >>> 0) / 0xffffffff; // Knuth's multiplicative hash: repeatable, well spread
  return Math.max(1, Math.round(mean * (0.55 + 0.9 * x)));
}

function bigFiles(): PayloadFile[] {
  const out: PayloadFile[] = [];
  const members = 399;
  const mean = Math.round((512 * MiB) / members);
  for (let i = 0; i < members; i++) {
    // About 69 % of the bytes in already-compressed parts, the rest in NDJSON.
    const zst = i % 13 < 9;
    const dir = `data/raw/${['nvd', 'ghsa', 'osv', 'redhat', 'debian', 'ubuntu', 'alpine'][i % 7]}`;
    out.push(
      zst
        ? { path: `${dir}/part-${String(i).padStart(4, '0')}.jsonl.zst`, content: { size: spread(i, mean), seed: `512m:${i}`, kind: 'random' } }
        : { path: `${dir}/advisories-${String(i).padStart(4, '0')}.ndjson`, content: { size: spread(i, mean), seed: `512m:${i}`, kind: 'ndjson' } },
    );
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

export function smallFiles(count: number, seed: string): PayloadFile[] {
  const out: PayloadFile[] = [];
  for (let i = 0; i < count; i++) {
    const dir = `d${String(Math.floor(i / 1000)).padStart(4, '0')}`;
    out.push({ path: `data/advisories/${dir}/a-${String(i).padStart(7, '0')}.ndjson`, content: { size: spread(i, 1024), seed: `${seed}:${i}`, kind: 'ndjson' } });
  }
  return out;
}

export const CORPORA: Record<string, Corpus> = {
  '512m': { name: '512m', describe: '512 MiB payload, 399 members (.jsonl.zst parts + NDJSON)', files: bigFiles },
  '100k': { name: '100k', describe: '100,000 NDJSON files × ~1 KiB', files: () => smallFiles(100_000, '100k') },
  '1m': { name: '1m', describe: '1,000,000 NDJSON files × ~1 KiB', files: () => smallFiles(1_000_000, '1m') },
};

/** Names chosen with BENCH_CORPUS (comma-separated), else all. Unknown names are an error. */
export function chosen(known: string[]): string[] {
  const raw = process.env.BENCH_CORPUS?.trim();
  if (!raw) return known;
  const want = raw.split(',').map((s) => s.trim()).filter(Boolean);
  return known.filter((k) => want.includes(k));
}
