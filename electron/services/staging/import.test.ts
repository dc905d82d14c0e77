import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { canFlushNatively } from '../durability';
import { existsSync, readdirSync, readFileSync, readlinkSync, mkdirSync, symlinkSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KITS, tempDir } from '../testing/fixtures';
import { treeDigest } from '../testing/tree';
import { loadPublicKey } from '../verify/keys';
import { openWorkspace, type Workspace } from '../workspace/index';
import { importBundles, rollback, verifyStagingTree, workspaceStatus } from './index';

const MIRROR_KITS = ['ecdsa-p256', 'ed25519', 'age-whole', 'age-per-file'] as const;
const identity = readFileSync(join(KITS, 'test-age-identity.txt'), 'utf8')
  .split('\n')
  .find((l) => l.startsWith('AGE-SECRET-KEY-'))!
  .trim();

function keysFor(kit: string) {
  return [loadPublicKey(readFileSync(join(KITS, `${kit}.trusted.pub`), 'utf8'), 'cli')];
}

interface KitEntry { path: string; kind: string; exportId?: string; generation?: number }
function kitMirrorEntries(kit: string): KitEntry[] {
  const m = JSON.parse(readFileSync(join(KITS, kit, 'offline-manifest.json'), 'utf8')) as { entries: KitEntry[] };
  return m.entries.filter((e) => e.kind.startsWith('mirror-')).sort((a, b) => a.generation! - b.generation!);
}

/** The signed state.digest of a bundle, read independently with the zstd/age CLIs. */
function signedStateDigest(kit: string, rel: string): string {
  const file = join(KITS, kit, rel);
  let cmd = `zstd -dc '${file}' | tar -xO mirror/export.json`;
  if (file.endsWith('.age')) cmd = `age -d -i '${join(KITS, 'test-age-identity.txt')}' '${file}' | zstd -dc | tar -xO mirror/export.json`;
  const text = execFileSync('bash', ['-c', cmd]).toString('utf8');
  return (JSON.parse(text) as { state: { digest: string } }).state.digest;
}

let tmp: { dir: string; cleanup: () => void };
let ws: Workspace;
beforeEach(() => {
  tmp = tempDir('okc-import-');
  ws = openWorkspace(join(tmp.dir, 'ws'), { create: true });
});
afterEach(() => tmp.cleanup());

describe.each(MIRROR_KITS)('kit %s', (kit) => {
  it('full then deltas in order, one at a time: the tree hashes to each bundle state.digest', async () => {
    const entries = kitMirrorEntries(kit);
    for (const e of entries) {
      const r = await importBundles(ws, [join(KITS, kit, e.path)], { keys: keysFor(kit), identities: [identity] });
      expect(r.code, r.message).toBeNull();
      expect(r.items[0].outcome).toBe('applied');
      expect(treeDigest(ws.layout.current)).toBe(signedStateDigest(kit, e.path));
      expect((await verifyStagingTree(ws)).ok).toBe(true);
    }
    const st = await workspaceStatus(ws);
    expect(st.generation).toBe(entries.at(-1)!.generation);
    expect(st.library.map((l) => l.generation).sort()).toEqual(entries.map((e) => e.generation));
    for (const l of st.library) expect(existsSync(join(ws.dir, l.file))).toBe(true);
  });
});

// The flush: on the native module's thread, started when the read ends (it also covers the library copy,
// whose own fsync is then skipped), or, with the module off, `sync -f` run by the build and the copy
// fsynced itself. Either way every generation and library copy is whole.
describe.each(['on', 'off'])('the native flush module %s', (native) => {
  it('full then deltas: each tree is its signed state, each library copy the bundle byte for byte', async () => {
    const before = process.env.OKC_NATIVE_FS;
    if (native === 'off') process.env.OKC_NATIVE_FS = 'off';
    try {
      // The path under test is the one taken (the module is built on this host: native-fs.test.ts).
      expect(canFlushNatively()).toBe(native === 'on');
      for (const e of kitMirrorEntries('ecdsa-p256')) {
        const file = join(KITS, 'ecdsa-p256', e.path);
        const r = await importBundles(ws, [file], { keys: keysFor('ecdsa-p256') });
        expect(r.code, r.message).toBeNull();
        expect(treeDigest(ws.layout.current)).toBe(signedStateDigest('ecdsa-p256', e.path));
        expect((await verifyStagingTree(ws)).ok).toBe(true);
        const lib = (await workspaceStatus(ws)).library.find((l) => l.generation === e.generation)!;
        expect(createHash('sha256').update(readFileSync(join(ws.dir, lib.file))).digest('hex')).toBe(createHash('sha256').update(readFileSync(file)).digest('hex'));
      }
    } finally {
      if (before === undefined) delete process.env.OKC_NATIVE_FS;
      else process.env.OKC_NATIVE_FS = before;
    }
  });
});

