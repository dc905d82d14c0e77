/**
 * Trivy DB bundles: the fixture kits read in place, and broken bundles built at
 * run time (a hand-written ustar writer for unsafe members, Debian tar for
 * interop), signed with keys generated here.
 */
import { execFileSync } from 'node:child_process';
import { createHash, generateKeyPairSync, sign as cryptoSign, constants, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { generateSigningKey } from '../producer/keys';
import { writeTrivyBundle } from '../producer/trivy';
import { FIXTURES, KITS, tempDir } from '../testing/fixtures';
import { writeMinimalBbolt } from './bbolt';
import { loadPublicKey, type TrustedKey } from './keys';
import { TRIVY_UNSUPPORTED_SCHEMA_EVENT, trivyLogEvents, verifyTrivyBundle } from './trivy';

const tmp = tempDir('okc-trivy-test-');
afterAll(() => tmp.cleanup());
let seq = 0;
const fresh = (name: string) => {
  const d = join(tmp.dir, `${++seq}-${name}`);
  mkdirSync(d, { recursive: true });
  return d;
};

const pinned = (file: string): TrustedKey => loadPublicKey(readFileSync(file, 'utf8'), 'cli');
const UPSTREAM_BBOLT = readFileSync(join(FIXTURES, 'trivy-upstream', 'trivy.db'));
const UPSTREAM_SQLITE = readFileSync(join(FIXTURES, 'trivy-upstream', 'trivy-java.db'));
const FUTURE = '2999-01-01T00:00:00Z';

// ---- a minimal ustar writer, so that tests control every header field ----
function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}
interface Member {
  name: string;
  data?: Buffer;
  /** ustar typeflag: '0' file, '1' hard link, '2' symlink, '3' char dev, '5' dir, '6' FIFO. */
  type?: string;
  linkname?: string;
}
function tarMember(m: Member): Buffer {
  const data = m.data ?? Buffer.alloc(0);
  const h = Buffer.alloc(512);
  h.write(m.name, 0, 100, 'utf8');
  h.write(octal(m.type === '5' ? 0o755 : 0o644, 8), 100, 'latin1');
  h.write(octal(0, 8), 108, 'latin1');
  h.write(octal(0, 8), 116, 'latin1');
  h.write(octal(m.type === '0' || m.type === undefined ? data.length : 0, 12), 124, 'latin1');
  h.write(octal(0, 12), 136, 'latin1');
  h.write('        ', 148, 'latin1');
  h.write(m.type ?? '0', 156, 'latin1');
  if (m.linkname) h.write(m.linkname, 157, 100, 'utf8');
  h.write('ustar\0', 257, 'latin1');
  h.write('00', 263, 'latin1');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + ' ', 148, 'latin1');
  const body = m.type === '0' || m.type === undefined ? data : Buffer.alloc(0);
  const pad = Buffer.alloc((512 - (body.length % 512)) % 512);
  return Buffer.concat([h, body, pad]);
}
function tarGz(members: Member[]): Buffer {
  return gzipSync(Buffer.concat([...members.map(tarMember), Buffer.alloc(1024)]));
}

function metadata(version: number, nextUpdate = FUTURE, extra: Record<string, unknown> = {}): Buffer {
  return Buffer.from(JSON.stringify({ Version: version, NextUpdate: nextUpdate, UpdatedAt: '2025-10-29T00:00:00Z', DownloadedAt: '2025-10-29T01:00:00Z', ...extra }, null, 2));
}

// ---- signing keys generated at run time ----
interface Signer {
  trusted: TrustedKey;
  sign: (data: Buffer) => string;
}
function makeSigner(type: 'p256' | 'p384' | 'ed25519' | 'rsa-pkcs1' | 'rsa-pss'): Signer {
  let priv: KeyObject;
  let pub: KeyObject;
  let sign: (d: Buffer) => Buffer;
  if (type === 'p256' || type === 'p384') {
    ({ privateKey: priv, publicKey: pub } = generateKeyPairSync('ec', { namedCurve: type === 'p256' ? 'prime256v1' : 'secp384r1' }));
    sign = (d) => cryptoSign(type === 'p256' ? 'sha256' : 'sha384', d, { key: priv, dsaEncoding: 'der' });
  } else if (type === 'ed25519') {
    ({ privateKey: priv, publicKey: pub } = generateKeyPairSync('ed25519'));
    sign = (d) => cryptoSign(null, d, priv);
  } else {
    ({ privateKey: priv, publicKey: pub } = generateKeyPairSync('rsa', { modulusLength: 2048 }));
    const padding = type === 'rsa-pss' ? constants.RSA_PKCS1_PSS_PADDING : constants.RSA_PKCS1_PADDING;
    sign = (d) => cryptoSign('sha256', d, { key: priv, padding, ...(type === 'rsa-pss' ? { saltLength: 32 } : {}) });
  }
  const pem = pub.export({ type: 'spki', format: 'pem' }).toString();
  return { trusted: loadPublicKey(pem, 'cli'), sign: (d) => sign(d).toString('base64') + '\n' };
}
const signer = makeSigner('p256');

