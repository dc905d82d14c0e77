// PLACEHOLDER (issue 5 replaces this): opens the workspace database and applies migrations.
import Database from 'better-sqlite3';
import { MIGRATIONS } from './migrations/index';

export type Db = Database.Database;

export function openDatabase(file: string): Db {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  const current = db.pragma('user_version', { simple: true }) as number;
  for (const m of MIGRATIONS) if (m.version > current) db.transaction(() => { m.up(db); db.pragma(`user_version = ${m.version}`); })();
  return db;
}
