/**
 * A workspace: one folder holding staging generations, the bundle library, the
 * SQLite database, logs, metrics and evidence, with a single-writer lock.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, linkSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { OpsError } from '../../../shared/errors';
import { SettingsSchema, type Settings } from '../../../shared/settings';
import { workspaceLayout, type WorkspaceLayout } from './layout';
import { writeFileAtomic } from '../durability';

export { workspaceLayout, type WorkspaceLayout } from './layout';

export const WORKSPACE_FORMAT = 1;

const ManifestSchema = z.object({
  format: z.number().int(),
  createdAt: z.string(),
  settings: SettingsSchema.default(SettingsSchema.parse({})),
});

export interface Workspace {
  layout: WorkspaceLayout;
  dir: string;
  settings: Settings;
}

export { defaultWorkspaceDir } from './default-dir';

export function isWorkspaceDir(dir: string): boolean {
  return existsSync(join(dir, 'workspace.json'));
}

/**
 * Opens (and with `create`, initialises) a workspace folder. Does not take the
 * write lock: writers call {@link acquireWriteLock}.
 */
export function openWorkspace(dirIn: string, opts: { create?: boolean } = {}): Workspace {
  const dir = resolve(dirIn);
  const layout = workspaceLayout(dir);
  if (!existsSync(layout.manifest)) {
    if (!opts.create) {
      throw new OpsError('ERR_WORKSPACE_INVALID', `No workspace at ${dir} (workspace.json is missing). Create one by importing a bundle into it, or pass the right --workspace.`, { path: dir });
    }
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileAtomic(layout.manifest, JSON.stringify({ format: WORKSPACE_FORMAT, createdAt: new Date().toISOString(), settings: SettingsSchema.parse({}) }, null, 2) + '\n', 0o600);
  }
  let manifest: z.infer<typeof ManifestSchema>;
  try {
    manifest = ManifestSchema.parse(JSON.parse(readFileSync(layout.manifest, 'utf8')));
  } catch (e) {
    throw new OpsError('ERR_WORKSPACE_INVALID', `The workspace manifest ${layout.manifest} is unreadable: ${(e as Error).message}`, { path: layout.manifest });
  }
  if (manifest.format > WORKSPACE_FORMAT) {
    throw new OpsError('ERR_WORKSPACE_INVALID', `The workspace at ${dir} was written by a newer console (format ${manifest.format}); this console reads format ${WORKSPACE_FORMAT}. Upgrade the console.`, { path: dir });
  }
  refusePlantedLinks(layout);
  for (const d of [layout.library, layout.incoming, layout.staging, layout.trivy, layout.journal, layout.logs, layout.metrics, layout.evidence, layout.trash, layout.spare]) {
    mkdirSync(d, { recursive: true, mode: 0o700 });
  }
  // Recovery of an interrupted apply is the composition root's job (services/engine.ts
  // createEngine), which every entry point opens a workspace through.
  return { layout, dir, settings: manifest.settings };
}

/**
 * The workspace's own folders (and the files in logs/ and metrics/) must be
 * what they seem: a symbolic link planted in their place would make an import
 * write or append outside the workspace. Refused before anything is written.
 */
function refusePlantedLinks(layout: WorkspaceLayout): void {
  const refuse = (p: string, what: string): never => {
    throw new OpsError('ERR_WORKSPACE_INVALID', `${p} is ${what}, not a folder or file of the workspace: nothing is written through it. Remove it (the console recreates its folders), then try again.`, { path: p });
  };
  for (const d of [layout.library, layout.incoming, layout.staging, layout.trivy, layout.journal, layout.logs, layout.metrics, layout.evidence, layout.trash, layout.spare]) {
    let st;
    try {
      st = lstatSync(d);
    } catch {
      continue; // created below
    }
    if (st.isSymbolicLink()) refuse(d, 'a symbolic link');
    if (!st.isDirectory()) refuse(d, 'not a folder');
  }
  for (const f of [layout.db, layout.lock, `${layout.db}-wal`, `${layout.db}-shm`, join(layout.journal, 'apply.json')]) {
    try {
      if (lstatSync(f).isSymbolicLink()) refuse(f, 'a symbolic link');
    } catch (e) {
      if (e instanceof OpsError) throw e;
    }
  }
  for (const d of [layout.logs, layout.metrics]) {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      continue;
    }
    for (const n of names) if (lstatSync(join(d, n)).isSymbolicLink()) refuse(join(d, n), 'a symbolic link');
  }
}

