import type Database from 'better-sqlite3';

/** A numbered migration, applied in one transaction with PRAGMA user_version. */
export interface Migration {
  version: number;
  name: string;
  up(db: Database.Database): void;
}
