/** Caller-side rules of Sigstore verification, beyond the conformance vectors. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { FIXTURES, tempDir } from '../testing/fixtures';
import { preAuthEncoding, parseDsseEnvelope } from './dsse';
import { loadPublicKey } from './keys';
import { trustedRootProblems, verifySigstoreBundle } from './sigstore';

const ROOT = join(FIXTURES, 'sigstore-conformance');
const CASES = join(ROOT, 'bundle-verify');
const PUBLIC_GOOD = join(ROOT, 'public-good-trusted_root.json');
const A_TXT = readFileSync(join(CASES, 'a.txt'));
const IDENTITY =
  'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main';
const ISSUER = 'https://token.actions.githubusercontent.com';
const tmp = tempDir('okc-sigstore-');
afterAll(() => tmp.cleanup());

const bundleOf = (name: string) => readFileSync(join(CASES, name, 'bundle.sigstore.json'));
const cert = { keys: [], certificateIdentity: IDENTITY, certificateOidcIssuer: ISSUER };

describe('verifySigstoreBundle', () => {
  it('verifies a certificate bundle with the pinned identity and issuer', async () => {
    const r = await verifySigstoreBundle(bundleOf('happy-path-v0.3'), A_TXT, { trustedRootFile: PUBLIC_GOOD, ...cert });
    expect(r).toMatchObject({ ok: true });
  });

  it('refuses a certificate bundle when no identity or issuer is pinned', async () => {
    const noId = await verifySigstoreBundle(bundleOf('happy-path-v0.3'), A_TXT, { trustedRootFile: PUBLIC_GOOD, keys: [], certificateOidcIssuer: ISSUER });
    expect(noId.ok).toBe(false);
    expect(noId.detail).toMatch(/certificate identity/);
    const noIssuer = await verifySigstoreBundle(bundleOf('happy-path-v0.3'), A_TXT, { trustedRootFile: PUBLIC_GOOD, keys: [], certificateIdentity: IDENTITY });
    expect(noIssuer.ok).toBe(false);
  });

  it('matches the identity exactly, never as a pattern or prefix', async () => {
    for (const certificateIdentity of [IDENTITY.slice(0, -5), IDENTITY.replace(/\./g, '.'), '.*', IDENTITY.replace('.yml', '.ym.')]) {
      if (certificateIdentity === IDENTITY) continue;
      const r = await verifySigstoreBundle(bundleOf('happy-path-v0.3'), A_TXT, { trustedRootFile: PUBLIC_GOOD, ...cert, certificateIdentity });
      expect(r.ok, certificateIdentity).toBe(false);
    }
    const wrongIssuer = await verifySigstoreBundle(bundleOf('happy-path-v0.3'), A_TXT, { trustedRootFile: PUBLIC_GOOD, ...cert, certificateOidcIssuer: 'https://accounts.google.com' });
    expect(wrongIssuer.ok).toBe(false);
  });

  it('refuses a message-signature bundle over another artifact', async () => {
    const r = await verifySigstoreBundle(bundleOf('happy-path-v0.3'), Buffer.concat([A_TXT, Buffer.from('x')]), { trustedRootFile: PUBLIC_GOOD, ...cert });
    expect(r.ok).toBe(false);
  });

  it('compares a DSSE bundle’s artifact with the in-toto subject digests', async () => {
    const ok = await verifySigstoreBundle(bundleOf('happy-path-intoto-in-dsse-v3'), A_TXT, { trustedRootFile: PUBLIC_GOOD, ...cert });
    expect(ok.ok, ok.detail).toBe(true);
    const other = await verifySigstoreBundle(bundleOf('happy-path-intoto-in-dsse-v3'), Buffer.from('not the subject'), { trustedRootFile: PUBLIC_GOOD, ...cert });
    expect(other.ok).toBe(false);
    expect(other.detail).toMatch(/subject digests/);
  });

  it('needs a trusted root file, and refuses one that cannot be read', async () => {
    const none = await verifySigstoreBundle(bundleOf('happy-path-v0.3'), A_TXT, cert);
    expect(none.ok).toBe(false);
    expect(none.detail).toMatch(/trusted root/);
    const bad = join(tmp.dir, 'bad-root.json');
    writeFileSync(bad, '{not json');
    expect((await verifySigstoreBundle(bundleOf('happy-path-v0.3'), A_TXT, { trustedRootFile: bad, ...cert })).ok).toBe(false);
    expect((await verifySigstoreBundle(bundleOf('happy-path-v0.3'), A_TXT, { trustedRootFile: join(tmp.dir, 'missing.json'), ...cert })).ok).toBe(false);
  });

  it('refuses a trusted root where a CA lacks validFor.start (the library would accept it)', async () => {
    const root = JSON.parse(readFileSync(PUBLIC_GOOD, 'utf8')) as { certificateAuthorities: { validFor: { start?: string } }[] };
    expect(trustedRootProblems(root)).toEqual([]);
    for (const ca of root.certificateAuthorities) delete ca.validFor.start;
    expect(trustedRootProblems(root).length).toBe(root.certificateAuthorities.length);
    const file = join(tmp.dir, 'no-start.json');
    writeFileSync(file, JSON.stringify(root));
    const r = await verifySigstoreBundle(bundleOf('happy-path-v0.3'), A_TXT, { trustedRootFile: file, ...cert });
    expect(r.ok).toBe(false);
    expect(r.detail).toMatch(/validFor\.start/);
  });

  it('verifies a key-based bundle with the pinned key only, no identity needed', async () => {
    const key = loadPublicKey(readFileSync(join(CASES, 'managed-key-happy-path', 'key.pub'), 'utf8'));
    const bundle = bundleOf('managed-key-happy-path');
    const ok = await verifySigstoreBundle(bundle, A_TXT, { trustedRootFile: PUBLIC_GOOD, keys: [key] });
    expect(ok.ok, ok.detail).toBe(true);
    expect(ok.detail).toContain(key.fingerprint);
    const noKey = await verifySigstoreBundle(bundle, A_TXT, { trustedRootFile: PUBLIC_GOOD, keys: [] });
    expect(noKey.ok).toBe(false);
    // Another valid key (the P-256 kit's) is not the signer.
    const other = loadPublicKey(readFileSync(join(FIXTURES, 'kits', 'ecdsa-p256.trusted.pub'), 'utf8'));
    const wrong = await verifySigstoreBundle(bundle, A_TXT, { trustedRootFile: PUBLIC_GOOD, keys: [other] });
    expect(wrong.ok).toBe(false);
    // The signer among several pinned keys is found.
    const both = await verifySigstoreBundle(bundle, A_TXT, { trustedRootFile: PUBLIC_GOOD, keys: [other, key] });
    expect(both.ok, both.detail).toBe(true);
  });

  it('never touches the network (no TUF fetch, no log lookups)', async () => {
    const spies = [
      vi.spyOn(globalThis, 'fetch'),
      vi.spyOn(http, 'request'),
      vi.spyOn(http, 'get'),
      vi.spyOn(https, 'request'),
      vi.spyOn(https, 'get'),
      vi.spyOn(net, 'connect'),
      vi.spyOn(net, 'createConnection'),
    ];
    try {
      for (const name of ['happy-path-v0.3', 'rekor2-happy-path', 'happy-path-intoto-in-dsse-v3']) {
        const dir = join(CASES, name);
        const root = name.startsWith('rekor2') ? join(dir, 'trusted_root.json') : PUBLIC_GOOD;
        const r = await verifySigstoreBundle(readFileSync(join(dir, 'bundle.sigstore.json')), A_TXT, { trustedRootFile: root, ...cert });
        expect(r.ok, `${name}: ${r.detail}`).toBe(true);
      }
      for (const s of spies) expect(s).not.toHaveBeenCalled();
    } finally {
      for (const s of spies) s.mockRestore();
    }
  });

  it('reports malformed bundle JSON as a refusal, not a throw', async () => {
    const r = await verifySigstoreBundle(Buffer.from('{"mediaType": 1'), A_TXT, { trustedRootFile: PUBLIC_GOOD, ...cert });
    expect(r.ok).toBe(false);
    const r2 = await verifySigstoreBundle(Buffer.from('{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}'), A_TXT, { trustedRootFile: PUBLIC_GOOD, ...cert });
    expect(r2.ok).toBe(false);
  });
});

describe('dsse helpers', () => {
  it('builds the DSSE v1 pre-authentication encoding with byte lengths', () => {
    const pae = preAuthEncoding('application/x', Buffer.from('héllo', 'utf8'));
    expect(pae.toString('utf8')).toBe('DSSEv1 13 application/x 6 héllo');
  });

  it('parses a well-formed envelope and rejects malformed ones', () => {
    const env = { payloadType: 't', payload: Buffer.from('{}').toString('base64'), signatures: [{ keyid: '', sig: Buffer.from('sig').toString('base64') }] };
    const parsed = parseDsseEnvelope(Buffer.from(JSON.stringify(env)));
    expect(parsed?.payload.toString()).toBe('{}');
    expect(parsed?.signatures[0].sig.toString()).toBe('sig');
    expect(parseDsseEnvelope(Buffer.from(JSON.stringify({ ...env, signatures: [] })))).toBeNull();
    expect(parseDsseEnvelope(Buffer.from(JSON.stringify({ ...env, payload: '***' })))).toBeNull();
    expect(parseDsseEnvelope(Buffer.from('nope'))).toBeNull();
  });
});
