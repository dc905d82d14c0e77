import { describe, expect, it } from 'vitest';
import { checkYaml, SMALL_YAML } from './yaml-check';

function bigManifest(n: number, tweak?: (lines: string[]) => void): string {
  const lines = ['profile: "mirror-nightly"', 'variant: full', 'selectors: {"include":["advisories","vex"]}', 'counts:', `  files: ${n}`, 'files:'];
  for (let i = 0; i < n; i++) lines.push(`  - path: "data/raw/f${i}.jsonl.zst"`, `    sha256: ${'ab'.repeat(32)}`, `    size: ${i}`);
  lines.push('notes: |', '  a block scalar', '  - that looks like an item', 'tail: end');
  tweak?.(lines);
  return lines.join('\n') + '\n';
}

describe('checkYaml', () => {
  it('accepts a large manifest (checked in pieces)', () => {
    const text = bigManifest(15_000);
    expect(text.length).toBeGreaterThan(SMALL_YAML);
    expect(() => checkYaml(text)).not.toThrow();
  });
  it('refuses a syntax error deep inside a large manifest', () => {
    const text = bigManifest(15_000, (l) => (l[20_000] = '    size: [unclosed'));
    expect(() => checkYaml(text)).toThrow();
  });
  it('refuses a duplicate top-level key in a large manifest', () => {
    const text = bigManifest(15_000, (l) => l.push('profile: again'));
    expect(() => checkYaml(text)).toThrow(/duplicate|unique/i);
  });
  it('refuses a duplicate key inside one item of a large manifest', () => {
    const text = bigManifest(15_000, (l) => l.splice(30_001, 0, '    size: 2'));
    expect(() => checkYaml(text)).toThrow();
  });
  it('falls back to a whole parse when a piece cannot stand alone, accepting a valid document', () => {
    // An anchor defined in one top-level key and used in a later one.
    const text = bigManifest(15_000, (l) => {
      l[1] = 'variant: &v full';
      l.push('again: *v');
    });
    expect(() => checkYaml(text)).not.toThrow();
  });
  it('checks small documents with one ordinary parse', () => {
    expect(() => checkYaml('a: 1\nb: [2\n')).toThrow();
    expect(() => checkYaml('a: 1\na: 2\n')).toThrow();
    expect(() => checkYaml('a: 1\nb: {c: 2}\n')).not.toThrow();
  });
});

describe('checkYaml fast path', () => {
  it('recognises only what YAML reads as plain or JSON-quoted scalars', () => {
    // Each of these file lists is cut into pieces; a bad escape or an unclosed quote must still be refused.
    for (const bad of ['    size: "bad \\q escape"', '    size: "unclosed', "    size: 'unclosed"]) {
      const text = bigManifest(15_000, (l) => (l[10_000] = bad));
      expect(() => checkYaml(text), bad).toThrow();
    }
  });
});

describe('checkYaml whole-document fast path', () => {
  const manifest = (extra: string[] = []): string =>
    ['profile: "mirror-nightly"', 'variant: full', 'generation: 1', 'selectors: {"include":["advisories","vex"]}', 'counts:', '  files: 2', '  removed: 0', 'files:', '  - path: "a.jsonl"', `    sha256: ${'ab'.repeat(32)}`, '    size: 3', '  - path: "b.jsonl"', '    size: 4', 'removed:', '  - "old/c.jsonl"', 'empty: []', ...extra].join('\n') + '\n';
  it('accepts a small manifest of the usual shape (trailing newline included)', () => {
    expect(() => checkYaml(manifest())).not.toThrow();
  });
  it('still refuses what is not YAML in that shape', () => {
    for (const bad of ['profile: again', 'x: -', 'x: foo:', 'x: {"a":1', 'counts2:\n  a: 1\n  a: 2', 'files2:\n  - path: a\n    path: b', 'x: [unclosed']) {
      expect(() => checkYaml(manifest([bad])), bad).toThrow();
    }
  });
  it('leaves documents it does not recognise to the library, which accepts valid ones', () => {
    for (const ok of ['# a comment', 'notes: |\n  block text', 'x: {a: 1, b: [2, 3]}', 'x: {"a":1, "b":2}', 'y:\n    deep: 1']) {
      expect(() => checkYaml(manifest([ok])), ok).not.toThrow();
    }
  });
});
