/**
 * Self-checks of the producer against the contract, using independent tools
 * (GNU tar, the zstd and age CLIs, OpenSSL) the way the fixture kits were made
 * and checked, and against the fixture kits' own shape.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createDecipheriv, createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { KITS, tempDir } from '../testing/fixtures';
import { loadPublicKey, verifyDetached } from '../verify/keys';
import {
  contentBytes,
  digestContent,
  fnv1a64,
  generateSigningKey,
  generatedPayload,
  minimalBbolt,
  nextState,
  samplePayload,
  signBlob,
  SIGNING_ALGORITHMS,
  stateDigest,
  writeKit,
  writeMirrorBundle,
  writeTrivyBundle,
  type KitResult,
  type StateEntry,
} from './index';

const AGE_IDENTITY_FILE = join(KITS, 'test-age-identity.txt');
const AGE_RECIPIENT = readFileSync(AGE_IDENTITY_FILE, 'utf8').match(/public key: (age1[0-9a-z]+)/)![1];

let tmp: { dir: string; cleanup: () => void };
beforeAll(() => {
  tmp = tempDir('okc-producer-');
});
afterAll(() => tmp.cleanup());

function sh(cmd: string, args: string[], input?: Buffer): Buffer {
  return execFileSync(cmd, args, { input, maxBuffer: 1 << 28 });
}

/** Extracts a .tar.zst with the zstd and tar CLIs into a fresh folder; returns it. */
function extract(bundle: string, name: string): string {
  const out = join(tmp.dir, name);
  mkdirSync(out, { recursive: true });
  execFileSync('sh', ['-c', `zstd -q -dc "$1" | tar -x -C "$2"`, 'sh', bundle, out]);
  return out;
}

function listTar(bundle: string): string[] {
  return sh('sh', ['-c', `zstd -q -dc "$1" | tar -t`, 'sh', bundle]).toString('utf8').split('\n').filter(Boolean);
}

function listTarVerbose(bundle: string): string[] {
  return sh('sh', ['-c', `zstd -q -dc "$1" | tar -tv`, 'sh', bundle]).toString('utf8').split('\n').filter(Boolean);
}

/** openssl's verdict on a cosign-style signature (base64 text) over a file. */
function opensslVerify(alg: string, pubPem: string, sigB64: string, dataFile: string): boolean {
  const pub = join(tmp.dir, `pub-${createHash('sha256').update(pubPem).digest('hex').slice(0, 8)}.pem`);
  writeFileSync(pub, pubPem);
  const sig = `${dataFile}.sigder`;
  writeFileSync(sig, Buffer.from(sigB64.trim(), 'base64'));
  let args: string[];
  if (alg === 'ed25519') args = ['pkeyutl', '-verify', '-pubin', '-inkey', pub, '-rawin', '-in', dataFile, '-sigfile', sig];
  else if (alg === 'ecdsa-p384') args = ['dgst', '-sha384', '-verify', pub, '-signature', sig, dataFile];
  else if (alg === 'rsa-pss') args = ['dgst', '-sha256', '-sigopt', 'rsa_padding_mode:pss', '-verify', pub, '-signature', sig, dataFile];
  else args = ['dgst', '-sha256', '-verify', pub, '-signature', sig, dataFile];
  return spawnSync('openssl', args).status === 0;
}

/** Every regular file under dir with its sha256/size (a staging tree's state). */
function treeState(dir: string): StateEntry[] {
  const out: StateEntry[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = lstatSync(p);
      if (st.isDirectory()) walk(p);
      else out.push({ path: relative(dir, p), sha256: createHash('sha256').update(readFileSync(p)).digest('hex'), size: st.size });
    }
  };
  walk(dir);
  return out;
}

const CONTROL = /^(export\.json|manifest\.yaml|provenance\.json|signatures\/|delta\/)/;

