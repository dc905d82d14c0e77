/** The README's invocations through npx resolve to this package's `mirror` bin (never a registry package). */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../services/testing/fixtures';

const built = existsSync(join(REPO_ROOT, 'dist', 'cli', 'mirror.cjs'));
const version = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const npx = (args: string[]) => spawnSync('npx', args, { cwd: REPO_ROOT, encoding: 'utf8', env: { ...process.env, npm_config_yes: 'false' } });

describe('npx --no … mirror', () => {
  it.skipIf(!built)('`npx --no -- mirror --version` prints this package version', () => {
    const r = npx(['--no', '--', 'mirror', '--version']);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(version);
  });
  it.skipIf(!built)('`npx --no -- mirror --help` prints the command usage', () => {
    const r = npx(['--no', '--', 'mirror', '--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^mirror \d+\.\d+\.\d+: verify, import and stage/);
  });
  it.skipIf(!built)('`npx --no mirror verify resources/demo-kit --key resources/demo-kit.pub` verifies the demo kit', () => {
    const r = npx(['--no', 'mirror', 'verify', 'resources/demo-kit', '--key', 'resources/demo-kit.pub', '--json']);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, kind: 'kit' });
  });
});
