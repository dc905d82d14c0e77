/** bundlePathProblem: each rule of the spec's path conventions, and the paths bundles use. */
import { describe, expect, it } from 'vitest';
import { bundlePathProblem, compareBytewise, MAX_PATH_BYTES, MAX_SEGMENT_BYTES, sortBytewise } from './paths';

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

describe('compareBytewise and sortBytewise', () => {
  // ASCII, two-byte, the U+E000..U+FFFF range (above the surrogates in UTF-16, below them in UTF-8)
  // and supplementary characters (surrogate pairs): the units where the two orders part.
  const alphabet = ['a', 'b', 'Z', '/', '.', '0', '\u00e9', '\ue000', '\uff5e', '\ufffd', '\u{1f600}', '\u{10000}', '\u{10ffff}'];
  let seed = 12345;
  const rnd = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x80000000);
  const word = (high: boolean): string => {
    let s = '';
    const n = 1 + Math.floor(rnd() * 6);
    for (let i = 0; i < n; i++) s += alphabet[Math.floor(rnd() * (high ? alphabet.length : 6))];
    return s;
  };
  const utf8 = (a: string, b: string): number => Math.sign(Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));

  it('orders as the UTF-8 bytes do, whether none, one or both strings hold units above U+D800', () => {
    for (let i = 0; i < 20000; i++) {
      const a = word(rnd() < 0.5);
      const b = rnd() < 0.3 ? a + word(rnd() < 0.5) : word(rnd() < 0.5);
      expect(Math.sign(compareBytewise(a, b)), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`).toBe(utf8(a, b));
    }
    // The case where UTF-16 order is wrong: U+E000 sorts before U+1F600 in UTF-8, after it in UTF-16.
    expect(compareBytewise('\ue000', '\u{1f600}')).toBe(-1);
    expect('\ue000' < '\u{1f600}').toBe(false);
  });

  it('sorts in place in UTF-8 byte order, with and without high units', () => {
    for (const high of [false, true]) {
      for (let round = 0; round < 50; round++) {
        const xs = Array.from({ length: 1 + Math.floor(rnd() * 80) }, () => word(high && rnd() < 0.3));
        const want = [...xs].sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
        const got = sortBytewise(xs);
        expect(got).toBe(xs);
        expect(got).toEqual(want);
      }
    }
    expect(sortBytewise(['\u{1f600}', '\ue000', 'b', 'a'])).toEqual(['a', 'b', '\ue000', '\u{1f600}']);
  });
});
