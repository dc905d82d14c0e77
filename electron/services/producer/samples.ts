/** Ready-made payload sets for tests and benchmarks. */
import type { PayloadFile } from './mirror';

const AREAS = ['raw/advisories', 'raw/vex', 'normalized/advisories', 'normalized/vex'];

/**
 * A small, deterministic, typical payload (a few KB): JSONL-ish parts in the
 * usual folders, an SBOM, a policy snapshot and the indexes. `variantSeed`
 * changes content without changing paths.
 */
export function samplePayload(opts: { parts?: number; partSize?: number; seed?: string } = {}): PayloadFile[] {
  const parts = opts.parts ?? 8;
  const size = opts.partSize ?? 512;
  const seed = opts.seed ?? 'sample';
  const files: PayloadFile[] = [];
  for (let i = 0; i < parts; i++) {
    const area = AREAS[i % AREAS.length];
    files.push({ path: `data/${area}/part-${String(i).padStart(5, '0')}.jsonl.zst`, content: { size, seed: `${seed}:${i}`, kind: 'text' } });
  }
  files.push({ path: 'data/raw/sboms/registry.example/app@sha256-00/sbom.json', content: '{"bomFormat":"CycloneDX","specVersion":"1.6"}\n' });
  files.push({ path: 'data/policy/snapshot.json', content: `{"policy":"default","seed":"${seed}"}\n` });
  files.push({ path: 'indexes/advisories.index.json', content: `{"parts":${Math.ceil(parts / 2)}}\n` });
  files.push({ path: 'indexes/vex.index.json', content: `{"parts":${Math.floor(parts / 2)}}\n` });
  return files;
}

/** `count` generated files of `size` bytes each (incompressible unless kind 'text'), spread over folders. */
export function generatedPayload(count: number, size: number, opts: { seed?: string; kind?: 'random' | 'text' | 'ndjson'; perDir?: number } = {}): PayloadFile[] {
  const perDir = opts.perDir ?? 1000;
  const seed = opts.seed ?? 'gen';
  const out: PayloadFile[] = [];
  for (let i = 0; i < count; i++) {
    const dir = `d${String(Math.floor(i / perDir)).padStart(4, '0')}`;
    out.push({ path: `data/raw/advisories/${dir}/part-${String(i).padStart(7, '0')}.jsonl.zst`, content: { size, seed: `${seed}:${i}`, kind: opts.kind } });
  }
  return out;
}
