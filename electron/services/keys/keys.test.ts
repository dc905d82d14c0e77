import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { queryAudit, verifyAuditChain } from '../audit/index';
import { openDatabase, type Db } from '../db/index';
import { KITS, tempDir, errorCodeOf } from '../testing/fixtures';
import { verifyDetached } from '../verify/keys';
import { addTrustedKey, inspectPublicKey, listKeyRecords, listTrustedKeys, revokeTrustedKey, rotateTrustedKey, trustedTenants } from './index';

let db: Db;
let cleanup: () => void;
beforeEach(() => {
  const t = tempDir('okc-keys-');
  cleanup = t.cleanup;
  db = openDatabase(join(t.dir, 'console.db'));
});
afterEach(() => {
  db.close();
  cleanup();
});

const fixturePem = () => readFileSync(join(KITS, 'ecdsa-p256.trusted.pub'), 'utf8');
const newPem = () => generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();

describe('trusted keys', () => {
  it('adds a key after fingerprint confirmation; verification then trusts it for that tenant only', () => {
    const pem = fixturePem();
    const { fingerprint, algorithm } = inspectPublicKey(pem);
    expect(fingerprint).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(algorithm).toBe('ecdsa-p256');
    addTrustedKey(db, { pem, tenant: 'acme', confirmFingerprint: fingerprint.toUpperCase().replace('SHA256', 'sha256'), reason: 'CHG-1 initial trust', operator: 'alice' });
    const keys = listTrustedKeys(db, 'acme');
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ fingerprint, source: 'workspace', tenant: 'acme', algorithm: 'ecdsa-p256' });
    expect(listTrustedKeys(db, 'other')).toEqual([]);
    // The pinned key verifies the fixture kit's manifest signature.
    const kit = join(KITS, 'ecdsa-p256');
    const res = verifyDetached(readFileSync(join(kit, 'offline-manifest.json')), readFileSync(join(kit, 'offline-manifest.json.sig'), 'utf8'), keys);
    expect(res.ok).toBe(true);
    expect(res.signedBy).toEqual([fingerprint]);
    const audit = queryAudit(db, { action: 'keys.added' }).rows;
    expect(audit).toHaveLength(1);
    expect(audit[0].details).toMatchObject({ tenant: 'acme', fingerprint, reason: 'CHG-1 initial trust' });
    expect(audit[0].actor).toMatch(/alice/);
  });

  it('a wrong or missing fingerprint confirmation trusts nothing and audits nothing', () => {
    const pem = fixturePem();
    expect(errorCodeOf(() => addTrustedKey(db, { pem, tenant: 'acme', confirmFingerprint: 'sha256:' + '0'.repeat(64), reason: 'CHG-1' }))).toBe('ERR_FINGERPRINT_MISMATCH');
    expect(errorCodeOf(() => addTrustedKey(db, { pem, tenant: 'acme', confirmFingerprint: '', reason: 'CHG-1' }))).toBe('ERR_FINGERPRINT_MISMATCH');
    expect(listTrustedKeys(db)).toEqual([]);
    expect(queryAudit(db).rows).toEqual([]);
  });

  it('refuses invalid input with clear codes: private key, no reason, no tenant, duplicates', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const priv = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(errorCodeOf(() => addTrustedKey(db, { pem: priv, tenant: 'acme', confirmFingerprint: 'x', reason: 'CHG-1' }))).toBe('ERR_KEY_INVALID');
    expect(errorCodeOf(() => addTrustedKey(db, { pem: 'hello', tenant: 'acme', confirmFingerprint: 'x', reason: 'CHG-1' }))).toBe('ERR_KEY_INVALID');
    const pem = fixturePem();
    const fp = inspectPublicKey(pem).fingerprint;
    expect(errorCodeOf(() => addTrustedKey(db, { pem, tenant: 'acme', confirmFingerprint: fp, reason: '' }))).toBe('ERR_USAGE');
    expect(errorCodeOf(() => addTrustedKey(db, { pem, tenant: '', confirmFingerprint: fp, reason: 'CHG-1' }))).toBe('ERR_USAGE');
    addTrustedKey(db, { pem, tenant: 'acme', confirmFingerprint: fp, reason: 'CHG-1' });
    expect(errorCodeOf(() => addTrustedKey(db, { pem, tenant: 'acme', confirmFingerprint: fp, reason: 'CHG-1' }))).toBe('ERR_USAGE');
    // Same key for another tenant is a separate trust decision.
    addTrustedKey(db, { pem, tenant: 'globex', confirmFingerprint: fp, reason: 'CHG-2' });
    expect(trustedTenants(db)).toEqual(['acme', 'globex']);
  });

  it('rotate keeps the old key until revoked; revoke removes it from verification; all audited in order', () => {
    const oldPem = fixturePem();
    const oldFp = inspectPublicKey(oldPem).fingerprint;
    addTrustedKey(db, { pem: oldPem, tenant: 'acme', confirmFingerprint: oldFp, reason: 'CHG-1' });
    const pem2 = newPem();
    const fp2 = inspectPublicKey(pem2).fingerprint;
    expect(errorCodeOf(() => rotateTrustedKey(db, { pem: pem2, tenant: 'acme', confirmFingerprint: fp2, reason: 'CHG-2', replaces: 'sha256:' + 'f'.repeat(64) }))).toBe('ERR_KEY_NOT_FOUND');
    const rec = rotateTrustedKey(db, { pem: pem2, tenant: 'acme', confirmFingerprint: fp2, reason: 'CHG-2 rotation', replaces: oldFp, label: 'ops-2026' });
    expect(rec).toMatchObject({ replaces: oldFp, status: 'active', label: 'ops-2026' });
    expect(listTrustedKeys(db, 'acme').map((k) => k.fingerprint).sort()).toEqual([oldFp, fp2].sort());
    expect(errorCodeOf(() => revokeTrustedKey(db, { tenant: 'acme', fingerprint: oldFp, reason: '' }))).toBe('ERR_USAGE');
    revokeTrustedKey(db, { tenant: 'acme', fingerprint: oldFp, reason: 'CHG-3 old key retired' });
    expect(listTrustedKeys(db, 'acme').map((k) => k.fingerprint)).toEqual([fp2]);
    expect(listKeyRecords(db, { tenant: 'acme', includeRevoked: true }).map((r) => r.status)).toEqual(['active', 'revoked']);
    expect(errorCodeOf(() => revokeTrustedKey(db, { tenant: 'acme', fingerprint: oldFp, reason: 'again' }))).toBe('ERR_KEY_NOT_FOUND');
    // A revoked key cannot be re-added.
    expect(errorCodeOf(() => addTrustedKey(db, { pem: oldPem, tenant: 'acme', confirmFingerprint: oldFp, reason: 'CHG-4' }))).toBe('ERR_USAGE');
    // The old key no longer verifies the fixture kit for this tenant.
    const kit = join(KITS, 'ecdsa-p256');
    expect(verifyDetached(readFileSync(join(kit, 'offline-manifest.json')), readFileSync(join(kit, 'offline-manifest.json.sig'), 'utf8'), listTrustedKeys(db, 'acme')).ok).toBe(false);
    const actions = queryAudit(db).rows.map((r) => r.action).reverse();
    expect(actions).toEqual(['keys.added', 'keys.rotated', 'keys.revoked']);
    expect(verifyAuditChain(db).ok).toBe(true);
  });
});
