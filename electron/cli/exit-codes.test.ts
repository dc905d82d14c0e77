/**
 * One source of exit codes: shared/errors.ts (EXIT_CODES + exitCodeFor). The
 * README's table must be the generated one, every error code must map to a
 * listed exit, and every exit written as a number in the CLI's code (and the
 * headless shells) must be a listed one.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ALL_ERROR_CODES, EXIT_CODES, exitCodeFor, exitCodeTableMarkdown } from '../../shared/errors';
import { REPO_ROOT } from '../services/testing/fixtures';

const README = join(REPO_ROOT, 'README.md');
const BEGIN = '<!-- exit-codes:begin -->';
const END = '<!-- exit-codes:end -->';

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

describe('exit codes', () => {
  const listed = new Set(EXIT_CODES.map((e) => e.exit));

  it('every error code maps to a listed exit code, and every listed exit but 0 is used by a code', () => {
    for (const c of ALL_ERROR_CODES) expect(listed.has(exitCodeFor(c)), c).toBe(true);
    expect(exitCodeFor(null)).toBe(0);
    const used = new Set(ALL_ERROR_CODES.map(exitCodeFor));
    for (const { exit } of EXIT_CODES) if (exit !== 0) expect(used.has(exit), `exit ${exit}`).toBe(true);
  });

  it("the README's table is the one generated from shared/errors.ts", () => {
    const text = readFileSync(README, 'utf8');
    const a = text.indexOf(BEGIN);
    const b = text.indexOf(END);
    expect(a, 'README.md lacks the exit-code markers').toBeGreaterThan(-1);
    expect(b).toBeGreaterThan(a);
    const want = `${BEGIN}\n${exitCodeTableMarkdown()}\n${END}`;
    const have = text.slice(a, b + END.length);
    if (have !== want && process.env.OKC_UPDATE_README === '1') {
      writeFileSync(README, text.slice(0, a) + want + text.slice(b + END.length));
      return;
    }
    expect(have, 'README.md exit-code table is stale: run OKC_UPDATE_README=1 npx vitest run electron/cli/exit-codes.test.ts').toBe(want);
  });

  it('every literal exit in the CLI and the shells is a listed exit code', () => {
    const files = [...sources(join(REPO_ROOT, 'electron', 'cli')), ...sources(join(REPO_ROOT, 'electron', 'browser')), ...sources(join(REPO_ROOT, 'electron', 'main'))];
    const found: { file: string; exit: number }[] = [];
    const patterns = [/process\.exit\((\d+)\)/g, /app\.exit\((\d+)\)/g, /exitCode = (\d+)/g, /return (?:[^;\n]*\? )?(\d+) : (\d+);/g];
    for (const f of files) {
      const src = readFileSync(f, 'utf8');
      for (const re of patterns) for (const m of src.matchAll(re)) for (const g of m.slice(1)) if (g !== undefined) found.push({ file: f, exit: Number(g) });
    }
    expect(found.length).toBeGreaterThan(3);
    for (const { file, exit } of found) expect(listed.has(exit), `${file}: exit ${exit} is not in EXIT_CODES`).toBe(true);
  });
});
