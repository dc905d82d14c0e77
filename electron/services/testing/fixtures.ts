/** Test support: where ../shared is (read in place, never copied), and temp folders. */
import { mkdtempSync, rmSync } from 'node:fs';
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
