/** Test support: where ../shared is (read in place, never copied), and temp folders. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { OpsError } from '../../../shared/errors';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const SHARED_DIR = process.env.OKC_SHARED_DIR ? resolve(process.env.OKC_SHARED_DIR) : resolve(REPO_ROOT, '..', 'shared');
export const FIXTURES = join(SHARED_DIR, 'fixtures');
export const KITS = join(FIXTURES, 'kits');

/** A fresh temp folder; returns it and a cleanup function. */
export function tempDir(prefix = 'okc-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Unmounts a test's small filesystem. The detached `rm` an import started
 * (staging/trash.ts) may still be at work in it, which makes umount fail
 * with "busy": tried again for up to 5 s, then detached lazily (`umount -l`),
 * so the temp folder's removal never fails on a mount point.
 */
export function unmountTestFs(mnt: string): void {
  const until = Date.now() + 5000;
  while (spawnSync('umount', [mnt]).status !== 0) {
    if (Date.now() > until) {
      spawnSync('umount', ['-l', mnt]);
      return;
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
  }
}

/**
 * What a workspace's trash/ still holds once the detached `rm` an import
 * started (staging/trash.ts) has had up to `timeoutMs` to finish. A test that
 * compares a workspace's files before and after something else calls it
 * first: that removal goes on after the import returns.
 */
export async function trashDrained(trashDir: string, timeoutMs = 20_000): Promise<string[]> {
  const left = (): string[] => {
    try {
      return readdirSync(trashDir);
    } catch {
      return [];
    }
  };
  const until = Date.now() + timeoutMs;
  while (left().length > 0 && Date.now() < until) await new Promise((res) => setTimeout(res, 20));
  return left();
}

/** The OpsError code `fn` throws, undefined when it returns; anything else thrown is rethrown. */
export function errorCodeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof OpsError) return e.code;
    throw e;
  }
  return undefined;
}
