/**
 * readPlainEntry reads the entries of `files` producers write straight from
 * their bytes, in place of JSON.parse, the strictness scan and the schema.
 * Whenever it reads an entry, those three must agree with it: JSON.parse
 * gives the same object, the scan finds nothing, the schema accepts it.
 * Generated entries of every kind the rules care about, checked against them.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { strictJsonProblem } from '../../../shared/strict-json';
import { FileEntrySchema } from './export-schema';
import { ExportJsonStream, readPlainEntry } from './export-stream';
import { hexEquals } from './stream/collector';

function rng(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

const HEX = createHash('sha256').update('x').digest('hex');
const KEYS = ['path', 'path', 'sha256', 'sha256', 'size', 'size', 'mediaType', 'x', 'p\\u0061th', '__proto__', 'Path', 'storedSize'];
// Per key: values the shape allows, then values it does not (picked one time in five).
const VALUES: Record<string, [string[], string[]]> = {
  path: [['"data/a.json"', '"README.md"', '""', '"a b/c~d"', '"a\u007fb"'], ['"a\\"b"', '"a\\\\b"', '"caf\u00e9"', '"a\tb"', '"\u2028"', '"data/\u0001"', '1', 'null']],
  sha256: [[`"${HEX}"`], [`"${HEX.toUpperCase()}"`, `"${HEX.slice(1)}"`, `"${HEX}0"`, `"${HEX.slice(0, 63)}g"`, `"sha256:${HEX}"`, '"\\u0030"', '0']],
  size: [['0', '1', '563', '999999999999999'], ['9007199254740991', '9007199254740993', '1234567890123456', '01', '-1', '-0', '1.5', '1e3', '1E3', '"5"', 'true']],
  mediaType: [['"application/octet-stream"', '"text/markdown"', '""'], ['null', '7', '"a\\/b"']],
};
const OTHER = ['"v"', '1', '{}', '[]', '{"y":1}'];
const GAPS = ['', ' ', '\n      ', '\t', '\r\n', ' \n  '];

function valueFor(key: string, pick: <T>(a: T[]) => T, r: () => number): string {
  const v = Object.hasOwn(VALUES, key) ? VALUES[key] : undefined;
  return v ? pick(v[r() < 0.8 ? 0 : 1]) : pick(OTHER);
}

describe('readPlainEntry', () => {
  it('reads only entries that JSON.parse, the strictness scan and the schema read the same way', () => {
    const r = rng(7);
    const pick = <T>(a: T[]): T => a[Math.floor(r() * a.length)];
    let read = 0;
    let declined = 0;
    for (let n = 0; n < 20000; n++) {
      // Mostly the producers' shape (the three or four keys, once each, in some order), sometimes anything.
      const keys = r() < 0.7 ? ['path', 'sha256', 'size', ...(r() < 0.6 ? ['mediaType'] : [])].sort(() => r() - 0.5) : Array.from({ length: Math.floor(r() * 6) }, () => pick(KEYS));
      const fields = keys.map((k) => `${pick(GAPS)}"${k}"${pick(GAPS)}:${pick(GAPS)}${valueFor(k, pick, r)}${pick(GAPS)}`);
      const text = `${pick(['', '', ' '])}{${fields.join(',')}${pick(GAPS)}}${pick(['', '', '\n'])}`;
      const e = readPlainEntry(Buffer.from(text, 'utf8'));
      if (e === null) {
        declined++;
        continue;
      }
      read++;
      expect(JSON.parse(text), text).toEqual(e);
      expect(strictJsonProblem(text), text).toBeNull();
      expect(FileEntrySchema.safeParse(e).success, text).toBe(true);
      expect(Object.keys(e).sort(), text).toEqual(['path', 'sha256', 'size', ...(e.mediaType === undefined ? [] : ['mediaType'])].sort());
    }
    // Both ways are taken often: the comparison above is not empty, and the general parse still gets its share.
    expect(read).toBeGreaterThan(3000);
    expect(declined).toBeGreaterThan(5000);
  });

  it('reads the entries producers write, and a stream of them gives what the general parse gives', () => {
    const entry = '{\n      "mediaType": "application/octet-stream",\n      "path": "data/advisories/d0000/a-0000000.ndjson",\n      "sha256": "29bacc5a7299a8832205e7f03839cef61da8b231a037862f0a4288f5c346c9d3",\n      "size": 563\n    }';
    expect(readPlainEntry(Buffer.from(entry))).toEqual(JSON.parse(entry));
    // The same list written compactly with escapes (the general parse) and pretty (read straight): same list and state.
    const files = Array.from({ length: 300 }, (_, i) => ({ mediaType: 'application/x-ndjson', path: `data/d${String(i).padStart(4, '0')}.json`, sha256: createHash('sha256').update(String(i)).digest('hex'), size: i * 7 }));
    const head = { schemaVersion: 1 };
    const pretty = Buffer.from(JSON.stringify({ ...head, files }, null, 2));
    const escaped = Buffer.from(JSON.stringify({ ...head, files }).replace(/"path":"data\//g, '"path":"data\\/'));
    const lists = [pretty, escaped].map((bytes) => {
      const s = new ExportJsonStream();
      s.write(bytes);
      try {
        s.end();
      } catch {
        /* the rest of the document is not a whole export.json: only the list is compared */
      }
      return { entries: [...s.files], count: s.files.length };
    });
    expect(lists[0].count).toBe(300);
    expect(lists[0]).toEqual(lists[1]);
    expect(lists[0].entries).toEqual(files.map((f) => ({ path: f.path, sha256: f.sha256, size: f.size, mediaType: f.mediaType })));
  });
});

describe('hexEquals', () => {
  it('says equal exactly when the hex spells the digest', () => {
    const r = rng(3);
    for (let n = 0; n < 2000; n++) {
      const d = createHash('sha256').update(String(n)).digest();
      const hex = d.toString('hex');
      expect(hexEquals(d, hex)).toBe(true);
      const k = Math.floor(r() * 64);
      const other = hex.slice(0, k) + (hex[k] === 'f' ? 'e' : 'f') + hex.slice(k + 1);
      expect(hexEquals(d, other)).toBe(false);
      expect(hexEquals(d, hex.toUpperCase())).toBe(hex === hex.toUpperCase());
      expect(hexEquals(d, hex.slice(0, 63))).toBe(false);
    }
  });
});
