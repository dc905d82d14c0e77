/**
 * Making a freshly written tree durable in one step. Extraction writes many
 * files; an fsync per file costs about a millisecond each (a journal commit
 * per call), which dominates imports of bundles with many small files. One
 * syncfs(2) of the filesystem flushes them all at once: on a thread of the
 * native module (native-fs.ts) where it is built, else through coreutils
 * `sync -f`. Where neither works, every file and folder is fsynced instead.
 */
import { closeSync, fsyncSync, openSync, readdirSync, renameSync, rmSync, writeSync, constants as fsc } from 'node:fs';
import { dirname, join } from 'node:path';
import { childProcess, workerThreads } from './lazy-builtins';
import { nativeFs } from './native-fs';

/** fsync of every file and folder below `root`, and of the files `also` (the fallback, and for tests). */
export function fsyncTree(root: string, also: readonly string[] = []): number {
  let n = 0;
  for (const f of also) {
    const fd = openSync(f, fsc.O_RDONLY | fsc.O_NOFOLLOW);
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    n++;
  }
  const walk = (dir: string): void => {
    for (const d of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, d.name);
      if (d.isDirectory()) walk(p);
      else if (d.isFile()) {
        const fd = openSync(p, fsc.O_RDONLY | fsc.O_NOFOLLOW);
        try {
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
        n++;
      }
    }
    const fd = openSync(dir, fsc.O_RDONLY | fsc.O_DIRECTORY);
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  };
  walk(root);
  return n;
}

export type SyncMethod = 'syncfs' | 'fsync-each';

/**
 * Flushes everything written below `root`, and the files `also` (written
 * elsewhere on the same filesystem: spare files an extraction reused), to
 * stable storage. Returns how. `OKC_DURABILITY=fsync-each` forces the
 * per-file path (tests, odd filesystems).
 */
export function makeTreeDurable(root: string, env: NodeJS.ProcessEnv = process.env, also: readonly string[] = []): SyncMethod {
  if (env.OKC_DURABILITY !== 'fsync-each') {
    const native = startNativeTreeDurable(root, env, also);
    if (native) return native.wait();
    const r = childProcess().spawnSync('sync', ['-f', root], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...env, LC_ALL: 'C' }, encoding: 'utf8' });
    // A sync stopped by a signal (status null, no spawn error) failed; it is not a host without `sync`.
    const outcome = r.error ? syncOutcome(null, '', root) : syncOutcome(r.status ?? 1, r.status === null ? `sync -f was stopped by ${r.signal}` : r.stderr ?? '', root);
    if (outcome === 'done') return 'syncfs';
    if (outcome !== 'unsupported') throw outcome;
  }
  fsyncTree(root, also);
  return 'fsync-each';
}

/** Messages (C locale) of the errors `sync -f` reports for a failed syncfs(2), and their codes. */
const SYNC_ERRORS: [string, string][] = [
  ['Input/output error', 'EIO'],
  ['No space left on device', 'ENOSPC'],
  ['Disk quota exceeded', 'EDQUOT'],
  ['Read-only file system', 'EROFS'],
  ['No such file or directory', 'ENOENT'],
  ['Not a directory', 'ENOTDIR'],
  ['Permission denied', 'EACCES'],
  ['Too many levels of symbolic links', 'ELOOP'],
];

/** What says that `sync -f` cannot flush this way at all (no syncfs, or an old sync without -f): then fsync each file. */
const SYNC_UNSUPPORTED = /Function not implemented|Operation not supported|invalid option|unrecognized option|extra operand/;

/**
 * What a `sync -f <root>` run (C locale) says: 'done'; 'unsupported' when it
 * could not run (status null: no `sync` here) or cannot flush this way; else
 * the failure as an error (code, syscall syncfs, the path), to be thrown: an
 * fsync of each file after a failed syncfs opens new descriptors, which Linux
 * does not tell of a write-back error recorded before they were opened, so
 * it could report the tree durable when it is not (as startNativeTreeDurable).
 */
export function syncOutcome(status: number | null, stderr: string, root: string): 'done' | 'unsupported' | NodeJS.ErrnoException {
  if (status === 0) return 'done';
  if (status === null || SYNC_UNSUPPORTED.test(stderr)) return 'unsupported';
  const code = SYNC_ERRORS.find(([text]) => stderr.includes(text))?.[1] ?? 'EIO';
  const said = stderr.trim().split('\n').pop()?.slice(0, 300) || `exit status ${status}`;
  const e = new Error(`${code}: syncfs '${root}' failed (${said})`) as NodeJS.ErrnoException;
  e.code = code;
  e.syscall = 'syncfs';
  e.path = root;
  return e;
}

