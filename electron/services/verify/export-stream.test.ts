import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isOpsError } from '../../../shared/errors';
import { stateDigestText } from '../../../shared/state-digest';
import { strictJsonProblem } from '../../../shared/strict-json';
import { ExportJsonStream, parseExportJson } from './export-stream';
import { FileList } from './file-list';
import { checkListedPaths } from '../staging/apply';
import type { StagingExport } from '../staging/types';

const hex = (s: string): string => createHash('sha256').update(s).digest('hex');

function doc(files: { path: string; sha256: string; size: number; mediaType?: string }[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  const text = stateDigestText(files);
  return {
    schemaVersion: 1,
    exportId: 'exp-1',
    runId: 'run-1',
    tenant: 'acme',
    profile: { id: 'p', kind: 'mirror', variant: 'full' },
    generation: 1,
    createdAt: '2025-10-29T02:00:00Z',
    base: null,
    files,
    removed: [],
    state: { fileCount: files.length, totalBytes: files.reduce((a, f) => a + f.size, 0), digest: 'sha256:' + createHash('sha256').update(text).digest('hex') },
    encryption: null,
    ...extra,
  };
}

function fed(bytes: Buffer, chunk: number): ReturnType<ExportJsonStream['end']> {
  const s = new ExportJsonStream();
  for (let i = 0; i < bytes.length; i += chunk) s.write(bytes.subarray(i, i + chunk));
  return s.end();
}

function errorOf(f: () => unknown): { code: string; message: string } | null {
  try {
    f();
    return null;
  } catch (e) {
    if (!isOpsError(e)) throw e;
    return { code: e.code, message: e.message };
  }
}

const tricky = [
  { path: 'a "quoted" name', sha256: hex('1'), size: 0, mediaType: 'text/"x" \\ y\ttab' },
  { path: 'data/é/ü-ñ.json', sha256: hex('2'), size: 123456789, mediaType: 'application/json' },
  { path: 'data/x\u2028y', sha256: hex('3'), size: 7 },
  { path: 'data/😀/f', sha256: hex('4'), size: 2 ** 40 },
].sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));

