/**
 * Kit verification: the fixture kits (read in place) and kits written at run
 * time by the project's producer, including broken ones.
 */
import { readdirSync, readFileSync, renameSync, writeFileSync, appendFileSync, symlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateSigningKey, samplePayload, writeKit, type KitSpec } from '../producer/index';
import { KITS, tempDir } from '../testing/fixtures';
import { verifyPath } from './index';
import { loadPublicKey } from './keys';
import { verifyKit, type KitVerdict } from './kit';

const tmp = tempDir('okc-verify-kit-');
afterAll(() => tmp.cleanup());
let seq = 0;
const fresh = (name: string): string => join(tmp.dir, `${seq++}-${name}`);

const ageIdentities = readFileSync(join(KITS, 'test-age-identity.txt'), 'utf8')
  .split('\n')
  .filter((l) => l.startsWith('AGE-SECRET-KEY-'));

const fixtureKits = readdirSync(KITS, { withFileTypes: true })
  .filter((d) => d.isDirectory() && d.name !== 'bad')
  .map((d) => d.name);

describe('fixture kits', () => {
  it('finds the kits', () => expect(fixtureKits.length).toBeGreaterThanOrEqual(5));

  for (const kit of fixtureKits) {
    it(`${kit} verifies with ${kit}.trusted.pub`, async () => {
      const keys = [loadPublicKey(readFileSync(join(KITS, `${kit}.trusted.pub`), 'utf8'))];
      const dir = join(KITS, kit);
      const hasManifest = readdirSync(dir).includes('offline-manifest.json');
      if (!hasManifest) {
        // trivy-upstream: signed Trivy bundles without a kit manifest; each verifies on its own.
        const bundles = readdirSync(join(dir, 'trivy'));
        expect(bundles.length).toBeGreaterThan(0);
        for (const b of bundles) {
          const v = await verifyPath(join(dir, 'trivy', b), { keys });
          expect(v.code, `${b}: ${v.message}`).toBeNull();
        }
        return;
      }
      const v = (await verifyPath(dir, { keys, identities: ageIdentities })) as KitVerdict;
      expect(v.code, v.message).toBeNull();
      expect(v.ok).toBe(true);
      expect(v.kind).toBe('kit');
      expect(v.tenant).toBe('acme');
      // Items in application order: mirror generations ascending, then Trivy.
      const gens = v.items.filter((i) => i.kind.startsWith('mirror')).map((i) => i.generation);
      expect(gens).toEqual([1, 2, 3]);
      expect(v.items[v.items.length - 1].kind).toBe('trivy-db');
      expect(v.plan.map((p) => p.action)).toEqual(['apply-full', 'apply-delta', 'apply-delta', 'install-trivy']);
      expect(v.generation).toBe(3);
      // keys/ inside the kit is reported as informational, never trusted.
      expect(v.warnings.some((w) => w.includes('keys/export-center.pub'))).toBe(true);
      for (const i of v.items) expect(i.checks.find((c) => c.name === 'kit entry size and digest')?.ok).toBe(true);
    });
  }

  it('a kit verified with another key is refused, although its keys/ folder holds the signer\'s key', async () => {
    const other = loadPublicKey(readFileSync(join(KITS, 'ed25519.trusted.pub'), 'utf8'));
    const signer = loadPublicKey(readFileSync(join(KITS, 'ecdsa-p256/keys/export-center.pub'), 'utf8'));
    expect(signer.fingerprint).toBe(loadPublicKey(readFileSync(join(KITS, 'ecdsa-p256.trusted.pub'), 'utf8')).fingerprint);
    const v = await verifyKit(join(KITS, 'ecdsa-p256'), { keys: [other] });
    expect(v.ok).toBe(false);
    expect(v.code).toBe('ERR_VERIFY_SIGNATURE');
    expect(v.keys?.tried).toEqual([other.fingerprint]);
    expect(v.keys?.signedBy).toEqual([]);
    expect(v.message).toContain(other.fingerprint);
    expect(v.items.every((i) => i.code === 'ERR_VERIFY_SIGNATURE')).toBe(true);
    expect(v.plan.every((p) => p.action === 'refuse')).toBe(true);
    // The operator is told which untrusted key in keys/ made the signature, to compare fingerprints.
    expect(v.warnings.some((w) => w.includes(signer.fingerprint) && w.includes('not trusted'))).toBe(true);
  });

  it('an age kit without identities: whole-file bundles are ERR_DECRYPT_NO_RECIPIENT', async () => {
    const keys = [loadPublicKey(readFileSync(join(KITS, 'age-whole.trusted.pub'), 'utf8'))];
    const v = await verifyKit(join(KITS, 'age-whole'), { keys });
    expect(v.code).toBe('ERR_DECRYPT_NO_RECIPIENT');
  });
});