/** Replaces the workspace settings (validated), atomically. */
export function saveSettings(ws: Workspace, settings: Settings): Workspace {
  const parsed = SettingsSchema.parse(settings);
  const current = JSON.parse(readFileSync(ws.layout.manifest, 'utf8')) as Record<string, unknown>;
  writeFileAtomic(ws.layout.manifest, JSON.stringify({ ...current, settings: parsed }, null, 2) + '\n', 0o600);
  return { ...ws, settings: parsed };
}

interface LockInfo {
  pid: number;
  host: string;
  since: string;
  purpose: string;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Who holds the workspace lock, as `mirror status` shows it (null: nobody). */
export interface LockHolder {
  pid: number;
  host: string;
  since: string;
  /** The command or job that took it (for example "mirror import"). */
  command: string;
  /** Whether that process still runs (null: another host, cannot tell). */
  alive: boolean | null;
  /** A dead holder on this host: the next command takes the lock over. */
  stale: boolean;
}

export function readLockHolder(ws: Workspace): LockHolder | null {
  let held: LockInfo;
  try {
    held = JSON.parse(readFileSync(ws.layout.lock, 'utf8')) as LockInfo;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    return { pid: 0, host: '?', since: '?', command: '(unreadable lock file: left by a process that died while writing it)', alive: false, stale: true };
  }
  const local = held.host === hostname();
  const alive = local ? processAlive(held.pid) : null;
  return { pid: held.pid, host: held.host, since: held.since, command: held.purpose, alive, stale: alive === false };
}

export interface WriteLock {
  release(): void;
}

/** Test seam: called after a stale lock was read and before it is taken over (the race two starters run). */
export interface LockHooks {
  onStale?: (held: string) => void;
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function readRaw(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

function parseLock(raw: string): LockInfo | null {
  try {
    const v = JSON.parse(raw) as LockInfo;
    return v && typeof v.pid === 'number' ? v : null;
  } catch {
    return null;
  }
}

/**
 * Removes a stale file only if it is still the very file that was judged
 * stale: it is renamed aside (atomic), and put back with link() (which never
 * replaces) when what was moved turns out to be a newer file.
 */
function removeIfUnchanged(file: string, seenIno: number): void {
  const aside = `${file}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    renameSync(file, aside);
  } catch {
    return; // already gone
  }
  if (lstatSync(aside).ino === seenIno) {
    unlinkSync(aside);
    return;
  }
  try {
    linkSync(aside, file);
  } catch {
    /* a newer file took its place meanwhile: that one stands */
  }
  unlinkSync(aside);
}

/**
 * The takeover mutex (lock.takeover, created with O_EXCL): only its holder may
 * remove a stale lock, after re-reading it under the mutex. A mutex left by a
 * dead process is removed the same checked way.
 */
function withTakeoverMutex(lockFile: string, fn: () => void): boolean {
  const mutex = `${lockFile}.takeover`;
  for (let waited = 0; waited < 2000; waited += 10) {
    let fd: number;
    try {
      fd = openSync(mutex, 'wx', 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let ino = -1;
      let raw: string | null = null;
      try {
        ino = lstatSync(mutex).ino;
        raw = readFileSync(mutex, 'utf8');
      } catch {
        continue; // released meanwhile
      }
      const pid = Number(raw);
      if (raw !== '' && Number.isInteger(pid) && !processAlive(pid)) removeIfUnchanged(mutex, ino);
      else sleepSync(10);
      continue;
    }
    try {
      writeSync(fd, String(process.pid));
      closeSync(fd);
      fn();
    } finally {
      try {
        unlinkSync(mutex);
      } catch {
        /* gone */
      }
    }
    return true;
  }
  return false;
}

/**
 * Takes the single-writer lock. The lock file appears whole (written to a
 * private file, then hard-linked into place: link() fails when a lock exists),
 * so a reader never sees a half-written lock. A lock left by a dead process on
 * this host is taken over under the takeover mutex after re-reading it, so two
 * processes finding the same stale lock cannot both take it. A live holder
 * gives ERR_WORKSPACE_BUSY naming its pid and since when.
 */
export function acquireWriteLock(ws: Workspace, purpose: string, hooks: LockHooks = {}): WriteLock {
  const file = ws.layout.lock;
  const info: LockInfo = { pid: process.pid, host: hostname(), since: new Date().toISOString(), purpose };
  const mine = `${file}.${process.pid}-${randomBytes(4).toString('hex')}`;
  const fd = openSync(mine, 'wx', 0o600);
  try {
    // Written whole before it is linked as the lock, so another process never reads a part of it.
    // Not fsynced (~9 ms of every writing command here, issue 13): only a crash of the machine can
    // lose these bytes, and its holder is then gone too; an empty or torn lock file is judged stale
    // and taken over, as a dead holder's is.
    writeSync(fd, JSON.stringify(info));
  } finally {
    closeSync(fd);
  }
  const held = (): WriteLock => {
    let released = false;
    return {
      release() {
        if (released) return;
        released = true;
        try {
          const h = JSON.parse(readFileSync(file, 'utf8')) as LockInfo;
          if (h.pid === process.pid) unlinkSync(file);
        } catch {
          /* already gone */
        }
      },
    };
  };
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        linkSync(mine, file);
        return held();
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const raw = readRaw(file);
      if (raw === null) continue; // released meanwhile: try again
      const holder = parseLock(raw);
      if (holder && holder.pid !== process.pid && holder.host === hostname() && processAlive(holder.pid)) {
        throw new OpsError('ERR_WORKSPACE_BUSY', `The workspace is busy: held by pid ${holder.pid} on ${holder.host} since ${holder.since} (${holder.purpose}). Wait for it to finish, or stop that process (mirror status shows the holder).`, {
          path: ws.dir,
          details: { ...holder },
        });
      }
      if (holder && holder.pid === process.pid) {
        throw new OpsError('ERR_WORKSPACE_BUSY', `The workspace is busy: another command in the same process (pid ${holder.pid}: the desktop app, or mirror serve) holds it since ${holder.since} (${holder.purpose}). Wait for it to finish.`, { path: ws.dir });
      }
      // Stale (a dead holder on this host, or an unreadable lock): take it over, checked under the mutex.
      hooks.onStale?.(raw);
      let taken = false;
      withTakeoverMutex(file, () => {
        let ino: number;
        try {
          ino = lstatSync(file).ino;
        } catch {
          return; // gone: the next attempt links ours
        }
        if (readRaw(file) !== raw) return; // another starter took it over first: re-judge
        removeIfUnchanged(file, ino);
        try {
          linkSync(mine, file); // ours, before the mutex is released
          taken = true;
        } catch {
          /* the next attempt re-judges */
        }
      });
      if (taken) return held();
    }
  } finally {
    try {
      unlinkSync(mine);
    } catch {
      /* gone */
    }
  }
  throw new OpsError('ERR_WORKSPACE_BUSY', 'The workspace lock could not be taken (another writer keeps taking it).', { path: ws.dir });
}

/** Runs `fn` holding the write lock. */
export async function withWriteLock<T>(ws: Workspace, purpose: string, fn: () => Promise<T> | T): Promise<T> {
  const lock = acquireWriteLock(ws, purpose);
  try {
    return await fn();
  } finally {
    lock.release();
  }
}
