// `npm test`: the whole suite, in the order a failure is cheapest to find.
// lint → typecheck → build (CLI, shell, renderer) → vitest (node) → Playwright in Chromium → Electron e2e (skips without a binary).
import { spawnSync } from 'node:child_process';

const steps = [
  ['lint', 'npx', ['--no', 'eslint', '.']],
  ['typecheck', 'npm', ['run', '-s', 'typecheck']],
  ['build', 'npm', ['run', '-s', 'build']],
  ['build renderer', 'npm', ['run', '-s', 'build:renderer']],
  ['unit and integration tests (vitest)', 'npx', ['--no', 'vitest', 'run']],
  ['browser e2e (Playwright + Debian Chromium)', 'npx', ['--no', 'playwright', 'test', '-c', 'e2e/playwright.config.ts']],
  // Runs under xvfb where an Electron binary exists; otherwise skips with one message naming the missing binary.
  ['electron e2e (Electron under xvfb; skips without a binary)', 'node', ['e2e/electron/run.mjs']],
];

const only = process.argv[2];
for (const [name, cmd, args] of steps) {
  if (only && !name.startsWith(only)) continue;
  process.stdout.write(`\n=== ${name} ===\n`);
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: process.env });
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  if (r.status !== 0) {
    process.stdout.write(`\n=== ${name} FAILED (exit ${r.status ?? r.signal}) after ${secs}s ===\n`);
    process.exit(r.status ?? 1);
  }
  process.stdout.write(`=== ${name}: ok (${secs}s) ===\n`);
}
