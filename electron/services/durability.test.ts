import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deferTreeDurable, fsyncTree, makeTreeDurable, openAtomic, startNativeTreeDurable, startTreeDurable, syncOutcome, writeFileAtomic } from './durability';
import { tempDir } from './testing/fixtures';

let tmp: { dir: string; cleanup: () => void };
beforeEach(() => {
  tmp = tempDir('okc-durable-');
  mkdirSync(join(tmp.dir, 'a', 'b'), { recursive: true });
  writeFileSync(join(tmp.dir, 'a', 'one'), '1');
  writeFileSync(join(tmp.dir, 'a', 'b', 'two'), '2');
  writeFileSync(join(tmp.dir, 'three'), '3');
});
afterEach(() => tmp.cleanup());

describe('makeTreeDurable', () => {
  it('uses one syncfs: on the native module\'s thread, or through coreutils sync -f without it', () => {
    expect(makeTreeDurable(tmp.dir, {})).toBe('syncfs');
    expect(makeTreeDurable(tmp.dir, { OKC_NATIVE_FS: 'off' })).toBe('syncfs');
  });
  it('without the native module nor `sync`, fsyncs every file and folder', () => {
    expect(makeTreeDurable(tmp.dir, { OKC_NATIVE_FS: 'off', PATH: join(tmp.dir, 'no-such-bin') })).toBe('fsync-each');
  });
  it('a syncfs that fails (the tree is gone) is reported, not taken as done', () => {
    // The module's syncfs failure itself, not an fsync of each file after it (which could miss a write-back error).
    expect(() => makeTreeDurable(join(tmp.dir, 'missing'), {})).toThrow(expect.objectContaining({ code: 'ENOENT', syscall: 'syncfs' }));
    expect(() => makeTreeDurable(join(tmp.dir, 'missing'), { OKC_NATIVE_FS: 'off' })).toThrow(/ENOENT/);
  });
  it('falls back to an fsync of every file and folder', () => {
    expect(makeTreeDurable(tmp.dir, { OKC_DURABILITY: 'fsync-each' })).toBe('fsync-each');
    expect(fsyncTree(tmp.dir)).toBe(3);
  });
  it('reports a missing tree instead of claiming it is durable', () => {
    expect(() => makeTreeDurable(join(tmp.dir, 'missing'), { OKC_DURABILITY: 'fsync-each' })).toThrow(/ENOENT/);
  });
});

describe('startTreeDurable (the flush on a helper thread, waited for later)', () => {
  it('flushes by syncfs on its thread; wait() gives the same answer every time', () => {
    const p = startTreeDurable(tmp.dir, process.env);
    expect(p.wait()).toBe('syncfs');
    expect(p.wait()).toBe('syncfs');
  });
  it('where `sync` cannot run on the thread (no native module), wait() fsyncs every file itself', () => {
    const p = startTreeDurable(tmp.dir, { ...process.env, OKC_NATIVE_FS: 'off', PATH: join(tmp.dir, 'no-such-bin') });
    expect(p.wait()).toBe('fsync-each');
  });
  it('where `sync -f` fails (the tree is gone), wait() reports it instead of claiming the tree is durable', () => {
    const p = startTreeDurable(join(tmp.dir, 'missing'), process.env);
    expect(() => p.wait()).toThrow(/ENOENT/);
  });
  it('OKC_DURABILITY=fsync-each starts no thread and fsyncs on wait()', () => {
    expect(startTreeDurable(tmp.dir, { OKC_DURABILITY: 'fsync-each' }).wait()).toBe('fsync-each');
  });
});

describe('the `sync -f` path (no native module): a failed flush is thrown, only "cannot flush this way" falls back', () => {
  /** A `sync` first in PATH that says `line` on stderr and exits 1 (what coreutils prints, C locale). */
  function fakeSync(line: string): NodeJS.ProcessEnv {
    const bin = join(tmp.dir, 'fake-bin');
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, 'sync'), `#!/bin/sh\necho "${line}" >&2\nexit 1\n`);
    chmodSync(join(bin, 'sync'), 0o755);
    return { ...process.env, OKC_NATIVE_FS: 'off', PATH: `${bin}:${process.env.PATH}` };
  }
  const tree = (): string => join(tmp.dir, 'a');

  it('an I/O error of the flush is thrown (code, syscall, the tree), never followed by an fsync of each file', () => {
    const env = fakeSync("sync: error syncing 'x': Input/output error");
    // The previous code fsynced each file here and answered 'fsync-each': a write-back error recorded before those new descriptors went unseen.
    expect(() => makeTreeDurable(tree(), env)).toThrow(expect.objectContaining({ code: 'EIO', syscall: 'syncfs', path: tree() }));
    expect(() => startTreeDurable(tree(), env).wait()).toThrow(expect.objectContaining({ code: 'EIO', syscall: 'syncfs', path: tree() }));
    expect(() => makeTreeDurable(tree(), fakeSync("sync: error syncing 'x': No space left on device"))).toThrow(expect.objectContaining({ code: 'ENOSPC' }));
  });

  it('a sync stopped by a signal is a failed flush, said so, on both paths (not a host without sync)', () => {
    const bin = join(tmp.dir, 'killed-bin');
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, 'sync'), '#!/bin/sh\nkill -9 $$\n');
    chmodSync(join(bin, 'sync'), 0o755);
    const env = { ...process.env, OKC_NATIVE_FS: 'off', PATH: `${bin}:${process.env.PATH}` };
    expect(() => makeTreeDurable(tree(), env)).toThrow(expect.objectContaining({ code: 'EIO', syscall: 'syncfs', message: expect.stringContaining('stopped by SIGKILL') }));
    expect(() => startTreeDurable(tree(), env).wait()).toThrow(expect.objectContaining({ code: 'EIO', message: expect.stringContaining('stopped by SIGKILL') }));
  });

  it('a sync without -f, or a kernel or filesystem without syncfs, falls back to an fsync of every file and folder', () => {
    for (const line of ["sync: invalid option -- 'f'", "sync: error syncing 'x': Function not implemented", "sync: error syncing 'x': Operation not supported"]) {
      expect(makeTreeDurable(tree(), fakeSync(line)), line).toBe('fsync-each');
      expect(startTreeDurable(tree(), fakeSync(line)).wait(), line).toBe('fsync-each');
    }
  });

  it('syncOutcome: done, unsupported (sync could not run), a known message to its code, anything else EIO with what sync said', () => {
    expect(syncOutcome(0, '', '/t')).toBe('done');
    expect(syncOutcome(null, '', '/t')).toBe('unsupported');
    expect(syncOutcome(1, "sync: error syncing '/t': Read-only file system\n", '/t')).toMatchObject({ code: 'EROFS', syscall: 'syncfs', path: '/t' });
    const other = syncOutcome(1, 'sync: something new\n', '/t') as NodeJS.ErrnoException;
    expect(other).toMatchObject({ code: 'EIO', syscall: 'syncfs' });
    expect(other.message).toContain('something new');
    expect((syncOutcome(3, '', '/t') as Error).message).toContain('exit status 3');
  });
});

