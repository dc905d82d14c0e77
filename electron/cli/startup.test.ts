/**
 * What a command loads before it runs (issue 13: start-up is part of every
 * verify and import). The CLI is built into a temporary folder, and the
 * static imports of each command's chunk are followed through the chunks they
 * reach: packages a command does not need must be loaded on first use only
 * (`tar` costs ~33 ms and better-sqlite3 ~11 ms of start-up on the 2-core
 * build machine).
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, tempDir } from '../services/testing/fixtures';

let tmp: { dir: string; cleanup: () => void };
let cliDir: string;

beforeAll(() => {
  tmp = tempDir('okc-startup-');
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'build/build.mjs'), 'cli'], { cwd: REPO_ROOT, env: { ...process.env, OKC_BUILD_DIST: tmp.dir }, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  cliDir = join(tmp.dir, 'cli');
}, 120_000);
afterAll(() => tmp.cleanup());

/** Every package a chunk loads before its code runs: its static imports, and those of the chunks they name, transitively. */
function staticPackages(entry: string): Set<string> {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const src = readFileSync(file, 'utf8');
    // esbuild's ESM output: `import x from "y";`, `import { a } from "y";`, `import "y";` (dynamic `import("y")` is not matched).
    for (const m of src.matchAll(/^import\s+(?:[^;]*?\s+from\s+)?"([^"]+)";?$/gm)) {
      const spec = m[1];
      if (spec.startsWith('.')) visit(join(file, '..', spec));
      else if (!spec.startsWith('node:')) packages.add(spec);
    }
  };
  visit(entry);
  return packages;
}

function commandChunk(name: string): string {
  const chunks = join(cliDir, 'chunks');
  const file = readdirSync(chunks).find((n) => n.startsWith(`${name}-`) && n.endsWith('.mjs'));
  if (!file) throw new Error(`no chunk for the ${name} command in ${chunks}`);
  return join(chunks, file);
}

describe('command start-up', () => {
  it('`mirror verify` loads neither tar (Trivy bundles only) nor better-sqlite3 (no database) before it runs', () => {
    const pk = staticPackages(commandChunk('verify'));
    expect(pk.has('tar')).toBe(false);
    expect(pk.has('better-sqlite3')).toBe(false);
  });
  it('`mirror import` does not load tar before it runs; the walk does see what it loads statically', () => {
    const pk = staticPackages(commandChunk('import'));
    expect(pk.has('tar')).toBe(false);
    // The check itself can fail: the chunks a command reaches do name packages (zstd-napi, through createRequire, is not one of them).
    const all = staticPackages(join(cliDir, 'mirror.mjs'));
    for (const f of readdirSync(join(cliDir, 'chunks')).filter((n) => n.endsWith('.mjs'))) for (const p of staticPackages(join(cliDir, 'chunks', f))) all.add(p);
    expect([...all].length).toBeGreaterThan(0);
  });
});
