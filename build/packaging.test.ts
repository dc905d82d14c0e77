/**
 * The packaging step, checked as far as this machine allows (no Electron
 * binary, no network, so no real `electron-builder` run):
 * - build/electron-builder.yml is loaded and validated the way
 *   `electron-builder --config build/electron-builder.yml` does it
 *   (app-builder-lib's getConfig + validateConfiguration against its shipped
 *   scheme.json), and the validator is shown to refuse bad configurations;
 * - every path the configuration names exists after a real build (the esbuild
 *   bundles and the Vite renderer, built into a temporary folder), and the
 *   `files` patterns take in what the app loads at run time and nothing else;
 * - the Electron fuses are the hardened set, and the afterPack hook really
 *   flips them on an Electron-shaped binary (the fuse sentinel and wire);
 * - a packaged app honours no development override: every OKC_/ELECTRON_
 *   variable in the built main bundle is either dropped when packaged or only
 *   names data, never code.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { DEV_ONLY_ENV } from '../electron/main/headless';
import { REPO_ROOT } from '../electron/services/testing/fixtures';

const CONFIG = 'build/electron-builder.yml';
const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { productName: string; optionalDependencies: Record<string, string> };
const raw = parseYaml(readFileSync(join(REPO_ROOT, CONFIG), 'utf8')) as Record<string, unknown>;

// app-builder-lib's own modules (the ones `electron-builder` runs), not copies.
const fromBuilder = createRequire(join(REPO_ROOT, 'node_modules', 'app-builder-lib', 'package.json'));
interface BuilderConfigApi {
  getConfig(projectDir: string, configPath: string | null, configFromOptions: unknown): Promise<Record<string, unknown>>;
  validateConfiguration(config: unknown, debugLogger: unknown): Promise<void>;
}
const builderConfig = fromBuilder('./out/util/config/config.js') as BuilderConfigApi;
const { DebugLogger } = createRequire(fromBuilder.resolve('builder-util'))('builder-util') as { DebugLogger: new (enabled: boolean) => unknown };
type Minimatch = new (pattern: string, opts: { dot: boolean }) => { negate: boolean; match(path: string): boolean };
const { Minimatch } = fromBuilder('minimatch') as { Minimatch: Minimatch };
type AjvCtor = new (opts: Record<string, unknown>) => { compile(schema: unknown): ((data: unknown) => boolean) & { errors?: { instancePath: string; message?: string; params: unknown }[] } };
const Ajv = (fromBuilder('ajv') as { default: AjvCtor }).default;

interface FusesApi {
  FuseV1Options: Record<string, number>;
  getCurrentFuseWire(binary: string): Promise<Record<string, number | string>>;
}
interface AfterPackApi {
  (context: { electronPlatformName: string; appOutDir: string; packager: { executableName: string } }): Promise<void>;
  FUSES: Record<string, boolean>;
}
const requireHere = createRequire(join(REPO_ROOT, 'build', 'after-pack.cjs'));
const afterPack = requireHere('./after-pack.cjs') as AfterPackApi;
const fuses = requireHere('@electron/fuses') as FusesApi;

const validate = async (config: unknown) => builderConfig.validateConfiguration(config, new DebugLogger(false));

describe('build/electron-builder.yml against the schema app-builder-lib ships', () => {
  it('loads and validates exactly as `electron-builder --config build/electron-builder.yml` does', async () => {
    const loaded = await builderConfig.getConfig(REPO_ROOT, CONFIG, null);
    expect(loaded.appId).toBe('io.stellaops.export-center-offline-console');
    await expect(validate(loaded)).resolves.toBeUndefined();
  });

  it('also validates with no type coercion (stricter than electron-builder itself)', () => {
    const schema = JSON.parse(readFileSync(fromBuilder.resolve('./scheme.json'), 'utf8')) as unknown;
    const check = new Ajv({ allErrors: true, strict: false, coerceTypes: false }).compile(schema);
    expect(check(raw), JSON.stringify(check.errors)).toBe(true);
  });

  it('the validator is real: a misspelt option, a wrong type and an unknown deb option are refused', async () => {
    await expect(validate({ ...raw, asarr: true })).rejects.toThrow(/Invalid configuration object[\s\S]*asarr/);
    await expect(validate({ ...raw, asar: 'yes please' })).rejects.toThrow(/Invalid configuration object[\s\S]*asar/);
    await expect(validate({ ...raw, deb: { ...(raw.deb as object), postInstall: 'x.sh' } })).rejects.toThrow(/Invalid configuration object[\s\S]*configuration\.deb/);
  });
});

describe('what the package is', () => {
  it('Linux only: AppImage, deb and dir for x64 and arm64; Windows and macOS have no targets (not yet); nothing is published', () => {
    const linux = raw.linux as { target: { target: string; arch: string[] }[]; executableName: string };
    expect(linux.target).toEqual([
      { target: 'AppImage', arch: ['x64', 'arm64'] },
      { target: 'deb', arch: ['x64', 'arm64'] },
      { target: 'dir', arch: ['x64', 'arm64'] },
    ]);
    for (const k of ['win', 'mac', 'nsis', 'dmg', 'mas', 'appx', 'msi', 'pkg']) expect(raw[k], k).toBeUndefined();
    expect(raw.publish).toBeNull();
  });

  it('asar on, native modules unpacked, rebuilt for the pinned Electron; electron’s own package is not copied in', () => {
    expect(raw.asar).toBe(true);
    expect(raw.asarUnpack).toEqual(expect.arrayContaining(['**/*.node']));
    expect(raw.npmRebuild).toBe(true);
    expect(raw.electronVersion).toBe(pkg.optionalDependencies.electron);
    const files = raw.files as string[];
    // A negated Minimatch answers false for the paths it excludes.
    const excludes = files.filter((f) => f.startsWith('!')).map((f) => new Minimatch(f, { dot: true }));
    const excluded = (p: string) => excludes.some((m) => !m.match(p));
    for (const p of ['node_modules/electron', 'node_modules/electron/dist/electron', 'node_modules/electron/package.json']) expect(excluded(p), p).toBe(true);
    for (const p of ['node_modules/better-sqlite3/build/Release/better_sqlite3.node', 'node_modules/electron-foo/index.js']) expect(excluded(p), p).toBe(false);
  });

  it('the deb installs /usr/bin/mirror calling `<app> mirror …` from the folder and executable electron-builder installs', () => {
    const deb = raw.deb as { afterInstall: string; afterRemove: string };
    const install = readFileSync(join(REPO_ROOT, deb.afterInstall), 'utf8');
    const remove = readFileSync(join(REPO_ROOT, deb.afterRemove), 'utf8');
    const exe = (raw.linux as { executableName: string }).executableName;
    expect(install).toContain(`APP_DIR='/opt/${pkg.productName}'`);
    expect(install).toContain(`EXE='${exe}'`);
    expect(install).toMatch(/cat > \/usr\/bin\/mirror <<SCRIPT\n#!\/bin\/sh\n[^\n]*\nexec "\$APP_DIR\/\$EXE" mirror "\\\$@"\nSCRIPT/);
    expect(remove).toContain('/usr/bin/mirror');
    for (const f of [deb.afterInstall, deb.afterRemove]) expect(statSync(join(REPO_ROOT, f)).mode & 0o111, `${f} is executable`).not.toBe(0);
  });
});