describe('producer kits', () => {
  const key = generateSigningKey('ed25519');
  const keys = [loadPublicKey(key.publicPem)];
  const files = () => samplePayload({ parts: 4, partSize: 400 });

  async function kit(name: string, spec: Partial<KitSpec> = {}) {
    return writeKit(fresh(name), {
      key,
      mirror: [
        { files: files() },
        { files: samplePayload({ parts: 4, partSize: 400, seed: 'g2' }).slice(0, 2), removed: ['indexes/vex.index.json'] },
        { files: samplePayload({ parts: 4, partSize: 400, seed: 'g3' }).slice(0, 1) },
      ],
      trivy: [{ kind: 'trivy-db' }],
      ...spec,
    });
  }

  it('a good kit verifies; the plan applies full, then deltas in generation order, then installs Trivy', async () => {
    const k = await kit('good');
    const v = await verifyKit(k.dir, { keys });
    expect(v.code, v.message).toBeNull();
    expect(v.plan.map((p) => [p.action, p.generation])).toEqual([['apply-full', 1], ['apply-delta', 2], ['apply-delta', 3], ['install-trivy', null]]);
    expect(v.items.map((i) => i.kind)).toEqual(['mirror-full', 'mirror-delta', 'mirror-delta', 'trivy-db']);
    expect(v.stats.bytes).toBe(k.manifest.entries.reduce((a, e) => a + e.size, 0));
  });

  it('application order comes from generation, not from file names', async () => {
    const k = await kit('names', {
      mirror: [
        { files: files(), fileName: 'mirror-20991231-full.tar.zst' },
        { files: samplePayload({ parts: 2, seed: 'b' }).slice(0, 1), fileName: 'mirror-20000101-delta.tar.zst' },
      ],
    });
    const v = await verifyKit(k.dir, { keys });
    expect(v.code, v.message).toBeNull();
    expect(v.items.filter((i) => i.kind.startsWith('mirror')).map((i) => i.generation)).toEqual([1, 2]);
    expect(v.plan[0].path).toBe('mirror/mirror-20991231-full.tar.zst');
  });

  it('a gap in the chain is ERR_EXPORT_BASE_MISSING (exit 8) on the entry after the gap', async () => {
    const k = await kit('gap');
    const gone = k.manifest.entries.find((e) => e.generation === 2)!;
    // Rewrite the kit without generation 2 (re-signed, so only the gap is wrong).
    const k2 = await writeKit(fresh('gap2'), {
      key,
      mirror: [
        { files: files() },
        { files: samplePayload({ parts: 2, seed: 'x' }).slice(0, 1) },
        { files: samplePayload({ parts: 2, seed: 'y' }).slice(0, 1) },
      ],
      tamper: { entries: (es) => es.filter((e) => e.generation !== 2) },
    });
    rmSync(join(k2.dir, k2.manifest.entries.find((e) => e.generation === 2)?.path ?? gone.path), { force: true });
    const v = await verifyKit(k2.dir, { keys });
    expect(v.code).toBe('ERR_EXPORT_BASE_MISSING');
    const item = v.items.find((i) => i.generation === 3)!;
    expect(item.code).toBe('ERR_EXPORT_BASE_MISSING');
    expect(item.message).toMatch(/generation 2 is missing/);
    expect(v.plan.find((p) => p.generation === 3)?.action).toBe('refuse');
  });

  it('a generation listed twice is reported (ERR_IMPORT_NON_MONOTONIC on the second)', async () => {
    const k = await writeKit(fresh('dup-gen'), {
      key,
      mirror: [
        { files: files() },
        { files: samplePayload({ parts: 2, seed: 'd1' }).slice(0, 1), generation: 2, fileName: 'mirror-a-delta.tar.zst' },
        { files: samplePayload({ parts: 2, seed: 'd2' }).slice(0, 1), generation: 2, fileName: 'mirror-b-delta.tar.zst', base: null, variant: 'full' },
      ],
    });
    const v = await verifyKit(k.dir, { keys });
    expect(v.ok).toBe(false);
    expect(v.failures?.some((f) => f.code === 'ERR_IMPORT_NON_MONOTONIC')).toBe(true);
    expect(v.message).toMatch(/Generation 2 appears twice/);
  });

  it('a delta whose base is another export (mix-and-match) is ERR_EXPORT_BASE_MISSING', async () => {
    // Kit b's chain has other content: its generation-2 delta names a base with the same exportId
    // but another export.json digest. Put it into a kit whose full bundle is a's (re-signed manifest).
    const b = await kit('mix-b', { mirror: [{ files: samplePayload({ parts: 4, partSize: 400, seed: 'other' }) }, { files: samplePayload({ parts: 2, seed: 'z' }).slice(0, 1) }] });
    const target = await writeKit(fresh('mix'), { key, mirror: [{ files: files() }], trivy: [] });
    const d = b.manifest.entries.find((e) => e.generation === 2)!;
    writeFileSync(join(target.dir, d.path), readFileSync(join(b.dir, d.path)));
    const manifest = { ...target.manifest, entries: [...target.manifest.entries, d].sort((x, y) => (x.path < y.path ? -1 : 1)) };
    const bytes = Buffer.from(JSON.stringify(manifest, null, 2) + '\n');
    writeFileSync(join(target.dir, 'offline-manifest.json'), bytes);
    const { signatureFile } = await import('../producer/index');
    writeFileSync(join(target.dir, 'offline-manifest.json.sig'), signatureFile(key, bytes));
    const v = await verifyKit(target.dir, { keys });
    expect(v.code).toBe('ERR_EXPORT_BASE_MISSING');
    expect(v.items.find((i) => i.generation === 2)?.message).toMatch(/not the kit's/);
  });

  it('an entry whose file was altered after the manifest was signed is ERR_VERIFY_DIGEST on that entry', async () => {
    const k = await kit('altered');
    const t = k.manifest.entries.find((e) => e.kind === 'trivy-db')!;
    appendFileSync(join(k.dir, t.path), Buffer.from([0]));
    const v = await verifyKit(k.dir, { keys });
    expect(v.code).not.toBeNull();
    const item = v.items.find((i) => i.kind === 'trivy-db')!;
    expect(item.failures?.some((f) => f.code === 'ERR_VERIFY_DIGEST' && f.path === t.path)).toBe(true);
  });

  it('a manifest entry whose exportId or generation differs from the signed export.json is ERR_BUNDLE_CORRUPT', async () => {
    const k = await kit('ids', { tamper: { entries: (es) => es.map((e) => (e.generation === 1 ? { ...e, exportId: 'exp-other-0001' } : e)) } });
    const v = await verifyKit(k.dir, { keys });
    expect(v.code).toBe('ERR_BUNDLE_CORRUPT');
    expect(v.items[0].message).toMatch(/exp-other-0001/);
  });

  it('a manifest altered after signing, or unsigned, is ERR_VERIFY_SIGNATURE', async () => {
    const k = await kit('resigned', { tamper: { manifestAfterSigning: (b) => Buffer.concat([b, Buffer.from('\n')]) } });
    expect((await verifyKit(k.dir, { keys })).code).toBe('ERR_VERIFY_SIGNATURE');
    const u = await kit('unsigned', { tamper: { omitSignature: true } });
    expect((await verifyKit(u.dir, { keys })).code).toBe('ERR_VERIFY_SIGNATURE');
  });

  it('unsorted manifest entries are ERR_BUNDLE_CORRUPT', async () => {
    const k = await kit('unsorted', { tamper: { entries: (es) => [...es].reverse() } });
    expect((await verifyKit(k.dir, { keys })).code).toBe('ERR_BUNDLE_CORRUPT');
  });

  it('an entry path that climbs out of the kit or goes through a symlink is ERR_BUNDLE_UNSAFE_ENTRY; a listed file that is absent is ERR_VERIFY_MISSING_FILE', async () => {
    const k = await kit('escape', { tamper: { entries: (es) => [...es.map((e) => (e.kind === 'trivy-db' ? { ...e, path: '../outside/db.bundle' } : e))].sort((a, b) => (a.path < b.path ? -1 : 1)) } });
    const v = await verifyKit(k.dir, { keys });
    expect(v.code).toBe('ERR_BUNDLE_UNSAFE_ENTRY');
    expect(v.member).toBe('../outside/db.bundle');

    const s = await kit('symlinked');
    const t = s.manifest.entries.find((e) => e.kind === 'trivy-db')!;
    renameSync(join(s.dir, 'trivy'), join(s.dir, 'trivy-real'));
    symlinkSync(join(s.dir, 'trivy-real'), join(s.dir, 'trivy'));
    const vs = await verifyKit(s.dir, { keys });
    expect(vs.code).toBe('ERR_BUNDLE_UNSAFE_ENTRY');
    expect(vs.member).toBe(t.path);

    const m = await kit('missing');
    rmSync(join(m.dir, m.manifest.entries[2].path));
    const vm = await verifyKit(m.dir, { keys });
    expect(vm.code).toBe('ERR_VERIFY_MISSING_FILE');
  });

  it('files the manifest does not list are ignored with a warning', async () => {
    const k = await kit('extra', { extraFiles: { 'mirror/stray.tar.zst': 'junk', 'notes.txt': 'hello' } });
    const v = await verifyKit(k.dir, { keys });
    expect(v.code).toBeNull();
    expect(v.warnings.some((w) => w.startsWith('mirror/stray.tar.zst'))).toBe(true);
    expect(v.warnings.some((w) => w.startsWith('notes.txt'))).toBe(true);
  });

  it('a Trivy entry signed by a key pinned only for another tenant is refused, even inside a kit signed for the right tenant', async () => {
    const other = generateSigningKey('ecdsa-p256');
    const k = await kit('trivy-tenant', { trivy: [{ kind: 'trivy-db', key: other }] });
    const pinned = [
      { ...keys[0], source: 'workspace' as const, tenant: 'acme' },
      { ...loadPublicKey(other.publicPem), source: 'workspace' as const, tenant: 'globex' },
    ];
    const v = await verifyKit(k.dir, { keys: pinned });
    const t = v.items.find((i) => i.kind === 'trivy-db')!;
    expect(t.code).toBe('ERR_VERIFY_SIGNATURE');
    expect(v.items.filter((i) => i.kind.startsWith('mirror')).every((i) => i.ok)).toBe(true);
    // Pinned for acme, the same key verifies it.
    const ok = await verifyKit(k.dir, { keys: [pinned[0], { ...pinned[1], tenant: 'acme' }] });
    expect(ok.code).toBeNull();
  });

  it('a kit for tenant acme signed by a key pinned for tenant globex is refused', async () => {
    const k = await kit('tenant');
    const pinned = [{ ...keys[0], source: 'workspace' as const, tenant: 'globex' }];
    const v = await verifyKit(k.dir, { keys: pinned });
    expect(v.code).toBe('ERR_VERIFY_SIGNATURE');
    expect(v.message).toMatch(/globex/);
  });
});
