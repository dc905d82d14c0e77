import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { padding, TAR_END, tarHeader } from '../../producer/tar';
import { headerSums, TarReader, type TarHeader } from './tar-reader';

const tmp = mkdtempSync(join(tmpdir(), 'okc-tar-reader-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Reads an archive pushed in chunks of `chunk` bytes; returns headers and contents. */
function read(archive: Buffer, chunk = 7919): { members: (TarHeader & { body: string })[]; reader: TarReader } {
  const members: (TarHeader & { body: string })[] = [];
  const reader = new TarReader((h) => {
    const parts: Buffer[] = [];
    return { data: (c) => parts.push(Buffer.from(c)), end: () => members.push({ ...h, body: Buffer.concat(parts).toString('utf8') }) };
  });
  for (let i = 0; i < archive.length; i += chunk) reader.write(archive.subarray(i, i + chunk));
  reader.end();
  return { members, reader };
}

function gnuTar(format: string): Buffer {
  const src = join(tmp, `src-${format}`);
  const long = 'l'.repeat(120);
  mkdirSync(join(src, 'mirror', 'd', long), { recursive: true });
  writeFileSync(join(src, 'mirror', 'a.txt'), 'alpha');
  writeFileSync(join(src, 'mirror', 'd', long, `${'n'.repeat(150)}.json`), 'x'.repeat(1500));
  writeFileSync(join(src, 'mirror', 'empty'), '');
  symlinkSync('a.txt', join(src, 'mirror', 'link'));
  const out = join(tmp, `${format}.tar`);
  const r = spawnSync('tar', ['--format', format, '--sort=name', '-cf', out, '-C', src, 'mirror']);
  expect(r.status, r.stderr?.toString()).toBe(0);
  return readFileSync(out);
}

describe('TarReader', () => {
  for (const format of ['gnu', 'pax']) {
    it(`reads what GNU tar writes (--format ${format}): long names, contents, types`, () => {
      const { members } = read(gnuTar(format));
      const byPath = new Map(members.map((m) => [m.path, m]));
      expect(byPath.get('mirror/a.txt')).toMatchObject({ type: 'File', size: 5, body: 'alpha' });
      expect(byPath.get('mirror/empty')).toMatchObject({ type: 'File', size: 0, body: '' });
      expect(byPath.get('mirror/link')).toMatchObject({ type: 'SymbolicLink', linkpath: 'a.txt' });
      const long = `mirror/d/${'l'.repeat(120)}/${'n'.repeat(150)}.json`;
      expect(byPath.get(long)).toMatchObject({ type: 'File', size: 1500, body: 'x'.repeat(1500) });
      expect(members.some((m) => m.type === 'Directory' && m.path.replace(/\/$/, '') === 'mirror/d')).toBe(true);
    });
  }

  it('reads the producer\'s archives (ustar prefix and pax path) whatever the chunking', () => {
    const name = `mirror/data/${'p'.repeat(90)}/${'q'.repeat(90)}.jsonl`;
    const veryLong = `mirror/${'z'.repeat(300)}`;
    const parts = [tarHeader({ name, size: 3 }), Buffer.from('abc'), Buffer.alloc(padding(3)), tarHeader({ name: veryLong, size: 0 }), TAR_END, Buffer.alloc(8192)];
    const archive = Buffer.concat(parts);
    for (const chunk of [1, 100, 512, 513, 4096, archive.length]) {
      const { members } = read(archive, chunk);
      expect(members.map((m) => [m.path, m.body])).toEqual([[name, 'abc'], [veryLong, '']]);
    }
  });

  it('refuses a bad checksum, a truncated archive, a missing end marker and a lone zero block', () => {
    const good = Buffer.concat([tarHeader({ name: 'mirror/a', size: 3 }), Buffer.from('abc'), Buffer.alloc(padding(3))]);
    const bad = Buffer.from(good);
    bad[10] ^= 1;
    expect(() => read(Buffer.concat([bad, TAR_END]))).toThrow(/checksum/);
    expect(() => read(good.subarray(0, 514))).toThrow(/ends inside/);
    expect(() => read(good)).toThrow(/end-of-archive/);
    expect(() => read(Buffer.concat([Buffer.alloc(512), good, TAR_END]))).toThrow(/lone zero block/);
  });

  it('accepts the unsigned header checksum and the signed one old tars wrote (bytes over 127 counted negative), and nothing else', () => {
    // A name with bytes over 127 (UTF-8 "é", "日"): the two sums differ.
    const header = tarHeader({ name: 'mirror/caf\u00e9-\u65e5.json', size: 2 });
    let unsigned = 0;
    let signed = 0;
    for (let i = 0; i < 512; i++) {
      const c = i >= 148 && i < 156 ? 0x20 : header[i];
      unsigned += c;
      signed += c > 127 ? c - 256 : c;
    }
    expect(signed).toBeLessThan(unsigned);
    const withSum = (sum: number): Buffer => {
      const h = Buffer.from(header);
      h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
      return Buffer.concat([h, Buffer.from('{}'), Buffer.alloc(padding(2)), TAR_END]);
    };
    for (const sum of [unsigned, signed]) expect(read(withSum(sum)).members.map((m) => [m.path, m.body])).toEqual([['mirror/caf\u00e9-\u65e5.json', '{}']]);
    for (const sum of [unsigned + 1, signed - 1, unsigned - 256]) expect(() => read(withSum(sum))).toThrow(/checksum/);
  });

  it('sums a header a word at a time where it is aligned, byte by byte where not: the same sums at every offset', () => {
    let seed = 7;
    const rnd = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    for (let round = 0; round < 200; round++) {
      const block = Buffer.alloc(512);
      // Bytes of every kind, a run of 0xff (the lane maxima) in some rounds; the checksum field is ignored.
      for (let i = 0; i < 512; i++) block[i] = round % 5 === 0 ? 0xff : rnd();
      let unsigned = 0;
      let high = 0;
      for (let i = 0; i < 512; i++) {
        const c = i >= 148 && i < 156 ? 0x20 : block[i];
        unsigned += c;
        high += c > 127 ? 1 : 0;
      }
      for (let shift = 0; shift < 8; shift++) {
        const host = Buffer.from(new ArrayBuffer(512 + 16), 0, 512 + 16);
        block.copy(host, shift);
        expect(headerSums(host, shift)).toEqual({ unsigned, high });
        expect(headerSums(host.subarray(shift), 0)).toEqual({ unsigned, high });
      }
    }
  });

  it('refuses an extended header over 1 MiB with ERR_BUNDLE_LIMIT', () => {
    const big = Buffer.from(tarHeader({ name: 'PaxHeaders/x', size: 2 * 1024 * 1024 }));
    big[156] = 'x'.charCodeAt(0);
    // Fix the checksum after changing the type flag.
    big.fill(0x20, 148, 156);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += big[i];
    big.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    try {
      read(Buffer.concat([big.subarray(0, 512), TAR_END]));
      expect.unreachable();
    } catch (e) {
      expect((e as { code?: string }).code).toBe('ERR_BUNDLE_LIMIT');
    }
  });

  it('says when non-zero bytes follow the end-of-archive marker', () => {
    const archive = Buffer.concat([tarHeader({ name: 'mirror/a', size: 0 }), TAR_END]);
    expect(read(Buffer.concat([archive, Buffer.alloc(1024)])).reader.trailingNonZero).toBe(false);
    expect(read(Buffer.concat([archive, Buffer.from('junk')])).reader.trailingNonZero).toBe(true);
  });
});
