// Builds the Node-side bundles with esbuild: the `mirror` CLI (run by `prepare`),
// and, for `all`, the Electron main process and preload. The renderer is built by Vite.
import { build } from 'esbuild';
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const target = process.argv[2] ?? 'all';
// Where the bundles go: dist/ of the checkout, or OKC_BUILD_DIST (an absolute
// folder; build/packaging.test.ts builds into a temporary one).
const outdir = process.env.OKC_BUILD_DIST ? resolve(process.env.OKC_BUILD_DIST) : join(root, 'dist');

// Native and heavy packages stay external: loaded from node_modules at run time.
const external = [
  'electron',
  'better-sqlite3',
  'zstd-napi',
  '@sigstore/*',
  'age-encryption',
  'tar',
  'yaml',
  'zod',
  'playwright-core',
];

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  external,
  define: { __APP_VERSION__: JSON.stringify(pkg.version) },
  logLevel: 'warning',
  absWorkingDir: root,
};

// The CLI bundles zod (pure JS): loaded from node_modules it cost Node's loader ~40 ms of a
// command's start-up (one file per module), a third of a 1 % delta's apply.
// age-encryption (an ES module only) too: the CLI is one CommonJS file run through node:vm, where an
// `import()` of a package has no loader (and Node 20 has no require() of an ES module).
const cliExternal = external.filter((x) => x !== 'zod' && x !== 'age-encryption');

// zod re-exports every locale (`z.locales`: 64 languages, ~400 KB of the CLI's JS, compiled at each
// start); the engine never selects one, and zod's English default comes from locales/en.js directly.
// The bundled index keeps English only.
const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      /[\\/]node_modules[\\/]zod[\\/]/.test(args.importer) ? { path: join(dirname(args.importer), args.path), namespace: 'zod-locales' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'zod-locales' }, (args) => ({
      contents: `export { default as en } from ${JSON.stringify(join(dirname(args.path), 'en.js'))};`,
      resolveDir: dirname(args.path),
    }));
  },
};

