/**
 * The producer's bundles against the project's verification engine: every
 * well-formed bundle and kit verifies, and each deliberately broken variant is
 * refused with the code the spec gives for it.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KITS, tempDir } from '../testing/fixtures';
import { loadPublicKey, verifyPath } from '../verify/index';
import {
  generateSigningKey,
  samplePayload,
  SIGNING_ALGORITHMS,
  writeKit,
  writeMirrorBundle,
  writeTrivyBundle,
  type MirrorBundleResult,
  type MirrorTamper,
  type SigningKey,
  type TrivyBundleSpec,
} from './index';

const AGE_IDENTITY_TEXT = readFileSync(join(KITS, 'test-age-identity.txt'), 'utf8');
const AGE_IDENTITY = AGE_IDENTITY_TEXT.match(/AGE-SECRET-KEY-1[0-9A-Z]+/)![0];
const AGE_RECIPIENT = AGE_IDENTITY_TEXT.match(/public key: (age1[0-9a-z]+)/)![1];

let tmp: { dir: string; cleanup: () => void };
let n = 0;
const out = (name: string) => join(tmp.dir, `${n++}-${name}`);
beforeAll(() => {
  tmp = tempDir('okc-producer-verify-');
});
afterAll(() => tmp.cleanup());

const trust = (k: SigningKey) => [loadPublicKey(k.publicPem)];

describe('well-formed output verifies', () => {
  it.each(SIGNING_ALGORITHMS)('a kit signed with %s (full, 2 deltas, Trivy DB and Java DB)', async (alg) => {
    const key = generateSigningKey(alg);
    const kit = await writeKit(out(`kit-${alg}`), {
      key,
      mirror: [
        { files: samplePayload({ parts: 6 }), dsse: true },
        { files: [{ path: 'data/raw/vex/part-00001.jsonl.zst', content: 'v2\n' }], removed: ['indexes/vex.index.json'], order: 'control-first' },
        { files: [{ path: 'data/new/x.json', content: '{}\n' }], order: 'shuffle' },
      ],
      trivy: [{ kind: 'trivy-db' }, { kind: 'trivy-java-db' }],
    });
    const v = await verifyPath(kit.dir, { keys: trust(key) });
    expect(v.code, v.message).toBeNull();
    expect(v.ok).toBe(true);
    expect(v.kind).toBe('kit');
    expect(v.items.map((i) => i.ok)).toEqual([true, true, true, true, true]);
    for (const b of kit.mirror) {
      const bv = await verifyPath(b.file, { keys: trust(key) });
      expect(bv.ok, bv.message).toBe(true);
      expect([bv.exportId, bv.generation]).toEqual([b.exportId, b.generation]);
    }
  });

  it('a kit signed with another key is refused, although its keys/ folder holds the signer', async () => {
    const key = generateSigningKey('ed25519');
    const kit = await writeKit(out('kit-other'), { key, mirror: [{ files: samplePayload({ parts: 2 }) }] });
    const v = await verifyPath(kit.dir, { keys: trust(generateSigningKey('ed25519')) });
    expect(v.ok).toBe(false);
    expect(v.code).toBe('ERR_VERIFY_SIGNATURE');
  });

  it('whole-file age and per-file encrypted bundles verify with the identity', async () => {
    const key = generateSigningKey('ecdsa-p256');
    const whole = await writeMirrorBundle(out('mirror-20251029-full.tar.zst.age'), { key, files: samplePayload({ parts: 3 }), age: { recipients: [AGE_RECIPIENT] } });
    const wv = await verifyPath(whole.file, { keys: trust(key), identities: [AGE_IDENTITY] });
    expect(wv.ok, wv.message).toBe(true);
    const pass = await writeMirrorBundle(out('mirror-20251029-full.tar.zst.age'), { key, files: samplePayload({ parts: 3 }), age: { passphrase: 'correct horse battery staple' } });
    const pv = await verifyPath(pass.file, { keys: trust(key), passphrase: 'correct horse battery staple' });
    expect(pv.ok, pv.message).toBe(true);
    const per = await writeMirrorBundle(out('per.tar.zst'), { key, files: samplePayload({ parts: 4 }), encryption: { recipients: [AGE_RECIPIENT] } });
    const v = await verifyPath(per.file, { keys: trust(key), identities: [AGE_IDENTITY] });
    expect(v.ok, v.message).toBe(true);
  });
});

describe('member orders that need a digest pre-pass', () => {
  it.each(['control-first', 'sorted', 'shuffle'] as const)('%s with per-file encryption and a resetBaseline delta verify', async (order) => {
    const key = generateSigningKey('ed25519');
    const files = [...samplePayload({ parts: 3 }), { path: 'data/raw/advisories/gen.bin', content: { size: 2_100_000, seed: order } }];
    const full = await writeMirrorBundle(out('pp-full.tar.zst'), { key, files, order, encryption: { recipients: [AGE_RECIPIENT] } });
    const v = await verifyPath(full.file, { keys: trust(key), identities: [AGE_IDENTITY] });
    expect(v.ok, v.message).toBe(true);
    const reset = await writeMirrorBundle(out('pp-reset.tar.zst'), { key, base: full, resetBaseline: true, files: samplePayload({ parts: 2, seed: 'reset' }), order });
    expect(reset.exportJson.resetBaseline).toBe(true);
    expect(reset.state.map((e) => e.path)).toEqual(reset.exportJson.files.map((f) => f.path));
    const rv = await verifyPath(reset.file, { keys: trust(key) });
    expect(rv.ok, rv.message).toBe(true);
  });
});

describe('each tamper gives its spec code', () => {
  const key = generateSigningKey('ed25519');
  const files = samplePayload({ parts: 4 });
  let full: MirrorBundleResult;
  beforeAll(async () => {
    full = await writeMirrorBundle(out('base.tar.zst'), { key, files });
  });

  const fullCases: [string, MirrorTamper, string][] = [
    ['extra member', { extraMember: 'data/extra.bin' }, 'ERR_VERIFY_EXTRA_FILE'],
    ['missing member', { omitMember: 'indexes/vex.index.json' }, 'ERR_VERIFY_MISSING_FILE'],
    ['symlink', { symlinkMember: true }, 'ERR_BUNDLE_UNSAFE_ENTRY'],
    ['hard link', { hardlinkMember: true }, 'ERR_BUNDLE_UNSAFE_ENTRY'],
    ['traversal', { traversalMember: true }, 'ERR_BUNDLE_UNSAFE_ENTRY'],
    ['absolute path', { absoluteMember: true }, 'ERR_BUNDLE_UNSAFE_ENTRY'],
    ['FIFO', { deviceMember: 'fifo' }, 'ERR_BUNDLE_UNSAFE_ENTRY'],
    ['character device', { deviceMember: 'chardev' }, 'ERR_BUNDLE_UNSAFE_ENTRY'],
    ['duplicate member', { duplicateMember: 'data/policy/snapshot.json' }, 'ERR_BUNDLE_UNSAFE_ENTRY'],
    ['member outside mirror/', { outsideMirror: true }, 'ERR_BUNDLE_UNSAFE_ENTRY'],
    ['wrong size', { wrongSize: 'data/policy/snapshot.json' }, 'ERR_VERIFY_DIGEST'],
    ['flipped byte', { flipByteIn: 'data/raw/advisories/part-00000.jsonl.zst' }, 'ERR_VERIFY_DIGEST'],
    ['provenance subject', { badProvenanceSubject: true }, 'ERR_VERIFY_DIGEST'],
    ['schemaVersion 2', { schemaVersion: 2 }, 'ERR_EXPORT_UNSUPPORTED_SCHEMA'],
    ['unsorted files[]', { unsortedFiles: true }, 'ERR_BUNDLE_CORRUPT'],
    ['duplicate files[] entry', { duplicateFileEntry: true }, 'ERR_BUNDLE_CORRUPT'],
    ['export.json changed after signing', { exportJsonAfterSigning: (b) => Buffer.concat([b, Buffer.from(' ')]) }, 'ERR_VERIFY_SIGNATURE'],
    ['manifest.yaml changed after signing', { manifestAfterSigning: (b) => Buffer.concat([b, Buffer.from('# x\n')]) }, 'ERR_VERIFY_SIGNATURE'],
    ['no export.sig', { omitSignature: 'export' }, 'ERR_VERIFY_SIGNATURE'],
    ['signed by another key', { signWith: generateSigningKey('ed25519') }, 'ERR_VERIFY_SIGNATURE'],
    ['truncated', { truncate: true }, 'ERR_BUNDLE_CORRUPT'],
    ['no tar end blocks and truncated in a member', { truncate: 0.7, noTarEnd: true }, 'ERR_BUNDLE_CORRUPT'],
  ];
  it.each(fullCases)('full bundle, %s', async (_name, tamper, code) => {
    const b = await writeMirrorBundle(out('t.tar.zst'), { key, files: [...files, { path: 'data/raw/advisories/big.bin', content: { size: 300_000, seed: 'big' } }], tamper });
    const v = await verifyPath(b.file, { keys: trust(key) });
    expect(v.ok).toBe(false);
    expect(v.code, v.message).toBe(code);
  });

  const deltaCases: [string, MirrorTamper, string][] = [
    ['dropped tombstone', { dropTombstone: true }, 'ERR_VERIFY_TOMBSTONE'],
    ['extra tombstone', { extraTombstone: true }, 'ERR_VERIFY_TOMBSTONE'],
    ['no manifest.diff.json', { noDiff: true }, 'ERR_VERIFY_TOMBSTONE'],
    ['no tombstones.jsonl', { noTombstones: true }, 'ERR_VERIFY_TOMBSTONE'],
    ['diff disagrees with export.json', { diffDisagrees: true }, 'ERR_VERIFY_TOMBSTONE'],
  ];
  it.each(deltaCases)('delta bundle, %s', async (_name, tamper, code) => {
    const good = await writeMirrorBundle(out('d.tar.zst'), { key, base: full, files: [{ path: 'data/policy/snapshot.json', content: '{"v":2}\n' }], removed: ['indexes/vex.index.json'] });
    expect((await verifyPath(good.file, { keys: trust(key) })).ok).toBe(true);
    const b = await writeMirrorBundle(out('d.tar.zst'), { key, base: full, files: [{ path: 'data/policy/snapshot.json', content: '{"v":2}\n' }], removed: ['indexes/vex.index.json'], tamper });
    const v = await verifyPath(b.file, { keys: trust(key) });
    expect(v.ok).toBe(false);
    expect(v.code, v.message).toBe(code);
  });

  it('per-file encryption: wrong AAD is ERR_DECRYPT_AUTH; another identity is ERR_DECRYPT_NO_RECIPIENT; no identity verifies with a warning', async () => {
    const b = await writeMirrorBundle(out('e.tar.zst'), { key, files, encryption: { recipients: [AGE_RECIPIENT] }, tamper: { wrongAadFor: 'data/policy/snapshot.json' } });
    const v = await verifyPath(b.file, { keys: trust(key), identities: [AGE_IDENTITY] });
    expect(v.code, v.message).toBe('ERR_DECRYPT_AUTH');
    const good = await writeMirrorBundle(out('e2.tar.zst'), { key, files, encryption: { recipients: [AGE_RECIPIENT] } });
    const { generateIdentity } = await import('age-encryption');
    const other = await verifyPath(good.file, { keys: trust(key), identities: [await generateIdentity()] });
    expect(other.code, other.message).toBe('ERR_DECRYPT_NO_RECIPIENT');
    const none = await verifyPath(good.file, { keys: trust(key) });
    expect(none.ok, none.message).toBe(true);
    expect(none.warnings.length).toBeGreaterThan(0);
    const flipped = await writeMirrorBundle(out('e3.tar.zst'), { key, files, encryption: { recipients: [AGE_RECIPIENT] }, tamper: { flipByteIn: 'data/policy/snapshot.json' } });
    expect((await verifyPath(flipped.file, { keys: trust(key) })).code).toBe('ERR_VERIFY_DIGEST');
  });

  const trivyCases: [string, Partial<TrivyBundleSpec>, string | null][] = [
    ['valid trivy-db', {}, null],
    ['valid trivy-java-db', { kind: 'trivy-java-db' }, null],
    ['bad bbolt magic', { corrupt: 'bbolt-magic' }, 'ERR_BUNDLE_CORRUPT'],
    ['bad bbolt checksum', { corrupt: 'bbolt-checksum' }, 'ERR_BUNDLE_CORRUPT'],
    ['bbolt meta version 3', { corrupt: 'bbolt-version' }, 'ERR_BUNDLE_CORRUPT'],
    ['metadata.json not JSON', { corrupt: 'metadata-json' }, 'ERR_BUNDLE_CORRUPT'],
    ['no database member', { corrupt: 'missing-db' }, 'ERR_VERIFY_MISSING_FILE'],
    ['bad SQLite header', { kind: 'trivy-java-db', corrupt: 'sqlite-header' }, 'ERR_BUNDLE_CORRUPT'],
    ['metadata Version 3', { version: 3 }, 'ERR_EXPORT_UNSUPPORTED_SCHEMA'],
    ['java metadata Version 2', { kind: 'trivy-java-db', version: 2 }, 'ERR_EXPORT_UNSUPPORTED_SCHEMA'],
    ['symlink member', { corrupt: 'symlink-member' }, 'ERR_BUNDLE_UNSAFE_ENTRY'],
    ['truncated gzip', { corrupt: 'truncate' }, 'ERR_BUNDLE_CORRUPT'],
    ['signed by another key', { signWith: generateSigningKey('ecdsa-p256') }, 'ERR_VERIFY_SIGNATURE'],
  ];
  it.each(trivyCases)('Trivy bundle, %s', async (_name, spec, code) => {
    const kind = spec.kind ?? 'trivy-db';
    const file = join(out('trivy'), kind === 'trivy-db' ? 'db.bundle' : 'java-db.bundle');
    const t = writeTrivyBundle(file, { kind, key, ...spec });
    const v = await verifyPath(t.file, { keys: trust(key), signature: t.signatureFile });
    expect(v.code, v.message).toBe(code);
    expect(v.ok).toBe(code === null);
  });
});

describe('paths and kits', () => {
  const key = generateSigningKey('ecdsa-p256');

  it('long (pax) and non-ASCII NFC paths survive GNU tar and verify', async () => {
    const deep = `data/raw/sboms/${'registry.example/'.repeat(10)}app@sha256-${'0'.repeat(64)}/sbom.json`;
    const nonAscii = 'data/raw/advisories/übersicht-é.jsonl.zst';
    expect(Buffer.byteLength(deep)).toBeGreaterThan(255);
    const b = await writeMirrorBundle(out('paths.tar.zst'), { key, files: [{ path: deep, content: '{}\n' }, { path: nonAscii, content: 'x\n' }, { path: `data/${'y'.repeat(120)}.json`, content: '{}' }] });
    const names = execFileSync('sh', ['-c', 'zstd -q -dc "$1" | tar -t', 'sh', b.file]).toString('utf8').split('\n');
    expect(names).toContain(`mirror/${deep}`);
    expect(names).toContain(`mirror/${nonAscii}`);
    const v = await verifyPath(b.file, { keys: trust(key) });
    expect(v.ok, v.message).toBe(true);
    expect(v.stats.files).toBe(4);
  });

  it('a whole-file age kit verifies with the identity, and not without it', async () => {
    const kit = await writeKit(out('kit-age'), {
      key,
      mirror: [
        { files: samplePayload({ parts: 2 }), age: { recipients: [AGE_RECIPIENT] } },
        { files: [{ path: 'data/a.json', content: '{}' }], age: { recipients: [AGE_RECIPIENT] } },
      ],
    });
    expect(kit.manifest.entries.map((e) => e.path)).toEqual(['mirror/mirror-20251029-full.tar.zst.age', 'mirror/mirror-20251030-delta.tar.zst.age']);
    const v = await verifyPath(kit.dir, { keys: trust(key), identities: [AGE_IDENTITY] });
    expect(v.ok, v.message).toBe(true);
    const without = await verifyPath(kit.dir, { keys: trust(key) });
    expect(without.ok).toBe(false);
    expect(without.code).toBe('ERR_DECRYPT_NO_RECIPIENT');
  });

  const chain = () => [{ files: samplePayload({ parts: 2 }) }, { files: [{ path: 'data/b.json', content: '{"g":2}' }] }, { files: [{ path: 'data/b.json', content: '{"g":3}' }] }];

  it('kit tampers: manifest changed after signing, missing signature, entry digest, entry exportId', async () => {
    const changed = await writeKit(out('kit-t1'), { key, mirror: chain(), tamper: { manifestAfterSigning: (b) => Buffer.from(b.toString('utf8').replace(/"createdAt": "[^"]+"/, '"createdAt": "2030-01-01T00:00:00Z"')) } });
    expect((await verifyPath(changed.dir, { keys: trust(key) })).code).toBe('ERR_VERIFY_SIGNATURE');
    const unsigned = await writeKit(out('kit-t2'), { key, mirror: chain(), tamper: { omitSignature: true } });
    expect((await verifyPath(unsigned.dir, { keys: trust(key) })).code).toBe('ERR_VERIFY_SIGNATURE');
    const digest = await writeKit(out('kit-t3'), { key, mirror: chain(), tamper: { entries: (es) => es.map((e, i) => (i === 1 ? { ...e, sha256: '0'.repeat(64) } : e)) } });
    expect((await verifyPath(digest.dir, { keys: trust(key) })).code).toBe('ERR_VERIFY_DIGEST');
    const id = await writeKit(out('kit-t4'), { key, mirror: chain(), tamper: { entries: (es) => es.map((e, i) => (i === 2 ? { ...e, exportId: 'exp-someone-else' } : e)) } });
    expect((await verifyPath(id.dir, { keys: trust(key) })).code).toBe('ERR_BUNDLE_CORRUPT');
  });

  it('a kit with a gap in its delta chain is an ordering failure; unlisted files are a warning', async () => {
    const gap = await writeKit(out('kit-gap'), {
      key,
      mirror: chain(),
      tamper: { entries: (es) => es.filter((e) => e.generation !== 2) },
    });
    const v = await verifyPath(gap.dir, { keys: trust(key) });
    expect(v.ok).toBe(false);
    expect(v.code, v.message).toBe('ERR_EXPORT_BASE_MISSING');
    const extra = await writeKit(out('kit-extra'), { key, mirror: chain(), extraFiles: { 'notes.txt': 'hello' } });
    const ev = await verifyPath(extra.dir, { keys: trust(key) });
    expect(ev.ok, ev.message).toBe(true);
    expect(ev.warnings.some((w) => w.includes('notes.txt'))).toBe(true);
  });
});
