import { execFileSync } from 'node:child_process';
import { closeSync, openSync, statSync, writeFileSync, writeSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { REPO_ROOT, tempDir, errorCodeOf } from '../testing/fixtures';
import { openDatabase, schemaVersion, SCHEMA_VERSION } from './index';
import { MIGRATIONS } from './migrations/index';

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});
function tmp(): string {
  const t = tempDir('okc-db-');
  cleanups.push(t.cleanup);
  return t.dir;
}

describe('openDatabase', () => {
  it('creates an empty database at the latest version with WAL and foreign keys', () => {
    const file = join(tmp(), 'console.db');
    const db = openDatabase(file);
    expect(schemaVersion(db)).toBe(SCHEMA_VERSION);
    expect(SCHEMA_VERSION).toBe(Math.max(...MIGRATIONS.map((m) => m.version)));
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type='table'").all() as { name: string }[]).map((r) => r.name);
    expect(tables).toEqual(expect.arrayContaining(['audit_log', 'trusted_keys', 'checklist_runs', 'checklist_steps', 'console_state']));
    db.close();
  });

  it('migrates from each earlier version up to the latest, keeping data', () => {
    for (let v = 0; v < SCHEMA_VERSION; v++) {
      const file = join(tmp(), `v${v}.db`);
      const older = MIGRATIONS.filter((m) => m.version <= v);
      const db0 = openDatabase(file, older);
      expect(schemaVersion(db0)).toBe(v);
      if (v >= 1) db0.prepare("INSERT INTO console_state (key, value, updated_at) VALUES ('k', 'kept', 'now')").run();
      db0.close();
      const db = openDatabase(file);
      expect(schemaVersion(db)).toBe(SCHEMA_VERSION);
      if (v >= 1) expect((db.prepare("SELECT value FROM console_state WHERE key='k'").get() as { value: string }).value).toBe('kept');
      db.close();
    }
  });

  it('rolls back every pending migration when one fails', () => {
    const file = join(tmp(), 'fail.db');
    const broken = [...MIGRATIONS, { version: SCHEMA_VERSION + 1, name: 'boom', up: () => { throw new Error('boom'); } }];
    expect(() => openDatabase(file, broken)).toThrow('boom');
    const raw = new Database(file);
    expect(raw.pragma('user_version', { simple: true })).toBe(0);
    expect(raw.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name='audit_log'").get()).toEqual({ n: 0 });
    raw.close();
  });

  it('refuses a database written by a newer console and leaves it untouched', () => {
    const file = join(tmp(), 'newer.db');
    openDatabase(file).close();
    const raw = new Database(file);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 5}`);
    raw.close();
    const before = readFileSync(file);
    expect(errorCodeOf(() => openDatabase(file))).toBe('ERR_DB_NEWER');
    try {
      openDatabase(file);
    } catch (e) {
      expect((e as Error).message).toMatch(/newer console/);
    }
    expect(readFileSync(file).equals(before)).toBe(true);
  });

  it('detects a file that is not a database, and does not recreate it', () => {
    const file = join(tmp(), 'garbage.db');
    writeFileSync(file, Buffer.alloc(8192, 0x5a));
    expect(errorCodeOf(() => openDatabase(file))).toBe('ERR_DB_CORRUPT');
    expect(readFileSync(file).equals(Buffer.alloc(8192, 0x5a))).toBe(true);
  });

  it('detects garbage written into the pages of a real database', () => {
    const file = join(tmp(), 'damaged.db');
    const db = openDatabase(file);
    const ins = db.prepare('INSERT INTO console_state (key, value, updated_at) VALUES (?, ?, ?)');
    db.transaction(() => {
      for (let i = 0; i < 2000; i++) ins.run(`key-${i}`, 'x'.repeat(200), 'now');
    })();
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.close();
    const size = statSync(file).size;
    expect(size).toBeGreaterThan(4096 * 8);
    const fd = openSync(file, 'r+');
    // Overwrite a few pages after the header page with garbage.
    writeSync(fd, Buffer.alloc(4096 * 4, 0xa7), 0, 4096 * 4, 4096 * 2);
    closeSync(fd);
    expect(errorCodeOf(() => openDatabase(file))).toBe('ERR_DB_CORRUPT');
  });

  it('is readable by the sqlite3 tool (a real SQLite file)', () => {
    const file = join(tmp(), 'tool.db');
    openDatabase(file).close();
    const out = execFileSync('sqlite3', [file, 'PRAGMA user_version;']).toString().trim();
    expect(Number(out)).toBe(SCHEMA_VERSION);
  });

  it('a process that opens a new database while another is migrating it waits, then finds the work done', async () => {
    const file = join(tmp(), 'race.db');
    const { spawn } = await import('node:child_process');
    // This connection is "the other process": it holds the write lock while it migrates.
    const other = new Database(file);
    other.exec('BEGIN IMMEDIATE');
    const script = `import { openDatabase } from ${JSON.stringify(join(REPO_ROOT, 'electron/services/db/index.ts'))}; const db = openDatabase(process.argv[1]); console.log(db.pragma('user_version', { simple: true })); db.close();`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, file], { cwd: REPO_ROOT });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const done = new Promise<number | null>((r) => child.on('close', r));
    // Give the child time to start and read the (still empty) schema version, then finish migrating.
    await new Promise((r) => setTimeout(r, 4000));
    for (const m of MIGRATIONS) m.up(other);
    other.pragma(`user_version = ${SCHEMA_VERSION}`);
    other.exec('COMMIT');
    other.close();
    expect(await done, err).toBe(0);
    expect(Number(out.trim())).toBe(SCHEMA_VERSION);
  });
});
