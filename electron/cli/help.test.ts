import { PassThrough } from 'node:stream';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, tempDir } from '../services/testing/fixtures';
import type { CliIo } from './command';
import { operatorDocsDir } from './help';
import { runCli } from './mirror';
import { mkdirSync, writeFileSync } from 'node:fs';

function io() {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d) => (out += d));
  stderr.on('data', (d) => (err += d));
  const value: CliIo = { stdout, stderr, stdin: new PassThrough(), env: {}, cwd: process.cwd(), signal: new AbortController().signal };
  return { io: value, out: () => out, err: () => err };
}

describe('mirror help <topic>', () => {
  it('prints an operator guide page offline', async () => {
    const t = io();
    expect(await runCli(['help', 'restore'], t.io)).toBe(0);
    expect(t.out().trim()).toBe(readFileSync(join(REPO_ROOT, 'docs', 'operator', 'restore.md'), 'utf8').trim());
  });

  it('prints one error code with its cause and action, and lists the topics', async () => {
    const t = io();
    expect(await runCli(['help', 'err_fingerprint_mismatch'], t.io)).toBe(0);
    expect(t.out()).toContain('ERR_FINGERPRINT_MISMATCH (exit 4, console)');
    expect(t.out()).toMatch(/Cause: +The fingerprint/);
    expect(t.out()).toMatch(/Action: +Do not pin it/);
    const l = io();
    expect(await runCli(['help', 'topics'], l.io)).toBe(0);
    for (const id of ['install', 'first-start', 'daily', 'restore', 'errors']) expect(l.out()).toContain(`  ${id}`);
  });

  it('a command name still gives that command usage; an unknown topic is a usage error', async () => {
    const c = io();
    expect(await runCli(['help', 'rollback'], c.io)).toBe(0);
    expect(c.out()).toContain('Usage: mirror rollback');
    const u = io();
    expect(await runCli(['help', 'no-such-topic'], u.io)).toBe(4);
    expect(u.err()).toContain('mirror help topics');
  });

  it('finds the guide from a bundle inside a packaged app (app.asar → app.asar.unpacked)', () => {
    const t = tempDir('okc-help-');
    try {
      const unpacked = join(t.dir, 'resources', 'app.asar.unpacked', 'docs', 'operator');
      mkdirSync(unpacked, { recursive: true });
      writeFileSync(join(unpacked, 'README.md'), '# guide');
      expect(operatorDocsDir(join(t.dir, 'resources', 'app.asar', 'dist', 'main'))).toBe(unpacked);
      expect(operatorDocsDir(join(t.dir, 'elsewhere'))).toBeNull();
    } finally {
      t.cleanup();
    }
  });
});
