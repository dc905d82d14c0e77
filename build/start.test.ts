import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, tempDir } from '../electron/services/testing/fixtures';
// @ts-expect-error build/start.mjs is plain JavaScript without type declarations
import { chooseShell, findBrowser, findElectron } from './start.mjs';

type Found = { binary: string; source: string } | { binary: null; tried: string[] };
const find = findElectron as (env: Record<string, string | undefined>, base: string) => Found;
type Choice = { shell: 'electron' | 'browser' | null; reason: string };
const choose = chooseShell as (facts: { env: Record<string, string | undefined>; electron: { binary: string | null; source?: string }; browser: string | null }) => Choice;
const browserOf = findBrowser as (env: Record<string, string | undefined>, find: (c: string) => string | null) => string | null;

describe('npm start: finding Electron without require("electron")', () => {
  it('without a binary, exits non-zero and tells how to get one and where the CLI is', () => {
    const t = tempDir('okc-start-');
    try {
      // A copy of the script in a checkout without node_modules/electron: never launches a real app,
      // even on a machine where this checkout has an Electron binary.
      mkdirSync(join(t.dir, 'build'));
      copyFileSync(join(REPO_ROOT, 'build', 'start.mjs'), join(t.dir, 'build', 'start.mjs'));
      copyFileSync(join(REPO_ROOT, 'build', 'preflight.mjs'), join(t.dir, 'build', 'preflight.mjs'));
      // OKC_SHELL=electron: the browser shell (which this machine could open) is not a way out here.
      const env = { ...process.env, OKC_SHELL: 'electron', ELECTRON_OVERRIDE_DIST_PATH: join(t.dir, 'no-electron-here') };
      const r = spawnSync(process.execPath, [join(t.dir, 'build', 'start.mjs')], { cwd: t.dir, env, encoding: 'utf8' });
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain('npm start: OKC_SHELL=electron, but no Electron binary is available.');
      expect(r.stderr).toContain('No Electron binary is available on this machine');
      expect(r.stderr).toContain('npm install electron@38.4.0');
      expect(r.stderr).toContain('ELECTRON_OVERRIDE_DIST_PATH');
      expect(r.stderr).toContain('npx --no -- mirror --help');
      expect(r.stderr).toContain(join(t.dir, 'no-electron-here'));
      expect(r.stderr).toContain(join(t.dir, 'node_modules', 'electron', 'path.txt'));
    } finally {
      t.cleanup();
    }
  });

  it('finds the binary from ELECTRON_OVERRIDE_DIST_PATH or node_modules/electron/path.txt + dist/', () => {
    const t = tempDir('okc-start-');
    try {
      const dist = join(t.dir, 'electron-dist');
      mkdirSync(dist);
      writeFileSync(join(dist, process.platform === 'win32' ? 'electron.exe' : 'electron'), '');
      expect(find({ ELECTRON_OVERRIDE_DIST_PATH: dist }, t.dir)).toMatchObject({ source: 'ELECTRON_OVERRIDE_DIST_PATH' });

      const base = join(t.dir, 'app');
      const pkg = join(base, 'node_modules', 'electron');
      mkdirSync(join(pkg, 'dist'), { recursive: true });
      const none = find({}, base);
      expect(none.binary).toBeNull();
      writeFileSync(join(pkg, 'path.txt'), 'electron');
      expect(find({}, base).binary).toBeNull(); // path.txt without the binary (an offline install)
      writeFileSync(join(pkg, 'dist', 'electron'), '');
      expect(find({}, base)).toEqual({ binary: join(pkg, 'dist', 'electron'), source: 'node_modules/electron' });
    } finally {
      t.cleanup();
    }
  });

  it('chooses Electron when a binary exists, else the installed browser, and says why; OKC_SHELL forces one', () => {
    const electron = { binary: '/opt/electron/electron', source: 'ELECTRON_OVERRIDE_DIST_PATH' };
    const none = { binary: null };
    expect(choose({ env: {}, electron, browser: '/usr/bin/chromium' })).toMatchObject({ shell: 'electron', reason: expect.stringContaining('an Electron binary was found') });
    expect(choose({ env: {}, electron: none, browser: '/usr/bin/chromium' })).toMatchObject({ shell: 'browser', reason: expect.stringContaining('no Electron binary on this machine') });
    expect(choose({ env: { OKC_SHELL: 'browser' }, electron, browser: '/usr/bin/chromium' })).toMatchObject({ shell: 'browser', reason: expect.stringContaining('forced by OKC_SHELL=browser') });
    expect(choose({ env: { OKC_SHELL: 'electron' }, electron: none, browser: '/usr/bin/chromium' }).shell).toBeNull();
    expect(choose({ env: { OKC_SHELL: 'browser' }, electron, browser: null }).shell).toBeNull();
    expect(choose({ env: { OKC_SHELL: 'firefox' }, electron, browser: '/usr/bin/chromium' })).toMatchObject({ shell: null, reason: expect.stringContaining('OKC_SHELL=firefox is not a shell') });
    expect(choose({ env: {}, electron: none, browser: null }).shell).toBeNull();
  });

  it('finds a Chromium-family browser: OKC_CHROMIUM first (and only), else chromium, chrome or edge on PATH', () => {
    const on = (files: string[]) => (c: string) => (files.includes(c) ? `/usr/bin/${c}` : null);
    expect(browserOf({}, on(['google-chrome', 'microsoft-edge']))).toBe('/usr/bin/google-chrome');
    expect(browserOf({}, on(['chromium', 'google-chrome']))).toBe('/usr/bin/chromium');
    expect(browserOf({}, on([]))).toBeNull();
    expect(browserOf({ OKC_CHROMIUM: 'missing-browser' }, on(['chromium']))).toBeNull();
  });
});
