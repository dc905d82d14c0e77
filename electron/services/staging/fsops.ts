/**
 * The disk operations the staging engine performs, behind one small interface
 * so tests can inject failures (ENOSPC) and crash points (SIGKILL at the N-th
 * step) without a tiny filesystem or root-proof permissions.
 */
import { chmodSync, closeSync, fsyncSync, linkSync, mkdirSync, openSync, renameSync, rmdirSync, symlinkSync, unlinkSync, writeSync, statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import { nativeFs } from '../native-fs';
import { removeTree } from '../safe-fs';

export interface StagingFs {
  mkdir(path: string): void;
  link(existing: string, newPath: string): void;
  rename(from: string, to: string): void;
  chmod(path: string, mode: number): void;
  /** Writes a whole file and fsyncs it. */
  writeFile(path: string, data: string | Buffer): void;
  /**
   * Creates a file written in pieces (a state.txt of any size): write()
   * appends, end() fsyncs and closes, close() closes without fsync (after a
   * failure; a no-op once ended).
   */
  createFile(path: string): StagingFile;
  symlink(target: string, path: string): void;
  /** fsync of a file already written and closed. */
  fsyncFile(path: string): void;
  fsyncDir(path: string): void;
  /**
   * fsync of many files or folders, all done when it returns (none a symbolic link): a few at a
   * time where the native module is built (native-fs.ts), else one after another. Optional: a
   * StagingFs without it has fsyncDir called for each.
   */
  fsyncAll?(paths: readonly string[]): void;
  /**
   * fsync of one file started now, on the native module's thread where it is built (the caller goes
   * on); `wait()` returns once it is done and throws its failure. Optional, as fsyncAll.
   */
  fsyncStart?(path: string): { wait(): void };
  rm(path: string): void;
  /** Removes one name of a file (never a folder). */
  unlink(path: string): void;
  /** Removes a folder if it is empty; false when it is not (or is gone). */
  rmdirIfEmpty(path: string): boolean;
}

export interface StagingFile {
  write(data: Buffer): void;
  end(): void;
  close(): void;
}

/**
 * Folders fsynced at once by fsyncAll: the device takes several flushes in flight (100 folders of a
 * 1 % delta: ~19 ms one after another, ~11-15 ms four at a time, measured here); more threads than
 * that gained nothing.
 */
const FSYNC_THREADS = 4;

/** fsync of a file or folder by its path (a folder's entries: opened read-only, as a file is). */
function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export const nodeStagingFs: StagingFs = {
  mkdir(path) {
    mkdirSync(path, { mode: 0o755 });
  },
  link(existing, newPath) {
    linkSync(existing, newPath);
  },
  rename(from, to) {
    renameSync(from, to);
  },
  chmod(path, mode) {
    chmodSync(path, mode);
  },
  writeFile(path, data) {
    const fd = openSync(path, 'w', 0o644);
    try {
      const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
      let off = 0;
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  },
  createFile(path) {
    let fd: number | null = openSync(path, 'w', 0o644);
    return {
      write(buf) {
        let off = 0;
        while (off < buf.length) off += writeSync(fd!, buf, off, buf.length - off);
      },
      end() {
        fsyncSync(fd!);
        closeSync(fd!);
        fd = null;
      },
      close() {
        if (fd === null) return;
        const f = fd;
        fd = null;
        closeSync(f);
      },
    };
  },
  symlink(target, path) {
    symlinkSync(target, path);
  },
  fsyncFile: fsyncPath,
  fsyncDir: fsyncPath,
  fsyncStart(path) {
    const native = nativeFs();
    if (native) return native.startFsyncs([path], 1);
    let done = false;
    return {
      wait() {
        if (!done) fsyncPath(path);
        done = true;
      },
    };
  },
  fsyncAll(paths) {
    const native = paths.length > 1 ? nativeFs() : null;
    if (native) native.startFsyncs(paths, FSYNC_THREADS).wait();
    else for (const p of paths) fsyncPath(p);
  },
  rmdirIfEmpty(path) {
    try {
      rmdirSync(path);
      return true;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'ENOENT') return false;
      throw e;
    }
  },
  rm(path) {
    // Iterative: a tree of any depth is removed without recursion (safe-fs.ts).
    removeTree(path);
  },
  unlink(path) {
    unlinkSync(path);
  },
};

/**
 * Hooks for tests and fault injection. `checkpoint` is called before every
 * step that changes the disk or the database (a driver may SIGKILL itself
 * there); `fs` replaces the disk operations (a test may fail one with ENOSPC).
 */
export interface StagingHooks {
  checkpoint?: (step: string) => void;
  fs?: StagingFs;
}

export function hookedFs(hooks: StagingHooks | undefined): { fs: StagingFs; cp: (step: string) => void } {
  const fs = hooks?.fs ?? nodeStagingFs;
  const cp = hooks?.checkpoint ?? (() => {});
  return { fs, cp };
}

/** Writes a file atomically: tmp + fsync + rename + fsync of the folder. */
export function writeFileAtomic(fs: StagingFs, path: string, data: string | Buffer): void {
  const tmp = `${path}.tmp-${process.pid}`;
  fs.writeFile(tmp, data);
  fs.rename(tmp, path);
  fs.fsyncDir(dirname(path));
}

export function isNoSpace(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/** Free bytes for an unprivileged writer on the volume holding `path` (null when unknown). */
export function freeBytes(path: string): number | null {
  try {
    const s = statfsSync(path);
    return Number(s.bavail) * Number(s.bsize);
  } catch {
    return null;
  }
}
