import { describe, expect, it } from 'vitest';
import type { LibraryEntry } from '../../../../shared/contract';
import { procedureFor } from '../../../../shared/error-procedure';
import { sortLibrary } from '../library/sort';
import { stepActionLabel, stepRisk } from './steps';

describe('checklist step labels', () => {
  it('a step that changes the workspace is named by what it does, never "Run check"', () => {
    expect(stepActionLabel({ type: 'automated', title: 'Freeze imports with the recorded reason', changes: true })).toBe('Freeze imports with the recorded reason…');
    expect(stepActionLabel({ type: 'automated', title: 'Staging verifies', changes: false })).toBe('Run check');
    expect(stepActionLabel({ type: 'manual', title: 'Look at the dashboard', changes: false })).toBe('Confirm step');
  });
  it('steps that rebuild or re-apply staging are high risk, other changes medium', () => {
    expect(stepRisk({ check: 'restore.apply_chain' })).toBe('high');
    expect(stepRisk({ check: 'imports.catch_up' })).toBe('high');
    expect(stepRisk({ check: 'imports.freeze' })).toBe('medium');
  });
});

describe('library order and error procedures', () => {
  const e = (generation: number | null, kind: LibraryEntry['kind'], file: string): LibraryEntry => ({ generation, kind, file, exportId: null, sha256: file, size: 1 });
  it('sorts by generation (full before its deltas), Trivy bundles last', () => {
    const sorted = sortLibrary([e(2, 'mirror-delta', 'b'), e(null, 'trivy-db', 't'), e(3, 'mirror-delta', 'c'), e(1, 'mirror-full', 'a')]);
    expect(sorted.map((x) => x.file)).toEqual(['a', 'b', 'c', 't']);
  });
  it('maps error codes to the procedure to follow', () => {
    expect(procedureFor('ERR_VERIFY_SIGNATURE')).toBe('7.3');
    expect(procedureFor('ERR_EXPORT_BASE_MISSING')).toBe('7.2');
    expect(procedureFor('ERR_NO_SPACE')).toBe('5.2');
    expect(procedureFor('ERR_INPUT_NOT_FOUND')).toBeNull();
    expect(procedureFor(null)).toBeNull();
  });
});
