import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fsyncTree, makeTreeDurable } from './durability';
import { tempDir } from './testing/fixtures';

let tmp: { dir: string; cleanup: () => void };
beforeEach(() => {
  tmp = tempDir('okc-durable-');
  mkdirSync(join(tmp.dir, 'a', 'b'), { recursive: true });
  writeFileSync(join(tmp.dir, 'a', 'one'), '1');
  writeFileSync(join(tmp.dir, 'a', 'b', 'two'), '2');
  writeFileSync(join(tmp.dir, 'three'), '3');
});
afterEach(() => tmp.cleanup());

describe('makeTreeDurable', () => {
  it('uses one syncfs (coreutils sync -f) where it is available', () => {
    expect(makeTreeDurable(tmp.dir, {})).toBe('syncfs');
  });
  it('falls back to an fsync of every file and folder', () => {
    expect(makeTreeDurable(tmp.dir, { OKC_DURABILITY: 'fsync-each' })).toBe('fsync-each');
    expect(fsyncTree(tmp.dir)).toBe(3);
  });
  it('reports a missing tree instead of claiming it is durable', () => {
    expect(() => makeTreeDurable(join(tmp.dir, 'missing'), { OKC_DURABILITY: 'fsync-each' })).toThrow(/ENOENT/);
  });
});
