import type { Migration } from './types';

// Owned by issue 5 (audit log, keys, checklist runs, counters).
export const m001: Migration = { version: 1, name: 'core', up() {} };
