/**
 * The installed `mirror` (electron/cli/launcher.ts): the CLI bundle loaded
 * with a V8 code cache per command. Built into a temporary folder and run as
 * the operator runs it (its shebang), with OKC_CODE_CACHE=trace saying on
 * stderr what happened to the cache.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, SHARED_DIR, tempDir } from '../services/testing/fixtures';

const KIT = join(SHARED_DIR, 'fixtures', 'kits', 'ecdsa-p256');
const BUNDLE = join(KIT, 'mirror', 'mirror-20251101-delta.tar.zst');
const KEY = join(KIT, 'keys', 'export-center.pub');
const have = existsSync(BUNDLE);

let tmp: { dir: string; cleanup: () => void };
let cliDir: string;

function build(): void {
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'build/build.mjs'), 'cli'], { cwd: REPO_ROOT, env: { ...process.env, OKC_BUILD_DIST: tmp.dir }, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
}

beforeAll(() => {
  tmp = tempDir('okc-launcher-');
  build();
  cliDir = join(tmp.dir, 'cli');
}, 120_000);
afterAll(() => tmp.cleanup());

function mirror(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string; trace: string[] } {
  const r = spawnSync(join(cliDir, 'mirror.cjs'), args, { encoding: 'utf8', env: { ...process.env, NODE_PATH: join(REPO_ROOT, 'node_modules'), OKC_CODE_CACHE: 'trace', ...env } });
  const trace = r.stderr.split('\n').filter((l) => l.startsWith('code cache: '));
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, trace };
}

const caches = (): string[] => readdirSync(cliDir).filter((f) => f.endsWith('.cache'));
const bundleName = (): string => readdirSync(cliDir).find((f) => /^mirror-.*\.cjs$/.test(f))!;
const cacheOf = (command: string): string => join(cliDir, bundleName().replace(/\.cjs$/, `.${command}.cache`));
const verify = ['verify', BUNDLE, '--key', KEY, '--json'];
/** A verify report without its timing (`stats`). */
const verdict = (stdout: string): unknown => {
  const { stats: _stats, ...rest } = JSON.parse(stdout) as Record<string, unknown>;
  return rest;
};

