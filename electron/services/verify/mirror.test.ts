/**
 * Mirror bundle verification: the fixture kits and bad cases (read in place),
 * bundles from the project's producer (good and deliberately broken), and
 * adversarial archives built at run time with the Debian tar, zstd and age CLIs.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, linkSync, lstatSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ErrorCode } from '../../../shared/errors';
import { generatedPayload, generateSigningKey, samplePayload, writeMirrorBundle, type MirrorBundleResult, type MirrorBundleSpec, type SigningKey } from '../producer/index';
import { KITS, tempDir } from '../testing/fixtures';
import { loadPublicKey, type TrustedKey } from './keys';
import { verifyMirrorBundle, type MirrorVerifyOptions } from './mirror';
import { verifyPath } from './index';

const tmp = tempDir('okc-verify-mirror-');
afterAll(() => tmp.cleanup());
let seq = 0;
const fresh = (name: string): string => join(tmp.dir, `${seq++}-${name}`);

const ageIdentities = readFileSync(join(KITS, 'test-age-identity.txt'), 'utf8')
  .split('\n')
  .filter((l) => l.startsWith('AGE-SECRET-KEY-'));
const fixtureRecipient = execFileSync('age-keygen', ['-y', join(KITS, 'test-age-identity.txt')]).toString().trim();

function pub(file: string): TrustedKey {
  return loadPublicKey(readFileSync(file, 'utf8'));
}

function sh(cmd: string, args: string[], cwd?: string): Buffer {
  return execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Every file (not directory) below `dir`, relative, '/'-separated. */
function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const d of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, d.name);
    if (d.isDirectory()) out.push(...walk(p).map((x) => `${d.name}/${x}`));
    else out.push(d.name);
  }
  return out.sort();
}

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

const key: SigningKey = generateSigningKey('ecdsa-p256');
const trusted = [loadPublicKey(key.publicPem)];

async function bundle(name: string, spec: Partial<MirrorBundleSpec> = {}): Promise<MirrorBundleResult> {
  return writeMirrorBundle(fresh(name), { key, files: samplePayload({ parts: 6, partSize: 700 }), ...spec });
}

async function verify(file: string, opts: Partial<MirrorVerifyOptions> = {}) {
  return verifyMirrorBundle(file, { keys: trusted, ...opts });
}

describe('fixture kits: every mirror bundle verifies with the kit\'s trusted key', () => {
  for (const kit of ['ecdsa-p256', 'ed25519', 'age-whole', 'age-per-file']) {
    it(kit, async () => {
      const keys = [pub(join(KITS, `${kit}.trusted.pub`))];
      const files = readdirSync(join(KITS, kit, 'mirror'));
      expect(files.length).toBe(3);
      for (const f of files) {
        const r = await verifyMirrorBundle(join(KITS, kit, 'mirror', f), { keys, identities: ageIdentities });
        expect(r.verdict.code, `${f}: ${r.verdict.message}`).toBeNull();
        expect(r.verdict.ok).toBe(true);
        expect(r.plaintextVerified).toBe(true);
        expect(r.verdict.kind).toBe(f.includes('delta') ? 'mirror-delta' : 'mirror-full');
        expect(r.verdict.exportId).toMatch(/^exp-acme-mirror-nightly-000[123]$/);
        expect(r.rawSha256).toBe(sha256(readFileSync(join(KITS, kit, 'mirror', f))));
      }
    });
  }

  it('a per-file encrypted bundle without an identity: ok with a warning, plaintext not checked', async () => {
    const keys = [pub(join(KITS, 'age-per-file.trusted.pub'))];
    const r = await verifyMirrorBundle(join(KITS, 'age-per-file/mirror/mirror-20251029-full.tar.zst'), { keys });
    expect(r.verdict.ok).toBe(true);
    expect(r.plaintextVerified).toBe(false);
    expect(r.verdict.warnings.join(' ')).toMatch(/plaintext was not/);
  });

  it('a whole-file age bundle without an identity is ERR_DECRYPT_NO_RECIPIENT; with another identity too', async () => {
    const keys = [pub(join(KITS, 'age-whole.trusted.pub'))];
    const file = join(KITS, 'age-whole/mirror/mirror-20251029-full.tar.zst.age');
    expect((await verifyMirrorBundle(file, { keys })).verdict.code).toBe('ERR_DECRYPT_NO_RECIPIENT');
    const other = execFileSync('age-keygen', { stdio: ['ignore', 'pipe', 'ignore'] }).toString().split('\n').filter((l) => l.startsWith('AGE-SECRET-KEY-'));
    const r = await verifyMirrorBundle(file, { keys, identities: other });
    expect(r.verdict.code).toBe('ERR_DECRYPT_NO_RECIPIENT');
    expect(r.verdict.action).toMatch(/identity/);
  });

  it('the fixture bundles verified with another kit\'s key are refused, listing the fingerprint tried', async () => {
    const wrong = pub(join(KITS, 'ed25519.trusted.pub'));
    const r = await verifyMirrorBundle(join(KITS, 'ecdsa-p256/mirror/mirror-20251029-full.tar.zst'), { keys: [wrong] });
    expect(r.verdict.code).toBe('ERR_VERIFY_SIGNATURE');
    expect(r.verdict.keys?.tried).toEqual([wrong.fingerprint]);
    expect(r.verdict.keys?.signedBy).toEqual([]);
    expect(r.verdict.message).toContain(wrong.fingerprint);
  });
});

interface BadCase {
  case: string;
  expect: 'accept' | 'refuse';
  code: ErrorCode | null;
  bundle: string;
  signature?: string;
  canary?: string;
}

