/**
 * Private spool folders of killed verifies (collector.ts sweepStaleSpools):
 * removed when their process is gone, left alone while it runs.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir } from '../../testing/fixtures';
import { sweepStaleSpools } from './collector';

let tmp: { dir: string; cleanup: () => void };
beforeEach(() => {
  tmp = tempDir('okc-sweep-');
});
afterEach(() => tmp.cleanup());

describe('stale spool folders', () => {
  it('are removed when their process no longer runs and they are over an hour old; others stay', async () => {
    const dead = spawnSync('true').pid!;
    const live = spawn('sleep', ['30']);
    try {
      const old = new Date(Date.now() - 2 * 3_600_000);
      const make = (name: string, age: Date = old) => {
        mkdirSync(join(tmp.dir, name));
        writeFileSync(join(tmp.dir, name, '0'), 'names');
        utimesSync(join(tmp.dir, name), age, age);
      };
      make(`okc-spool-${dead}-aB3xYz`);
      make(`okc-spool-${live.pid}-Qw12er`);
      make(`okc-spool-${process.pid}-Zz99zz`);
      make('okc-spool-AbCdEf'); // an older console's name: no pid, never guessed at
      make('something-else');
      make(`okc-spool-${dead}-recent`, new Date()); // dead pid, but changed just now: maybe another pid namespace's
      expect(sweepStaleSpools(tmp.dir, true)).toEqual([`okc-spool-${dead}-aB3xYz`]);
      expect(readdirSync(tmp.dir).sort()).toEqual([`okc-spool-${live.pid}-Qw12er`, `okc-spool-${process.pid}-Zz99zz`, `okc-spool-${dead}-recent`, 'okc-spool-AbCdEf', 'something-else'].sort());
    } finally {
      live.kill('SIGKILL');
    }
  });
});