async function cli() {
  // Earlier builds' bundles, their code caches and the chunks of the ESM build before them.
  rmSync(join(outdir, 'cli/chunks'), { recursive: true, force: true });
  rmSync(join(outdir, 'cli/mirror.mjs.map'), { force: true });
  for (const f of existsSync(join(outdir, 'cli')) ? readdirSync(join(outdir, 'cli')) : []) {
    if (/^mirror-.*\.(cjs|cjs\.map|cache|tmp)$/.test(f)) rmSync(join(outdir, 'cli', f), { force: true });
  }
  // The CLI itself: one CommonJS file whose name carries its content hash, loaded by the launcher
  // below through node:vm with a V8 code cache per command (electron/cli/launcher.ts). CommonJS,
  // because Node 20 keeps no compile cache for ES modules; each command's module still runs only
  // when that command does (esbuild keeps an `import()` lazy in one file too).
  const result = await build({
    ...common,
    external: cliExternal,
    plugins: [zodEnglishOnly],
    entryPoints: { 'cli/mirror': 'electron/cli/bin.ts' },
    entryNames: '[dir]/[name]-[hash]',
    outdir,
    outExtension: { '.js': '.cjs' },
    format: 'cjs',
    // The engine finds its worker, resources and packages from its own file (import.meta.url in
    // the sources): the bundle's path, as the launcher passes it.
    define: { ...common.define, 'import.meta.url': '__okcBundleUrl' },
    // No comments and no indentation (names are kept; the source map gives lines back): a third
    // less to read at each start, and pure ASCII (esbuild escapes strings, comments are gone), so
    // the launcher reads it as Latin-1 into a one-byte string with no UTF-8 decoding (~20 ms less).
    minifyWhitespace: true,
    // The directive first: the whole bundle is strict code, as the ES modules it comes from.
    banner: { js: '"use strict";const __okcBundleUrl = require("node:url").pathToFileURL(__filename).href;' },
    metafile: true,
  });
  const bundleFile = Object.keys(result.metafile.outputs).find((f) => f.endsWith('.cjs'));
  const bundleText = readFileSync(join(root, bundleFile));
  const nonAscii = bundleText.findIndex((b) => b > 0x7f);
  if (nonAscii >= 0) throw new Error(`${bundleFile}: a non-ASCII byte at offset ${nonAscii}; the launcher reads the bundle as Latin-1`);
  // No `import()` may be left in it (see cliExternal): it would fail only when that path runs.
  const text = bundleText.toString('latin1');
  const dynamic = /\bimport\(\s*["'`]/.exec(text);
  if (dynamic) throw new Error(`${bundleFile}: a dynamic import() is left in the CLI bundle: …${text.slice(Math.max(0, dynamic.index - 80), dynamic.index + 80)}…`);
  await build({
    ...common,
    external: [],
    entryPoints: { 'cli/mirror': 'electron/cli/launcher.ts' },
    outdir,
    // CommonJS too: an ES module entry starts Node's ESM loader first (~8 ms of every command's
    // start, measured in 20 alternating pairs of a 1 % delta's verify; docs/benchmarks.md).
    outExtension: { '.js': '.cjs' },
    format: 'cjs',
    sourcemap: false,
    define: { ...common.define, __CLI_BUNDLE__: JSON.stringify(basename(bundleFile)), 'import.meta.url': '__okcLauncherUrl' },
    // A young generation of 2 MiB semi-spaces (V8's default grows to 16): a verify of a
    // 1,000,000-file bundle peaks ~75 MB lower at the same speed (docs/benchmarks.md, issue 13).
    // `env -S` (coreutils 8.30+) splits the line into node and its flag. (glibc's malloc on
    // transparent huge pages, GLIBC_TUNABLES=glibc.malloc.hugetlb=1, made a verify 50-85 ms faster
    // but raised the 1m import's peak RSS to 195.6-198.1 MB: not kept; docs/benchmarks.md.)
    // `-u NODE_EXTRA_CA_CERTS`: Node reads and parses that CA file at every start, before any of
    // our code runs (40 ms of a 100 ms start on the build machine, where it is set); mirror never
    // opens a network connection, so the certificates are of no use to it or its children.
    banner: { js: '#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS node --max-semi-space-size=2\n"use strict";const __okcLauncherUrl = require("node:url").pathToFileURL(__filename).href;' },
  });
  chmodSync(join(outdir, 'cli/mirror.cjs'), 0o755);
  // The launcher's name before 2026-12-07 (an ES module then): npm's npx cache keeps the bin link a
  // project had (~/.npm/_npx/<hash>/node_modules/.bin/mirror -> dist/cli/mirror.mjs), so that name
  // stays, as a shim that runs mirror.cjs (with the ES module loader's cost the new name avoids).
  writeFileSync(
    join(outdir, 'cli/mirror.mjs'),
    "#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS node --max-semi-space-size=2\n// The mirror command under its former name: package.json's bin is mirror.cjs.\nimport { createRequire } from 'node:module';\ncreateRequire(import.meta.url)('./mirror.cjs');\n",
    { mode: 0o755 },
  );
  chmodSync(join(outdir, 'cli/mirror.mjs'), 0o755);
  // Worker entry points used by the engine (bundle work off the caller's thread).
  // dist/jobs/worker.mjs: the job runner's worker (electron/services/jobs), found from dist/cli and dist/main.
  await build({
    ...common,
    entryPoints: { 'jobs/worker': 'electron/services/jobs/worker.ts' },
    outdir,
    outExtension: { '.js': '.mjs' },
    format: 'esm',
  });
}

async function electronShell() {
  await build({
    ...common,
    entryPoints: { 'main/main': 'electron/main/main.ts' },
    outdir,
    outExtension: { '.js': '.mjs' },
    format: 'esm',
  });
  // A sandboxed preload must be a single CommonJS file that requires only 'electron'.
  await build({
    ...common,
    entryPoints: { 'preload/preload': 'electron/preload/preload.ts' },
    outdir,
    outExtension: { '.js': '.cjs' },
    format: 'cjs',
    external: ['electron'],
  });
}

// The browser shell (npm start where no Electron binary exists): a Node program driving the installed Chromium.
async function browserShell() {
  await build({
    ...common,
    entryPoints: { 'browser/shell': 'electron/browser/shell.ts' },
    outdir,
    outExtension: { '.js': '.mjs' },
    format: 'esm',
  });
}

if (target === 'cli' || target === 'all') await cli();
if (target === 'browser' || target === 'all') await browserShell();
if (target === 'electron' || target === 'all') await electronShell();