/** Writes a bundle (and its signature beside it, as cosign would) into a fresh folder. */
function writeBundle(bytes: Buffer, name = 'db.bundle', by: Signer = signer): { file: string; sig: string; dir: string } {
  const dir = fresh('bundle');
  const file = join(dir, name);
  writeFileSync(file, bytes);
  const sig = join(dir, name.includes('java') ? 'trivy-java-db.sig' : 'trivy-db.sig');
  writeFileSync(sig, by.sign(bytes));
  return { file, sig, dir };
}

const goodDb = (meta = metadata(2), db = writeMinimalBbolt()): Member[] => [
  { name: 'metadata.json', data: meta },
  { name: 'trivy.db', data: db },
];

describe('Trivy bundles of the fixture kits', () => {
  it('verifies the upstream trivy.db (bbolt) bundle, finding its signature in the kit', async () => {
    const v = await verifyTrivyBundle(join(KITS, 'trivy-upstream', 'trivy', 'db.bundle'), { keys: [pinned(join(KITS, 'trivy-upstream.trusted.pub'))] });
    expect(v.failures ?? [], v.message).toEqual([]);
    expect(v).toMatchObject({ ok: true, code: null, kind: 'trivy-db', action: null });
    expect(v.keys?.signedBy).toEqual([pinned(join(KITS, 'trivy-upstream.trusted.pub')).fingerprint]);
    expect(v.checks.find((c) => c.name === 'database')?.detail).toMatch(/bbolt, page size 4096/);
    // NextUpdate 2025-10-30 lies in the past: a warning, not a refusal.
    expect(v.warnings.join(' ')).toMatch(/stale/);
    expect(v.stats.bytes).toBe(readFileSync(join(KITS, 'trivy-upstream', 'trivy', 'db.bundle')).length);
    expect(v.stats.files).toBe(2);
  });

  it('verifies the upstream trivy-java.db (SQLite) bundle with its explicit signature', async () => {
    const v = await verifyTrivyBundle(join(KITS, 'trivy-upstream', 'trivy', 'java-db.bundle'), {
      keys: [pinned(join(KITS, 'trivy-upstream.trusted.pub'))],
      signature: join(KITS, 'trivy-upstream', 'signatures', 'trivy-java-db.sig'),
    });
    expect(v.ok, v.message).toBe(true);
    expect(v.kind).toBe('trivy-java-db');
    expect(v.checks.find((c) => c.name === 'database')?.detail).toMatch(/SQLite 3.*quick_check ok/);
  });

  it('accepts bad/trivy-good with bad/trust.pub (signature beside the bundle)', async () => {
    const v = await verifyTrivyBundle(join(KITS, 'bad', 'trivy-good', 'db.bundle'), { keys: [pinned(join(KITS, 'bad', 'trust.pub'))] });
    expect(v.ok, v.message).toBe(true);
  });

  for (const kit of readdirSync(KITS).filter((k) => existsSync(join(KITS, k, 'trivy', 'db.bundle')))) {
    it(`verifies ${kit}/trivy/db.bundle with ${kit}.trusted.pub, and refuses it with another kit's key`, async () => {
      const file = join(KITS, kit, 'trivy', 'db.bundle');
      const v = await verifyTrivyBundle(file, { keys: [pinned(join(KITS, `${kit}.trusted.pub`))] });
      expect(v.ok, v.message).toBe(true);
      const wrong = await verifyTrivyBundle(file, { keys: [signer.trusted] });
      expect(wrong.ok).toBe(false);
      expect(wrong.code).toBe('ERR_VERIFY_SIGNATURE');
      expect(wrong.keys).toEqual({ tried: [signer.trusted.fingerprint], signedBy: [] });
      expect(wrong.action).toMatch(/Do not import/);
    });
  }

  it('never trusts the kit’s own keys/ folder', async () => {
    const kitKey = pinned(join(KITS, 'ecdsa-p256', 'keys', 'export-center.pub'));
    const v = await verifyTrivyBundle(join(KITS, 'ed25519', 'trivy', 'db.bundle'), { keys: [kitKey] });
    expect(v.code).toBe('ERR_VERIFY_SIGNATURE');
    const none = await verifyTrivyBundle(join(KITS, 'ed25519', 'trivy', 'db.bundle'), { keys: [] });
    expect(none.code).toBe('ERR_VERIFY_SIGNATURE');
    expect(none.message).toMatch(/No trusted key/);
  });
});

