/**
 * Lock race driver (test support, run as a child process by lock.test.ts):
 * takes the workspace's write lock. With OKC_BARRIER=<dir> and OKC_N=<n>, a
 * starter that finds the lock stale waits until all n starters have found it
 * stale before going on, so every one of them runs the takeover with the same
 * stale lock in hand (the race). Prints `took` or the error code, then holds a
 * lock it took until OKC_RELEASE (a file) exists.
 */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { acquireWriteLock, openWorkspace } from './index';

const dir = process.env.OKC_WS;
if (!dir) throw new Error('OKC_WS is required');
const barrier = process.env.OKC_BARRIER;
const n = Number(process.env.OKC_N ?? '1');
const release = process.env.OKC_RELEASE;
const pause = (ms: number): void => void Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

const ws = openWorkspace(dir);
try {
  const lock = acquireWriteLock(ws, 'lock race', {
    onStale: () => {
      if (!barrier) return;
      writeFileSync(join(barrier, String(process.pid)), '');
      while (readdirSync(barrier).length < n) pause(5);
    },
  });
  process.stdout.write('took\n');
  while (release && !existsSync(release)) pause(10);
  lock.release();
} catch (e) {
  process.stdout.write(`${(e as { code?: string }).code ?? 'no code'} ${(e as Error).message}\n`);
}
