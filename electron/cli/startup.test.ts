/**
 * What a command loads (issue 13: start-up is part of every verify and
 * import). The CLI is built into a temporary folder and run on a real bundle
 * with a `--require` hook that logs every package Node's loader is asked
 * for (the build is outside the checkout: its packages come through NODE_PATH):
 * packages a command does not need must never load (`tar` costs ~33 ms
 * and better-sqlite3 ~11 ms of start-up on the 2-core build machine).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, SHARED_DIR, tempDir } from '../services/testing/fixtures';

const KIT = join(SHARED_DIR, 'fixtures', 'kits', 'ecdsa-p256');
const BUNDLE = join(KIT, 'mirror', 'mirror-20251029-full.tar.zst');
const KEY = join(KIT, 'keys', 'export-center.pub');

let tmp: { dir: string; cleanup: () => void };
let cli: string;
let hook: string;

beforeAll(() => {
  tmp = tempDir('okc-startup-');
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'build/build.mjs'), 'cli'], { cwd: REPO_ROOT, env: { ...process.env, OKC_BUILD_DIST: tmp.dir }, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  cli = join(tmp.dir, 'cli', 'mirror.cjs');
  hook = join(tmp.dir, 'log-requires.cjs');
  writeFileSync(
    hook,
    `const Module = require('node:module'); const fs = require('node:fs'); const load = Module._load;
Module._load = function (request, ...rest) { fs.appendFileSync(process.env.OKC_REQUIRE_LOG, request + '\\n'); return load.call(this, request, ...rest); };\n`,
  );
}, 120_000);
afterAll(() => tmp.cleanup());

/** Runs the built CLI; returns what it asked the loader for: packages (not relative files), and node: built-ins apart. */
function loaded(name: string, args: string[]): { packages: Set<string>; builtins: Set<string> } {
  const log = join(tmp.dir, `${name}.log`);
  writeFileSync(log, '');
  const r = spawnSync(process.execPath, ['--require', hook, cli, ...args], { encoding: 'utf8', env: { ...process.env, OKC_REQUIRE_LOG: log, NODE_PATH: join(REPO_ROOT, 'node_modules') } });
  expect(r.status, r.stderr + r.stdout).toBe(0);
  const requests = readFileSync(log, 'utf8').split('\n').filter(Boolean);
  return {
    packages: new Set(requests.filter((q) => !isBuiltin(q) && !q.startsWith('.') && !q.startsWith('/')).map((q) => (q.startsWith('@') ? q.split('/').slice(0, 2).join('/') : q.split('/')[0]))),
    builtins: new Set(requests.filter((q) => isBuiltin(q)).map((q) => q.replace(/^node:/, ''))),
  };
}

function packagesLoaded(name: string, args: string[]): Set<string> {
  return loaded(name, args).packages;
}

describe('command start-up', () => {
  it.skipIf(!existsSync(BUNDLE))('`mirror verify` of a mirror bundle loads neither tar (Trivy bundles only) nor better-sqlite3 (no database)', () => {
    const pk = packagesLoaded('verify', ['verify', BUNDLE, '--key', KEY, '--json']);
    // The log does see packages: the zstd binding is one (loaded through createRequire).
    expect(pk.has('zstd-napi')).toBe(true);
    expect(pk.has('tar')).toBe(false);
    expect(pk.has('better-sqlite3')).toBe(false);
  });
  it.skipIf(!existsSync(BUNDLE))('`mirror import` of a mirror bundle loads better-sqlite3 (its workspace) but not tar, nor node:zlib (Trivy bundles) or node:worker_threads (no helper thread for small members and an empty trash)', () => {
    const { packages: pk, builtins } = loaded('import', ['import', BUNDLE, '--workspace', join(tmp.dir, 'ws'), '--key', KEY, '--json']);
    expect(pk.has('better-sqlite3')).toBe(true);
    expect(pk.has('tar')).toBe(false);
    // The log does see built-ins the engine asks for: child_process is one (`sync -f`).
    expect(builtins.has('child_process')).toBe(true);
    expect(builtins.has('zlib')).toBe(false);
    expect(builtins.has('worker_threads')).toBe(false);
  });

  it('the installed command starts without NODE_EXTRA_CA_CERTS (its shebang drops it: Node would read that file at every start, and mirror opens no connection)', () => {
    const env = { ...process.env, NODE_EXTRA_CA_CERTS: join(tmp.dir, 'no-such-ca.pem'), NODE_PATH: join(REPO_ROOT, 'node_modules') };
    // Node itself, given the variable, reads the file at start-up (and warns: it is not there)...
    const plain = spawnSync(process.execPath, [cli, '--version'], { encoding: 'utf8', env });
    expect(plain.status, plain.stderr).toBe(0);
    expect(plain.stderr).toContain('no-such-ca.pem');
    // ...the command as operators run it (through its shebang) never gets it.
    const installed = spawnSync(cli, ['--version'], { encoding: 'utf8', env });
    expect(installed.status, installed.stderr).toBe(0);
    expect(installed.stdout).toBe(plain.stdout);
    expect(installed.stderr).not.toContain('no-such-ca.pem');
  });
});