describe('Trivy bundles built here', () => {
  it('accepts a fresh bundle around a minimal bbolt database, without warnings', async () => {
    const { file, sig } = writeBundle(tarGz(goodDb()));
    const v = await verifyTrivyBundle(file, { keys: [signer.trusted], signature: sig });
    expect(v.ok, v.message).toBe(true);
    expect(v.warnings).toEqual([]);
    expect(trivyLogEvents(v)).toEqual([]);
  });

  it('verifies signatures by every supported key type while streaming', async () => {
    const bytes = tarGz(goodDb());
    for (const type of ['p256', 'p384', 'ed25519', 'rsa-pkcs1', 'rsa-pss'] as const) {
      const s = makeSigner(type);
      const { file, sig } = writeBundle(bytes, 'db.bundle', s);
      const v = await verifyTrivyBundle(file, { keys: [signer.trusted, s.trusted], signature: sig });
      expect(v.ok, `${type}: ${v.message}`).toBe(true);
      expect(v.keys?.signedBy).toEqual([s.trusted.fingerprint]);
      expect(v.keys?.tried).toEqual([signer.trusted.fingerprint, s.trusted.fingerprint]);
    }
  });

  it('refuses a bundle altered after signing', async () => {
    const { file, sig } = writeBundle(tarGz(goodDb()));
    const other = tarGz(goodDb(metadata(2, '2999-01-02T00:00:00Z')));
    writeFileSync(file, other);
    const v = await verifyTrivyBundle(file, { keys: [signer.trusted], signature: sig });
    expect(v.code).toBe('ERR_VERIFY_SIGNATURE');
  });

  it('refuses when no signature can be found, or it is not base64', async () => {
    const dir = fresh('nosig');
    const file = join(dir, 'db.bundle');
    writeFileSync(file, tarGz(goodDb()));
    const v = await verifyTrivyBundle(file, { keys: [signer.trusted] });
    expect(v.code).toBe('ERR_VERIFY_SIGNATURE');
    expect(v.message).toMatch(/--signature/);
    writeFileSync(join(dir, 'trivy-db.sig'), 'this is not base64 !!');
    const garbled = await verifyTrivyBundle(file, { keys: [signer.trusted] });
    expect(garbled.code).toBe('ERR_VERIFY_SIGNATURE');
  });

  it('Version 3 of trivy.db is an unsupported schema, with its log event', async () => {
    const { file, sig } = writeBundle(tarGz(goodDb(metadata(3))));
    const v = await verifyTrivyBundle(file, { keys: [signer.trusted], signature: sig });
    expect(v.ok).toBe(false);
    expect(v.code).toBe('ERR_EXPORT_UNSUPPORTED_SCHEMA');
    expect(v.message).toMatch(/Version 3.*Version 2/);
    expect(v.action).toMatch(/SchemaVersion/);
    expect(v.member).toBe('metadata.json');
    const events = trivyLogEvents(v);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ event: TRIVY_UNSUPPORTED_SCHEMA_EVENT, errorCode: 'ERR_EXPORT_UNSUPPORTED_SCHEMA', version: 3, supportedVersion: 2 });
  });

  it('Version 2 of a Java DB is unsupported (it must be 1), Version 1 of trivy.db too', async () => {
    const java = writeBundle(tarGz([{ name: 'metadata.json', data: metadata(2) }, { name: 'trivy-java.db', data: UPSTREAM_SQLITE }]), 'java-db.bundle');
    const vj = await verifyTrivyBundle(java.file, { keys: [signer.trusted], signature: java.sig });
    expect(vj.code).toBe('ERR_EXPORT_UNSUPPORTED_SCHEMA');
    expect(vj.kind).toBe('trivy-java-db');
    const db = writeBundle(tarGz(goodDb(metadata(1))));
    expect((await verifyTrivyBundle(db.file, { keys: [signer.trusted], signature: db.sig })).code).toBe('ERR_EXPORT_UNSUPPORTED_SCHEMA');
  });

  it('a signature failure outranks the schema version', async () => {
    const { file } = writeBundle(tarGz(goodDb(metadata(3))));
    const other = makeSigner('p256');
    const v = await verifyTrivyBundle(file, { keys: [other.trusted] });
    expect(v.code).toBe('ERR_VERIFY_SIGNATURE');
    expect(v.failures?.map((f) => f.code).sort()).toEqual(['ERR_EXPORT_UNSUPPORTED_SCHEMA', 'ERR_VERIFY_SIGNATURE']);
  });

  it('refuses a bbolt file with a bad magic, or bad checksums on both metas', async () => {
    const badMagic = Buffer.from(UPSTREAM_BBOLT);
    badMagic.writeUInt32LE(0x12345678, 4096 + 16);
    const a = writeBundle(tarGz(goodDb(metadata(2), badMagic)));
    const va = await verifyTrivyBundle(a.file, { keys: [signer.trusted], signature: a.sig });
    expect(va.code).toBe('ERR_BUNDLE_CORRUPT');
    expect(va.member).toBe('trivy.db');
    expect(va.message).toMatch(/magic/);

    const bothBad = Buffer.from(UPSTREAM_BBOLT);
    bothBad[16 + 56] ^= 1;
    bothBad[4096 + 16 + 56] ^= 1;
    const b = writeBundle(tarGz(goodDb(metadata(2), bothBad)));
    const vb = await verifyTrivyBundle(b.file, { keys: [signer.trusted], signature: b.sig });
    expect(vb.code).toBe('ERR_BUNDLE_CORRUPT');
    expect(vb.message).toMatch(/checksum/);
  });

  it('accepts a bbolt file with one damaged meta checksum, with a warning', async () => {
    const oneBad = Buffer.from(UPSTREAM_BBOLT);
    oneBad[16 + 56] ^= 1;
    const { file, sig } = writeBundle(tarGz(goodDb(metadata(2), oneBad)));
    const v = await verifyTrivyBundle(file, { keys: [signer.trusted], signature: sig });
    expect(v.ok, v.message).toBe(true);
    expect(v.warnings.join(' ')).toMatch(/meta page 0: checksum/);
  });

  it('never opens the SQLite database of a bundle whose signature fails', async () => {
    const broken = Buffer.from(UPSTREAM_SQLITE);
    broken.fill(0xff, 4096 * 3, 4096 * 4);
    const { file } = writeBundle(tarGz([{ name: 'metadata.json', data: metadata(1) }, { name: 'trivy-java.db', data: broken }]), 'java-db.bundle');
    const v = await verifyTrivyBundle(file, { keys: [makeSigner('p256').trusted] });
    expect(v.code).toBe('ERR_VERIFY_SIGNATURE');
    expect(v.failures?.map((f) => f.code)).toEqual(['ERR_VERIFY_SIGNATURE']);
    expect(v.checks.find((c) => c.name === 'database')?.detail).toMatch(/not opened/);
  });

  it('refuses a corrupted SQLite Java DB, and one without the SQLite header', async () => {
    const broken = Buffer.from(UPSTREAM_SQLITE);
    broken.fill(0xff, 4096 * 3, 4096 * 4);
    const a = writeBundle(tarGz([{ name: 'metadata.json', data: metadata(1) }, { name: 'trivy-java.db', data: broken }]), 'java-db.bundle');
    const va = await verifyTrivyBundle(a.file, { keys: [signer.trusted], signature: a.sig });
    expect(va.code).toBe('ERR_BUNDLE_CORRUPT');
    expect(va.member).toBe('trivy-java.db');
    expect(va.message).toMatch(/SQLite/);

    const noHeader = Buffer.from(UPSTREAM_SQLITE);
    noHeader.write('SQLite format 4', 0, 'latin1');
    const b = writeBundle(tarGz([{ name: 'metadata.json', data: metadata(1) }, { name: 'trivy-java.db', data: noHeader }]), 'java-db.bundle');
    const vb = await verifyTrivyBundle(b.file, { keys: [signer.trusted], signature: b.sig });
    expect(vb.code).toBe('ERR_BUNDLE_CORRUPT');
    expect(vb.message).toMatch(/header/);

    const truncated = writeBundle(tarGz([{ name: 'metadata.json', data: metadata(1) }, { name: 'trivy-java.db', data: UPSTREAM_SQLITE.subarray(0, 4096 * 2) }]), 'java-db.bundle');
    expect((await verifyTrivyBundle(truncated.file, { keys: [signer.trusted], signature: truncated.sig })).code).toBe('ERR_BUNDLE_CORRUPT');
  });

  it('warns on a stale NextUpdate without refusing', async () => {
    const { file, sig } = writeBundle(tarGz(goodDb(metadata(2, '2020-01-01T00:00:00Z'))));
    const v = await verifyTrivyBundle(file, { keys: [signer.trusted], signature: sig, now: new Date('2020-01-11T00:00:00Z') });
    expect(v.ok).toBe(true);
    expect(v.warnings).toHaveLength(1);
    expect(v.warnings[0]).toMatch(/stale.*10 day/);
    const notYet = await verifyTrivyBundle(file, { keys: [signer.trusted], signature: sig, now: new Date('2019-12-31T00:00:00Z') });
    expect(notYet.warnings).toEqual([]);
  });

  it('refuses metadata.json that is not JSON or lacks the fields', async () => {
    for (const meta of [Buffer.from('{"Version": 2,'), Buffer.from(JSON.stringify({ Version: 2, UpdatedAt: '2025-10-29T00:00:00Z' })), Buffer.from(JSON.stringify({ Version: '2', NextUpdate: FUTURE, UpdatedAt: FUTURE })), Buffer.from(JSON.stringify({ Version: 2, NextUpdate: 'tomorrow', UpdatedAt: FUTURE }))]) {
      const { file, sig } = writeBundle(tarGz(goodDb(meta)));
      const v = await verifyTrivyBundle(file, { keys: [signer.trusted], signature: sig });
      expect(v.code, meta.toString()).toBe('ERR_BUNDLE_CORRUPT');
      expect(v.member).toBe('metadata.json');
    }
    // Extra keys are allowed.
    const { file, sig } = writeBundle(tarGz(goodDb(metadata(2, FUTURE, { Custom: true }))));
    expect((await verifyTrivyBundle(file, { keys: [signer.trusted], signature: sig })).ok).toBe(true);
  });

  const unsafeCases: [string, Member[], RegExp][] = [
    ['a symlink member', [{ name: 'metadata.json', data: metadata(2) }, { name: 'trivy.db', type: '2', linkname: '/etc/passwd' }], /symbolic link/],
    ['a hard link member', [{ name: 'metadata.json', data: metadata(2) }, { name: 'trivy.db', type: '1', linkname: 'metadata.json' }], /hard link/],
    ['a ".." path', [{ name: '../metadata.json', data: metadata(2) }, { name: 'trivy.db', data: writeMinimalBbolt() }], /\.\./],
    ['an absolute path', [{ name: '/tmp/metadata.json', data: metadata(2) }, { name: 'trivy.db', data: writeMinimalBbolt() }], /absolute/],
    ['a duplicate member', [...goodDb(), { name: 'trivy.db', data: writeMinimalBbolt() }], /repeats/],
    ['a device', [...goodDb(), { name: 'null', type: '3' }], /device/],
    ['a FIFO', [...goodDb(), { name: 'pipe', type: '6' }], /FIFO/],
  ];
  for (const [what, members, re] of unsafeCases) {
    it(`refuses ${what} with ERR_BUNDLE_UNSAFE_ENTRY and writes nothing outside extractTo`, async () => {
      const { file, sig, dir } = writeBundle(tarGz(members));
      const out = join(dir, 'out', 'db');
      const v = await verifyTrivyBundle(file, { keys: [signer.trusted], signature: sig, extractTo: out });
      expect(v.ok).toBe(false);
      expect(v.code).toBe('ERR_BUNDLE_UNSAFE_ENTRY');
      expect(v.message).toMatch(re);
      expect(v.member).toBeDefined();
      expect(v.action).toMatch(/Quarantine/);
      expect(existsSync(join(dir, 'out', 'metadata.json'))).toBe(false);
      expect(existsSync('/tmp/metadata.json') && readFileSync('/tmp/metadata.json').equals(metadata(2))).toBe(false);
      expect(readdirSync(out).every((n) => n === 'metadata.json' || n === 'trivy.db')).toBe(true);
    });
  }

  it('refuses a symlink made by Debian tar (interop) and accepts its regular bundle', async () => {
    const src = fresh('gnu-src');
    writeFileSync(join(src, 'metadata.json'), metadata(2));
    writeFileSync(join(src, 'trivy.db'), UPSTREAM_BBOLT);
    const okFile = join(fresh('gnu'), 'db.bundle');
    execFileSync('tar', ['czf', okFile, '-C', src, 'metadata.json', 'trivy.db']);
    const ok = await verifyTrivyBundle(okFile, { keys: [signer.trusted], signature: writeBundle(readFileSync(okFile)).sig });
    expect(ok.ok, ok.message).toBe(true);
    const linkSrc = fresh('gnu-link');
    writeFileSync(join(linkSrc, 'metadata.json'), metadata(2));
    execFileSync('ln', ['-s', join(src, 'trivy.db'), join(linkSrc, 'trivy.db')]);
    const linkFile = join(fresh('gnu'), 'db.bundle');
    execFileSync('tar', ['czf', linkFile, '-C', linkSrc, 'metadata.json', 'trivy.db']);
    const v = await verifyTrivyBundle(linkFile, { keys: [signer.trusted], signature: writeBundle(readFileSync(linkFile)).sig });
    expect(v.code).toBe('ERR_BUNDLE_UNSAFE_ENTRY');
    expect(v.member).toBe('trivy.db');
  });

  it('reports an unexpected member as extra, and a missing database or metadata as missing', async () => {
    const extra = writeBundle(tarGz([...goodDb(), { name: 'README.md', data: Buffer.from('hi') }]));
    const ve = await verifyTrivyBundle(extra.file, { keys: [signer.trusted], signature: extra.sig });
    expect(ve.code).toBe('ERR_VERIFY_EXTRA_FILE');
    expect(ve.member).toBe('README.md');
    const folder = writeBundle(tarGz([{ name: 'db', type: '5' }, ...goodDb()]));
    expect((await verifyTrivyBundle(folder.file, { keys: [signer.trusted], signature: folder.sig })).code).toBe('ERR_VERIFY_EXTRA_FILE');
    const noDb = writeBundle(tarGz([{ name: 'metadata.json', data: metadata(2) }]));
    const vd = await verifyTrivyBundle(noDb.file, { keys: [signer.trusted], signature: noDb.sig });
    expect(vd.code).toBe('ERR_VERIFY_MISSING_FILE');
    expect(vd.member).toBe('trivy.db');
    const noMeta = writeBundle(tarGz([{ name: 'trivy.db', data: writeMinimalBbolt() }]));
    expect((await verifyTrivyBundle(noMeta.file, { keys: [signer.trusted], signature: noMeta.sig })).code).toBe('ERR_VERIFY_MISSING_FILE');
    // The Java database inside a bundle declared as trivy-db does not count as its database.
    const mixed = writeBundle(tarGz([{ name: 'metadata.json', data: metadata(2) }, { name: 'trivy-java.db', data: UPSTREAM_SQLITE }]));
    const vm = await verifyTrivyBundle(mixed.file, { keys: [signer.trusted], signature: mixed.sig, kind: 'trivy-db' });
    expect(vm.ok).toBe(false);
    expect(vm.failures?.map((f) => f.code).sort()).toEqual(['ERR_VERIFY_EXTRA_FILE', 'ERR_VERIFY_MISSING_FILE']);
  });

  it('infers the kind from the contents when the file name says nothing', async () => {
    const { file, sig } = writeBundle(tarGz([{ name: 'metadata.json', data: metadata(1) }, { name: 'trivy-java.db', data: UPSTREAM_SQLITE }]), 'some-download.tgz');
    const v = await verifyTrivyBundle(file, { keys: [signer.trusted], signature: sig });
    expect(v.kind).toBe('trivy-java-db');
    expect(v.ok, v.message).toBe(true);
  });

  it('refuses a file that is not gzip, a truncated gzip stream and a truncated tar', async () => {
    const notGz = writeBundle(Buffer.from('this is not a bundle at all'));
    const v1 = await verifyTrivyBundle(notGz.file, { keys: [signer.trusted], signature: notGz.sig });
    expect(v1.code).toBe('ERR_BUNDLE_CORRUPT');
    expect(v1.message).toMatch(/gzip/);
    const whole = tarGz(goodDb(metadata(2), UPSTREAM_BBOLT));
    const cut = writeBundle(whole.subarray(0, Math.floor(whole.length / 2)));
    expect((await verifyTrivyBundle(cut.file, { keys: [signer.trusted], signature: cut.sig })).code).toBe('ERR_BUNDLE_CORRUPT');
    const tar = Buffer.concat(goodDb(metadata(2), UPSTREAM_BBOLT).map(tarMember));
    const cutTar = writeBundle(gzipSync(tar.subarray(0, tar.length - 5000)));
    expect((await verifyTrivyBundle(cutTar.file, { keys: [signer.trusted], signature: cutTar.sig })).code).toBe('ERR_BUNDLE_CORRUPT');
    const nested = writeBundle(gzipSync(tarGz(goodDb())));
    expect((await verifyTrivyBundle(nested.file, { keys: [signer.trusted], signature: nested.sig })).code).toBe('ERR_BUNDLE_CORRUPT');
  });

  it('stops at a member beyond the per-file limit with ERR_BUNDLE_LIMIT', async () => {
    const { file, sig } = writeBundle(tarGz(goodDb(metadata(2), UPSTREAM_BBOLT)));
    const v = await verifyTrivyBundle(file, { keys: [signer.trusted], signature: sig, limits: { maxMemberBytes: 16 * 1024 } });
    expect(v.code).toBe('ERR_BUNDLE_LIMIT');
    expect(v.member).toBe('trivy.db');
    const ok = await verifyTrivyBundle(file, { keys: [signer.trusted], signature: sig, limits: { maxMemberBytes: 64 * 1024 } });
    expect(ok.ok).toBe(true);
  });

  it('stops a decompression bomb at the ratio limit, having written nothing far beyond it', async () => {
    const zeros = Buffer.concat([writeMinimalBbolt(), Buffer.alloc(32 * 1024 * 1024)]);
    const { file, sig, dir } = writeBundle(tarGz(goodDb(metadata(2), zeros)));
    const out = join(dir, 'out');
    const v = await verifyTrivyBundle(file, { keys: [signer.trusted], signature: sig, extractTo: out, limits: { maxRatio: 20, ratioGraceBytes: 1024 * 1024 } });
    expect(v.code).toBe('ERR_BUNDLE_LIMIT');
    expect(v.message).toMatch(/decompression bomb/);
    const written = existsSync(join(out, 'trivy.db')) ? readFileSync(join(out, 'trivy.db')).length : 0;
    expect(written).toBeLessThan(4 * 1024 * 1024);
    // The same bundle passes with the default limits (64 MiB grace).
    expect((await verifyTrivyBundle(file, { keys: [signer.trusted], signature: sig })).ok).toBe(true);
    const total = await verifyTrivyBundle(file, { keys: [signer.trusted], signature: sig, limits: { maxTotalBytes: 1024 * 1024 } });
    expect(total.code).toBe('ERR_BUNDLE_LIMIT');
  });

  it('writes metadata.json and the database to extractTo during the read, byte for byte', async () => {
    const { file, sig, dir } = writeBundle(tarGz(goodDb(metadata(2), UPSTREAM_BBOLT)));
    const out = join(dir, 'cache', 'db');
    const copy = join(dir, 'library-copy.bundle');
    const v = await verifyTrivyBundle(file, { keys: [signer.trusted], signature: sig, extractTo: out, copyTo: copy });
    expect(v.ok).toBe(true);
    // The library copy is teed from the same read, and its digest is reported.
    expect(readFileSync(copy).equals(readFileSync(file))).toBe(true);
    const digest = createHash('sha256').update(readFileSync(file)).digest('hex');
    expect(v.checks.find((c) => c.name === 'archive')?.detail).toContain(`sha256 ${digest}`);
    expect(readFileSync(join(out, 'trivy.db')).equals(UPSTREAM_BBOLT)).toBe(true);
    expect(readFileSync(join(out, 'metadata.json')).equals(metadata(2))).toBe(true);

    const java = writeBundle(tarGz([{ name: 'metadata.json', data: metadata(1) }, { name: 'trivy-java.db', data: UPSTREAM_SQLITE }]), 'java-db.bundle');
    const jout = join(java.dir, 'cache', 'java-db');
    const vj = await verifyTrivyBundle(java.file, { keys: [signer.trusted], signature: java.sig, extractTo: jout });
    expect(vj.ok, vj.message).toBe(true);
    expect(readFileSync(join(jout, 'trivy-java.db')).equals(UPSTREAM_SQLITE)).toBe(true);
    expect(readdirSync(jout).sort()).toEqual(['metadata.json', 'trivy-java.db']);
  });

  it('reports progress and honours cancellation; a missing file is ERR_INPUT_NOT_FOUND', async () => {
    const { file, sig } = writeBundle(tarGz(goodDb(metadata(2), UPSTREAM_BBOLT)));
    const seen: number[] = [];
    await verifyTrivyBundle(file, { keys: [signer.trusted], signature: sig, onProgress: (p) => seen.push(p.bytesDone) });
    expect(seen.at(-1)).toBe(readFileSync(file).length);
    const ac = new AbortController();
    ac.abort();
    await expect(verifyTrivyBundle(file, { keys: [signer.trusted], signature: sig, signal: ac.signal })).rejects.toMatchObject({ code: 'ERR_CANCELLED' });
    await expect(verifyTrivyBundle(join(tmp.dir, 'nope.bundle'), { keys: [signer.trusted] })).rejects.toMatchObject({ code: 'ERR_INPUT_NOT_FOUND' });
    await expect(verifyTrivyBundle(file, { keys: [signer.trusted], signature: join(tmp.dir, 'nope.sig') })).rejects.toMatchObject({ code: 'ERR_INPUT_NOT_FOUND' });
  });
});

