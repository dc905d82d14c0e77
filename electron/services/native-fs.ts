/**
 * The engine's native durability calls (native/okc-fs, built by `npm install`,
 * build/native.mjs): syncfs(2) on a thread of its own, and fsync(2) of many
 * paths at once on a few threads. Node has neither: without this module a
 * flush is a `sync -f` child process (~10 ms to start from the engine's
 * process, and the caller waits for it) and folders are fsynced one after
 * another.
 *
 * Optional by design: where the module is missing or cannot load (a build
 * without a compiler, an odd package), `nativeFs()` is null and callers keep
 * their portable path. `OKC_NATIVE_FS=off` forces that path (tests).
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { getSystemErrorMap } from 'node:util';
import { packageRoot } from './resources';

interface Binding {
  start(mode: 0 | 1, paths: string[], threads: number): unknown;
  wait(job: unknown): Int32Array;
}

/** Work running on the module's threads; `wait()` blocks until it is done and throws the first failure. */
export interface NativeJob {
  wait(): void;
}

export interface NativeFs {
  /** syncfs(2) of the filesystem holding `path`, started now on a thread of its own. */
  startSyncfs(path: string): NativeJob;
  /** fsync(2) of every path (files or folders, never through a symbolic link), up to `threads` at once. */
  startFsyncs(paths: readonly string[], threads?: number): NativeJob;
}

let loaded: Binding | null | undefined;

/** Where the build puts the module, below the package root (the packaged app unpacks it from the asar). */
export function nativeFsModulePath(): string {
  return join(packageRoot(), 'native', 'okc-fs', 'build', 'Release', 'okc_fs.node');
}

function binding(): Binding | null {
  if (loaded !== undefined) return loaded;
  try {
    loaded = createRequire(import.meta.url)(nativeFsModulePath()) as Binding;
  } catch {
    loaded = null;
  }
  return loaded;
}

/** A Node-style error (code, errno, syscall, path) for errno `n` of `syscall` on `path`. */
function errnoError(n: number, syscall: string, path: string): NodeJS.ErrnoException {
  const [code, text] = getSystemErrorMap().get(-n) ?? [`E${n}`, 'system error'];
  const e = new Error(`${code}: ${text}, ${syscall} '${path}'`) as NodeJS.ErrnoException;
  e.code = code;
  e.errno = -n;
  e.syscall = syscall;
  e.path = path;
  return e;
}

function job(b: Binding, handle: unknown, syscall: string, paths: readonly string[]): NativeJob {
  let failure: NodeJS.ErrnoException | null | undefined;
  return {
    wait() {
      if (failure === undefined) {
        const errs = b.wait(handle);
        const i = errs.findIndex((x) => x !== 0);
        failure = i < 0 ? null : errnoError(errs[i], syscall, paths[i]);
      }
      if (failure) throw failure;
    },
  };
}

/** The native calls, or null where the module is not there (or `OKC_NATIVE_FS=off`). */
export function nativeFs(env: NodeJS.ProcessEnv = process.env): NativeFs | null {
  if (env.OKC_NATIVE_FS === 'off') return null;
  const b = binding();
  if (!b) return null;
  return {
    startSyncfs: (path) => job(b, b.start(1, [path], 1), 'syncfs', [path]),
    startFsyncs: (paths, threads = 4) => job(b, b.start(0, [...paths], threads), 'fsync', paths),
  };
}
