/**
 * The operator guide: errors.md is exactly what the generator makes from
 * shared/errors.ts (so it cannot drift), every code has a cause and an action,
 * and every topic the app and `mirror help` offer exists and is linked.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ALL_ERROR_CODES } from '../shared/errors';
import { ERROR_GUIDE } from '../shared/error-guide';
import { OPERATOR_TOPICS } from '../shared/operator-topics';
import { REPO_ROOT } from '../electron/services/testing/fixtures';
import { ERRORS_PAGE, renderErrorsPage } from './operator-docs';

const DOCS = join(REPO_ROOT, 'docs', 'operator');

describe('docs/operator', () => {
  it('errors.md is generated from shared/errors.ts (run `npx tsx build/operator-docs.ts --write` after changing a code)', () => {
    expect(ERRORS_PAGE).toBe(join(DOCS, 'errors.md'));
    expect(readFileSync(ERRORS_PAGE, 'utf8')).toBe(renderErrorsPage());
  });

  it('gives every error code a cause, an action and its exit code', () => {
    expect(ERROR_GUIDE.map((e) => e.code)).toEqual([...ALL_ERROR_CODES]);
    for (const e of ERROR_GUIDE) {
      expect(e.cause.length, e.code).toBeGreaterThan(20);
      expect(e.action.length, e.code).toBeGreaterThan(20);
    }
    const page = readFileSync(ERRORS_PAGE, 'utf8');
    for (const code of ALL_ERROR_CODES) expect(page).toContain(`## ${code}\n`);
  });

  it('has every topic the Help page and `mirror help` offer, each linked from the index', () => {
    const index = readFileSync(join(DOCS, 'README.md'), 'utf8');
    for (const t of OPERATOR_TOPICS) {
      expect(existsSync(join(DOCS, t.file)), t.file).toBe(true);
      expect(index).toContain(`](${t.file})`);
      expect(index).toContain(`\`${t.id}\``);
    }
  });

  it('covers what an operator must do on the first start: workspace, operator name, the key fingerprint checked out of band', () => {
    const first = readFileSync(join(DOCS, 'first-start.md'), 'utf8');
    for (const needle of ['workspace', 'Operator name', 'out of band', '--fingerprint sha256:', 'ERR_FINGERPRINT_MISMATCH']) expect(first).toContain(needle);
  });
});
