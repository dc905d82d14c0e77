/**
 * The sigstore-conformance `bundle-verify` vectors, read in place. Each folder
 * is one case; a name ending in `_fail` must be refused, every other must
 * verify (rules in ../shared/fixtures/sigstore-conformance/README.md).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURES } from '../testing/fixtures';
import { loadPublicKey, type TrustedKey } from './keys';
import { verifySigstoreBundle } from './sigstore';

const ROOT = join(FIXTURES, 'sigstore-conformance');
const CASES = join(ROOT, 'bundle-verify');
const DEFAULT_IDENTITY =
  'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main';
const DEFAULT_ISSUER = 'https://token.actions.githubusercontent.com';

/** Cases decided by a caller-side rule, and the reason the verdict must give. */
const WHY: Record<string, RegExp> = {
  'trust-root-tlog-missing-validity-start_fail': /validFor\.start/,
  'managed-key-no-key_fail': /no trusted key/,
  'managed-key-wrong-key_fail': /none of the trusted keys could be loaded/,
  'bundle-with-root-cert_fail': /contains a root certificate/,
};

const cases = readdirSync(CASES)
  .filter((name) => statSync(join(CASES, name)).isDirectory())
  .sort();

function optionalText(file: string): string | undefined {
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined;
}

/**
 * The operator's key as the CLI would load it; a key file that does not parse
 * (one vector ships a damaged key) is still handed over raw, so that the
 * verifier's own refusal is what the case checks.
 */
function asTrustedKey(pem: string): TrustedKey {
  try {
    return loadPublicKey(pem, 'cli');
  } catch {
    return { pem, fingerprint: 'sha256:unparsable', algorithm: 'unknown', source: 'cli' };
  }
}

describe('sigstore conformance (bundle-verify)', () => {
  it('finds the 70 cases of the suite', () => {
    expect(cases.length).toBe(70);
    expect(cases.filter((c) => c.endsWith('_fail')).length).toBeGreaterThan(30);
  });

  for (const name of cases) {
    const expectOk = !name.endsWith('_fail');
    it(`${name} → ${expectOk ? 'verifies' : 'refused'}`, async () => {
      const dir = join(CASES, name);
      const bundle = readFileSync(join(dir, 'bundle.sigstore.json'));
      const artifact = readFileSync(existsSync(join(dir, 'artifact')) ? join(dir, 'artifact') : join(CASES, 'a.txt'));
      const trustedRootFile = existsSync(join(dir, 'trusted_root.json')) ? join(dir, 'trusted_root.json') : join(ROOT, 'public-good-trusted_root.json');
      const keyPem = optionalText(join(dir, 'key.pub'));
      const keys: TrustedKey[] = keyPem ? [asTrustedKey(keyPem)] : [];
      const opts = keyPem
        ? { trustedRootFile, keys }
        : {
            trustedRootFile,
            keys,
            certificateIdentity: optionalText(join(dir, 'identity')) ?? DEFAULT_IDENTITY,
            certificateOidcIssuer: optionalText(join(dir, 'issuer')) ?? DEFAULT_ISSUER,
          };
      const result = await verifySigstoreBundle(bundle, artifact, opts);
      expect(result.detail.length).toBeGreaterThan(0);
      expect(result.ok, result.detail).toBe(expectOk);
      // The cases that the library alone gets wrong must be decided by the caller-side rule.
      if (WHY[name]) expect(result.detail).toMatch(WHY[name]);
    });
  }
});
