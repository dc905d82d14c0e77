/**
 * better-sqlite3 is a V8-ABI module: the npm-installed build serves Node (CLI,
 * tests); the app needs a build for Electron's ABI. `npm start` prepares one
 * in `.electron-native/` (see build/start.mjs) and the main process points
 * better-sqlite3 at it through its `nativeBinding` option (read by
 * electron/services/db from OKC_SQLITE_NATIVE_BINDING, inherited by worker
 * threads). A packaged app is rebuilt for Electron by the packager, so no
 * override is needed there.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const ELECTRON_NATIVE_DIR = '.electron-native';

/** Candidate locations of an Electron-ABI better_sqlite3.node under the app root. */
export function nativeBindingCandidates(appRoot: string, electronVersion: string | undefined): string[] {
  const base = join(appRoot, ELECTRON_NATIVE_DIR);
  const out: string[] = [];
  if (electronVersion) out.push(join(base, `electron-${electronVersion}`, 'better_sqlite3.node'));
  out.push(join(base, 'better_sqlite3.node'));
  return out;
}

/** Sets OKC_SQLITE_NATIVE_BINDING when an Electron build exists (an explicit setting wins). Returns the path used. */
export function configureNativeBinding(appRoot: string, electronVersion: string | undefined, env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.OKC_SQLITE_NATIVE_BINDING) return env.OKC_SQLITE_NATIVE_BINDING;
  const found = nativeBindingCandidates(appRoot, electronVersion).find((f) => existsSync(f)) ?? null;
  if (found) env.OKC_SQLITE_NATIVE_BINDING = found;
  return found;
}
