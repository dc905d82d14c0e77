import { describe, expect, it } from 'vitest';
import { isOpsError, type ErrorCode } from '../../../shared/errors';
import { TarGate, type GateEntry } from './tar-gate';

function codeOf(fn: () => unknown): { code: ErrorCode; path?: string } | null {
  try {
    fn();
    return null;
  } catch (e) {
    if (!isOpsError(e)) throw e;
    return { code: e.code, path: e.path };
  }
}

const file = (path: string, size = 10): GateEntry => ({ path, type: 'File', size });
const dir = (path: string): GateEntry => ({ path, type: 'Directory', size: 0 });

describe('TarGate (mirror/ top folder)', () => {
  it('admits regular files and directories under mirror/ and gives the path relative to it', () => {
    const g = new TarGate({ top: 'mirror' });
    expect(g.admit(dir('mirror/'))).toMatchObject({ kind: 'directory', path: 'mirror', rel: '' });
    expect(g.admit(dir('mirror/data/'))).toMatchObject({ kind: 'directory', path: 'mirror/data', rel: 'data' });
    expect(g.admit(file('mirror/data/a.jsonl.zst', 5))).toMatchObject({ kind: 'file', path: 'mirror/data/a.jsonl.zst', rel: 'data/a.jsonl.zst' });
    expect(g.admit({ path: 'mirror/b', type: 'OldFile', size: 1 }).kind).toBe('file');
    expect(g.members).toBe(4);
    expect(g.bytes).toBe(6);
  });

  const refusals: [string, GateEntry[]][] = [
    ['symlink', [{ path: 'mirror/etc', type: 'SymbolicLink', size: 0, linkpath: '/etc' }]],
    ['hard link', [file('mirror/a'), { path: 'mirror/b', type: 'Link', size: 0, linkpath: 'mirror/a' }]],
    ['char device', [{ path: 'mirror/tty', type: 'CharacterDevice', size: 0 }]],
    ['block device', [{ path: 'mirror/sda', type: 'BlockDevice', size: 0 }]],
    ['FIFO', [{ path: 'mirror/fifo', type: 'FIFO', size: 0 }]],
    ['unknown type', [{ path: 'mirror/x', type: 'SparseFile', size: 0 }]],
    ['absolute path', [file('/mirror/a')]],
    ['.. traversal', [file('mirror/../../../tmp/okc-canary')]],
    ['. segment', [file('mirror/./a')]],
    ['backslash', [file('mirror/a\\b')]],
    ['empty segment', [file('mirror//a')]],
    ['outside mirror/', [file('other/a')]],
    ['sibling prefix', [file('mirrors/a')]],
    ['top as file', [file('mirror')]],
    ['duplicate file', [file('mirror/a'), file('mirror/a')]],
    ['duplicate dir after trailing slash', [dir('mirror/d/'), dir('mirror/d')]],
    ['file then dir with the same name', [file('mirror/d'), dir('mirror/d/')]],
    ['member under a file', [file('mirror/d'), file('mirror/d/x')]],
    ['file with a trailing slash', [file('mirror/a/')]],
  ];
  for (const [label, entries] of refusals) {
    it(`refuses ${label} with ERR_BUNDLE_UNSAFE_ENTRY and the member path`, () => {
      const g = new TarGate({ top: 'mirror' });
      const last = entries[entries.length - 1];
      for (const e of entries.slice(0, -1)) g.admit(e);
      expect(codeOf(() => g.admit(last))).toEqual({ code: 'ERR_BUNDLE_UNSAFE_ENTRY', path: last.path });
    });
  }
});

describe('TarGate (archive root, Trivy)', () => {
  it('admits root members and refuses traversal', () => {
    const g = new TarGate({ top: null, label: 'the Trivy bundle' });
    expect(g.admit(file('metadata.json')).rel).toBe('metadata.json');
    expect(codeOf(() => g.admit(file('../trivy.db')))?.code).toBe('ERR_BUNDLE_UNSAFE_ENTRY');
    expect(codeOf(() => g.admit(file('metadata.json')))?.code).toBe('ERR_BUNDLE_UNSAFE_ENTRY');
  });
});

describe('TarGate limits', () => {
  it('refuses a member above the per-member limit before reading it', () => {
    const g = new TarGate({ top: 'mirror', limits: { maxMemberBytes: 100 } });
    g.admit(file('mirror/a', 100));
    expect(codeOf(() => g.admit(file('mirror/b', 101)))).toEqual({ code: 'ERR_BUNDLE_LIMIT', path: 'mirror/b' });
  });
  it('refuses once the declared total passes the total limit', () => {
    const g = new TarGate({ top: 'mirror', limits: { maxTotalBytes: 250 } });
    g.admit(file('mirror/a', 100));
    g.admit(file('mirror/b', 150));
    expect(codeOf(() => g.admit(file('mirror/c', 1)))?.code).toBe('ERR_BUNDLE_LIMIT');
  });
  it('refuses more members than allowed (directories count)', () => {
    const g = new TarGate({ top: 'mirror', limits: { maxMembers: 2 } });
    g.admit(dir('mirror/'));
    g.admit(file('mirror/a'));
    expect(codeOf(() => g.admit(file('mirror/b')))?.code).toBe('ERR_BUNDLE_LIMIT');
  });
  it('enforces the ratio only after the grace bytes', () => {
    const g = new TarGate({ top: 'mirror', limits: { maxRatio: 10, ratioGraceBytes: 1000 } });
    g.setCompressed(10);
    g.addUnpacked(900); // ratio 90, but within the grace bytes
    expect(codeOf(() => g.addUnpacked(200, 'mirror/bomb'))).toEqual({ code: 'ERR_BUNDLE_LIMIT', path: 'mirror/bomb' });
    const ok = new TarGate({ top: 'mirror', limits: { maxRatio: 10, ratioGraceBytes: 1000 } });
    ok.setCompressed(500);
    ok.addUnpacked(4999);
    expect(ok.unpacked).toBe(4999);
  });
  it('undefined limit values keep the defaults', () => {
    const g = new TarGate({ top: 'mirror', limits: { maxTotalBytes: undefined } });
    expect(g.limits.maxTotalBytes).toBe(64 * 1024 ** 3);
  });
});