describe('ExportJsonStream', () => {
  it('gives the same result in 1-byte chunks as in one piece and as JSON.parse (strings, escapes, numbers split anywhere)', () => {
    const d = doc(tricky, { selectors: { include: ['a', 'b\\"c'], n: -1.5e3 } });
    // \u escapes and odd whitespace put boundaries inside escapes and numbers.
    const text = JSON.stringify(d, null, 1).replace(/é/g, '\\u00e9').replace(/"size": 7/, '"size" :\n 7');
    const bytes = Buffer.from(text, 'utf8');
    const whole = parseExportJson(bytes);
    for (const n of [1, 2, 3, 7, 64]) {
      const p = fed(bytes, n);
      expect([...p.files]).toEqual([...whole.files]);
      expect(p.files.stateDigest).toBe(whole.files.stateDigest);
    }
    const j = JSON.parse(text) as { files: unknown[]; selectors: unknown; state: { digest: string } };
    expect([...whole.files]).toEqual(j.files);
    expect(whole.selectors).toEqual(j.selectors);
    expect(whole.files.stateDigest).toBe(j.state.digest);
    expect(whole.files.at(-1)).toEqual(j.files.at(-1));
    expect(whole.files.at(tricky.length)).toBeUndefined();
  });

  it('refuses unsorted and repeated entries with the whole-document codes and messages', () => {
    const [a, b] = tricky;
    const unsorted = errorOf(() => parseExportJson(Buffer.from(JSON.stringify(doc([b, a])))));
    expect(unsorted?.code).toBe('ERR_BUNDLE_CORRUPT');
    expect(unsorted?.message).toMatch(/"files" is not sorted by path/);
    const twice = errorOf(() => parseExportJson(Buffer.from(JSON.stringify(doc([a, a])))));
    expect(twice?.code).toBe('ERR_BUNDLE_CORRUPT');
    expect(twice?.message).toMatch(/"files" lists ".*" twice/);
    // A file and a folder of that name, with a sibling sorting between them ("a-x" < "a/").
    const clash = doc([
      { path: 'data/a', sha256: hex('a'), size: 1 },
      { path: 'data/a-x', sha256: hex('b'), size: 1 },
      { path: 'data/a/b', sha256: hex('c'), size: 1 },
    ]);
    expect(errorOf(() => parseExportJson(Buffer.from(JSON.stringify(clash))))?.message).toMatch(/lists "data\/a" as a file and "data\/a\/b" below it/);
  });

  it('keeps the whole-document precedence: JSON, then strictness, then schemaVersion, then schema, then paths', () => {
    const [a, b] = tricky;
    const bad = { ...b, sha256: 'A'.repeat(64) };
    // A schema problem in a later entry wins over an order problem in an earlier one (as zod over the whole array).
    const e = errorOf(() => parseExportJson(Buffer.from(JSON.stringify(doc([b, a, bad])))));
    expect(e?.message).toMatch(/"files\.2\.sha256" must be 64 lowercase hex digits/);
    expect(errorOf(() => parseExportJson(Buffer.from(JSON.stringify(doc([bad]), null, 0).replace('"schemaVersion":1', '"schemaVersion":2'))))?.code).toBe('ERR_EXPORT_UNSUPPORTED_SCHEMA');
    const dupKey = JSON.stringify(doc([a])).replace('"path":', '"path":"x","path":');
    expect(errorOf(() => parseExportJson(Buffer.from(dupKey)))?.message).toMatch(/not strict JSON: the key "path" appears twice/);
    const truncated = JSON.stringify(doc([a, b])).slice(0, -40);
    expect(errorOf(() => parseExportJson(Buffer.from(truncated)))?.message).toMatch(/not valid JSON/);
    expect(errorOf(() => parseExportJson(Buffer.from(JSON.stringify(doc([a])) + ' x')))?.message).toMatch(/not valid JSON/);
    expect(errorOf(() => parseExportJson(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(doc([a])))])))?.message).toMatch(/not valid JSON/);
  });

  it('finds in each entry what the whole-document strictness scan finds (the flat-entry shortcut included)', () => {
    const sha = hex('x');
    // Raw entry texts: flat and backslash-free (the shortcut's case) and not; strict and not.
    const entries = [
      `{"path":"data/a","path":"data/b","sha256":"${sha}","size":1}`,
      `{"path":"data/a","sha256":"${sha}","size":1,"size" :2}`,
      `{"path":"data/a","sha256":"${sha}","size":1,"size":1}`,
      `{"path":"data/a","sha256":"${sha}","size":1,"x":12345678901234567890}`,
      `{"path":"data/a","sha256":"${sha}","size":9007199254740993}`,
      `{"path":"data/a","sha256":"${sha}","size":9007199254740991}`,
      `{"path":"data/a","sha256":"${sha}","size":1,"x":1e400}`,
      `{"path":"data/a","sha256":"${sha}","size":1,"x":-9007199254740992.5}`,
      `{"path":"data/a","sha256":"${sha}","size":1,"x":"\\ud800"}`,
      `{"path":"data/a","sha256":"${sha}","size":1,"x":{"y":1,"y":2}}`,
      `{"path":"data/a","sha256":"${sha}","size":1,"x":["a","a"]}`,
      `{"path":"data/a","sha256":"${sha}","size":1,"mediaType":"a\\"b"}`,
      `{"path":"data/a","sha256":"${sha}","size":1,"mediaType":"a:b","media\\u0054ype":"c"}`,
      `{ "path" : "data/a" , "sha256" : "${sha}" , "size" : 1 }`,
    ];
    const shell = JSON.stringify(doc([])).split('"files":[]');
    let strictSeen = 0;
    for (const entry of entries) {
      const text = `${shell[0]}"files":[${entry}]${shell[1]}`;
      const expected = strictJsonProblem(text);
      const got = errorOf(() => parseExportJson(Buffer.from(text)));
      if (expected) {
        strictSeen++;
        expect(got?.message, entry).toContain(`it is not strict JSON: ${expected}.`);
      } else expect(got?.message ?? '', entry).not.toMatch(/not strict JSON/);
    }
    expect(strictSeen).toBe(8);
  });

  it('refuses bytes that are not UTF-8 in an entry or a top-level value, and reads non-ASCII text as UTF-8', () => {
    const [a] = tricky;
    const text = JSON.stringify(doc([{ ...a, path: 'data/PLACE' }], { note: 'NOTE' }));
    const at = (s: string, what: string, bytes: number[]): Buffer => {
      const i = s.indexOf(what);
      return Buffer.concat([Buffer.from(s.slice(0, i)), Buffer.from(bytes), Buffer.from(s.slice(i + what.length))]);
    };
    for (const bad of [[0xff], [0xc3], [0xed, 0xa0, 0x80], [0xc0, 0xaf]]) {
      expect(errorOf(() => parseExportJson(at(text, 'PLACE', bad)))?.message).toMatch(/not valid UTF-8/);
      expect(errorOf(() => parseExportJson(at(text, 'NOTE', bad)))?.message).toMatch(/not valid UTF-8/);
    }
    const ok = parseExportJson(at(text, 'PLACE', [...Buffer.from('é-ü')]));
    expect(ok.files.pathAt(0)).toBe('data/é-ü');
  });

  it('refuses more entries than the member limit with ERR_BUNDLE_LIMIT', () => {
    const files = Array.from({ length: 5 }, (_, i) => ({ path: `f${i}`, sha256: hex(String(i)), size: 1 }));
    expect(errorOf(() => parseExportJson(Buffer.from(JSON.stringify(doc(files))), { maxFiles: 4 }))?.code).toBe('ERR_BUNDLE_LIMIT');
    expect(parseExportJson(Buffer.from(JSON.stringify(doc(files))), { maxFiles: 5 }).files.length).toBe(5);
  });

  it('holds ~100-140 bytes per file, not the document (200,000 entries streamed)', () => {
    const n = 200_000;
    const s = new ExportJsonStream();
    const tpl = (state: unknown): string[] => JSON.stringify({ ...doc([]), files: '__F__', state }).split('"__F__"');
    s.write(Buffer.from(tpl(null)[0] + '['));
    const state = createHash('sha256');
    let total = 0;
    for (let i = 0; i < n; i++) {
      const path = `data/advisories/d${String(Math.floor(i / 1000)).padStart(4, '0')}/a-${String(i).padStart(7, '0')}.ndjson`;
      const e = { mediaType: 'application/octet-stream', path, sha256: hex(path), size: 600 + (i % 800) };
      state.update(`${e.sha256} ${e.size} ${e.path}\n`);
      total += e.size;
      s.write(Buffer.from((i ? ',\n    ' : '\n    ') + JSON.stringify(e, null, 2)));
    }
    s.write(Buffer.from(']' + tpl({ fileCount: n, totalBytes: total, digest: 'sha256:' + state.digest('hex') })[1]));
    const exp = s.end();
    expect(exp.files.length).toBe(n);
    expect(exp.files.stateDigest).toBe((exp.state as { digest: string }).digest);
    expect(exp.files.bytes).toBe(total);
    expect(exp.files.heldBytes / n).toBeLessThan(140); // ~90 B plus growth slack; objects with hex strings were ~1 KB
    expect(exp.files.indexOfPath(exp.files.pathAt(12345))).toBe(12345);
  });
});

