import { describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import { runCli } from './mirror';
import type { CliIo } from './command';

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

describe('mirror CLI entry', () => {
  it('prints usage listing every command', async () => {
    const t = io();
    expect(await runCli(['--help'], t.io)).toBe(0);
    for (const name of ['verify', 'import', 'status', 'rollback', 'retention', 'keys', 'audit', 'settings', 'checklist']) {
      expect(t.out()).toContain(`  ${name}`);
    }
  });
  it('prints the package version', async () => {
    const t = io();
    expect(await runCli(['--version'], t.io)).toBe(0);
    const pkg = (await import('../../package.json', { with: { type: 'json' } })).default as { version: string };
    expect(t.out().trim()).toBe(pkg.version);
  });
  it('refuses an unknown command with a usage error (exit 4) and a JSON shape under --json', async () => {
    const t = io();
    expect(await runCli(['frobnicate', '--json'], t.io)).toBe(4);
    const parsed = JSON.parse(t.out());
    expect(parsed).toMatchObject({ ok: false, code: 'ERR_USAGE' });
  });
});

describe('lazy command registry', () => {
  it('lists each command with the summary its own module declares, and loads the module that has its name', async () => {
    const { commands } = await import('./commands/index');
    for (const entry of commands) {
      const cmd = await entry.load();
      expect(cmd.name).toBe(entry.name);
      expect(entry.summary).toBe(cmd.summary);
    }
  });
});
