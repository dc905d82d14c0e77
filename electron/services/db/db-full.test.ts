/**
 * A full volume is reported as ERR_NO_SPACE (not as a damaged database), and
 * the file is left as it was. Uses a tiny tmpfs (root with mount rights;
 * skipped with a message where mounting is not allowed).
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isOpsError } from '../../../shared/errors';
import { tempDir, unmountTestFs } from '../testing/fixtures';
import { openDatabase } from './index';

let tmp: { dir: string; cleanup: () => void };
let mnt = '';
let mounted = false;

beforeAll(() => {
  tmp = tempDir('okc-dbfull-');
  mnt = join(tmp.dir, 'tiny');
  mkdirSync(mnt);
  mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mnt]).status === 0;
  if (!mounted) console.warn('db-full.test: skipped, this sandbox does not allow mounting a tmpfs');
});
afterAll(() => {
  if (mounted) unmountTestFs(mnt);
  tmp.cleanup();
});

function fillVolume(dir: string): void {
  const fd = openSync(join(dir, 'filler'), 'w');
  const chunk = Buffer.alloc(16 * 1024, 1);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  } finally {
    closeSync(fd);
  }
}

describe('openDatabase on a full volume', () => {
  it('reports ERR_NO_SPACE with a plain message, not ERR_DB_CORRUPT', (ctx) => {
    if (!mounted) ctx.skip();
    fillVolume(mnt);
    let caught: unknown;
    try {
      openDatabase(join(mnt, 'console.db')).close();
    } catch (e) {
      caught = e;
    }
    expect(isOpsError(caught)).toBe(true);
    expect((caught as { code: string }).code).toBe('ERR_NO_SPACE');
    expect((caught as Error).message).toMatch(/full/);
  });
});