describe('FileList', () => {
  it('shares digests and sizes with a member table: the same entries, 4 bytes each instead of 40', () => {
    const files = Array.from({ length: 3000 }, (_, i) => ({ path: `d/f${String(i).padStart(5, '0')}`, sha256: hex(String(i)), size: i * 3 }));
    const source = { digestOf: (id: number) => Buffer.from(files[id].sha256, 'hex'), digestHexOf: (id: number) => files[id].sha256, sizeOf: (id: number) => files[id].size };
    const bytes = Buffer.from(JSON.stringify(doc(files)));
    const plain = parseExportJson(bytes);
    // Every other entry "matched a member" (shared), the rest keep their own digest.
    const shared = parseExportJson(bytes, { digests: source, share: (e) => (Number(e.path.slice(3)) % 2 === 0 ? Number(e.path.slice(3)) : -1) });
    expect([...shared.files]).toEqual([...plain.files]);
    expect(shared.files.isShared(0)).toBe(true);
    expect(shared.files.isShared(1)).toBe(false);
    expect(shared.files.heldBytes).toBeLessThan(plain.files.heldBytes);
  });

  it('front-coded paths: random and sequential reads and the binary search agree with the entries, across block boundaries', () => {
    const paths = Array.from({ length: 150 }, (_, i) => `data/${String(Math.floor(i / 7)).padStart(3, '0')}/é${'x'.repeat(i % 5)}-${i}`).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    const l = FileList.from(paths.map((path, i) => ({ path, sha256: hex(path), size: i })));
    const order = paths.map((_, i) => (i * 37) % paths.length);
    for (const i of order) expect(l.pathAt(i)).toBe(paths[i]);
    expect([...l].map((f) => f.path)).toEqual(paths);
    for (let i = 0; i < paths.length; i++) {
      expect(l.indexOfPath(paths[i])).toBe(i);
      expect(l.indexOfPath(paths[i] + '\u0000')).toBe(-1);
    }
    expect(l.indexOfPath('')).toBe(-1);
    expect(l.indexOfPath('zzz')).toBe(-1);
  });

  it('is array-compatible for its consumers: length, at, for..of, Array.from', () => {
    const l = FileList.from(tricky);
    expect(l.length).toBe(tricky.length);
    expect([...l]).toEqual(tricky);
    expect(Array.from(l, (f) => f.path)).toEqual(tricky.map((f) => f.path));
    expect(l.at(0)).not.toBe(l.at(0)); // a fresh object each time
    expect(l.indexOfPath('nope')).toBe(-1);
  });

  it("a short list (a delta's) is decoded once and its entries shared, frozen, by later iterations; a long one decodes each time; a push starts over", () => {
    const mk = (n: number) => FileList.from(Array.from({ length: n }, (_, i) => ({ path: `d/f${String(i).padStart(6, '0')}`, sha256: hex(String(i)), size: i })));
    const short = mk(1000);
    const a = [...short];
    const b = [...short];
    expect(b).toEqual(a);
    for (let i = 0; i < a.length; i++) expect(b[i]).toBe(a[i]);
    expect(Object.isFrozen(a[0])).toBe(true);
    expect(() => {
      (a[0] as { size: number }).size = 5;
    }).toThrow(TypeError);
    expect(short.at(0)).not.toBe(a[0]); // at() still gives a fresh object
    short.push({ path: 'e/last', sha256: hex('last'), size: 1 });
    const c = [...short];
    expect(c).toHaveLength(1001);
    expect(c[1000].path).toBe('e/last');
    expect(c[0]).not.toBe(a[0]);
    const long = mk(20_000);
    const x = [...long];
    const y = [...long];
    expect(y).toEqual(x);
    expect(y[0]).not.toBe(x[0]);
    expect(Object.isFrozen(x[0])).toBe(false);
  });

  it('paths() gives the paths in order, for a short list and for one past the decoded-entries limit', () => {
    for (const n of [3, 16_385]) {
      const entries = Array.from({ length: n }, (_, i) => ({ path: `d${i % 7}/f${String(i).padStart(6, '0')}`, sha256: hex(String(i)), size: i }));
      entries.sort((a, b) => (a.path < b.path ? -1 : 1));
      const l = FileList.from(entries);
      expect([...l.paths()], `${n} entries`).toEqual(entries.map((e) => e.path));
    }
  });

  it('a parsed list is marked as checked (with the limits it was parsed under), and the apply does not check it again with other limits', () => {
    const deep = `data/${Array.from({ length: 70 }, (_, i) => `d${i}`).join('/')}/f.json`;
    const files = [{ path: 'data/a.json', sha256: hex('a'), size: 1 }, { path: deep, sha256: hex('deep'), size: 2 }];
    const bytes = Buffer.from(JSON.stringify(doc(files)));
    // The default limit (64 folders) refuses the path; a workspace allowing 100 accepts it.
    expect(errorOf(() => parseExportJson(bytes))?.code).toBe('ERR_BUNDLE_CORRUPT');
    const exp = parseExportJson(bytes, { maxDepth: 100 });
    expect(exp.files.pathsChecked).toBe(true);
    expect(checkListedPaths(exp as unknown as StagingExport)).toBe(true);
    // The same entries not from the parser are checked by the apply itself (its default limit).
    const plain = { ...exp, files: FileList.from(files) } as unknown as StagingExport;
    expect(FileList.from(files).pathsChecked).toBe(false);
    expect(errorOf(() => checkListedPaths(plain))?.code).toBe('ERR_BUNDLE_UNSAFE_ENTRY');
    // A list changed after the parse is not marked any more.
    exp.files.push({ path: 'data/z.json', sha256: hex('z'), size: 3 });
    expect(exp.files.pathsChecked).toBe(false);
  });
});