/** A flush started in the background: `wait()` blocks until the tree is on stable storage. */
export interface PendingDurable {
  /** Returns how the tree was flushed; throws when even the per-file fallback failed. Idempotent. */
  wait(): SyncMethod;
  /**
   * True when the flush runs at the first wait() (deferTreeDurable): a syncfs then also covers what
   * was written on that filesystem before the call, outside the tree too. A flush started earlier
   * (startTreeDurable) covers only what was written before it started.
   */
  readonly atWait?: boolean;
}

/**
 * makeTreeDurable when `wait()` is first called, on the caller's thread: for
 * a small tree (a daily delta's files), where a helper thread costs more to
 * start (~150 ms of CPU on a two-core machine, measured on a 1 % delta) than
 * its overlap with the caller's work saves.
 */
export function deferTreeDurable(root: string, env: NodeJS.ProcessEnv = process.env, also: readonly string[] = []): PendingDurable {
  let result: SyncMethod | null = null;
  return { atWait: true, wait: () => (result ??= makeTreeDurable(root, env, also)) };
}

// Runs `sync -f` on a helper thread and reports through shared memory: 1 when it succeeded, 2 when
// not; then the waiter reads the run's status (-1: it could not start) and what it printed, also
// from shared memory (wait() blocks, so no message could be received meanwhile), and syncOutcome
// decides: a failed flush is thrown, only a host that cannot flush this way fsyncs file by file.
// A script, not a module file: nothing to bundle or look up.
const SYNC_THREAD = `
const { workerData } = require('node:worker_threads');
const flag = new Int32Array(workerData.flag);
Atomics.store(flag, 1, 1);
let status = -1;
try {
  const r = require('node:child_process').spawnSync('sync', ['-f', workerData.root], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LC_ALL: 'C' }, encoding: 'utf8' });
  if (!r.error) {
    status = r.status ?? 1;
    const text = r.status === null ? 'sync -f was stopped by ' + r.signal : String(r.stderr ?? '');
    const said = new TextEncoder().encode(text.slice(-1000));
    const out = new Uint8Array(workerData.said);
    const n = Math.min(said.length, out.length);
    out.set(said.subarray(0, n));
    Atomics.store(flag, 3, n);
  }
} catch {}
Atomics.store(flag, 2, status);
Atomics.store(flag, 0, status === 0 ? 1 : 2);
Atomics.notify(flag, 0);
`;

/**
 * makeTreeDurable, started now and finished by `wait()`: the syncfs runs on a
 * helper thread while the caller goes on (an apply plans while its bundle's
 * extraction is flushed), and `wait()` blocks on shared memory (the apply is
 * synchronous). Where the thread cannot start, or `sync -f` cannot flush this
 * way (syncOutcome), `wait()` fsyncs every file and folder below `root`
 * itself, so `root` must still be there then; a flush that failed (EIO, say)
 * is thrown. The thread does not keep the process alive: a caller that never
 * waits (the bundle was refused) does not need the flush.
 */
export function startTreeDurable(root: string, env: NodeJS.ProcessEnv = process.env, also: readonly string[] = []): PendingDurable {
  let result: SyncMethod | null = null;
  const fallback = (): SyncMethod => {
    fsyncTree(root, also);
    return 'fsync-each';
  };
  if (env.OKC_DURABILITY === 'fsync-each') return { wait: () => (result ??= fallback()) };
  const native = startNativeTreeDurable(root, env, also);
  if (native) return native;
  // [0]: 0 running, 1 flushed, 2 failed; [1]: 1 once the thread runs its script; [2]: sync's exit
  // status (-1: it could not run); [3]: bytes of what it printed, in `said`.
  const flag = new Int32Array(new SharedArrayBuffer(16));
  const said = new SharedArrayBuffer(4096);
  Atomics.store(flag, 2, -1);
  try {
    const w = new (workerThreads().Worker)(SYNC_THREAD, { eval: true, env, workerData: { root, flag: flag.buffer, said }, stdout: true, stderr: true });
    w.on('error', () => Atomics.store(flag, 0, 2));
    w.unref();
  } catch {
    Atomics.store(flag, 0, 2);
  }
  return {
    wait() {
      if (result) return result;
      // A thread that never got to run its script (it failed to start) leaves 0: after a minute of
      // that, flush here. A started `sync -f` always sets the flag, however long the disk takes.
      const since = Date.now();
      while (Atomics.load(flag, 0) === 0 && (Atomics.load(flag, 1) === 1 || Date.now() - since < 60_000)) Atomics.wait(flag, 0, 0, 1000);
      if (Atomics.load(flag, 0) === 1) return (result = 'syncfs');
      const status = Atomics.load(flag, 0) === 0 ? -1 : Atomics.load(flag, 2);
      const outcome = syncOutcome(status < 0 ? null : status, new TextDecoder().decode(new Uint8Array(said, 0, Atomics.load(flag, 3))), root);
      if (outcome !== 'unsupported' && outcome !== 'done') throw outcome;
      result = fallback();
      return result;
    },
  };
}

