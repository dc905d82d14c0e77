/**
 * The `mirror` command as installed (dist/cli/mirror.cjs, package.json `bin`):
 * loads the CLI bundle (one CommonJS file, dist/cli/mirror-<hash>.cjs) with a
 * V8 code cache, so a command does not parse and compile the engine again at
 * every start (issue 13: ~45 ms of a 1 % delta's ~0.8 s).
 *
 * The cache is per command (`mirror-<hash>.<command>.cache` beside the
 * bundle; `main` for `--help` and `--version`): what `import` compiles is not
 * what `status` compiles. It is written when a command ends with exit code 0
 * and no cache was accepted at its start: none yet, a damaged one (the file
 * starts with the SHA-256 of V8's data, checked here), or one V8 refused
 * (another Node, other V8 flags). It goes through a temporary file renamed
 * into place, and not at all where the folder is not writable (nothing fails
 * then). The bundle's content hash is in its name and the cache's, so a
 * rebuilt bundle never meets an older bundle's cache (V8 itself checks only
 * the source's length). `OKC_CODE_CACHE=off` loads the bundle without one;
 * `OKC_CODE_CACHE=trace` says on stderr what happened.
 *
 * Before that, an `import` on a workspace that a resident engine serves
 * (`mirror serve`) is handed to it (electron/cli/engine-client.ts) and the
 * bundle is not loaded at all.
 *
 * Plain Node only: this file runs before anything else and imports nothing of
 * the engine.
 */
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';
import { forwardable, runThroughEngine } from './engine-client';
import { buildIdOf } from './engine-link';

declare const __CLI_BUNDLE__: string;

const dir = dirname(fileURLToPath(import.meta.url));
const bundle = join(dir, __CLI_BUNDLE__);
const mode = process.env.OKC_CODE_CACHE;
const trace = mode === 'trace' ? (msg: string): void => void process.stderr.write(`code cache: ${msg}\n`) : (): void => {};
const command = process.argv[2];
// A command's name (lower-case letters and dashes) names its cache file, never a path; `--help`,
// `--version` and other options first share one ("main").
const key = mode === 'off' ? null : command === undefined || command.startsWith('-') ? 'main' : /^[a-z][a-z-]{0,31}$/.test(command) ? command : null;
const cacheFile = key === null ? null : `${bundle.replace(/\.cjs$/, '')}.${key}.cache`;

function runBundle(): void {
  // A cache file is the SHA-256 of V8's data, then the data: V8 checks only a header in release
  // builds, so a damaged file is refused here instead of run as bytecode.
  let cachedData: Buffer | undefined;
  let damaged = false;
  if (cacheFile) {
    try {
      const file = readFileSync(cacheFile);
      const data = file.subarray(32);
      if (file.length > 32 && createHash('sha256').update(data).digest().equals(file.subarray(0, 32))) cachedData = data;
      else damaged = true;
    } catch {
      /* none yet */
    }
  }
  // The CommonJS wrapper, as Node's own loader would give the bundle.
  // Latin-1: the build makes the bundle pure ASCII, so this is the text as is, with no UTF-8 decoding.
  let text: string;
  try {
    text = readFileSync(bundle, 'latin1');
  } catch (e) {
    // A build cut short, or files removed by hand: say so, not a stack trace (exit 1: environment).
    process.stderr.write(`mirror: the CLI bundle ${bundle} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}). Rebuild it: npm install (or node build/build.mjs cli) in the console's folder.\n`);
    process.exit(1);
  }
  const source = `(function (exports, require, module, __filename, __dirname) {${text}\n})`;
  const script = new Script(source, {
    filename: bundle,
    cachedData,
  });
  const accepted = cachedData !== undefined && !script.cachedDataRejected;
  trace(cacheFile === null ? 'not used' : damaged ? `damaged ${cacheFile}` : cachedData === undefined ? `none at ${cacheFile}` : accepted ? `accepted ${cacheFile}` : `rejected ${cacheFile}`);
  if (cacheFile && !accepted) {
    process.once('exit', (code) => {
      if (code !== 0) return;
      const tmp = `${cacheFile}.${process.pid}.tmp`;
      try {
        const data = script.createCachedData();
        writeFileSync(tmp, Buffer.concat([createHash('sha256').update(data).digest(), data]), { mode: 0o644 });
        renameSync(tmp, cacheFile);
        trace(`written ${cacheFile}`);
      } catch (e) {
        rmSync(tmp, { force: true });
        trace(`not written (${(e as Error).message})`);
      }
    });
  }
  const mod = { exports: {} };
  (script.runInThisContext() as (e: object, r: NodeRequire, m: object, f: string, d: string) => void).call(mod.exports, mod.exports, createRequire(bundle), mod, bundle, dir);
}

// An `import` on a workspace a resident engine serves (`mirror serve`) runs there; anything else,
// or when no engine takes it, here.
const args = process.argv.slice(2);
if (forwardable(args, process.env)) {
  void runThroughEngine(args, () => buildIdOf(bundle)).then((taken) => {
    if (!taken) runBundle();
  });
} else runBundle();
