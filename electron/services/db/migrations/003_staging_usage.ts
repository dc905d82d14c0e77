import type { Migration } from './types';

/**
 * What each generation adds to the disk (issue 13: `mirror status` and the
 * health refresh measured staging by looking at every file of every kept
 * generation, ~3 s at 100,000 files x 3 generations and ~30 s at a million):
 *
 * - new_bytes: bytes of the files its build created (a full or reset
 *   baseline: every file; a delta: the files taken from its bundle). Every
 *   other file of its tree is a hard link to a file of its base.
 * - meta_bytes: its staging/<seq>.meta files (state.txt, export.json).
 *
 * Null for generations applied before this migration: the capacity check
 * then looks at the files, as before.
 */
export const m003: Migration = {
  version: 3,
  name: 'staging-usage',
  up(db) {
    db.exec(`
      ALTER TABLE staging_generations ADD COLUMN new_bytes INTEGER;
      ALTER TABLE staging_generations ADD COLUMN meta_bytes INTEGER;
    `);
  },
};
