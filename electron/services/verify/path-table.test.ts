/**
 * The gate's table of archive paths: keyed by the first 16 bytes of each
 * path's SHA-256 (held as a byte string), dense ids in insertion order.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { KEY_BYTES, PathTable, pathKey } from './path-table';

describe('PathTable', () => {
  it('keys a path by its SHA-256 (one char per byte), and finds each of 70,000 paths by its id, and no other', () => {
    for (const p of ['mirror/a', 'mirror/caf\u00e9/\u{1f600}', '']) {
      const key = pathKey(p);
      expect(Buffer.from(key, 'latin1')).toEqual(createHash('sha256').update(p, 'utf8').digest());
    }
    const t = new PathTable();
    const paths = Array.from({ length: 70_000 }, (_, i) => `mirror/data/d${i % 97}/f-${i}.json`);
    paths.forEach((p, i) => expect(t.add(pathKey(p), i % 3)).toBe(i));
    expect(t.size).toBe(paths.length);
    for (let i = 0; i < paths.length; i += 7) {
      expect(t.idOf(pathKey(paths[i]))).toBe(i);
      expect(t.kindOf(i)).toBe(i % 3);
    }
    for (let i = 0; i < 5_000; i++) expect(t.idOf(pathKey(`mirror/data/absent-${i}`))).toBe(-1);
    // Paths that differ in one byte, and keys that share their first bytes, stay apart.
    expect(t.idOf(pathKey('mirror/data/d0/f-0.jsoN'))).toBe(-1);
    expect(t.heldBytes).toBeGreaterThanOrEqual(paths.length * (KEY_BYTES + 1));
  });
});