describe('fixture bad cases (kits/bad/cases.jsonl, read at run time)', () => {
  const cases: BadCase[] = readFileSync(join(KITS, 'bad/cases.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as BadCase);
  it('has cases', () => expect(cases.length).toBeGreaterThan(0));
  for (const c of cases) {
    it(`${c.case}: ${c.expect} ${c.code ?? ''}`, async () => {
      const keys = [pub(join(KITS, 'bad/trust.pub'))];
      const file = join(KITS, 'bad', c.bundle);
      const out = fresh(`extract-${c.case}`);
      const v = c.bundle.includes('mirror/')
        ? (await verifyMirrorBundle(file, { keys, extractTo: out })).verdict
        : await verifyPath(file, { keys, ...(c.signature ? { signature: join(KITS, 'bad', c.signature) } : {}) });
      expect(v.ok).toBe(c.expect === 'accept');
      expect(v.code).toBe(c.code);
      if (!v.ok) {
        expect(v.message.length).toBeGreaterThan(20);
        expect(v.action).toBeTruthy();
      }
      if (c.canary) {
        // Resolved the way a naive extractor would: relative to the extraction folder.
        const target = join(out, c.canary);
        expect(existsSync(target)).toBe(false);
        expect(v.member).toBe(c.canary);
      }
    });
  }
});

describe('producer bundles', () => {
  it('a good full bundle verifies; extractTo receives exactly the payload files (plaintext), copyTo the raw bytes', async () => {
    const b = await bundle('good-full.tar.zst', { dsse: true });
    const out = fresh('out');
    const copy = fresh('copy.tar.zst');
    const r = await verify(b.file, { extractTo: out, copyTo: copy });
    expect(r.verdict.code).toBeNull();
    expect(r.verdict.checks.find((c) => c.name.startsWith('DSSE'))?.ok).toBe(true);
    expect(r.exportJsonSha256).toBe(b.exportJsonSha256);
    expect(r.exportJsonBytes?.equals(b.exportJsonBytes)).toBe(true);
    expect(r.rawSha256).toBe(b.rawSha256);
    expect(r.rawSize).toBe(b.rawSize);
    expect(sha256(readFileSync(copy))).toBe(b.rawSha256);
    const files = walk(out);
    expect(files).toEqual(b.exportJson.files.map((f) => f.path).sort());
    for (const f of b.exportJson.files) {
      const data = readFileSync(join(out, f.path));
      expect(data.length).toBe(f.size);
      expect(sha256(data)).toBe(f.sha256);
    }
    expect(r.verdict.stats.files).toBe(b.exportJson.files.length);
    expect(r.verdict.stats.bytes).toBe(b.rawSize);
  });

  it('keepExportJsonAt: the verified export.json is handed over as a file, not as bytes; a refused bundle leaves no file', async () => {
    const b = await bundle('keep-export.tar.zst');
    const kept = fresh('export.json');
    const r = await verify(b.file, { controlBytes: false, keepExportJsonAt: kept });
    expect(r.verdict.code).toBeNull();
    expect(r.exportJsonBytes).toBeUndefined();
    expect(r.exportJsonFile).toBe(kept);
    expect(readFileSync(kept).equals(b.exportJsonBytes)).toBe(true);
    expect(r.exportJsonSha256).toBe(b.exportJsonSha256);
    const bad = await bundle('keep-export-bad.tar.zst', { tamper: { exportJsonAfterSigning: (x) => Buffer.concat([x, Buffer.from(' ')]) } });
    const notKept = fresh('export.json');
    const rb = await verify(bad.file, { controlBytes: false, keepExportJsonAt: notKept });
    expect(rb.verdict.code).toBe('ERR_VERIFY_SIGNATURE');
    expect(rb.exportJsonFile).toBeUndefined();
    expect(existsSync(notKept)).toBe(false);
  });

  it('refuses a non-empty extraction folder (usage), without touching it', async () => {
    const b = await bundle('good.tar.zst');
    const out = fresh('busy');
    mkdirSync(out);
    writeFileSync(join(out, 'keep'), 'x');
    await expect(verify(b.file, { extractTo: out })).rejects.toMatchObject({ code: 'ERR_USAGE' });
    expect(readdirSync(out)).toEqual(['keep']);
  });

  for (const order of ['control-first', 'sorted', 'shuffle'] as const) {
    it(`members in ${order} order verify the same`, async () => {
      const b = await bundle(`order-${order}.tar.zst`, { order, shuffleSeed: 7 });
      expect((await verify(b.file)).verdict.code).toBeNull();
    });
  }

  // Entries are matched to members by walking both in order where they agree (as export.json streams,
  // or after it when it came first), by a lookup where they do not: each fault is found in every order.
  it('a missing, extra, resized or changed file is named the same whatever the member order', async () => {
    const paths = samplePayload({ parts: 6, partSize: 700 }).map((f) => f.path);
    const faults: [NonNullable<MirrorBundleSpec['tamper']>, ErrorCode, string][] = [
      [{ omitMember: paths[1] }, 'ERR_VERIFY_MISSING_FILE', paths[1]],
      [{ extraMember: 'data/zz-extra.json' }, 'ERR_VERIFY_EXTRA_FILE', 'data/zz-extra.json'],
      [{ extraMember: 'data/0-extra.json' }, 'ERR_VERIFY_EXTRA_FILE', 'data/0-extra.json'],
      [{ wrongSize: paths[2] }, 'ERR_VERIFY_DIGEST', paths[2]],
      [{ flipByteIn: paths[paths.length - 1] }, 'ERR_VERIFY_DIGEST', paths[paths.length - 1]],
    ];
    for (const order of ['payload-first', 'control-first', 'sorted', 'shuffle'] as const) {
      for (const [k, [tamper, code, path]] of faults.entries()) {
        const b = await bundle(`fault-${order}-${k}.tar.zst`, { order, shuffleSeed: 11, tamper });
        const v = (await verify(b.file)).verdict;
        expect(v.code, `${order} ${JSON.stringify(tamper)}`).toBe(code);
        // (A resized entry also changes the state export.json declares: that failure names export.json.)
        const payloadFailures = v.failures?.map((f) => f.path).filter((p) => p !== 'mirror/export.json');
        expect(payloadFailures, `${order} ${JSON.stringify(tamper)}`).toEqual([`mirror/${path}`]);
      }
    }
  });

  // The tar gate admits mirror/C:/x (a drive letter is absolute only at the start of a name); the file
  // list's "C:/x" is absolute. Entries whose member was read first skip the second full path check,
  // not this rule.
  it('a file listed as "C:/..." is an absolute path in export.json, whether its member came before export.json or after', async () => {
    const content = Buffer.from('{"a":1}\n');
    const entry = { path: 'C:/advisories.json', sha256: sha256(content), size: content.length };
    for (const order of ['payload-first', 'control-first'] as const) {
      const b = await bundle(`drive-${order}.tar.zst`, {
        order,
        tamper: {
          rawMembers: [{ name: 'mirror/C:/advisories.json', content }],
          // Listed with its true digest and size (first: "C" sorts before "data/"), so the member matches it.
          exportJsonOverride: (doc) => ({ ...doc, files: [entry, ...doc.files] }),
        },
      });
      const v = (await verify(b.file)).verdict;
      expect(v.code, order).toBe('ERR_BUNDLE_CORRUPT');
      expect(v.message, order).toMatch(/absolute path: "C:\/advisories\.json"/);
    }
  });

  it('a delta chain verifies (delta checks pass) and a delta without tombstones file is ERR_VERIFY_TOMBSTONE', async () => {
    const full = await bundle('chain-full.tar.zst');
    const files = samplePayload({ parts: 6, partSize: 700, seed: 'v2' }).slice(0, 2);
    const removed = [full.exportJson.files[3].path];
    const delta = await bundle('chain-delta.tar.zst', { base: full, files, removed });
    const r = await verify(delta.file);
    expect(r.verdict.code).toBeNull();
    expect(r.verdict.kind).toBe('mirror-delta');
    expect(r.verdict.checks.find((c) => c.name === 'delta tombstones and diff')?.ok).toBe(true);
  });

  const deltaTampers: [string, NonNullable<MirrorBundleSpec['tamper']>][] = [
    ['missing tombstone', { dropTombstone: true }],
    ['tombstone without removal', { extraTombstone: 'data/raw/vex/never-there.jsonl.zst' }],
    ['no manifest.diff.json', { noDiff: true }],
    ['no tombstones.jsonl', { noTombstones: true }],
    ['diff disagrees with export.json', { diffDisagrees: true }],
    ['diff names another path (same count)', { diffOtherPath: 'data/zz-not-in-export.json' }],
  ];
  for (const [label, tamper] of deltaTampers) {
    it(`delta: ${label} → ERR_VERIFY_TOMBSTONE`, async () => {
      const full = await bundle('t-full.tar.zst');
      const delta = await bundle('t-delta.tar.zst', {
        base: full,
        files: samplePayload({ parts: 2, partSize: 300, seed: 'd' }).slice(0, 1),
        removed: full.exportJson.files.map((f) => f.path).filter((p) => p.startsWith('data/normalized/')).slice(0, 2),
        tamper,
      });
      const r = await verify(delta.file);
      expect(r.verdict.code).toBe('ERR_VERIFY_TOMBSTONE');
      expect(r.verdict.member).toMatch(/^mirror\/delta\//);
      expect(r.verdict.action).toMatch(/full export/);
      // The delta check is reported failed, never also as passed.
      expect(r.verdict.checks.filter((c) => c.name === 'delta tombstones and diff').every((c) => !c.ok)).toBe(true);
    });
  }

  const refusals: [string, NonNullable<MirrorBundleSpec['tamper']>, ErrorCode, RegExp | null][] = [
    ['extra member', { extraMember: 'data/raw/extra.jsonl.zst' }, 'ERR_VERIFY_EXTRA_FILE', /^mirror\/data\/raw\/extra\.jsonl\.zst$/],
    ['missing member', { omitMember: 'data/policy/snapshot.json' }, 'ERR_VERIFY_MISSING_FILE', /^mirror\/data\/policy\/snapshot\.json$/],
    ['size mismatch', { wrongSize: 'data/policy/snapshot.json' }, 'ERR_VERIFY_DIGEST', /snapshot\.json$/],
    ['flipped byte', { flipByteIn: 'indexes/vex.index.json' }, 'ERR_VERIFY_DIGEST', /vex\.index\.json$/],
    ['symlink', { symlinkMember: true }, 'ERR_BUNDLE_UNSAFE_ENTRY', /^mirror\/data\/link$/],
    ['hard link', { hardlinkMember: true }, 'ERR_BUNDLE_UNSAFE_ENTRY', /^mirror\/data\/hard$/],
    ['.. traversal', { traversalMember: true }, 'ERR_BUNDLE_UNSAFE_ENTRY', /\.\./],
    ['absolute path', { absoluteMember: true }, 'ERR_BUNDLE_UNSAFE_ENTRY', /^\//],
    ['character device', { deviceMember: 'chardev' }, 'ERR_BUNDLE_UNSAFE_ENTRY', null],
    ['block device', { deviceMember: 'blockdev' }, 'ERR_BUNDLE_UNSAFE_ENTRY', null],
    ['FIFO', { deviceMember: 'fifo' }, 'ERR_BUNDLE_UNSAFE_ENTRY', null],
    ['duplicate member', { duplicateMember: 'data/policy/snapshot.json' }, 'ERR_BUNDLE_UNSAFE_ENTRY', /snapshot\.json$/],
    ['member outside mirror/', { outsideMirror: true }, 'ERR_BUNDLE_UNSAFE_ENTRY', null],
    ['truncated zstd', { truncate: 0.6 }, 'ERR_BUNDLE_CORRUPT', null],
    ['tar without end-of-archive', { noTarEnd: true }, 'ERR_BUNDLE_CORRUPT', null],
    ['export.json altered after signing', { exportJsonAfterSigning: (b) => Buffer.concat([b, Buffer.from(' ')]) }, 'ERR_VERIFY_SIGNATURE', /export\.sig$/],
    ['manifest.yaml altered after signing', { manifestAfterSigning: (b) => Buffer.concat([b, Buffer.from('# x\n')]) }, 'ERR_VERIFY_SIGNATURE', /manifest\.sig$/],
    ['no export.sig', { omitSignature: 'export' }, 'ERR_VERIFY_SIGNATURE', /export\.sig$/],
    ['schemaVersion 2', { schemaVersion: 2 }, 'ERR_EXPORT_UNSUPPORTED_SCHEMA', /export\.json$/],
    ['unsorted files[]', { unsortedFiles: true }, 'ERR_BUNDLE_CORRUPT', /export\.json$/],
    ['duplicate files[] entry', { duplicateFileEntry: true }, 'ERR_BUNDLE_CORRUPT', /export\.json$/],
    ['provenance subject mismatch', { badProvenanceSubject: true }, 'ERR_VERIFY_DIGEST', /provenance\.json$/],
    ['no provenance.json', { omitProvenance: true }, 'ERR_VERIFY_MISSING_FILE', /provenance\.json$/],
    ['manifest.yaml not YAML', { manifestYaml: 'a: [unclosed\n' }, 'ERR_BUNDLE_CORRUPT', /manifest\.yaml$/],
    ['a Sigstore bundle that does not verify', { rawMembers: [{ name: 'mirror/signatures/export.sigstore.json', content: '{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}' }] }, 'ERR_VERIFY_SIGNATURE', /export\.sigstore\.json$/],
    ['a DSSE envelope over other bytes', { rawMembers: [{ name: 'mirror/signatures/export.dsse.json', content: JSON.stringify({ payloadType: 'application/vnd.stellaops.export+json', payload: Buffer.from('{}').toString('base64'), signatures: [{ sig: Buffer.from('x').toString('base64') }] }) }] }, 'ERR_VERIFY_SIGNATURE', /export\.dsse\.json$/],
  ];
  for (const [label, tamper, code, member] of refusals) {
    it(`${label} → ${code}, nothing outside the extraction folder`, async () => {
      const b = await bundle(`bad-${label.replace(/\W+/g, '-')}.tar.zst`, { tamper });
      const box = fresh('box');
      const out = join(box, 'out');
      const r = await verify(b.file, { extractTo: out });
      expect(r.verdict.ok).toBe(false);
      expect(r.verdict.code, r.verdict.message).toBe(code);
      if (member) expect(r.verdict.member).toMatch(member);
      expect(r.verdict.failures?.some((f) => f.code === code)).toBe(true);
      expect(r.verdict.action).toBeTruthy();
      // Only the extraction folder was created inside the box, and nothing in it is a link.
      expect(readdirSync(box)).toEqual(['out']);
      for (const f of walk(out)) expect(lstatSync(join(out, f)).isFile()).toBe(true);
    });
  }

  it('manifest.yaml is streamed: a manifest the line fast path does not know (comments, block scalar) is parsed whole and passes; one broken only on its last line fails; its bytes are handed back on request', async () => {
    const odd = 'profile: "p"\n# a comment\nnotes: |\n  free text\n  more\nfiles:\n  - path: "a"\n    size: 1\n';
    const ok = await bundle('manifest-odd.tar.zst', { tamper: { manifestYaml: odd } });
    const r = await verify(ok.file);
    expect(r.verdict.code, r.verdict.message).toBeNull();
    expect(r.manifestYamlBytes?.toString('utf8')).toBe(odd);
    expect(r.exportJsonBytes?.length).toBeGreaterThan(100);
    const lines = Array.from({ length: 5000 }, (_, i) => `  - path: "data/f${i}"\n    size: ${i}`).join('\n');
    const broken = await bundle('manifest-broken-end.tar.zst', { tamper: { manifestYaml: `files:\n${lines}\nz: [unclosed\n` } });
    const rb = await verify(broken.file);
    expect(rb.verdict.code).toBe('ERR_BUNDLE_CORRUPT');
    expect(rb.verdict.member).toBe('mirror/manifest.yaml');
  });

  it('unknown files under signatures/ and delta/ are skipped unread, with a warning', async () => {
    const b = await bundle('unknown-control.tar.zst', { tamper: { rawMembers: [{ name: 'mirror/signatures/extra.sig', content: 'x'.repeat(1000) }, { name: 'mirror/delta/notes.txt', content: 'hello' }] } });
    const r = await verify(b.file);
    expect(r.verdict.code).toBeNull();
    expect(r.verdict.warnings.some((w) => w.includes('mirror/signatures/extra.sig'))).toBe(true);
    expect(r.verdict.warnings.some((w) => w.includes('mirror/delta/notes.txt'))).toBe(true);
  });

  it('a control file above its size cap is ERR_BUNDLE_LIMIT before it is read', async () => {
    const b = await bundle('big-sig.tar.zst', { tamper: { rawMembers: [{ name: 'mirror/signatures/export.sig', content: { size: 17 * 1024 * 1024, seed: 'sig' } }] } });
    const r = await verify(b.file);
    expect(r.verdict.code).toBe('ERR_BUNDLE_LIMIT');
    expect(r.verdict.member).toBe('mirror/signatures/export.sig');
  });

  it('lists every failed check and reports the first code by precedence (signature before digest)', async () => {
    const other = generateSigningKey('ed25519');
    const b = await bundle('multi.tar.zst', { tamper: { signWith: other, flipByteIn: 'indexes/vex.index.json', extraMember: 'data/x.bin' } });
    const r = await verify(b.file);
    expect(r.verdict.code).toBe('ERR_VERIFY_SIGNATURE');
    const codes = new Set(r.verdict.failures?.map((f) => f.code));
    expect(codes).toEqual(new Set(['ERR_VERIFY_SIGNATURE', 'ERR_VERIFY_DIGEST', 'ERR_VERIFY_EXTRA_FILE']));
    expect(r.verdict.checks.filter((c) => !c.ok).length).toBeGreaterThanOrEqual(3);
    expect(r.verdict.keys?.tried).toEqual([trusted[0].fingerprint]);
  });

  it('signatures with ECDSA P-384, Ed25519, RSA PKCS#1 and RSA-PSS keys verify; an empty key list is refused', async () => {
    for (const alg of ['ecdsa-p384', 'ed25519', 'rsa-pkcs1', 'rsa-pss'] as const) {
      const k = generateSigningKey(alg);
      const b = await writeMirrorBundle(fresh(`${alg}.tar.zst`), { key: k, files: samplePayload({ parts: 2 }) });
      const r = await verifyMirrorBundle(b.file, { keys: [loadPublicKey(k.publicPem)] });
      expect(r.verdict.code, alg).toBeNull();
      expect(r.verdict.keys?.signedBy).toEqual([k.fingerprint]);
      const none = await verifyMirrorBundle(b.file, { keys: [] });
      expect(none.verdict.code).toBe('ERR_VERIFY_SIGNATURE');
    }
  });

  it('a key pinned for another tenant does not count', async () => {
    const b = await bundle('tenant.tar.zst', { tenant: 'acme' });
    const k = { ...trusted[0], source: 'workspace' as const, tenant: 'globex' };
    const r = await verifyMirrorBundle(b.file, { keys: [k] });
    expect(r.verdict.code).toBe('ERR_VERIFY_SIGNATURE');
    expect(r.verdict.message).toMatch(/globex/);
    const ok = await verifyMirrorBundle(b.file, { keys: [{ ...k, tenant: 'acme' }] });
    expect(ok.verdict.code).toBeNull();
  });

  it('an identity given for an unencrypted bundle is ignored', async () => {
    const b = await bundle('plain.tar.zst');
    const r = await verify(b.file, { identities: ageIdentities });
    expect(r.verdict.code).toBeNull();
    expect(r.plaintextVerified).toBe(true);
  });

  it('per-file encryption: decrypts to the signed plaintext (also when extracting); wrong AAD is ERR_DECRYPT_AUTH; other identity is ERR_DECRYPT_NO_RECIPIENT', async () => {
    const b = await bundle('perfile.tar.zst', { encryption: { recipients: [fixtureRecipient] } });
    const noId = await verify(b.file);
    expect(noId.verdict.ok).toBe(true);
    expect(noId.plaintextVerified).toBe(false);
    const out = fresh('perfile-out');
    const r = await verify(b.file, { identities: ageIdentities, extractTo: out });
    expect(r.verdict.code).toBeNull();
    expect(r.plaintextVerified).toBe(true);
    expect(walk(out)).toEqual(b.exportJson.files.map((f) => f.path).sort());
    for (const f of b.exportJson.files) expect(sha256(readFileSync(join(out, f.path)))).toBe(f.sha256);

    const aad = await bundle('perfile-aad.tar.zst', { encryption: { recipients: [fixtureRecipient] }, tamper: { wrongAadFor: b.exportJson.files.find((f) => f.path.startsWith('data/'))!.path } });
    const bad = await verify(aad.file, { identities: ageIdentities });
    expect(bad.verdict.code).toBe('ERR_DECRYPT_AUTH');
    expect(bad.verdict.member).toMatch(/^mirror\/data\//);
    // Without an identity the same bundle passes its stored digests (and says plaintext was not checked).
    expect((await verify(aad.file)).verdict.ok).toBe(true);

    const other = execFileSync('age-keygen', { stdio: ['ignore', 'pipe', 'ignore'] }).toString().split('\n').filter((l) => l.startsWith('AGE-SECRET-KEY-'));
    expect((await verify(b.file, { identities: other })).verdict.code).toBe('ERR_DECRYPT_NO_RECIPIENT');
  });

  it('per-file encryption: a flipped stored byte is ERR_VERIFY_DIGEST before any key is used', async () => {
    const first = samplePayload({ parts: 6, partSize: 700 }).find((f) => f.path.startsWith('data/'))!.path;
    const b = await bundle('perfile-flip.tar.zst', { encryption: { recipients: [fixtureRecipient] }, tamper: { flipByteIn: first } });
    expect((await verify(b.file)).verdict.code).toBe('ERR_VERIFY_DIGEST');
    expect((await verify(b.file, { identities: ageIdentities })).verdict.code).toBe('ERR_VERIFY_DIGEST');
  });

  it('whole-file age with a passphrase (scrypt) decrypts; a wrong passphrase is refused', async () => {
    const b = await bundle('pass.tar.zst.age', { age: { passphrase: 'correct horse battery' } });
    expect((await verify(b.file, { passphrase: 'correct horse battery' })).verdict.code).toBeNull();
    const wrong = await verify(b.file, { passphrase: 'wrong' });
    expect(wrong.verdict.ok).toBe(false);
    expect(['ERR_DECRYPT_NO_RECIPIENT', 'ERR_DECRYPT_AUTH']).toContain(wrong.verdict.code);
  });

  it('a large bundle (hashed on the worker thread) verifies, extracts identical files, and a flipped byte in it is found', async () => {
    const files = [...generatedPayload(5, 9 * 1024 * 1024 + 123, { seed: 'big' }), ...samplePayload({ parts: 3 })];
    const b = await bundle('large.tar.zst', { files, order: 'shuffle', shuffleSeed: 3 });
    expect(b.rawSize).toBeGreaterThan(40 * 1024 * 1024);
    const out = fresh('large-out');
    const copy = fresh('large-copy.tar.zst');
    const r = await verify(b.file, { extractTo: out, copyTo: copy });
    expect(r.verdict.code, r.verdict.message).toBeNull();
    expect(r.rawSha256).toBe(b.rawSha256);
    for (const f of b.exportJson.files) expect(sha256(readFileSync(join(out, f.path))), f.path).toBe(f.sha256);
    const victim = files[2].path;
    const bad = await bundle('large-bad.tar.zst', { files, tamper: { flipByteIn: victim } });
    const rb = await verify(bad.file);
    expect(rb.verdict.code).toBe('ERR_VERIFY_DIGEST');
    expect(rb.verdict.failures?.map((f) => f.path)).toEqual([`mirror/${victim}`]);
  });

  it('memory flat in file count: 150,000 tiny files verify with per-file tables of tens of bytes each (export.json streamed, never held)', async () => {
    const n = 150_000;
    const files = generatedPayload(n, 16, { seed: 'many', kind: 'text' });
    const b = await bundle('many.tar.zst', { files });
    const r = await verifyMirrorBundle(b.file, { keys: trusted, rawDigest: false, controlBytes: false });
    expect(r.verdict.code, r.verdict.message).toBeNull();
    expect(r.exportJsonBytes).toBeUndefined();
    const t = r.tables!;
    expect(t.members).toBeGreaterThan(n);
    // Gate names ~25 B, payload digests/sizes/names ~60 B, file list ~90 B per file (with growth slack); a Map of objects was ~1 KB.
    expect(t.gate / n).toBeLessThan(64);
    expect(t.payload / n).toBeLessThan(128);
    expect(t.files / n).toBeLessThan(160);
    // One unlisted member among them is still named.
    const extra = await bundle('many-extra.tar.zst', { files: files.slice(0, 2000), tamper: { extraMember: 'data/raw/advisories/d0000/part-0000000.jsonl.zst.x' } });
    const re = await verify(extra.file);
    expect(re.verdict.code).toBe('ERR_VERIFY_EXTRA_FILE');
    expect(re.verdict.failures?.map((f) => f.path)).toEqual(['mirror/data/raw/advisories/d0000/part-0000000.jsonl.zst.x']);
  }, 240_000);

  it('a write failure of this host while extracting is thrown as such (for the caller: disk full etc.), not reported as a bad bundle', async () => {
    // (A name longer than the file system allows is now a bundle fault, refused by the path policy: see robustness.test.ts.)
    const b = await bundle('host-fail.tar.zst', { files: samplePayload({ parts: 2 }) });
    expect((await verify(b.file)).verdict.code).toBeNull();
    // The library copy cannot be created: also thrown, and an existing file is never overwritten.
    await expect(verify(b.file, { copyTo: join(tmp.dir, 'no-such-dir', 'copy') })).rejects.toMatchObject({ code: 'ENOENT' });
    const existing = fresh('existing-copy');
    writeFileSync(existing, 'keep');
    await expect(verify(b.file, { copyTo: existing })).rejects.toMatchObject({ code: 'EEXIST' });
    expect(readFileSync(existing, 'utf8')).toBe('keep');
  });

  it('a malformed age identity is a usage error, not a verdict about the bundle', async () => {
    const whole = await bundle('bad-id.tar.zst.age', { age: { recipients: [fixtureRecipient] } });
    await expect(verify(whole.file, { identities: ['AGE-SECRET-KEY-1NOTVALID'] })).rejects.toMatchObject({ code: 'ERR_USAGE' });
    const perFile = await bundle('bad-id-perfile.tar.zst', { encryption: { recipients: [fixtureRecipient] } });
    const r = await verify(perFile.file, { identities: ['AGE-SECRET-KEY-1NOTVALID'] });
    expect(r.verdict.code).toBe('ERR_USAGE');
  });

  it('cancellation: an aborted signal gives ERR_CANCELLED', async () => {
    const b = await bundle('cancel.tar.zst');
    const ac = new AbortController();
    ac.abort();
    expect((await verify(b.file, { signal: ac.signal })).verdict.code).toBe('ERR_CANCELLED');
  });

  it('cancellation during the read stops it with ERR_CANCELLED and leaves no spool behind', async () => {
    const files = generatedPayload(3, 6 * 1024 * 1024, { seed: 'cancel' });
    const b = await bundle('cancel-mid.tar.zst', { files });
    const ac = new AbortController();
    const out = fresh('cancel-out');
    let calls = 0;
    const r = await verify(b.file, {
      signal: ac.signal,
      extractTo: out,
      onProgress: () => {
        calls++;
        ac.abort();
      },
    });
    expect(calls).toBeGreaterThan(0);
    expect(r.verdict.code).toBe('ERR_CANCELLED');
    expect(r.verdict.stats.bytes).toBeLessThan(b.rawSize);
    expect(readdirSync(out).filter((n) => n.startsWith('.okc-spool'))).toEqual([]);
  });

  it('progress reports the raw bytes read, up to the file size', async () => {
    const b = await bundle('progress.tar.zst');
    const seen: number[] = [];
    await verify(b.file, { onProgress: (p) => seen.push(p.bytesDone) });
    expect(seen.length).toBeGreaterThan(0);
    expect(seen[seen.length - 1]).toBe(b.rawSize);
  });

  it('a missing file is ERR_INPUT_NOT_FOUND', async () => {
    expect((await verify(join(tmp.dir, 'nope.tar.zst'))).verdict.code).toBe('ERR_INPUT_NOT_FOUND');
  });
});

describe('adversarial archives made with the Debian tar, zstd and age CLIs', () => {
  let work: string;
  beforeAll(() => {
    work = fresh('cli');
    mkdirSync(join(work, 'src/mirror/data'), { recursive: true });
    writeFileSync(join(work, 'src/mirror/data/a.txt'), 'hello\n');
    writeFileSync(join(work, 'src/pwn'), 'owned\n');
  });

  function zstdTar(name: string, build: (tarFile: string) => void): string {
    const t = join(work, `${name}.tar`);
    build(t);
    sh('zstd', ['-q', '-f', t, '-o', `${t}.zst`]);
    return `${t}.zst`;
  }

  async function refusedCleanly(file: string, expected: ErrorCode) {
    const box = fresh('abox');
    const out = join(box, 'out');
    const r = await verifyMirrorBundle(file, { keys: trusted, extractTo: out });
    expect(r.verdict.code, r.verdict.message).toBe(expected);
    expect(readdirSync(box)).toEqual(['out']);
    for (const f of walk(out)) expect(lstatSync(join(out, f)).isFile()).toBe(true);
    return r;
  }

  it('a symlinked directory, then a file under it: refused at the link, nothing written through it', async () => {
    const outside = fresh('outside');
    mkdirSync(outside);
    const src = join(work, 'src-link');
    mkdirSync(join(src, 'mirror/data'), { recursive: true });
    symlinkSync(outside, join(src, 'mirror/data/evil'));
    const file = zstdTar('symdir', (t) => {
      sh('tar', ['--format=posix', '-cf', t, 'mirror/data/evil'], src);
      sh('tar', ['--format=posix', '-rf', t, '--transform', 's,^pwn$,mirror/data/evil/pwn,', 'pwn'], join(work, 'src'));
    });
    expect(sh('tar', ['-tvf', file.replace(/\.zst$/, '')]).toString()).toMatch(/mirror\/data\/evil\/pwn/);
    const r = await refusedCleanly(file, 'ERR_BUNDLE_UNSAFE_ENTRY');
    expect(r.verdict.member).toBe('mirror/data/evil');
    expect(readdirSync(outside)).toEqual([]);
  });

  it('.. traversal written with tar -P', async () => {
    const file = zstdTar('dotdot', (t) => sh('tar', ['--format=posix', '-P', '-cf', t, 'mirror/../pwn'], join(work, 'src')));
    const r = await refusedCleanly(file, 'ERR_BUNDLE_UNSAFE_ENTRY');
    expect(r.verdict.member).toBe('mirror/../pwn');
  });

  it('an absolute path written with tar -P', async () => {
    const abs = join(work, 'src/pwn');
    const file = zstdTar('abs', (t) => sh('tar', ['--format=posix', '-P', '-cf', t, abs]));
    const r = await refusedCleanly(file, 'ERR_BUNDLE_UNSAFE_ENTRY');
    expect(r.verdict.member).toBe(abs);
  });

  it('a hard link stored by GNU tar', async () => {
    const src = join(work, 'src-hard');
    mkdirSync(join(src, 'mirror'), { recursive: true });
    writeFileSync(join(src, 'mirror/a'), 'same\n');
    linkSync(join(src, 'mirror/a'), join(src, 'mirror/b'));
    const file = zstdTar('hard', (t) => sh('tar', ['--format=posix', '-cf', t, 'mirror/a', 'mirror/b'], src));
    const r = await refusedCleanly(file, 'ERR_BUNDLE_UNSAFE_ENTRY');
    expect(r.verdict.member).toBe('mirror/b');
  });

  it('a FIFO stored by GNU tar', async () => {
    const src = join(work, 'src-fifo');
    mkdirSync(join(src, 'mirror'), { recursive: true });
    sh('mkfifo', [join(src, 'mirror/pipe')]);
    const file = zstdTar('fifo', (t) => sh('tar', ['--format=posix', '-cf', t, 'mirror/pipe'], src));
    await refusedCleanly(file, 'ERR_BUNDLE_UNSAFE_ENTRY');
  });

  it('a member outside mirror/ and a duplicate member', async () => {
    const outside = zstdTar('outside', (t) => sh('tar', ['--format=posix', '-cf', t, 'pwn'], join(work, 'src')));
    expect((await refusedCleanly(outside, 'ERR_BUNDLE_UNSAFE_ENTRY')).verdict.member).toBe('pwn');
    const dup = zstdTar('dup', (t) => sh('tar', ['--format=posix', '-cf', t, 'mirror/data/a.txt', 'mirror/data/a.txt'], join(work, 'src')));
    expect((await refusedCleanly(dup, 'ERR_BUNDLE_UNSAFE_ENTRY')).verdict.member).toBe('mirror/data/a.txt');
  });

  it('a decompression bomb stops at the ratio limit with ERR_BUNDLE_LIMIT, having written no more than the limit', async () => {
    const src = join(work, 'src-bomb');
    mkdirSync(join(src, 'mirror/data'), { recursive: true });
    sh('truncate', ['-s', '96M', join(src, 'mirror/data/zeros.bin')]);
    const file = zstdTar('bomb', (t) => sh('tar', ['--format=posix', '-cf', t, 'mirror/data/zeros.bin'], src));
    rmSync(file.replace(/\.zst$/, ''));
    const compressed = statSync(file).size;
    expect(compressed).toBeLessThan(64 * 1024);
    const out = fresh('bomb-out');
    const r = await verifyMirrorBundle(file, { keys: trusted, extractTo: out });
    expect(r.verdict.code).toBe('ERR_BUNDLE_LIMIT');
    expect(r.verdict.member).toBe('mirror/data/zeros.bin');
    const written = walk(out).reduce((a, f) => a + statSync(join(out, f)).size, 0);
    // Default limits: ratio 1000 once 64 MiB are unpacked; the file never reaches its 96 MiB.
    expect(written).toBeLessThanOrEqual(64 * 1024 * 1024 + 1024 * 1024);
    expect(written).toBeLessThan(96 * 1024 * 1024);
  });

  it('a member above the per-file or total limit is refused at its header: nothing of it is written', async () => {
    const src = join(work, 'src-big');
    mkdirSync(join(src, 'mirror/data'), { recursive: true });
    sh('truncate', ['-s', '8M', join(src, 'mirror/data/big.bin')]);
    const file = zstdTar('big', (t) => sh('tar', ['--format=posix', '-cf', t, 'mirror/data/big.bin'], src));
    for (const limits of [{ maxMemberBytes: 1024 * 1024 }, { maxTotalBytes: 4 * 1024 * 1024 }]) {
      const out = fresh('big-out');
      const r = await verifyMirrorBundle(file, { keys: trusted, extractTo: out, limits });
      expect(r.verdict.code).toBe('ERR_BUNDLE_LIMIT');
      expect(r.verdict.member).toBe('mirror/data/big.bin');
      expect(walk(out)).toEqual([]);
    }
  });

  it('a tar stream cut in the middle of a member (valid zstd) is ERR_BUNDLE_CORRUPT', async () => {
    const src = join(work, 'src-cut');
    mkdirSync(join(src, 'mirror/data'), { recursive: true });
    writeFileSync(join(src, 'mirror/data/x.bin'), Buffer.alloc(100_000, 7));
    const file = zstdTar('cut', (t) => {
      sh('tar', ['--format=posix', '-cf', t, 'mirror/data/x.bin'], src);
      sh('truncate', ['-s', '50000', t]);
    });
    expect((await verifyMirrorBundle(file, { keys: trusted })).verdict.code).toBe('ERR_BUNDLE_CORRUPT');
  });

  it('a file that is not zstd at all is ERR_BUNDLE_CORRUPT', async () => {
    const f = fresh('junk.tar.zst');
    writeFileSync(f, 'this is not a bundle');
    expect((await verifyMirrorBundle(f, { keys: trusted })).verdict.code).toBe('ERR_BUNDLE_CORRUPT');
  });

  it('a bundle encrypted by the Debian age CLI decrypts and verifies', async () => {
    const b = await bundle('for-age-cli.tar.zst');
    const enc = `${b.file}.age`;
    sh('age', ['-r', fixtureRecipient, '-o', enc, b.file]);
    const r = await verifyMirrorBundle(enc, { keys: trusted, identities: ageIdentities });
    expect(r.verdict.code).toBeNull();
    expect(r.verdict.exportId).toBe(b.exportId);
    expect(r.rawSha256).toBe(sha256(readFileSync(enc)));
    const armored = `${b.file}.armored.age`;
    sh('age', ['-a', '-r', fixtureRecipient, '-o', armored, b.file]);
    expect((await verifyMirrorBundle(armored, { keys: trusted, identities: ageIdentities })).verdict.code).toBeNull();
    // Cut the age file: authentication fails.
    const cut = `${b.file}.cut.age`;
    writeFileSync(cut, readFileSync(enc).subarray(0, statSync(enc).size - 100));
    expect((await verifyMirrorBundle(cut, { keys: trusted, identities: ageIdentities })).verdict.code).toBe('ERR_DECRYPT_AUTH');
  });

  it('a multi-MiB bundle encrypted by the age CLI: many STREAM chunks decrypt; a cut at a chunk boundary is ERR_DECRYPT_AUTH', async () => {
    const b = await bundle('age-big.tar.zst', { files: [...generatedPayload(2, 3 * 1024 * 1024 + 77, { seed: 'agebig' }), ...samplePayload({ parts: 2 })] });
    const enc = `${b.file}.age`;
    sh('age', ['-r', fixtureRecipient, '-o', enc, b.file]);
    const r = await verifyMirrorBundle(enc, { keys: trusted, identities: ageIdentities, extractTo: fresh('age-big-out') });
    expect(r.verdict.code, r.verdict.message).toBeNull();
    const bytes = readFileSync(enc);
    const headerEnd = bytes.indexOf('\n', bytes.indexOf('\n--- ') + 1) + 1;
    const chunk = 64 * 1024 + 16;
    // Whole chunks only, the final flag missing: authentication must fail, not a silent short read.
    const cut = fresh('age-cut.tar.zst.age');
    writeFileSync(cut, bytes.subarray(0, headerEnd + 16 + 10 * chunk));
    expect((await verifyMirrorBundle(cut, { keys: trusted, identities: ageIdentities })).verdict.code).toBe('ERR_DECRYPT_AUTH');
    // One flipped payload byte.
    const flipped = Buffer.from(bytes);
    flipped[headerEnd + 16 + 5 * chunk + 100] ^= 1;
    const fl = fresh('age-flip.tar.zst.age');
    writeFileSync(fl, flipped);
    expect((await verifyMirrorBundle(fl, { keys: trusted, identities: ageIdentities })).verdict.code).toBe('ERR_DECRYPT_AUTH');
    // A plaintext that is an exact multiple of 64 KiB ends with a full final chunk (padded with a leading zstd
    // skippable frame: accepted first in the file; after the archive's frames it would be refused, spec section 2).
    const raw = readFileSync(b.file);
    const padTo = Math.ceil((raw.length + 8) / 65536) * 65536;
    const skippable = Buffer.alloc(padTo - raw.length);
    skippable.writeUInt32LE(0x184d2a50, 0);
    skippable.writeUInt32LE(skippable.length - 8, 4);
    const padded = fresh('age-exact.tar.zst');
    writeFileSync(padded, Buffer.concat([skippable, raw]));
    sh('age', ['-r', fixtureRecipient, '-o', `${padded}.age`, padded]);
    expect((await verifyMirrorBundle(`${padded}.age`, { keys: trusted, identities: ageIdentities })).verdict.code).toBeNull();
    // Trailing bytes after the final chunk.
    const trail = fresh('age-trail.tar.zst.age');
    writeFileSync(trail, Buffer.concat([bytes, Buffer.from('junk')]));
    expect((await verifyMirrorBundle(trail, { keys: trusted, identities: ageIdentities })).verdict.code).toBe('ERR_DECRYPT_AUTH');
  });

  it('nothing was ever written next to the work folders (canaries)', () => {
    expect(existsSync(join(tmp.dir, 'pwn'))).toBe(false);
    expect(existsSync('/tmp/okc-canary-traversal')).toBe(false);
    expect(relative(tmp.dir, work).startsWith('..')).toBe(false);
  });
});