describe('every path it names exists after the build', () => {
  const out = join(REPO_ROOT, '.tmp', `packaging-${process.pid}-${Date.now()}`);
  const dist = join(out, 'dist');
  /** Candidate app files (relative to the project, as electron-builder matches them): the repo's sources and the fresh build as dist/. */
  let candidates: string[] = [];

  const walk = (dir: string, base: string, skip: Set<string>, acc: string[]) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const rel = base ? `${base}/${e.name}` : e.name;
      if (skip.has(rel)) continue;
      if (e.isDirectory()) walk(join(dir, e.name), rel, skip, acc);
      else acc.push(rel);
    }
    return acc;
  };

  beforeAll(() => {
    mkdirSync(out, { recursive: true });
    const env = { ...process.env, OKC_BUILD_DIST: dist };
    const b = spawnSync(process.execPath, [join(REPO_ROOT, 'build', 'build.mjs'), 'all'], { cwd: REPO_ROOT, env, encoding: 'utf8' });
    if (b.status !== 0) throw new Error(`build.mjs all failed: ${b.stderr}`);
    const v = spawnSync(process.execPath, [join(REPO_ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', 'renderer/vite.config.ts', '--outDir', join(dist, 'renderer'), '--emptyOutDir', '--logLevel', 'error'], {
      cwd: REPO_ROOT,
      env,
      encoding: 'utf8',
    });
    if (v.status !== 0) throw new Error(`vite build failed: ${v.stderr}`);
    const skip = new Set(['node_modules', '.git', 'dist', 'out', '.tmp', 'test-results', '.electron-native']);
    candidates = [...walk(REPO_ROOT, '', skip, []), ...walk(dist, 'dist', new Set(), [])];
  }, 240_000);

  afterAll(() => rmSync(out, { recursive: true, force: true }));

  /** electron-builder's rule: patterns in order, a later match (include or `!exclude`) decides. */
  const packaged = () => {
    const pats = (raw.files as string[]).map((p) => new Minimatch(p, { dot: true }));
    return candidates.filter((f) => {
      let inc = false;
      // A negated Minimatch answers false for the paths it excludes.
      for (const m of pats) {
        if (m.negate && inc && !m.match(f)) inc = false;
        else if (!m.negate && !inc && m.match(f)) inc = true;
      }
      return inc;
    });
  };

  it('each `files` pattern takes in at least one built or checked-in file', () => {
    for (const p of (raw.files as string[]).filter((f) => !f.startsWith('!'))) {
      const m = new Minimatch(p, { dot: true });
      expect(candidates.some((f) => m.match(f)), `${p} matches nothing`).toBe(true);
    }
  });

  it('the package holds what the app loads at run time: main (with the headless CLI), preload, worker, renderer, runbooks, demo kit, operator docs; no source maps, no sources', () => {
    const files = packaged();
    const main = (raw.extraMetadata as { main: string }).main;
    for (const f of [main, 'package.json', 'dist/preload/preload.cjs', 'dist/jobs/worker.mjs', 'dist/renderer/index.html', 'resources/demo-kit.pub', 'docs/operator/README.md', 'docs/operator/errors.md', 'native/okc-fs/build/Release/okc_fs.node']) {
      expect(files, f).toContain(f);
    }
    expect(files.some((f) => f.startsWith('dist/renderer/assets/') && f.endsWith('.js'))).toBe(true);
    expect(files.some((f) => f.startsWith('resources/runbooks/'))).toBe(true);
    expect(files.some((f) => f.startsWith('resources/demo-kit/'))).toBe(true);
    expect(files.filter((f) => f.endsWith('.map'))).toEqual([]);
    expect(files.filter((f) => /\.(ts|tsx)$/.test(f) || f.startsWith('electron/') || f.startsWith('renderer/') || f.startsWith('shared/') || f.startsWith('build/'))).toEqual([]);
    // The main bundle really is a built bundle with the CLI in it (the headless `<app> mirror …` entry).
    const mainSrc = readFileSync(join(dist, relative('dist', main)), 'utf8');
    expect(mainSrc).toMatch(/lockDownDevOverrides/);
    expect(mainSrc).toMatch(/mirror/);
  });

  it('the hooks, scripts and icon folders it names exist', () => {
    const dirs = raw.directories as { buildResources: string };
    const deb = raw.deb as { afterInstall: string; afterRemove: string };
    for (const f of [raw.afterPack as string, deb.afterInstall, deb.afterRemove]) expect(statSync(join(REPO_ROOT, f)).isFile(), f).toBe(true);
    for (const d of [dirs.buildResources, (raw.linux as { icon: string }).icon]) expect(statSync(join(REPO_ROOT, d)).isDirectory(), d).toBe(true);
    expect(existsSync(join(REPO_ROOT, dirs.buildResources, '512x512.png'))).toBe(true);
  });

  it('a packaged app honours no development override: each OKC_/ELECTRON_ variable in the main bundle is dropped when packaged or names only data', () => {
    // Variables that name where data lives or how hard to sync, never code to load.
    const DATA_ONLY: Record<string, string> = {
      OKC_WORKSPACE: 'the workspace folder (data; the operator chooses it)',
      OKC_DURABILITY: 'fsync policy of the engine (no code is loaded)',
      OKC_NATIVE_FS: 'turns the packaged native flush module off (less code is loaded, never other code)',
      OKC_ENGINE: 'off: an import never goes to a resident engine (mirror serve); trace: says which way it went (no code is loaded; the engine is of the same build and user)',
    };
    const mainSrc = readFileSync(join(dist, 'main', 'main.mjs'), 'utf8');
    // Read as env.NAME or named in a string ('NAME', as DEV_ONLY_ENV lists them); identifiers such as ELECTRON_NATIVE_DIR are not variables.
    const names = [...new Set([...mainSrc.matchAll(/(?:env\.|['"`])((?:OKC|ELECTRON)_[A-Z0-9_]+)\b/g)].map((m) => m[1]))].sort();
    expect(names).toContain('OKC_SQLITE_NATIVE_BINDING');
    const unclassified = names.filter((n) => !(DEV_ONLY_ENV as readonly string[]).includes(n) && !(n in DATA_ONLY));
    expect(unclassified, 'a new environment variable in the main process: add it to DEV_ONLY_ENV (electron/main/headless.ts) or explain here why it is safe in a package').toEqual([]);
    expect(DEV_ONLY_ENV).toEqual(expect.arrayContaining(['OKC_SQLITE_NATIVE_BINDING', 'ELECTRON_OVERRIDE_DIST_PATH']));
    // The lock-down runs before anything reads the environment (main.smoke.test.ts runs it packaged).
    expect(mainSrc.indexOf('lockDownDevOverrides(process.env')).toBeGreaterThan(-1);
  });
});

describe('Electron fuses set by the packaging step', () => {
  const SENTINEL = 'dL7pKGdnNz796PbbjQWNKmHXBZaB9tsX';
  // Electron's shipped defaults, in wire order: RunAsNode on, cookie encryption off, NODE_OPTIONS on, --inspect on,
  // asar integrity off, asar-only off, browser V8 snapshot off, file:// extra privileges on.
  const DEFAULT_WIRE = '10110001';
  const tmp = join(REPO_ROOT, '.tmp', `fuses-${process.pid}-${Date.now()}`);
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  const fakeElectron = (dir: string, name: string, withSentinel = true) => {
    mkdirSync(dir, { recursive: true });
    const head = Buffer.alloc(4096, 0x7f);
    const tail = Buffer.alloc(2048, 0x5a);
    const wire = withSentinel ? Buffer.concat([Buffer.from(SENTINEL, 'ascii'), Buffer.from([1, DEFAULT_WIRE.length]), Buffer.from(DEFAULT_WIRE, 'ascii')]) : Buffer.alloc(0);
    const bin = Buffer.concat([head, wire, tail]);
    writeFileSync(join(dir, name), bin, { mode: 0o755 });
    return { file: join(dir, name), bin, wireAt: head.length + SENTINEL.length + 2 };
  };

  it('are the hardened set', () => {
    expect(afterPack.FUSES).toEqual({
      RunAsNode: false,
      EnableCookieEncryption: true,
      EnableNodeOptionsEnvironmentVariable: false,
      EnableNodeCliInspectArguments: false,
      EnableEmbeddedAsarIntegrityValidation: true,
      OnlyLoadAppFromAsar: true,
      GrantFileProtocolExtraPrivileges: false,
    });
    expect(raw.afterPack).toBe('build/after-pack.cjs');
  });

  it('the afterPack hook flips them in the packaged binary and changes nothing else in it', async () => {
    const exe = (raw.linux as { executableName: string }).executableName;
    const { file, bin, wireAt } = fakeElectron(join(tmp, 'linux-unpacked'), exe);
    await afterPack({ electronPlatformName: 'linux', appOutDir: join(tmp, 'linux-unpacked'), packager: { executableName: exe } });
    const after = readFileSync(file);
    // RunAsNode 0, cookies 1, NODE_OPTIONS 0, --inspect 0, asar integrity 1, asar only 1, V8 snapshot untouched (0), file:// privileges 0.
    expect(after.subarray(wireAt, wireAt + 8).toString('ascii')).toBe('01001100');
    expect(Buffer.concat([after.subarray(0, wireAt), after.subarray(wireAt + 8)]).equals(Buffer.concat([bin.subarray(0, wireAt), bin.subarray(wireAt + 8)]))).toBe(true);
    const wire = await fuses.getCurrentFuseWire(file);
    expect(wire[fuses.FuseV1Options.RunAsNode]).toBe('0'.charCodeAt(0));
    expect(wire[fuses.FuseV1Options.OnlyLoadAppFromAsar]).toBe('1'.charCodeAt(0));
  });

  it('a binary without a fuse wire fails the packaging (never an unfused package), and only Linux is packaged', async () => {
    const { file } = fakeElectron(join(tmp, 'nowire'), 'app', false);
    await expect(afterPack({ electronPlatformName: 'linux', appOutDir: join(tmp, 'nowire'), packager: { executableName: 'app' } })).rejects.toThrow(/sentinel/);
    expect(readFileSync(file).includes(Buffer.from(SENTINEL))).toBe(false);
    for (const platform of ['win32', 'darwin']) {
      await expect(afterPack({ electronPlatformName: platform, appOutDir: tmp, packager: { executableName: 'x' } })).rejects.toThrow(/not supported yet/);
    }
  });
});

describe('a real electron-builder run (Linux dir, x64) over a stand-in Electron distribution', () => {
  // No Electron release can be downloaded here, so electron-builder is given a stand-in
  // unpacked Electron (`electronDist`): an executable holding the fuse wire, chrome-sandbox
  // and version. Everything else is the real packaging step: file collection with the
  // config's patterns, production node_modules, asar and asarUnpack, and the afterPack
  // fuse hook. Not checked: the native rebuild for Electron's ABI (npmRebuild, needs
  // Electron's headers) and the AppImage/deb targets (need their tools downloaded).
  const BUILT = ['dist/main/main.mjs', 'dist/preload/preload.cjs', 'dist/jobs/worker.mjs', 'dist/renderer/index.html'];
  const missing = BUILT.filter((f) => !existsSync(join(REPO_ROOT, f)));
  const tmp = join(REPO_ROOT, '.tmp', `eb-run-${process.pid}-${Date.now()}`);
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('packages the app: hardened fuses on the binary, the app in app.asar, native modules and data unpacked, nothing else', (ctx) => {
    if (missing.length > 0) {
      // npm test builds before vitest; run alone, build first: npm run build && npm run build:renderer.
      ctx.skip();
      return;
    }
    const electronDist = join(tmp, 'electron-dist');
    const SENTINEL = 'dL7pKGdnNz796PbbjQWNKmHXBZaB9tsX';
    mkdirSync(electronDist, { recursive: true });
    writeFileSync(join(electronDist, 'electron'), Buffer.concat([Buffer.from('#!/bin/sh\nexit 0\n'), Buffer.alloc(2048), Buffer.from(SENTINEL), Buffer.from([1, 8]), Buffer.from('10110001'), Buffer.alloc(256)]), { mode: 0o755 });
    writeFileSync(join(electronDist, 'chrome-sandbox'), 'stand-in', { mode: 0o755 });
    writeFileSync(join(electronDist, 'version'), pkg.optionalDependencies.electron);
    const out = join(tmp, 'out');
    const r = spawnSync(
      process.execPath,
      [join(REPO_ROOT, 'node_modules', 'electron-builder', 'cli.js'), '--config', CONFIG, '--linux', 'dir', '--x64', `-c.electronDist=${electronDist}`, '-c.npmRebuild=false', `-c.directories.output=${out}`],
      { cwd: REPO_ROOT, encoding: 'utf8', env: { ...process.env, CI: 'true' } },
    );
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    const app = join(out, 'linux-unpacked');
    const exe = (raw.linux as { executableName: string }).executableName;

    // The afterPack hook ran on the packaged binary: RunAsNode 0, cookies 1, NODE_OPTIONS 0, --inspect 0, asar integrity 1, asar only 1, snapshot 0, file:// 0.
    const bin = readFileSync(join(app, exe));
    const at = bin.indexOf(SENTINEL) + SENTINEL.length + 2;
    expect(bin.subarray(at, at + 8).toString('ascii')).toBe('01001100');

    const asar = createRequire(join(REPO_ROOT, 'package.json'))('@electron/asar') as { listPackage(f: string): string[]; extractFile(f: string, p: string): Buffer };
    const archive = join(app, 'resources', 'app.asar');
    const files = asar.listPackage(archive).map((f) => f.replace(/^[/\\]/, ''));
    expect((JSON.parse(asar.extractFile(archive, 'package.json').toString('utf8')) as { main: string }).main).toBe('dist/main/main.mjs');
    for (const f of BUILT) expect(files, f).toContain(f);
    expect(files.filter((f) => f.endsWith('.map'))).toEqual([]);
    expect(files.filter((f) => !f.startsWith('node_modules') && /\.(ts|tsx)$/.test(f))).toEqual([]);
    expect(files.filter((f) => /^(electron|renderer|shared|build|e2e|bench)[/\\]/.test(f))).toEqual([]);
    expect(files.filter((f) => /^node_modules[/\\](electron|playwright-core|vite|vitest|electron-builder)[/\\]/.test(f))).toEqual([]);
    expect(files.some((f) => f.startsWith('node_modules/better-sqlite3/'))).toBe(true);

    // Unpacked next to the archive: the native modules (dlopen cannot read an asar), resources/ and the operator guide.
    const unpacked = join(app, 'resources', 'app.asar.unpacked');
    expect(existsSync(join(unpacked, 'node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node'))).toBe(true);
    expect(existsSync(join(unpacked, 'node_modules', 'zstd-napi', 'build', 'Release', 'binding.node'))).toBe(true);
    expect(existsSync(join(unpacked, 'native', 'okc-fs', 'build', 'Release', 'okc_fs.node'))).toBe(true);
    expect(readdirSync(join(unpacked, 'resources', 'runbooks')).some((f) => f.endsWith('.json'))).toBe(true);
    expect(existsSync(join(unpacked, 'resources', 'demo-kit.pub'))).toBe(true);
    expect(existsSync(join(unpacked, 'docs', 'operator', 'errors.md'))).toBe(true);
  }, 300_000);
});
