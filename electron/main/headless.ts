/**
 * The packaged app's headless entry and its development-override lock-down.
 * Pure (no Electron): tested directly.
 *
 * With the RunAsNode fuse off, the app binary cannot run the CLI as plain
 * Node, so `<app> mirror …` runs the `mirror` CLI in the main process with no
 * window (the deb's /usr/bin/mirror calls exactly that).
 */

/**
 * The CLI arguments when the app was started as `<app> mirror …`, else null.
 * Packaged: argv is [exe, ...user args]; from a checkout: [electron, appPath, ...user args].
 * Chromium switches (`--no-sandbox`, …) before `mirror` are skipped.
 */
export function headlessCliArgs(argv: readonly string[], isPackaged: boolean): string[] | null {
  let i = isPackaged ? 1 : 2;
  while (i < argv.length && argv[i].startsWith('--')) i++;
  return argv[i] === 'mirror' ? argv.slice(i + 1) : null;
}

/** Development overrides a packaged app must never honour (they load code or native modules from outside the package). */
export const DEV_ONLY_ENV = ['OKC_SQLITE_NATIVE_BINDING', 'ELECTRON_OVERRIDE_DIST_PATH'] as const;

/** Removes the development overrides from `env` in a packaged app; returns the names removed. */
export function lockDownDevOverrides(env: NodeJS.ProcessEnv, isPackaged: boolean): string[] {
  if (!isPackaged) return [];
  const removed: string[] = [];
  for (const name of DEV_ONLY_ENV) {
    if (env[name] !== undefined) {
      delete env[name];
      removed.push(name);
    }
  }
  return removed;
}
