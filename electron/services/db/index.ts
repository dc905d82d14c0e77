/**
 * The workspace database (SQLite through better-sqlite3): WAL, foreign keys,
 * numbered migrations under PRAGMA user_version, and refusal of a database
 * that is newer than this code or damaged. A problem is reported, never
 * "fixed" by recreating the file.
 */
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import type Database from 'better-sqlite3';
import { OpsError } from '../../../shared/errors';
import { MIGRATIONS, type Migration } from './migrations/index';

export type Db = Database.Database;

// Loaded when a database is first opened, not with the module: `mirror verify` never opens one.
let sqlite: typeof Database | undefined;

/**
 * A better-sqlite3 connection (the driver loaded on first use). The Electron
 * app loads an Electron-ABI build of better-sqlite3 (architecture.md "Native
 * modules"); electron/main sets OKC_SQLITE_NATIVE_BINDING for itself and its
 * worker threads. Node uses the npm build.
 */
export function newSqlite(file: string, options: Database.Options = {}): Db {
  sqlite ??= createRequire(import.meta.url)('better-sqlite3') as typeof Database;
  const nativeBinding = process.env.OKC_SQLITE_NATIVE_BINDING || undefined;
  return new sqlite(file, { ...options, ...(nativeBinding ? { nativeBinding } : {}) });
}

/** The schema version this build writes (the highest migration number). */
export const SCHEMA_VERSION: number = MIGRATIONS.reduce((m, x) => Math.max(m, x.version), 0);

const SQLITE_MAGIC = 'SQLite format 3\0';

/** Database files (device, inode, size, mtime) already quick-checked in this process: a file changed since is checked again. */
const quickChecked = new Set<string>();
function checkedKey(file: string): string | null {
  try {
    const st = statSync(file);
    return st.size === 0 ? null : `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch {
    return null;
  }
}

/** Forgets which files were quick-checked (tests; or to force a check at the next open). */
export function resetQuickCheckCache(): void {
  quickChecked.clear();
}

function corrupt(file: string, why: string, cause?: unknown): OpsError {
  return new OpsError(
    'ERR_DB_CORRUPT',
    `The workspace database ${file} is damaged (${why}). It was left untouched. Restore it from a backup, or move it aside to start a new audit log (the old one stays as evidence).`,
    { path: file, cause, action: 'Stop using this workspace for imports; copy the database file aside as evidence, restore it from backup, then run `mirror audit verify`.' },
  );
}

/** True when the file exists and does not start with the SQLite header (a non-empty non-database file). */
function hasForeignHeader(file: string): boolean {
  if (!existsSync(file)) return false;
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(16);
    const n = readSync(fd, buf, 0, 16, 0);
    if (n === 0) return false; // an empty file is a fresh database for SQLite
    return buf.subarray(0, n).toString('latin1') !== SQLITE_MAGIC.slice(0, n) || n < 16;
  } finally {
    closeSync(fd);
  }
}

/**
 * Opens (creating when absent) a database and brings its schema up to date.
 * `migrations` is for tests of older schema versions; callers use the default.
 */
export function openDatabase(file: string, migrations: readonly Migration[] = MIGRATIONS): Db {
  // Another process may hold the write lock of a database being created or migrated (in
  // rollback mode SQLite answers "busy" at once to avoid a deadlock): wait and start over.
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      return openOnce(file, migrations);
    } catch (e) {
      if (!isBusy(e)) throw e;
      if (Date.now() >= deadline) {
        throw new OpsError('ERR_WORKSPACE_BUSY', `The workspace database ${file} stayed locked by another process for 15 s. Wait for it to finish (an import or migration), then try again.`, { path: file });
      }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    }
  }
}

/** SQLITE_FULL / ENOSPC: the volume is full. That is not damage, and says so. */
function isFull(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  return code === 'SQLITE_FULL' || code === 'ENOSPC' || (e instanceof Error && /disk is full/i.test(e.message));
}

function noSpace(file: string, cause: unknown): OpsError {
  return new OpsError('ERR_NO_SPACE', `The volume holding the workspace database ${file} is full, so it cannot be opened or updated. Nothing was changed. Free space on that volume (for example run \`mirror retention run\`), then try again.`, {
    path: file,
    cause,
  });
}

function isBusy(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED' || (typeof code === 'string' && (code.startsWith('SQLITE_BUSY_') || code.startsWith('SQLITE_LOCKED_')));
}

function openOnce(file: string, migrations: readonly Migration[]): Db {
  if (hasForeignHeader(file)) throw corrupt(file, 'it is not an SQLite database: the file header is wrong');
  let db: Db;
  try {
    db = newSqlite(file, { timeout: 10_000 });
  } catch (e) {
    if (isBusy(e)) throw e;
    if (isFull(e)) throw noSpace(file, e);
    throw corrupt(file, (e as Error).message, e);
  }
  try {
    // PRAGMA quick_check reads the whole file (about 0.7 s at a million audit rows), so it runs
    // at the first open of a database file in this process ("at start") and again whenever the
    // file changed since (size or mtime), not at every open of an unchanged file.
    const key = checkedKey(file);
    if (!key || !quickChecked.has(key)) {
      let check: string[];
      try {
        check = (db.pragma('quick_check') as { quick_check: string }[]).map((r) => r.quick_check);
      } catch (e) {
        if (isBusy(e)) throw e;
        if (isFull(e)) throw noSpace(file, e);
        throw corrupt(file, (e as Error).message, e);
      }
      if (check.length !== 1 || check[0] !== 'ok') throw corrupt(file, `quick_check: ${check.slice(0, 3).join('; ')}`);
      if (key) quickChecked.add(key);
    }

    const latest = migrations.reduce((m, x) => Math.max(m, x.version), 0);
    const current = db.pragma('user_version', { simple: true }) as number;
    if (current > latest) {
      throw new OpsError(
        'ERR_DB_NEWER',
        `The workspace database ${file} has schema version ${current}, but this console only knows versions up to ${latest}: it was written by a newer console. Nothing was changed. Use that newer console (or a newer build of this one) with this workspace.`,
        { path: file, details: { dbVersion: current, codeVersion: latest }, action: 'Upgrade the console to the version that last wrote this workspace; never downgrade a workspace.' },
      );
    }
    db.pragma('journal_mode = WAL');
    db.pragma('foreign_keys = ON');
    // FULL: a committed audit row or state change survives a power cut (WAL fsync at commit).
    db.pragma('synchronous = FULL');
    if (migrations.some((m) => m.version > current)) {
      // All pending migrations in one immediate transaction: a failure leaves the previous
      // version intact, and a second process opening the same new file waits, then finds
      // the work done (the version is read again under the write lock).
      db.transaction(() => {
        const now = db.pragma('user_version', { simple: true }) as number;
        const pending = [...migrations].filter((m) => m.version > now).sort((a, b) => a.version - b.version);
        for (const m of pending) {
          m.up(db);
          db.pragma(`user_version = ${m.version}`);
        }
      }).immediate();
    }
    return db;
  } catch (e) {
    db.close();
    if (isFull(e)) throw noSpace(file, e);
    throw e;
  }
}

/** The schema version stored in an open database. */
export function schemaVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/** Opens the database of a workspace (`<workspace>/console.db`, from its layout). */
export function openWorkspaceDatabase(ws: { layout: { db: string } }): Db {
  return openDatabase(ws.layout.db);
}
