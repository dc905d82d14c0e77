// Electron e2e: the real app (dist/main + preload + renderer) launched with
// Playwright's _electron, under xvfb (see run.mjs). Skips with one message
// where no Electron binary exists.
import { defineConfig } from '@playwright/test';

export default defineConfig({
  testDir: '.',
  testMatch: '*.spec.ts',
  outputDir: '../../test-results/electron',
  globalSetup: './global-setup.ts',
  workers: 1,
  retries: 0,
  timeout: 120_000,
  expect: { timeout: 30_000 },
  reporter: [['list'], ['json', { outputFile: '../../test-results/electron.json' }]],
});