describe('the mirror launcher and its code cache', () => {
  it.skipIf(!have)('writes a command its cache after a successful run, and the next run takes it; the output is the same', () => {
    rmSync(cacheOf('verify'), { force: true });
    const first = mirror(verify);
    expect(first.status, first.stderr).toBe(0);
    expect(first.trace).toEqual([`code cache: none at ${cacheOf('verify')}`, `code cache: written ${cacheOf('verify')}`]);
    expect(statSync(cacheOf('verify')).size).toBeGreaterThan(10_000);
    const second = mirror(verify);
    expect(second.status).toBe(0);
    expect(second.trace).toEqual([`code cache: accepted ${cacheOf('verify')}`]);
    expect(verdict(second.stdout)).toEqual(verdict(first.stdout));
    expect(JSON.parse(second.stdout)).toMatchObject({ ok: true, kind: 'mirror-delta' });
  });

  it.skipIf(!have)('a damaged cache (one byte changed inside, or garbage) is never run: the command runs as without one, and a good cache replaces it', () => {
    mirror(verify);
    const good = mirror(verify);
    const bytes = readFileSync(cacheOf('verify'));
    // One byte in the middle of V8's data: past any header V8 itself checks (it does not checksum
    // the data in release builds).
    bytes[Math.floor(bytes.length / 2)] ^= 0x01;
    for (const damaged of [bytes, Buffer.alloc(4096, 0x5a)]) {
      writeFileSync(cacheOf('verify'), damaged);
      const r = mirror(verify);
      expect(r.status, r.stderr).toBe(0);
      expect(r.trace).toEqual([`code cache: damaged ${cacheOf('verify')}`, `code cache: written ${cacheOf('verify')}`]);
      expect(verdict(r.stdout)).toEqual(verdict(good.stdout));
      expect(mirror(verify).trace).toEqual([`code cache: accepted ${cacheOf('verify')}`]);
    }
  });

  it.skipIf(!have)('a cache V8 refuses (made under other V8 flags) is replaced', () => {
    rmSync(cacheOf('verify'), { force: true });
    const other = spawnSync(process.execPath, ['--max-semi-space-size=4', '--no-opt', join(cliDir, 'mirror.cjs'), ...verify], { encoding: 'utf8', env: { ...process.env, NODE_PATH: join(REPO_ROOT, 'node_modules'), OKC_CODE_CACHE: 'trace' } });
    expect(other.status, other.stderr).toBe(0);
    expect(other.stderr).toContain(`code cache: written ${cacheOf('verify')}`);
    const r = mirror(verify);
    expect(r.status).toBe(0);
    expect(r.trace).toEqual([`code cache: rejected ${cacheOf('verify')}`, `code cache: written ${cacheOf('verify')}`]);
  });

  it('--help and --version share one cache ("main"); a command never takes it', () => {
    rmSync(cacheOf('main'), { force: true });
    const help = mirror(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^mirror \d+\.\d+\.\d+: verify, import and stage/);
    expect(help.trace).toEqual([`code cache: none at ${cacheOf('main')}`, `code cache: written ${cacheOf('main')}`]);
    const version = mirror(['--version']);
    expect(version.stdout.trim()).toBe((JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version);
    expect(version.trace).toEqual([`code cache: accepted ${cacheOf('main')}`]);
    // A path as the first argument names no cache file.
    expect(mirror(['../../etc/passwd']).trace).toEqual(['code cache: not used']);
  });

  it.skipIf(!have)('a failed command writes no cache; nor does a run with OKC_CODE_CACHE=off', () => {
    rmSync(cacheOf('verify'), { force: true });
    const missing = mirror(['verify', join(tmp.dir, 'no-such-bundle.tar.zst'), '--key', KEY]);
    expect(missing.status).not.toBe(0);
    expect(missing.trace).toEqual([`code cache: none at ${cacheOf('verify')}`]);
    expect(existsSync(cacheOf('verify'))).toBe(false);
    const off = mirror(verify, { OKC_CODE_CACHE: 'off' });
    expect(off.status).toBe(0);
    expect(off.trace).toEqual([]);
    expect(caches().filter((f) => f.includes('.verify.'))).toEqual([]);
  });

  it.skipIf(!have)('a cache that cannot be written (a folder in its place) leaves the command and its exit code alone', () => {
    rmSync(cacheOf('verify'), { force: true });
    mkdirSync(cacheOf('verify'));
    try {
      const r = mirror(verify);
      expect(r.status, r.stderr).toBe(0);
      expect(r.trace[1]).toMatch(/^code cache: not written \(/);
      expect(JSON.parse(r.stdout)).toMatchObject({ ok: true });
      expect(readdirSync(cliDir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    } finally {
      rmSync(cacheOf('verify'), { recursive: true, force: true });
    }
  });

  const AGE = join(SHARED_DIR, 'fixtures', 'kits', 'age-whole');
  it.skipIf(!existsSync(AGE))('an age-encrypted kit verifies through the built CLI, with and without its cache (the decrypter is in the bundle, not an import())', () => {
    const args = ['verify', AGE, '--key', `${AGE}.trusted.pub`, '--identity', join(SHARED_DIR, 'fixtures', 'kits', 'test-age-identity.txt'), '--json'];
    rmSync(cacheOf('verify'), { force: true });
    for (const expected of ['none at', 'accepted']) {
      const r = mirror(args);
      expect(r.status, r.stdout + r.stderr).toBe(0);
      expect(r.trace[0]).toBe(`code cache: ${expected} ${cacheOf('verify')}`);
      expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, kind: 'kit' });
    }
  });

  it('a missing bundle (a build cut short) is said in one line with what to do, exit code 1, no stack trace', () => {
    const file = join(cliDir, bundleName());
    renameSync(file, `${file}.away`);
    try {
      const r = mirror(['--version']);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/^mirror: the CLI bundle .*mirror-.*\.cjs cannot be read \(ENOENT\)\. Rebuild it: npm install/m);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    } finally {
      renameSync(`${file}.away`, file);
    }
  });

  it.skipIf(!have)('a rebuild removes the caches of the bundle it replaces', () => {
    mirror(verify);
    expect(caches().length).toBeGreaterThan(0);
    build();
    expect(caches()).toEqual([]);
    expect(readdirSync(cliDir).filter((f) => /^mirror-.*\.cjs$/.test(f))).toEqual([bundleName()]);
  }, 120_000);

  it.skipIf(!have)('the launcher is CommonJS (mirror.cjs, the bin); its former name mirror.mjs still runs the same command', () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    expect(pkg.bin.mirror).toBe('dist/cli/mirror.cjs');
    const viaNew = mirror(verify);
    const viaOld = spawnSync(join(cliDir, 'mirror.mjs'), verify, { encoding: 'utf8', env: { ...process.env, NODE_PATH: join(REPO_ROOT, 'node_modules') } });
    expect(viaOld.status, viaOld.stderr).toBe(0);
    expect(verdict(viaOld.stdout)).toEqual(verdict(viaNew.stdout));
  });
});