/** Whether startNativeTreeDurable starts a flush here (the module is built, per-file fsync not forced). */
export function canFlushNatively(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.OKC_DURABILITY !== 'fsync-each' && nativeFs(env) !== null;
}

/** syncfs(2) errors that say the call is not there, not that a write failed. */
const SYNCFS_UNSUPPORTED = new Set(['ENOSYS', 'EOPNOTSUPP', 'ENOTSUP']);

/**
 * The flush on a thread of the native module, started now (the caller goes
 * on: an import judges and plans its bundle meanwhile); null where the module
 * is not there. It covers what was written on the filesystem before this
 * call. A failure of the syncfs is thrown as it is (EIO, ENOSPC, ENOENT,
 * naming the call and `root`): an fsync of each file after it would open
 * new descriptors, which Linux does not tell of a write-back error recorded
 * before they were opened, and so could report the tree durable when it is
 * not. Only a kernel without syncfs(2) (ENOSYS) or a filesystem that does
 * not offer it falls back to fsyncing every file below `root` and `also`.
 */
export function startNativeTreeDurable(root: string, env: NodeJS.ProcessEnv = process.env, also: readonly string[] = []): PendingDurable | null {
  const native = env.OKC_DURABILITY === 'fsync-each' ? null : nativeFs(env);
  if (!native) return null;
  const job = native.startSyncfs(root);
  let result: SyncMethod | null = null;
  return {
    atWait: false,
    wait() {
      if (result) return result;
      try {
        job.wait();
        result = 'syncfs';
      } catch (e) {
        if (!SYNCFS_UNSUPPORTED.has((e as NodeJS.ErrnoException).code ?? '')) throw e;
        fsyncTree(root, also);
        result = 'fsync-each';
      }
      return result;
    },
  };
}

/** A file being written under a temporary name; `commit()` makes it appear at its real name in one step. */
export interface AtomicFile {
  /** Appends bytes (every byte: short writes are continued). */
  write(data: string | Buffer): void;
  /** fsync, close, rename over the real name (and fsync the folder when asked). */
  commit(): void;
  /** Closes and removes the temporary file; the real name is untouched. Safe after commit (no-op). */
  abort(): void;
}

/**
 * The one atomic writer: a temporary file next to `file` (O_NOFOLLOW: a
 * symbolic link planted at the temporary name is never written through),
 * written completely, fsynced, renamed over `file`. `syncDir` also fsyncs the
 * folder, so the rename itself survives a power loss.
 */
export function openAtomic(file: string, opts: { mode?: number; syncDir?: boolean } = {}): AtomicFile {
  const tmp = `${file}.tmp-${process.pid}`;
  let fd: number | null = openSync(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC | fsc.O_NOFOLLOW, opts.mode ?? 0o644);
  let done = false;
  return {
    write(data) {
      if (fd === null) throw new Error(`${tmp} is closed`);
      const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    },
    commit() {
      if (fd === null) throw new Error(`${tmp} is closed`);
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
        fd = null;
      }
      renameSync(tmp, file);
      done = true;
      if (opts.syncDir) {
        const d = openSync(dirname(file), fsc.O_RDONLY | fsc.O_DIRECTORY);
        try {
          fsyncSync(d);
        } finally {
          closeSync(d);
        }
      }
    },
    abort() {
      if (fd !== null) {
        closeSync(fd);
        fd = null;
      }
      if (!done) rmSync(tmp, { force: true });
    },
  };
}

/** Replaces `file` with `data` atomically (openAtomic: temporary file, every byte written, fsync, rename). */
export function writeFileAtomic(file: string, data: string | Buffer, mode = 0o644, opts: { syncDir?: boolean } = {}): void {
  const f = openAtomic(file, { mode, syncDir: opts.syncDir });
  try {
    f.write(data);
    f.commit();
  } finally {
    f.abort();
  }
}