describe('kit import', () => {
  it('applies a whole kit in generation order, installs Trivy, then reports everything already applied', async () => {
    const kit = 'ecdsa-p256';
    const r = await importBundles(ws, [join(KITS, kit)], { keys: keysFor(kit) });
    expect(r.ok, r.message).toBe(true);
    expect(r.items.map((i) => [i.generation, i.outcome])).toEqual([[1, 'applied'], [2, 'applied'], [3, 'applied'], [null, 'installed']]);
    const last = kitMirrorEntries(kit).at(-1)!;
    expect(treeDigest(ws.layout.current)).toBe(signedStateDigest(kit, last.path));
    // Trivy's --cache-dir layout.
    expect(existsSync(join(ws.layout.trivy, 'db', 'trivy.db'))).toBe(true);
    expect(existsSync(join(ws.layout.trivy, 'db', 'metadata.json'))).toBe(true);
    expect(readlinkSync(join(ws.layout.trivy, 'db'))).toMatch(/^\.db-\d+$/);
    const again = await importBundles(ws, [join(KITS, kit)], { keys: keysFor(kit) });
    expect(again.ok).toBe(true);
    expect(again.items.slice(0, 3).map((i) => i.outcome)).toEqual(['already-applied', 'already-applied', 'already-applied']);
    // Loose replay (not a kit) is refused.
    const replay = await importBundles(ws, [join(KITS, kit, last.path)], { keys: keysFor(kit) });
    expect(replay.code).toBe('ERR_IMPORT_NON_MONOTONIC');
  });

  it('applies loose deltas in generation order whatever order they are given in', async () => {
    const kit = 'ed25519';
    const entries = kitMirrorEntries(kit);
    const paths = [...entries].reverse().map((e) => join(KITS, kit, e.path));
    const r = await importBundles(ws, paths, { keys: keysFor(kit) });
    expect(r.ok, r.message).toBe(true);
    expect(r.items.map((i) => i.generation)).toEqual([1, 2, 3]);
    expect(treeDigest(ws.layout.current)).toBe(signedStateDigest(kit, entries.at(-1)!.path));
  });

  it('stops before a gap with a report of what was applied and what is missing', async () => {
    const kit = 'ecdsa-p256';
    const entries = kitMirrorEntries(kit);
    // A kit copy without generation 2 (manifest still signed over all entries: use loose files instead).
    const r = await importBundles(ws, [join(KITS, kit, entries[0].path), join(KITS, kit, entries[2].path)], { keys: keysFor(kit) });
    expect(r.ok).toBe(false);
    expect(r.code).toBe('ERR_EXPORT_BASE_MISSING');
    expect(r.items.map((i) => i.outcome)).toEqual(['applied', 'refused']);
    expect(r.missing).toEqual([2]);
    expect((await workspaceStatus(ws)).generation).toBe(1);
    expect(treeDigest(ws.layout.current)).toBe(signedStateDigest(kit, entries[0].path));
  });

  it('refuses mix-and-match (same ids, another export) and another kit chain, changing nothing', async () => {
    // ecdsa-p256 and ed25519 kits share export ids and generations but are different exports.
    const a = kitMirrorEntries('ecdsa-p256');
    const b = kitMirrorEntries('ed25519');
    const keys = [...keysFor('ecdsa-p256'), ...keysFor('ed25519')];
    await importBundles(ws, [join(KITS, 'ecdsa-p256', a[0].path)], { keys });
    const before = treeDigest(ws.layout.current);
    const r = await importBundles(ws, [join(KITS, 'ed25519', b[1].path)], { keys });
    if (a[0].exportId === b[0].exportId) {
      expect(r.code).toBe('ERR_EXPORT_BASE_MISSING');
      expect(r.items[0].message).toMatch(/mix-and-match|missing|chain/);
    } else expect(r.code).toBe('ERR_EXPORT_BASE_MISSING');
    expect(treeDigest(ws.layout.current)).toBe(before);
    expect(readdirSync(ws.layout.incoming)).toEqual([]);
  });

  it('rollback then re-apply from the kit works', async () => {
    const kit = 'ecdsa-p256';
    await importBundles(ws, [join(KITS, kit)], { keys: keysFor(kit) });
    const rb = await rollback(ws, { to: 2 });
    expect(rb.to.generation).toBe(2);
    const entries = kitMirrorEntries(kit);
    expect(treeDigest(ws.layout.current)).toBe(signedStateDigest(kit, entries[1].path));
    const r = await importBundles(ws, [join(KITS, kit)], { keys: keysFor(kit) });
    expect(r.ok, r.message).toBe(true);
    expect(r.items.slice(0, 3).map((i) => i.outcome)).toEqual(['already-applied', 'already-applied', 'applied']);
    expect(treeDigest(ws.layout.current)).toBe(signedStateDigest(kit, entries[2].path));
  });

  it('refuses a kit whose manifest is not signed by a trusted key, and a bad bundle, recording nothing staged', async () => {
    const r = await importBundles(ws, [join(KITS, 'ecdsa-p256')], { keys: keysFor('ed25519') });
    expect(r.code).toBe('ERR_VERIFY_SIGNATURE');
    expect(existsSync(ws.layout.current)).toBe(false);
    // Kit folder copy with an unlisted file and the manifest intact: a warning, not an error.
    const copy = join(tmp.dir, 'kit');
    mkdirSync(join(copy, 'mirror'), { recursive: true });
    for (const f of ['offline-manifest.json', 'offline-manifest.json.sig']) copyFileSync(join(KITS, 'ecdsa-p256', f), join(copy, f));
    for (const e of kitMirrorEntries('ecdsa-p256')) symlinkSync(join(KITS, 'ecdsa-p256', e.path), join(copy, e.path));
    mkdirSync(join(copy, 'trivy'));
    mkdirSync(join(copy, 'signatures'));
    copyFileSync(join(KITS, 'ecdsa-p256', 'trivy/db.bundle'), join(copy, 'trivy/db.bundle'));
    copyFileSync(join(KITS, 'ecdsa-p256', 'signatures/trivy-db.sig'), join(copy, 'signatures/trivy-db.sig'));
    copyFileSync(join(KITS, 'ecdsa-p256', 'offline-manifest.json'), join(copy, 'mirror', 'stray.txt'));
    const ok = await importBundles(ws, [copy], { keys: keysFor('ecdsa-p256'), dryRun: true });
    expect(ok.warnings.join(' ')).toMatch(/stray\.txt/);
    expect(ok.items.map((i) => i.outcome)).toEqual(['planned', 'planned', 'planned', 'planned']);
    expect(existsSync(ws.layout.current)).toBe(false);
  });

  it('counts workspace keys only for their tenant', async () => {
    const pem = readFileSync(join(KITS, 'ecdsa-p256.trusted.pub'), 'utf8');
    const other = await importBundles(ws, [join(KITS, 'ecdsa-p256')], { keys: [{ ...loadPublicKey(pem, 'workspace'), tenant: 'globex' }] });
    expect(other.code).toBe('ERR_VERIFY_SIGNATURE');
    expect(existsSync(ws.layout.current)).toBe(false);
    const same = await importBundles(ws, [join(KITS, 'ecdsa-p256')], { keys: [{ ...loadPublicKey(pem, 'workspace'), tenant: 'acme' }] });
    expect(same.ok, same.message).toBe(true);
  });
});