describe('startNativeTreeDurable (the syncfs on a thread of the native module, started now)', () => {
  it('flushes what was written before the call; it covers only that, so it says so (atWait false)', () => {
    const p = startNativeTreeDurable(tmp.dir, process.env, [join(tmp.dir, 'three')])!;
    expect(p.atWait).toBe(false);
    expect(p.wait()).toBe('syncfs');
    expect(p.wait()).toBe('syncfs');
  });
  it('is not offered without the module, or where every file is to be fsynced', () => {
    expect(startNativeTreeDurable(tmp.dir, { OKC_NATIVE_FS: 'off' })).toBeNull();
    expect(startNativeTreeDurable(tmp.dir, { OKC_DURABILITY: 'fsync-each' })).toBeNull();
  });
  it('a syncfs that fails is thrown as it is (naming the call and the tree), at every wait', () => {
    const missing = join(tmp.dir, 'missing');
    const p = startNativeTreeDurable(missing, process.env)!;
    expect(() => p.wait()).toThrow(expect.objectContaining({ code: 'ENOENT', syscall: 'syncfs', path: missing }));
    expect(() => p.wait()).toThrow(/ENOENT/);
  });
  it('startTreeDurable uses it where the module is built (no helper thread of Node)', () => {
    expect(startTreeDurable(tmp.dir, process.env).atWait).toBe(false);
  });
});

describe('deferTreeDurable (a small tree, flushed when first waited for)', () => {
  it('does nothing until wait(), then flushes the tree as it is then, once', () => {
    const root = join(tmp.dir, 'later');
    // Made after the call: a flush at the call would have failed on the missing folder.
    const p = deferTreeDurable(root, process.env);
    mkdirSync(root);
    writeFileSync(join(root, 'f'), 'x');
    expect(p.wait()).toBe('syncfs');
    rmSync(root, { recursive: true });
    expect(p.wait()).toBe('syncfs');
  });
  it('reports a tree that is gone at wait() instead of claiming it is durable', () => {
    expect(() => deferTreeDurable(join(tmp.dir, 'missing'), process.env).wait()).toThrow(/ENOENT/);
  });
  it('says its flush runs at wait() (so it covers what was written before then); a flush started at once does not', () => {
    expect(deferTreeDurable(tmp.dir, process.env).atWait).toBe(true);
    const early = startTreeDurable(tmp.dir, process.env);
    expect(early.atWait).toBeFalsy();
    expect(early.wait()).toBe('syncfs');
  });
});

describe('the atomic writer (openAtomic, writeFileAtomic)', () => {
  it('replaces the file with every byte written, in one rename, with the mode asked for', () => {
    const f = join(tmp.dir, 'three');
    const big = Buffer.alloc(3 << 20, 7);
    writeFileAtomic(f, big, 0o600, { syncDir: true });
    expect(readFileSync(f).equals(big)).toBe(true);
    expect(statSync(f).mode & 0o777).toBe(0o600);
    expect(readdirSync(tmp.dir).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });

  it('an aborted write leaves the old file as it was and no temporary file', () => {
    const f = join(tmp.dir, 'three');
    const w = openAtomic(f);
    w.write('partial export');
    w.abort();
    expect(readFileSync(f, 'utf8')).toBe('3');
    expect(readdirSync(tmp.dir).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });

  it('never writes through a symbolic link planted at the temporary name', () => {
    const f = join(tmp.dir, 'three');
    const victim = join(tmp.dir, 'a', 'one');
    symlinkSync(victim, `${f}.tmp-${process.pid}`);
    expect(() => writeFileAtomic(f, 'x')).toThrow(/ELOOP/);
    expect(readFileSync(victim, 'utf8')).toBe('1');
    expect(readFileSync(f, 'utf8')).toBe('3');
  });
});
