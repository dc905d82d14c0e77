import type { Migration } from './types';

/**
 * Staging state (issue 4): generations, the bundle library, installed Trivy
 * databases, and one row of workspace staging state (current generation,
 * chain identity, last apply result, import freeze).
 *
 * The on-disk `staging/current` symlink is the atomic switch; these tables
 * mirror it and are reconciled by the apply journal after a crash.
 */
export const m002: Migration = {
  version: 2,
  name: 'staging',
  up(db) {
    db.exec(`
      CREATE TABLE staging_generations (
        seq               INTEGER PRIMARY KEY,          -- local sequence number: staging/<seq>/
        export_id         TEXT    NOT NULL,
        generation        INTEGER NOT NULL,             -- export generation
        variant           TEXT    NOT NULL,             -- full | delta
        reset_baseline    INTEGER NOT NULL DEFAULT 0,
        tenant            TEXT    NOT NULL,
        profile_id        TEXT    NOT NULL,
        run_id            TEXT,
        created_at        TEXT    NOT NULL,             -- export createdAt
        export_json_sha256 TEXT   NOT NULL,             -- hex of the signed export.json bytes
        state_digest      TEXT    NOT NULL,             -- sha256:<hex>
        file_count        INTEGER NOT NULL,
        total_bytes       INTEGER NOT NULL,
        base_seq          INTEGER,                      -- generation it was built on (delta), null for full/reset
        library_sha256    TEXT,                         -- raw bundle in the library that produced it
        applied_at        TEXT    NOT NULL,
        status            TEXT    NOT NULL DEFAULT 'kept' CHECK (status IN ('kept', 'pruned')),
        pruned_at         TEXT
      );
      CREATE INDEX staging_generations_export ON staging_generations(export_id, export_json_sha256);

      CREATE TABLE staging_library (
        sha256            TEXT PRIMARY KEY,             -- hex of the raw bundle bytes (content address)
        file              TEXT NOT NULL,                -- path relative to the workspace folder
        name              TEXT NOT NULL,                -- original file name
        kind              TEXT NOT NULL CHECK (kind IN ('mirror-full', 'mirror-delta', 'trivy-db', 'trivy-java-db')),
        size              INTEGER NOT NULL,
        export_id         TEXT,
        generation        INTEGER,
        reset_baseline    INTEGER NOT NULL DEFAULT 0,
        export_json_sha256 TEXT,
        created_at        TEXT,                         -- export createdAt (mirror) / metadata UpdatedAt (trivy)
        imported_at       TEXT NOT NULL,
        pruned_at         TEXT
      );

      CREATE TABLE staging_trivy (
        kind              TEXT PRIMARY KEY CHECK (kind IN ('trivy-db', 'trivy-java-db')),
        dir               TEXT NOT NULL,                -- the versioned folder behind trivy/db or trivy/java-db
        library_sha256    TEXT,
        metadata          TEXT NOT NULL,                -- metadata.json text
        installed_at      TEXT NOT NULL
      );

      CREATE TABLE staging_state (
        id                INTEGER PRIMARY KEY CHECK (id = 1),
        current_seq       INTEGER REFERENCES staging_generations(seq),
        chain_tenant      TEXT,
        chain_profile_id  TEXT,
        last_apply        TEXT,                         -- JSON of the last apply result (ok or failed)
        imports_frozen    INTEGER NOT NULL DEFAULT 0,
        frozen_reason     TEXT,
        frozen_at         TEXT
      );
      INSERT INTO staging_state (id) VALUES (1);
    `);
  },
};
