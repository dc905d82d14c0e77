import type { Migration } from './types';

// Owned by issue 4 (generations, library, apply journal).
export const m002: Migration = { version: 2, name: 'staging', up() {} };
