import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nativeFs, nativeFsModulePath } from './native-fs';
import { tempDir } from './testing/fixtures';

let tmp: { dir: string; cleanup: () => void };
beforeEach(() => {
  tmp = tempDir('okc-native-');
});
afterEach(() => tmp.cleanup());

describe('native/okc-fs (built by npm install)', () => {
  it('is built and loads on this host (npm install builds it as it builds better-sqlite3)', () => {
    expect(existsSync(nativeFsModulePath()), `${nativeFsModulePath()} is missing: run \`npm install\` (build/native.mjs)`).toBe(true);
    expect(nativeFs()).not.toBeNull();
  });

  it('OKC_NATIVE_FS=off leaves callers on their portable path', () => {
    expect(nativeFs({ OKC_NATIVE_FS: 'off' })).toBeNull();
  });

  it('syncfs of the filesystem holding a folder: started, then waited for (twice: the same outcome)', () => {
    writeFileSync(join(tmp.dir, 'f'), 'x');
    const job = nativeFs()!.startSyncfs(tmp.dir);
    expect(() => job.wait()).not.toThrow();
    expect(() => job.wait()).not.toThrow();
  });

  it('fsync of many files and folders on a few threads', () => {
    const paths: string[] = [];
    for (let i = 0; i < 40; i++) {
      const d = join(tmp.dir, `d${i}`);
      mkdirSync(d);
      writeFileSync(join(d, 'f'), String(i));
      paths.push(d, join(d, 'f'));
    }
    expect(() => nativeFs()!.startFsyncs(paths, 4).wait()).not.toThrow();
    // More threads asked than paths, and none at all: both still do every path.
    expect(() => nativeFs()!.startFsyncs(paths.slice(0, 2), 8).wait()).not.toThrow();
    expect(() => nativeFs()!.startFsyncs([], 4).wait()).not.toThrow();
  });

  it('a failure is a Node-style error naming the path and the call, thrown at every wait', () => {
    writeFileSync(join(tmp.dir, 'ok'), 'x');
    const missing = join(tmp.dir, 'missing');
    const job = nativeFs()!.startFsyncs([join(tmp.dir, 'ok'), missing], 2);
    let err: NodeJS.ErrnoException | undefined;
    try {
      job.wait();
    } catch (e) {
      err = e as NodeJS.ErrnoException;
    }
    expect(err).toMatchObject({ code: 'ENOENT', syscall: 'fsync', path: missing });
    expect(err!.message).toContain(missing);
    expect(() => job.wait()).toThrow(/ENOENT/);
    expect(() => nativeFs()!.startSyncfs(missing).wait()).toThrow(/ENOENT: .*syncfs/);
  });

  it('never follows a symbolic link (O_NOFOLLOW): a link in the list is refused, its target untouched', () => {
    writeFileSync(join(tmp.dir, 'target'), 'x');
    symlinkSync(join(tmp.dir, 'target'), join(tmp.dir, 'link'));
    expect(() => nativeFs()!.startFsyncs([join(tmp.dir, 'link')]).wait()).toThrow(/ELOOP/);
  });

  it('refuses malformed calls with an error, not a crash', () => {
    const b = (nativeFs() as unknown as { startFsyncs: (p: unknown, t?: number) => unknown }).startFsyncs;
    expect(() => b([1, 2] as unknown, 2)).toThrow();
  });

  it('a path with a NUL inside is refused (EINVAL), never cut at the NUL and fsynced as another path', () => {
    writeFileSync(join(tmp.dir, 'real'), 'x');
    const cut = `${join(tmp.dir, 'real')}\0/ignored`;
    expect(() => nativeFs()!.startFsyncs([cut]).wait()).toThrow(expect.objectContaining({ code: 'EINVAL', path: cut }));
  });

  it('jobs nobody waits for, their handles collected while they run, finish on their own (a process with gc exposed)', () => {
    const script = [
      `const b = require(${JSON.stringify(nativeFsModulePath())});`,
      `for (let i = 0; i < 50; i++) b.start(1, [${JSON.stringify(tmp.dir)}], 1);`,
      `for (let i = 0; i < 50; i++) b.start(0, [${JSON.stringify(tmp.dir)}, ${JSON.stringify(tmp.dir)}], 2);`,
      'globalThis.gc(); globalThis.gc();',
      `setTimeout(() => { globalThis.gc(); const e = b.wait(b.start(1, [${JSON.stringify(tmp.dir)}], 1)); process.stdout.write('done ' + e[0]); }, 200);`,
    ].join('\n');
    const r = spawnSync(process.execPath, ['--expose-gc', '-e', script], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('done 0');
  });
});