describe('Trivy bundles written by the project’s producer', () => {
  const key = generateSigningKey('ecdsa-p256');
  const trusted = loadPublicKey(key.publicPem, 'cli');
  const cases: [string, Parameters<typeof writeTrivyBundle>[1], string | null][] = [
    ['a valid trivy-db', { kind: 'trivy-db', key }, null],
    ['a valid trivy-java-db', { kind: 'trivy-java-db', key }, null],
    ['Version 3', { kind: 'trivy-db', key, version: 3 }, 'ERR_EXPORT_UNSUPPORTED_SCHEMA'],
    ['a bad bbolt magic', { kind: 'trivy-db', key, corrupt: 'bbolt-magic' }, 'ERR_BUNDLE_CORRUPT'],
    ['bad bbolt checksums', { kind: 'trivy-db', key, corrupt: 'bbolt-checksum' }, 'ERR_BUNDLE_CORRUPT'],
    ['a bad SQLite header', { kind: 'trivy-java-db', key, corrupt: 'sqlite-header' }, 'ERR_BUNDLE_CORRUPT'],
    ['broken metadata.json', { kind: 'trivy-db', key, corrupt: 'metadata-json' }, 'ERR_BUNDLE_CORRUPT'],
    ['no database', { kind: 'trivy-db', key, corrupt: 'missing-db' }, 'ERR_VERIFY_MISSING_FILE'],
    ['a symlink member', { kind: 'trivy-db', key, corrupt: 'symlink-member' }, 'ERR_BUNDLE_UNSAFE_ENTRY'],
    ['a truncated file', { kind: 'trivy-db', key, corrupt: 'truncate' }, 'ERR_BUNDLE_CORRUPT'],
    ['another signer', { kind: 'trivy-db', key, signWith: generateSigningKey('ed25519') }, 'ERR_VERIFY_SIGNATURE'],
  ];
  for (const [what, spec, code] of cases) {
    it(`${what} → ${code ?? 'verified'}`, async () => {
      const dir = fresh('producer');
      const out = writeTrivyBundle(join(dir, spec.kind === 'trivy-java-db' ? 'java-db.bundle' : 'db.bundle'), spec);
      const v = await verifyTrivyBundle(out.file, { keys: [trusted] });
      expect(v.code, v.message).toBe(code);
      expect(v.ok).toBe(code === null);
      expect(v.kind).toBe(spec.kind);
    });
  }
});