describe('signing keys', () => {
  it.each(SIGNING_ALGORITHMS)('%s: openssl and the verification engine accept the signature; a flipped byte is refused', (alg) => {
    const key = generateSigningKey(alg);
    const data = Buffer.from(`blob for ${alg}\n`);
    const file = join(tmp.dir, `blob-${alg}`);
    writeFileSync(file, data);
    const sig = signBlob(key, data);
    expect(opensslVerify(alg, key.publicPem, sig, file)).toBe(true);
    const trusted = loadPublicKey(key.publicPem);
    expect(trusted.fingerprint).toBe(key.fingerprint);
    expect(verifyDetached(data, sig, [trusted]).ok).toBe(true);
    const other = Buffer.from(data);
    other[0] ^= 1;
    expect(verifyDetached(other, sig, [trusted]).ok).toBe(false);
    // The fingerprint is sha256 over the DER SPKI, as openssl computes it.
    const pub = join(tmp.dir, `fp-${alg}.pem`);
    writeFileSync(pub, key.publicPem);
    const der = sh('openssl', ['pkey', '-pubin', '-in', pub, '-outform', 'DER']);
    expect(key.fingerprint).toBe(`sha256:${createHash('sha256').update(der).digest('hex')}`);
  });
});

describe('generated content', () => {
  it('is deterministic per seed, differs across seeds, and is incompressible', () => {
    const a = digestContent({ size: 3 << 20, seed: 'x' }, null);
    const b = digestContent({ size: 3 << 20, seed: 'x' }, null);
    const c = digestContent({ size: 3 << 20, seed: 'y' }, null);
    expect(a).toEqual(b);
    expect(a.sha256).not.toBe(c.sha256);
    expect(a.size).toBe(3 << 20);
    const sample = contentBytes({ size: 1 << 20, seed: 'z' });
    const compressed = sh('zstd', ['-q', '-c', '-3'], sample);
    expect(compressed.length).toBeGreaterThan(sample.length * 0.99);
    const text = contentBytes({ size: 1 << 20, seed: 'z', kind: 'text' });
    expect(text.length).toBe(1 << 20);
    expect(sh('zstd', ['-q', '-c', '-3'], text).length).toBeLessThan(text.length / 5);
  });
});

