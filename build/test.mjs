// `npm test`: the whole suite, in the order a failure is cheapest to find.
// preflight (system tools) → lint → import cycles → typecheck → Electronegativity (security lint of electron/ + renderer/) → build (CLI, shell, renderer) → vitest (node) → Playwright in Chromium → Electron e2e (skips without a binary).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { runPreflight } from './preflight.mjs';

const steps = [
  ['lint', 'npx', ['--no', 'eslint', '.']],
  // Static imports among shared/, electron/, renderer/src resolved with the TypeScript compiler API; any cycle fails (build/check-cycles.mjs).
  ['import cycles', 'node', ['build/check-cycles.mjs']],
  ['typecheck', 'npm', ['run', '-s', 'typecheck']],
  // Every finding accepted with a reason in build/electronegativity.json; a new one fails here.
  ['electronegativity (electron/ + renderer/)', 'node', ['build/electronegativity.mjs']],
  ['build', 'npm', ['run', '-s', 'build']],
  ['build renderer', 'npm', ['run', '-s', 'build:renderer']],
  ['unit and integration tests (vitest)', 'npx', ['--no', 'vitest', 'run', '--reporter=default', '--reporter=json', '--outputFile.json=test-results/vitest.json']],
  ['browser e2e (Playwright + Debian Chromium)', 'npx', ['--no', 'playwright', 'test', '-c', 'e2e/playwright.config.ts']],
  // Runs under xvfb where an Electron binary exists; otherwise skips with one message naming the missing binary.
  ['electron e2e (Electron under xvfb; skips without a binary)', 'node', ['e2e/electron/run.mjs']],
];

// Each runner's JSON report, read at the end for one closing line over the whole suite.
const REPORTS = { vitest: 'test-results/vitest.json', e2e: 'test-results/e2e.json', electron: 'test-results/electron.json' };
for (const f of Object.values(REPORTS)) rmSync(f, { force: true });

function totals() {
  const t = { passed: 0, failed: 0, skipped: 0 };
  if (existsSync(REPORTS.vitest)) {
    const v = JSON.parse(readFileSync(REPORTS.vitest, 'utf8'));
    t.passed += v.numPassedTests;
    t.failed += v.numFailedTests;
    t.skipped += (v.numPendingTests ?? 0) + (v.numTodoTests ?? 0);
  }
  for (const f of [REPORTS.e2e, REPORTS.electron]) {
    if (!existsSync(f)) continue;
    const s = JSON.parse(readFileSync(f, 'utf8')).stats;
    t.passed += s.expected + (s.flaky ?? 0);
    t.failed += s.unexpected;
    t.skipped += s.skipped;
  }
  return t;
}

const only = process.argv[2];
// The system tools the suite runs: installed here (root + apt-get) or the run stops with the command to type.
const preflight = runPreflight();
if (!preflight.ok) process.exit(1);
const env = { ...process.env, ...preflight.env };
for (const [name, cmd, args] of steps) {
  if (only && !name.startsWith(only)) continue;
  process.stdout.write(`\n=== ${name} ===\n`);
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { stdio: 'inherit', env });
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  if (r.status !== 0) {
    process.stdout.write(`\n=== ${name} FAILED (exit ${r.status ?? r.signal}) after ${secs}s ===\n`);
    process.exit(r.status ?? 1);
  }
  process.stdout.write(`=== ${name}: ok (${secs}s) ===\n`);
}
if (!only) {
  const t = totals();
  process.stdout.write(`\ntests: ${t.passed} passed, ${t.failed} failed, ${t.skipped} skipped\n`);
  if (t.passed === 0 || t.failed > 0) process.exit(1);
}
