import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isOpsError, type ErrorCode } from '../../../shared/errors';
import { KITS } from '../testing/fixtures';
import { isEncryptedFile, matchesGlob } from './export-schema';
import { parseExportJson } from './export-stream';

/** export.json of a fixture bundle, extracted with the zstd and tar CLIs. */
function fixtureExport(kit: string, bundle: string): Record<string, unknown> {
  const out = execFileSync('sh', ['-c', 'zstd -q -dc "$1" | tar -xO mirror/export.json', 'sh', join(KITS, kit, 'mirror', bundle)]);
  return JSON.parse(out.toString('utf8')) as Record<string, unknown>;
}

const full = fixtureExport('ecdsa-p256', 'mirror-20251029-full.tar.zst');
const delta = fixtureExport('ecdsa-p256', 'mirror-20251101-delta.tar.zst');
const perFile = fixtureExport('age-per-file', 'mirror-20251101-delta.tar.zst');

function codeOf(doc: unknown): ErrorCode | null {
  try {
    parseExportJson(Buffer.from(typeof doc === 'string' ? doc : JSON.stringify(doc)));
    return null;
  } catch (e) {
    if (!isOpsError(e)) throw e;
    return e.code;
  }
}

const edit = (base: Record<string, unknown>, f: (d: Record<string, unknown>) => void) => {
  const d = structuredClone(base);
  f(d);
  return d;
};

describe('parseExportJson', () => {
  it('accepts the fixtures (full, delta, per-file encrypted)', () => {
    expect(codeOf(full)).toBeNull();
    expect(codeOf(delta)).toBeNull();
    expect(codeOf(perFile)).toBeNull();
    const p = parseExportJson(Buffer.from(JSON.stringify(perFile)));
    expect(p.encryption).toEqual({ mode: 'age', paths: 'data/**' });
    expect(isEncryptedFile(p, 'data/raw/x')).toBe(true);
    expect(isEncryptedFile(p, 'README.md')).toBe(false);
  });

  it('an unknown schemaVersion is ERR_EXPORT_UNSUPPORTED_SCHEMA even when the rest is broken', () => {
    expect(codeOf(edit(full, (d) => (d.schemaVersion = 2)))).toBe('ERR_EXPORT_UNSUPPORTED_SCHEMA');
    expect(codeOf({ schemaVersion: 3 })).toBe('ERR_EXPORT_UNSUPPORTED_SCHEMA');
    expect(codeOf(edit(full, (d) => (d.schemaVersion = '1')))).toBe('ERR_EXPORT_UNSUPPORTED_SCHEMA');
  });

  const corrupt: [string, unknown][] = [
    ['not JSON', '{"schemaVersion": 1,'],
    ['an array', '[]'],
    ['no schemaVersion', edit(full, (d) => delete d.schemaVersion)],
    ['no exportId', edit(full, (d) => delete d.exportId)],
    ['generation not an integer', edit(full, (d) => (d.generation = 1.5))],
    ['bad createdAt', edit(full, (d) => (d.createdAt = 'yesterday'))],
    ['uppercase digest', edit(full, (d) => ((d.files as { sha256: string }[])[0].sha256 = 'A'.repeat(64)))],
    ['negative size', edit(full, (d) => ((d.files as { size: number }[])[0].size = -1))],
    ['unsorted files', edit(full, (d) => (d.files as unknown[]).reverse())],
    ['duplicate files', edit(full, (d) => (d.files as unknown[]).push((d.files as unknown[])[0]))],
    ['traversal path', edit(full, (d) => ((d.files as { path: string }[])[0].path = '../etc/passwd'))],
    ['absolute path', edit(full, (d) => ((d.files as { path: string }[])[0].path = '/README.md'))],
    ['control file listed', edit(full, (d) => ((d.files as { path: string }[])[0].path = 'export.json'))],
    ['full with a base', edit(full, (d) => (d.base = (delta as { base: unknown }).base))],
    ['full with removals', edit(full, (d) => (d.removed = ['data/x']))],
    ['delta without base', edit(delta, (d) => (d.base = null))],
    ['unsorted removed', edit(delta, (d) => (d.removed = ['data/b', 'data/a']))],
    ['removed and listed', edit(delta, (d) => (d.removed = [(d.files as { path: string }[])[0].path]))],
    ['bad variant', edit(full, (d) => ((d.profile as { variant: string }).variant = 'partial'))],
    ['encrypted file without stored digest', edit(perFile, (d) => delete (d.files as { storedSha256?: string }[])[0].storedSha256)],
    ['storedSize not size + 28', edit(perFile, (d) => ((d.files as { storedSize: number }[])[0].storedSize += 1))],
  ];
  for (const [label, doc] of corrupt) {
    it(`${label} is ERR_BUNDLE_CORRUPT`, () => expect(codeOf(doc)).toBe('ERR_BUNDLE_CORRUPT'));
  }

  it('a resetBaseline delta may omit its base', () => {
    expect(codeOf(edit(delta, (d) => ((d.base = null), (d.resetBaseline = true))))).toBeNull();
  });

  it('the message names the offending field', () => {
    try {
      parseExportJson(Buffer.from(JSON.stringify(edit(full, (d) => delete d.runId))));
      expect.unreachable();
    } catch (e) {
      expect((e as Error).message).toMatch(/runId/);
    }
  });

  it('matchesGlob: ** crosses folders, * does not', () => {
    expect(matchesGlob('data/**', 'data/a/b/c')).toBe(true);
    expect(matchesGlob('data/**', 'indexes/a')).toBe(false);
    expect(matchesGlob('data/*', 'data/a')).toBe(true);
    expect(matchesGlob('data/*', 'data/a/b')).toBe(false);
    expect(matchesGlob('data/*.json', 'data/x.json')).toBe(true);
    expect(matchesGlob('data/*.json', 'data/xjson')).toBe(false);
  });
});
