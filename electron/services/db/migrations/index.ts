import { m001 } from './001_core';
import { m002 } from './002_staging';
import { m003 } from './003_staging_usage';
import type { Migration } from './types';

export type { Migration } from './types';

/** Every migration, in order. Never edit a released one: add the next number. */
export const MIGRATIONS: readonly Migration[] = [m001, m002, m003];
