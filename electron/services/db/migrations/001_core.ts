import type { Migration } from './types';

/**
 * Core schema (issue 5): the hash-chained audit log, trusted keys per tenant,
 * checklist runs and their steps, and small console state (import freeze,
 * check bookmarks). Never edit once released: add the next number.
 */
export const m001: Migration = {
  version: 1,
  name: 'core',
  up(db) {
    db.exec(`
      CREATE TABLE audit_log (
        id        INTEGER PRIMARY KEY,
        ts        TEXT NOT NULL,
        actor     TEXT NOT NULL,
        action    TEXT NOT NULL,
        subject   TEXT NOT NULL,
        details   TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash      TEXT NOT NULL
      );
      CREATE INDEX audit_log_action_ts ON audit_log(action, ts, id);
      CREATE INDEX audit_log_ts ON audit_log(ts, id);
      CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused'); END;
      CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused'); END;

      CREATE TABLE trusted_keys (
        id             INTEGER PRIMARY KEY,
        tenant         TEXT NOT NULL,
        fingerprint    TEXT NOT NULL,
        algorithm      TEXT NOT NULL,
        pem            TEXT NOT NULL,
        label          TEXT,
        added_at       TEXT NOT NULL,
        added_by       TEXT NOT NULL,
        reason         TEXT NOT NULL,
        replaces       TEXT,
        revoked_at     TEXT,
        revoked_by     TEXT,
        revoked_reason TEXT,
        UNIQUE (tenant, fingerprint)
      );

      CREATE TABLE checklist_runs (
        id           TEXT PRIMARY KEY,
        checklist_id TEXT NOT NULL,
        title        TEXT NOT NULL,
        section      TEXT NOT NULL,
        state        TEXT NOT NULL CHECK (state IN ('not_started','in_progress','blocked','done')),
        operator     TEXT NOT NULL,
        started_at   TEXT NOT NULL,
        updated_at   TEXT NOT NULL,
        finished_at  TEXT,
        blocked_reason TEXT,
        inputs       TEXT NOT NULL DEFAULT '{}'
      );
      CREATE INDEX checklist_runs_started ON checklist_runs(started_at);

      CREATE TABLE checklist_steps (
        run_id       TEXT NOT NULL REFERENCES checklist_runs(id),
        position     INTEGER NOT NULL,
        step_id      TEXT NOT NULL,
        kind         TEXT NOT NULL,
        status       TEXT NOT NULL,
        summary      TEXT,
        evidence     TEXT,
        note         TEXT,
        actor        TEXT,
        completed_at TEXT,
        PRIMARY KEY (run_id, step_id)
      );

      CREATE TABLE console_state (
        key        TEXT PRIMARY KEY,
        value      TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
    `);
  },
};
