/**
 * isFlatStrict is a shortcut of strictJsonProblem: whenever it says "strict",
 * the full scan must find nothing. Flat objects of every kind the rules care
 * about, generated, and checked against the scan.
 */
import { describe, expect, it } from 'vitest';
import { isFlatStrict, strictJsonProblem } from './strict-json';

function rng(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

const KEYS = ['path', 'sha256', 'size', 'mediaType', 'x', 'p\\u0061th', '__proto__'];
const VALUES = ['"data/a"', '"a:b"', '"a\\"b"', '"\\ud800"', '1', '9007199254740991', '9007199254740993', '12345678901234567890', '1e400', '-0.5', 'true', 'null', '{}', '[]', '{"y":1,"y":2}', '["a"]'];
const GAPS = ['', ' ', '\n  '];

describe('isFlatStrict', () => {
  it('never says strict where the full scan finds a problem, and says it for the plain entries export.json holds', () => {
    const r = rng(5);
    const pick = <T>(a: T[]): T => a[Math.floor(r() * a.length)];
    let shortcut = 0;
    let refused = 0;
    for (let n = 0; n < 5000; n++) {
      const fields = Array.from({ length: 1 + Math.floor(r() * 5) }, () => `${pick(GAPS)}"${pick(KEYS)}"${pick(GAPS)}:${pick(GAPS)}${pick(VALUES)}`);
      const text = `{${fields.join(',')}${pick(GAPS)}}`;
      const value = JSON.parse(text) as unknown;
      const problem = strictJsonProblem(text);
      if (problem) refused++;
      if (isFlatStrict(text, value)) {
        shortcut++;
        expect(problem, text).toBeNull();
      }
    }
    expect(refused).toBeGreaterThan(1000);
    expect(shortcut).toBeGreaterThan(500);
    const entry = '{\n  "mediaType": "application/octet-stream",\n  "path": "data/advisories/d0000/a-0000000.ndjson",\n  "sha256": "29bacc5a7299a8832205e7f03839cef61da8b231a037862f0a4288f5c346c9d3",\n  "size": 563\n}';
    expect(isFlatStrict(entry, JSON.parse(entry))).toBe(true);
  });
});