describe('a kit (full + 2 deltas + Trivy DB), checked with tar, zstd, sha256 and openssl', () => {
  let kit: KitResult;
  const key = generateSigningKey('ecdsa-p256');
  beforeAll(async () => {
    const full = samplePayload({ parts: 12, partSize: 2048, seed: 'g1' });
    kit = await writeKit(join(tmp.dir, 'kit'), {
      key,
      mirror: [
        { files: [...full, { path: 'data/raw/advisories/big.jsonl.zst', content: { size: 2_500_000, seed: 'big' } }] },
        {
          files: [
            { path: 'data/raw/advisories/part-00000.jsonl.zst', content: { size: 2048, seed: 'g2-changed', kind: 'text' } },
            { path: 'data/raw/advisories/new-2.jsonl.zst', content: 'new in 2\n' },
          ],
          removed: ['data/normalized/vex/part-00003.jsonl.zst'],
        },
        { files: [{ path: 'data/raw/vex/part-00001.jsonl.zst', content: 'changed in 3\n' }], removed: [], order: 'shuffle' },
      ],
      trivy: [{ kind: 'trivy-db' }, { kind: 'trivy-java-db' }],
      extraFiles: { 'notes/unlisted.txt': 'not in the manifest\n' },
    });
  });

  it('lays the kit out as the contract and the fixture kits do', () => {
    const fixture = JSON.parse(readFileSync(join(KITS, 'ecdsa-p256/offline-manifest.json'), 'utf8'));
    const mine = JSON.parse(readFileSync(join(kit.dir, 'offline-manifest.json'), 'utf8'));
    expect(Object.keys(mine).sort()).toEqual(Object.keys(fixture).sort());
    expect(mine.kitVersion).toBe(1);
    const paths = mine.entries.map((e: { path: string }) => e.path);
    expect(paths).toEqual([...paths].sort());
    expect(paths).toEqual([
      'mirror/mirror-20251029-full.tar.zst',
      'mirror/mirror-20251030-delta.tar.zst',
      'mirror/mirror-20251031-delta.tar.zst',
      'trivy/db.bundle',
      'trivy/java-db.bundle',
    ]);
    for (const e of mine.entries) {
      const bytes = readFileSync(join(kit.dir, e.path));
      expect(e.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
      expect(e.size).toBe(bytes.length);
      if (e.kind.startsWith('mirror')) {
        const exp = JSON.parse(execFileSync('sh', ['-c', `zstd -q -dc "$1" | tar -xO mirror/export.json`, 'sh', join(kit.dir, e.path)]).toString('utf8'));
        expect([exp.exportId, exp.generation]).toEqual([e.exportId, e.generation]);
      } else {
        expect(existsSync(join(kit.dir, e.signature))).toBe(true);
      }
    }
    expect(readFileSync(join(kit.dir, 'keys/export-center.pub'), 'utf8')).toBe(key.publicPem);
    expect(existsSync(join(kit.dir, 'notes/unlisted.txt'))).toBe(true);
    const sig = readFileSync(join(kit.dir, 'offline-manifest.json.sig'), 'utf8');
    expect(opensslVerify('ecdsa-p256', key.publicPem, sig, join(kit.dir, 'offline-manifest.json'))).toBe(true);
  });

  it('every mirror bundle: members under mirror/, digests match export.json, signatures verify with openssl', () => {
    const fixtureExport = JSON.parse(
      execFileSync('sh', ['-c', `zstd -q -dc "$1" | tar -xO mirror/export.json`, 'sh', join(KITS, 'ecdsa-p256/mirror/mirror-20251029-full.tar.zst')]).toString('utf8'),
    );
    for (const [i, b] of kit.mirror.entries()) {
      const names = listTar(b.file);
      expect(names.every((n) => n.startsWith('mirror/'))).toBe(true);
      expect(new Set(names).size).toBe(names.length);
      const verbose = listTarVerbose(b.file);
      expect(verbose.every((l) => l.startsWith('-') || l.startsWith('d'))).toBe(true);
      const dir = extract(b.file, `x-${i}`);
      const m = join(dir, 'mirror');
      const exp = JSON.parse(readFileSync(join(m, 'export.json'), 'utf8'));
      expect(Object.keys(exp).sort()).toEqual(Object.keys(fixtureExport).sort());
      expect(readFileSync(join(m, 'export.json'))).toEqual(b.exportJsonBytes);
      // Payload in the tar == files[] exactly; each digest and size matches.
      const payload = names.filter((n) => !n.endsWith('/')).map((n) => n.slice('mirror/'.length)).filter((n) => !CONTROL.test(n)).sort();
      expect(payload).toEqual(exp.files.map((f: { path: string }) => f.path));
      for (const f of exp.files) {
        const bytes = readFileSync(join(m, f.path));
        expect(bytes.length).toBe(f.size);
        expect(createHash('sha256').update(bytes).digest('hex')).toBe(f.sha256);
      }
      expect(opensslVerify('ecdsa-p256', key.publicPem, readFileSync(join(m, 'signatures/export.sig'), 'utf8'), join(m, 'export.json'))).toBe(true);
      expect(opensslVerify('ecdsa-p256', key.publicPem, readFileSync(join(m, 'signatures/manifest.sig'), 'utf8'), join(m, 'manifest.yaml'))).toBe(true);
      const prov = JSON.parse(readFileSync(join(m, 'provenance.json'), 'utf8'));
      expect(prov._type).toBe('https://in-toto.io/Statement/v1');
      const subj = Object.fromEntries(prov.subject.map((s: { name: string; digest: { sha256: string } }) => [s.name, s.digest.sha256]));
      expect(subj['export.json']).toBe(createHash('sha256').update(readFileSync(join(m, 'export.json'))).digest('hex'));
      expect(subj['manifest.yaml']).toBe(createHash('sha256').update(readFileSync(join(m, 'manifest.yaml'))).digest('hex'));
      if (i > 0) {
        const prev = kit.mirror[i - 1];
        expect(exp.base).toEqual({ exportId: prev.exportId, generation: prev.generation, manifestDigest: `sha256:${createHash('sha256').update(prev.exportJsonBytes).digest('hex')}` });
        const diff = JSON.parse(readFileSync(join(m, 'delta/manifest.diff.json'), 'utf8'));
        expect(diff.baseExportId).toBe(prev.exportId);
        expect(diff.baseManifestHash).toBe(exp.base.manifestDigest);
        expect([...diff.added, ...diff.changed].sort()).toEqual(exp.files.map((f: { path: string }) => f.path));
        expect(diff.removed).toEqual(exp.removed);
        const tomb = readFileSync(join(m, 'delta/tombstones.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l).path);
        expect(tomb).toEqual(exp.removed);
      } else {
        expect(exp.base).toBeNull();
        expect(existsSync(join(m, 'delta'))).toBe(false);
      }
    }
  });

  it('applying full then deltas by hand gives a tree that hashes to each state.digest', () => {
    let tree: StateEntry[] = [];
    for (const [i, b] of kit.mirror.entries()) {
      const m = join(extract(b.file, `apply-${i}`), 'mirror');
      const exp = JSON.parse(readFileSync(join(m, 'export.json'), 'utf8'));
      const got = treeState(m).filter((e) => !CONTROL.test(e.path));
      tree = nextState(i === 0 ? [] : tree, { files: got, removed: exp.removed });
      expect(stateDigest(tree)).toBe(exp.state.digest);
      expect(tree.length).toBe(exp.state.fileCount);
      expect(tree.reduce((n, e) => n + e.size, 0)).toBe(exp.state.totalBytes);
    }
  });

  it('Trivy bundles: gzip tar with metadata.json and a database that passes its format check', () => {
    for (const t of kit.trivy) {
      const names = sh('tar', ['-tzf', t.file]).toString('utf8').split('\n').filter(Boolean);
      const dbName = t.kind === 'trivy-db' ? 'trivy.db' : 'trivy-java.db';
      expect(names).toEqual(['metadata.json', dbName]);
      const meta = JSON.parse(sh('tar', ['-xzOf', t.file, 'metadata.json']).toString('utf8'));
      expect(meta.Version).toBe(t.kind === 'trivy-db' ? 2 : 1);
      expect(opensslVerify('ecdsa-p256', key.publicPem, readFileSync(t.signatureFile, 'utf8'), t.file)).toBe(true);
      const db = sh('tar', ['-xzOf', t.file, dbName]);
      if (t.kind === 'trivy-db') {
        const pageSize = db.readUInt32LE(16 + 8);
        for (const p of [0, 1]) {
          const m = p * pageSize + 16;
          expect(db.readUInt32LE(m)).toBe(0xed0cdaed);
          expect(db.readUInt32LE(m + 4)).toBe(2);
          expect(db.readBigUInt64LE(m + 56)).toBe(fnv1a64(db.subarray(m, m + 56)));
        }
      } else {
        const f = join(tmp.dir, 'java.db');
        writeFileSync(f, db);
        expect(db.subarray(0, 16).toString('latin1')).toBe('SQLite format 3\0');
        expect(sh('sqlite3', ['-readonly', f, 'PRAGMA quick_check;']).toString('utf8').trim()).toBe('ok');
        const conn = new Database(f, { readonly: true });
        expect((conn.prepare('SELECT count(*) AS n FROM indices').get() as { n: number }).n).toBe(2);
        conn.close();
      }
    }
  });
});

describe('encryption', () => {
  it('whole-file age: the age CLI decrypts it with the fixture identity to a readable .tar.zst', async () => {
    const key = generateSigningKey('ed25519');
    const b = await writeMirrorBundle(join(tmp.dir, 'whole/mirror-20251029-full.tar.zst.age'), { key, files: samplePayload({ parts: 3 }), age: { recipients: [AGE_RECIPIENT] } });
    expect(readFileSync(b.file).subarray(0, 21).toString('latin1')).toBe('age-encryption.org/v1');
    const plain = join(tmp.dir, 'whole/plain.tar.zst');
    execFileSync('age', ['-d', '-i', AGE_IDENTITY_FILE, '-o', plain, b.file]);
    const m = join(extract(plain, 'whole-x'), 'mirror');
    expect(readFileSync(join(m, 'export.json'))).toEqual(b.exportJsonBytes);
    expect(opensslVerify('ed25519', key.publicPem, readFileSync(join(m, 'signatures/export.sig'), 'utf8'), join(m, 'export.json'))).toBe(true);
  });

  it('per-file AES-256-GCM: stored digests match, the wrapped DEK opens with age, plaintext digests match', async () => {
    const key = generateSigningKey('ed25519');
    const b = await writeMirrorBundle(join(tmp.dir, 'perfile/b.tar.zst'), {
      key,
      files: [...samplePayload({ parts: 4 }), { path: 'data/raw/advisories/big.bin', content: { size: 3_000_123, seed: 'enc' } }],
      encryption: { recipients: [AGE_RECIPIENT], keyId: 'ops-2025' },
    });
    const m = join(extract(b.file, 'perfile-x'), 'mirror');
    const exp = JSON.parse(readFileSync(join(m, 'export.json'), 'utf8'));
    expect(exp.encryption).toEqual({ mode: 'age', paths: 'data/**' });
    const prov = JSON.parse(readFileSync(join(m, 'provenance.json'), 'utf8'));
    const encInfo = prov.predicate.environment.encryption;
    expect(encInfo).toMatchObject({ mode: 'age', aadFormat: '{runId}:{relativePath}', nonceFormat: 'prefix-12', paths: 'data/**' });
    const wrapped = join(tmp.dir, 'perfile/dek.age');
    writeFileSync(wrapped, Buffer.from(encInfo.recipients[0].wrappedKey, 'base64'));
    const dek = sh('age', ['-d', '-i', AGE_IDENTITY_FILE, wrapped]);
    expect(dek.length).toBe(32);
    let encrypted = 0;
    for (const f of exp.files) {
      const stored = readFileSync(join(m, f.path));
      if (!f.path.startsWith('data/')) {
        expect(f.storedSha256).toBeUndefined();
        expect(createHash('sha256').update(stored).digest('hex')).toBe(f.sha256);
        continue;
      }
      encrypted++;
      expect(stored.length).toBe(f.storedSize);
      expect(createHash('sha256').update(stored).digest('hex')).toBe(f.storedSha256);
      const d = createDecipheriv('aes-256-gcm', dek, stored.subarray(0, 12));
      d.setAAD(Buffer.from(`${exp.runId}:${f.path}`));
      d.setAuthTag(stored.subarray(stored.length - 16));
      const plain = Buffer.concat([d.update(stored.subarray(12, stored.length - 16)), d.final()]);
      expect(plain.length).toBe(f.size);
      expect(createHash('sha256').update(plain).digest('hex')).toBe(f.sha256);
    }
    expect(encrypted).toBeGreaterThan(4);
  });
});

describe('tamper variants are what they claim', () => {
  const key = generateSigningKey('ed25519');
  const files = samplePayload({ parts: 3 });

  it('unsafe members appear in the tar as such', async () => {
    const b = await writeMirrorBundle(join(tmp.dir, 't/unsafe.tar.zst'), {
      key,
      files,
      tamper: { symlinkMember: true, hardlinkMember: true, traversalMember: 'mirror/../../../tmp/okc-x', absoluteMember: '/tmp/okc-abs', deviceMember: 'fifo', outsideMirror: true, duplicateMember: 'data/policy/snapshot.json' },
    });
    const v = listTarVerbose(b.file).join('\n');
    expect(v).toMatch(/^l.* mirror\/data\/link -> \/etc\/passwd$/m);
    expect(v).toMatch(/^h.* mirror\/data\/hard link to mirror\/README\.md$/m);
    expect(v).toMatch(/^p.* mirror\/data\/device$/m);
    const names = listTar(b.file);
    expect(names).toContain('mirror/../../../tmp/okc-x');
    expect(names).toContain('/tmp/okc-abs');
    expect(names).toContain('outside/file.txt');
    expect(names.filter((n) => n === 'mirror/data/policy/snapshot.json')).toHaveLength(2);
  });

  it('content tampers: listed-but-missing, unlisted, flipped byte, wrong size', async () => {
    const b = await writeMirrorBundle(join(tmp.dir, 't/content.tar.zst'), {
      key,
      files,
      tamper: { omitMember: 'indexes/vex.index.json', extraMember: 'data/extra.bin', flipByteIn: 'data/policy/snapshot.json', wrongSize: 'indexes/advisories.index.json' },
    });
    const m = join(extract(b.file, 't-content'), 'mirror');
    const exp = JSON.parse(readFileSync(join(m, 'export.json'), 'utf8'));
    const byPath = new Map(exp.files.map((f: { path: string }) => [f.path, f]));
    expect(byPath.has('indexes/vex.index.json')).toBe(true);
    expect(existsSync(join(m, 'indexes/vex.index.json'))).toBe(false);
    expect(byPath.has('data/extra.bin')).toBe(false);
    expect(existsSync(join(m, 'data/extra.bin'))).toBe(true);
    const snap = byPath.get('data/policy/snapshot.json') as { sha256: string; size: number };
    const snapBytes = readFileSync(join(m, 'data/policy/snapshot.json'));
    expect(snapBytes.length).toBe(snap.size);
    expect(createHash('sha256').update(snapBytes).digest('hex')).not.toBe(snap.sha256);
    const adv = byPath.get('indexes/advisories.index.json') as { size: number };
    expect(statSync(join(m, 'indexes/advisories.index.json')).size).toBe(adv.size - 1);
    // Still validly signed: these are content failures, not signature failures.
    expect(opensslVerify('ed25519', key.publicPem, readFileSync(join(m, 'signatures/export.sig'), 'utf8'), join(m, 'export.json'))).toBe(true);
  });

  it('signature and schema tampers', async () => {
    const other = generateSigningKey('ed25519');
    const wrong = await writeMirrorBundle(join(tmp.dir, 't/wrongkey.tar.zst'), { key, files, tamper: { signWith: other } });
    const m1 = join(extract(wrong.file, 't-wk'), 'mirror');
    const sig1 = readFileSync(join(m1, 'signatures/export.sig'), 'utf8');
    expect(opensslVerify('ed25519', key.publicPem, sig1, join(m1, 'export.json'))).toBe(false);
    expect(opensslVerify('ed25519', other.publicPem, sig1, join(m1, 'export.json'))).toBe(true);

    const after = await writeMirrorBundle(join(tmp.dir, 't/after.tar.zst'), { key, files, tamper: { exportJsonAfterSigning: (b) => Buffer.from(b.toString('utf8').replace('"generation": 1', '"generation": 9')) } });
    const m2 = join(extract(after.file, 't-after'), 'mirror');
    expect(JSON.parse(readFileSync(join(m2, 'export.json'), 'utf8')).generation).toBe(9);
    expect(opensslVerify('ed25519', key.publicPem, readFileSync(join(m2, 'signatures/export.sig'), 'utf8'), join(m2, 'export.json'))).toBe(false);

    const v2 = await writeMirrorBundle(join(tmp.dir, 't/v2.tar.zst'), { key, files, tamper: { schemaVersion: 2, unsortedFiles: true } });
    const m3 = join(extract(v2.file, 't-v2'), 'mirror');
    const exp = JSON.parse(readFileSync(join(m3, 'export.json'), 'utf8'));
    expect(exp.schemaVersion).toBe(2);
    const paths = exp.files.map((f: { path: string }) => f.path);
    expect(paths).not.toEqual([...paths].sort());
    expect(opensslVerify('ed25519', key.publicPem, readFileSync(join(m3, 'signatures/export.sig'), 'utf8'), join(m3, 'export.json'))).toBe(true);
  });

  it('delta tampers: tombstones and diff', async () => {
    const full = await writeMirrorBundle(join(tmp.dir, 't/full.tar.zst'), { key, files });
    const removed = ['indexes/vex.index.json', 'data/policy/snapshot.json'];
    const d = await writeMirrorBundle(join(tmp.dir, 't/delta.tar.zst'), { key, base: full, files: [], removed, tamper: { dropTombstone: 'data/policy/snapshot.json', extraTombstone: 'data/x' } });
    const m = join(extract(d.file, 't-delta'), 'mirror');
    const tomb = readFileSync(join(m, 'delta/tombstones.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l).path);
    expect(tomb).toEqual(['indexes/vex.index.json', 'data/x']);
    const nodiff = await writeMirrorBundle(join(tmp.dir, 't/nodiff.tar.zst'), { key, base: full, files: [], tamper: { noDiff: true } });
    expect(listTar(nodiff.file)).not.toContain('mirror/delta/manifest.diff.json');
    expect(listTar(nodiff.file)).toContain('mirror/delta/tombstones.jsonl');
  });

  it('truncate gives a zstd stream that does not decode', async () => {
    const b = await writeMirrorBundle(join(tmp.dir, 't/trunc.tar.zst'), { key, files: generatedPayload(4, 200_000), tamper: { truncate: true } });
    expect(spawnSync('zstd', ['-q', '-t', b.file]).status).not.toBe(0);
    expect(b.rawSize).toBe(statSync(b.file).size);
  });

  it('Trivy corruptions', () => {
    const bad = minimalBbolt({ corrupt: 'checksum' });
    expect(bad.readBigUInt64LE(16 + 56)).not.toBe(fnv1a64(bad.subarray(16, 72)));
    const good = minimalBbolt();
    expect(good.readBigUInt64LE(16 + 56)).toBe(fnv1a64(good.subarray(16, 72)));
    const t = writeTrivyBundle(join(tmp.dir, 't/db.bundle'), { kind: 'trivy-db', key, corrupt: 'bbolt-magic' });
    const db = sh('tar', ['-xzOf', t.file, 'trivy.db']);
    expect(db.readUInt32LE(16)).not.toBe(0xed0cdaed);
    const v3 = writeTrivyBundle(join(tmp.dir, 't/db3.bundle'), { kind: 'trivy-db', key, version: 3 });
    expect(JSON.parse(sh('tar', ['-xzOf', v3.file, 'metadata.json']).toString('utf8')).Version).toBe(3);
  });
});

describe('member order and streaming', () => {
  it('sorted, control-first and shuffled orders carry the same export.json and digests', async () => {
    const key = generateSigningKey('ed25519');
    const files = samplePayload({ parts: 6 });
    const runs = [];
    for (const order of ['payload-first', 'control-first', 'sorted', 'shuffle'] as const) {
      runs.push(await writeMirrorBundle(join(tmp.dir, `o/${order}.tar.zst`), { key, files, order }));
    }
    for (const r of runs) expect(r.exportJsonBytes).toEqual(runs[0].exportJsonBytes);
    const names = runs.map((r) => listTar(r.file));
    expect(names[1].findIndex((n) => n === 'mirror/export.json')).toBeLessThan(names[1].findIndex((n) => n.startsWith('mirror/data/') && !n.endsWith('/')));
    expect(names[0].findIndex((n) => n === 'mirror/export.json')).toBeGreaterThan(names[0].findIndex((n) => n.startsWith('mirror/data/') && !n.endsWith('/')));
    expect(names[2]).toEqual([...names[2]].sort());
    expect(names[3]).not.toEqual(names[0]);
    expect([...names[3]].sort()).toEqual([...names[0]].sort());
  });
});

describe('input checks', () => {
  it('refuses unsafe, control and duplicate payload paths with a clear message', async () => {
    const key = generateSigningKey('ed25519');
    const f = (path: string) => ({ path, content: 'x' });
    await expect(writeMirrorBundle(join(tmp.dir, 'bad1.tar.zst'), { key, files: [f('../etc/passwd')] })).rejects.toThrow(/climbs out/);
    await expect(writeMirrorBundle(join(tmp.dir, 'bad2.tar.zst'), { key, files: [f('/abs')] })).rejects.toThrow(/absolute/);
    await expect(writeMirrorBundle(join(tmp.dir, 'bad3.tar.zst'), { key, files: [f('signatures/x.sig')] })).rejects.toThrow(/control path/);
    await expect(writeMirrorBundle(join(tmp.dir, 'bad4.tar.zst'), { key, files: [f('data/a'), f('data/a')] })).rejects.toThrow(/given twice/);
    await expect(writeMirrorBundle(join(tmp.dir, 'bad5.tar.zst'), { key, files: [], variant: 'delta' })).rejects.toThrow(/needs a base/);
  });
});

describe('kit file names', () => {
  it('two bundles of the same day get distinct names', async () => {
    const key = generateSigningKey('ed25519');
    const kit = await writeKit(join(tmp.dir, 'kit-names'), {
      key,
      mirror: [
        { files: samplePayload({ parts: 1 }), createdAt: '2025-11-01T01:00:00Z' },
        { files: [{ path: 'data/a', content: 'a' }], createdAt: '2025-11-01T02:00:00Z' },
        { files: [{ path: 'data/b', content: 'b' }], createdAt: '2025-11-01T03:00:00Z' },
      ],
    });
    expect(kit.manifest.entries.map((e) => e.path)).toEqual([
      'mirror/mirror-20251101-delta-g3.tar.zst',
      'mirror/mirror-20251101-delta.tar.zst',
      'mirror/mirror-20251101-full.tar.zst',
    ]);
    expect(kit.manifest.entries.map((e) => e.generation)).toEqual([3, 2, 1]);
  });
});
