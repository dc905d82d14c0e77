/** bundlePathProblem: each rule of the spec's path conventions, and the paths bundles use. */
import { describe, expect, it } from 'vitest';
import { bundlePathProblem, MAX_PATH_BYTES, MAX_SEGMENT_BYTES } from './paths';

describe('bundlePathProblem', () => {
  it('names the first problem of a path, and none for the paths bundles use', () => {
    const cases: [string, string | null, number?][] = [
      ['mirror/data/advisories/d0000/a-0000000.ndjson', null],
      ['README.md', null],
      ['a', null],
      ['...', null],
      ['.a/..b/c.', null],
      ['a/.hidden/b', null],
      ['caf\u00e9/\u{1f600}', null],
      ['a/C:/b', null],
      ['', 'empty'],
      ['a/\0', 'nul'],
      ['a/\u0001b', 'control-char'],
      ['a\u007f', 'control-char'],
      ['a/\ud800', 'invalid-unicode'],
      ['\ufffd', 'invalid-unicode'],
      ['/etc/passwd', 'absolute'],
      ['C:/x', 'absolute'],
      ['c:x', 'absolute'],
      ['a\\b', 'backslash'],
      ['.', 'dot-segment'],
      ['a/./b', 'dot-segment'],
      ['a/.', 'dot-segment'],
      ['..', 'dotdot-segment'],
      ['a/../b', 'dotdot-segment'],
      ['a/..', 'dotdot-segment'],
      ['a//b', 'empty-segment'],
      ['a/', 'empty-segment'],
      [`a/${'x'.repeat(MAX_SEGMENT_BYTES)}`, null],
      [`a/${'x'.repeat(MAX_SEGMENT_BYTES + 1)}`, 'segment-too-long'],
      [`a/${'\u00e9'.repeat(MAX_SEGMENT_BYTES / 2 + 1)}`, 'segment-too-long'],
      [Array.from({ length: 20 }, () => 'y'.repeat(250)).join('/'), 'path-too-long'],
      [Array.from({ length: 16 }, () => 'y'.repeat(250)).join('/'), null],
      [Array.from({ length: 64 }, () => 'd').join('/'), null],
      [Array.from({ length: 65 }, () => 'd').join('/'), 'too-deep'],
      [Array.from({ length: 5 }, () => 'd').join('/'), 'too-deep', 4],
      ['cafe\u0301', 'not-nfc'],
    ];
    for (const [p, want, maxDepth] of cases) {
      expect(bundlePathProblem(p, maxDepth === undefined ? {} : { maxDepth }), JSON.stringify(p).slice(0, 60)).toBe(want);
    }
    expect(MAX_PATH_BYTES).toBeLessThan(20 * 251);
  });
});
