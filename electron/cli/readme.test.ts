/**
 * The README's command sequences run as printed: each ```sh block that calls
 * `npx --no mirror` is copied out of README.md and run line by line with
 * bash from the repository root (the demo kit and its key are there), in a
 * fresh workspace folder, and every line's exit code must be the one the
 * README states (`# exit N` in its comment; 0 otherwise).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, tempDir } from '../services/testing/fixtures';

const built = existsSync(join(REPO_ROOT, 'dist', 'cli', 'mirror.cjs'));
const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');

interface Line {
  command: string;
  expectExit: number;
}

/** The sh blocks that call the CLI (the set-up block with npm install is not one of them). */
function blocks(): Line[][] {
  const out: Line[][] = [];
  for (const m of readme.matchAll(/```sh\n([\s\S]*?)```/g)) {
    const body = m[1];
    if (!/npx --no mirror /.test(body) || /npm install/.test(body)) continue;
    out.push(
      body
        .split('\n')
        .filter((l) => l.trim() && !l.trim().startsWith('#'))
        .map((l) => {
          const hash = l.search(/\s#\s/);
          const comment = hash >= 0 ? l.slice(hash) : '';
          const exit = /exit (\d+)/.exec(comment);
          return { command: (hash >= 0 ? l.slice(0, hash) : l).trim(), expectExit: exit ? Number(exit[1]) : 0 };
        }),
    );
  }
  return out;
}

const tmp = tempDir('okc-readme-');
afterAll(() => tmp.cleanup());

describe('README command sequences', () => {
  it('the README has the day on an isolated host, with the demo kit and its tenant', () => {
    const all = blocks().flat().map((l) => l.command);
    expect(all.some((c) => c.includes('import resources/demo-kit'))).toBe(true);
    expect(all.some((c) => c.includes('--tenant demo'))).toBe(true);
    expect(all.every((c) => !/^mirror /.test(c))).toBe(true); // never a bare `mirror` (not on PATH)
  });

  it.skipIf(!built)('every command runs as printed and exits as the README says', () => {
    const env: Record<string, string> = { ...(process.env as Record<string, string>), npm_config_yes: 'false' };
    const results: string[] = [];
    for (const block of blocks()) {
      for (const line of block) {
        const assign = /^([A-Z_]+)=(\S+)$/.exec(line.command);
        if (assign) {
          // The README's workspace path, moved into this test's temp folder.
          env[assign[1]] = join(tmp.dir, assign[2].replace(/^\/+/, '').replace(/\//g, '_'));
          continue;
        }
        const r = spawnSync('bash', ['-c', line.command], { cwd: REPO_ROOT, env, encoding: 'utf8' });
        results.push(`${r.status} ${line.command}`);
        expect(r.status, `${line.command}\n${r.stdout}\n${r.stderr}`).toBe(line.expectExit);
      }
    }
    expect(results.length).toBeGreaterThanOrEqual(8);
    // The demo's daily run fails only on freshness, and passes once the budget is raised (with a reason).
    const ws = env.WS;
    const status = spawnSync('bash', ['-c', 'npx --no mirror checklist status --workspace "$WS" --json'], { cwd: REPO_ROOT, env, encoding: 'utf8' });
    const runs = (JSON.parse(status.stdout) as { runs: { checklistId: string; outcome: string }[] }).runs.filter((r) => r.checklistId === 'daily');
    expect(runs.map((r) => r.outcome)).toEqual(['pass', 'fail']);
    expect(existsSync(`${ws}-audit.jsonl`)).toBe(true);
    // A dozen `npx` processes in a row: on a loaded 2-core machine this takes over a minute (not a speed check).
  }, 300_000);
});
